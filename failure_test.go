package elevator

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAReleaseRecordSaysWhyItFailed(t *testing.T) {
	tests := []struct {
		name     string
		rec      ReleaseRecord
		msg      string
		wraps    []ReleaseFailure
		notWraps []ReleaseFailure
	}{
		{"a release that went well has no error", ReleaseRecord{State: StateSuccess}, "", nil, nil},
		{"a halted release wraps FailureHalted",
			ReleaseRecord{State: StateFailureClean, Failed: true, Error: "halted by dave", Failure: FailureHalted},
			"halted by dave", []ReleaseFailure{FailureHalted}, []ReleaseFailure{FailureLeftBehind, FailureUnhealthy}},
		{"an unhealthy release that left groups behind wraps both",
			ReleaseRecord{State: StateFailureDirty, Failed: true, Error: "not healthy; CleanUpFailure gave up", Failure: FailureUnhealthy, Leftovers: []string{"group"}},
			"not healthy; CleanUpFailure gave up", []ReleaseFailure{FailureUnhealthy, FailureLeftBehind}, []ReleaseFailure{FailureHalted}},
		{"a release that went well but left its old groups wraps FailureLeftBehind",
			ReleaseRecord{State: StateFailureDirty, Error: "CleanUpSuccess gave up", Failure: FailureLeftBehind, Leftovers: []string{"group"}},
			"CleanUpSuccess gave up", []ReleaseFailure{FailureLeftBehind}, []ReleaseFailure{FailureStep}},
		{"a failed record stored without a failure still has an error",
			ReleaseRecord{State: StateFailureClean, Failed: true, Error: "Deploy: boom"},
			"Deploy: boom", nil, []ReleaseFailure{FailureStep, FailureHalted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rec.Err()
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.msg {
				t.Fatalf("Err() = %v, want %q", err, tt.msg)
			}
			for _, f := range tt.wraps {
				if !errors.Is(err, f) {
					t.Errorf("Err() does not wrap %q", f)
				}
			}
			for _, f := range tt.notWraps {
				if errors.Is(err, f) {
					t.Errorf("Err() wraps %q", f)
				}
			}
		})
	}
}

func TestAReleaseFailureSurvivesTheStoredRecord(t *testing.T) {
	b, err := json.Marshal(ReleaseRecord{State: StateFailureClean, Failed: true, Error: "halted", Failure: FailureHalted})
	if err != nil {
		t.Fatal(err)
	}
	var back ReleaseRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(back.Err(), FailureHalted) {
		t.Errorf("stored as %s, read back as failure %q", b, back.Failure)
	}
}
