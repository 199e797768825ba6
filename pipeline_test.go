package elevator

import (
	"slices"
	"strings"
	"testing"
)

func TestRollbackPinIsEveryRollbackAPersonMade(t *testing.T) {
	const id = "20261129-120000-0000abcd"
	halt := &ReleaseHalt{By: "arn:aws:iam::123456789012:user/erin", Reason: "rollback during the release's gates"}
	gated := []ReleaseState{StateValidate, StateLock, StateValidateResources, StateDeploy, StateCheckHealthy, StateSmokeTest, StateCutOver, StateIntegrationTest, StateBake}
	for _, tt := range []struct {
		name string
		rec  ReleaseRecord
		rel  Release
		want string // in the pin; "" for none
	}{
		{"a rollback release that succeeded", ReleaseRecord{ID: id, State: StateSuccess}, Release{ID: id, App: "shop", RollbackOf: "20261128-120000-00000001"}, "back to the content of 20261128-120000-00000001"},
		{"a rollback release still running", ReleaseRecord{ID: id, State: StateCutOver}, Release{ID: id, App: "shop", RollbackOf: "20261128-120000-00000001"}, "rolled shop back"},
		{"a release halted in its bake", ReleaseRecord{ID: id, State: StateFailureClean, Failed: true, Halt: halt, Path: slices.Concat(gated, []ReleaseState{StateRollBack, StateCleanUpFailure, StateUnlock, StateFailureClean})}, Release{ID: id, Version: "2.0.0"}, "rolled back at its gates by arn:aws:iam::123456789012:user/erin"},
		{"a release halted in its smoke tests", ReleaseRecord{ID: id, State: StateFailureClean, Failed: true, Halt: halt, Path: slices.Concat(gated[:6], []ReleaseState{StateCleanUpFailure, StateUnlock, StateFailureClean})}, Release{ID: id, Version: "2.0.0"}, "version 2.0.0"},
		{"a release halted in the bake that is rolling back", ReleaseRecord{ID: id, State: StateRollBack, Failed: true, Halt: halt, Path: slices.Concat(gated, []ReleaseState{StateRollBack})}, Release{ID: id}, "rolled back at its gates"},
		{"a release that succeeded", ReleaseRecord{ID: id, State: StateSuccess, Path: slices.Concat(gated, []ReleaseState{StateCleanUpSuccess, StateUnlock, StateSuccess})}, Release{ID: id}, ""},
		{"a release halted after its gates, which finishes", ReleaseRecord{ID: id, State: StateSuccess, Halt: halt, Path: slices.Concat(gated, []ReleaseState{StateCleanUpSuccess, StateUnlock, StateSuccess})}, Release{ID: id}, ""},
		{"a release halted before its gates", ReleaseRecord{ID: id, State: StateFailureClean, Failed: true, Halt: halt, Path: slices.Concat(gated[:5], []ReleaseState{StateCleanUpFailure, StateUnlock, StateFailureClean})}, Release{ID: id}, ""},
		{"a release an alarm rolled back by itself", ReleaseRecord{ID: id, State: StateFailureClean, Failed: true, Path: slices.Concat(gated, []ReleaseState{StateRollBack, StateCleanUpFailure, StateUnlock, StateFailureClean})}, Release{ID: id}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := RollbackPin(&tt.rec, &tt.rel)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("RollbackPin = %q, want a pin with %q", got, tt.want)
			}
		})
	}
}
