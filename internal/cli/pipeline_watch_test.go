package cli

import (
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// TestWatchSeesChangesAndStopsForAPerson: changes lists the stages that
// moved (a release id recorded is a change; a stage unchanged is not) and
// the execution's end; waitsForPerson names a wait only while its decision
// has not been made.
func TestWatchSeesChangesAndStopsForAPerson(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	e := func(state elevator.ExecutionState, stages ...elevator.StageRun) *elevator.PipelineExecution {
		return &elevator.PipelineExecution{ID: "p", State: state, Stages: stages}
	}
	pending := elevator.StageRun{Name: "prod", State: elevator.StagePending}
	waiting := elevator.StageRun{Name: "test", State: elevator.StageWaiting, WaitingFor: []string{elevator.WaitApproval}}
	releasing := elevator.StageRun{Name: "test", State: elevator.StageReleasing}
	released := releasing
	released.Releases = map[string]string{"test": "r1"}

	lines := func(cs []pipelineChange) string {
		var s []string
		for _, c := range cs {
			s = append(s, watchLine(c))
		}
		return strings.Join(s, "; ")
	}
	for _, c := range []struct {
		name     string
		was, now *elevator.PipelineExecution
		want     string
	}{
		{"the first look lists the stages that left Pending or wait", nil, e(elevator.ExecutionRunning, waiting, pending), "Waiting  waiting for approval"},
		{"nothing moved", e(elevator.ExecutionRunning, waiting, pending), e(elevator.ExecutionRunning, waiting, pending), ""},
		{"a stage moved", e(elevator.ExecutionRunning, waiting, pending), e(elevator.ExecutionRunning, releasing, pending), "Waiting > Releasing"},
		{"a release id was recorded", e(elevator.ExecutionRunning, releasing, pending), e(elevator.ExecutionRunning, released, pending), "Releasing  test: release r1"},
		{"the execution ended", e(elevator.ExecutionRunning, released, pending),
			e(elevator.ExecutionFailed, released, elevator.StageRun{Name: "prod", State: elevator.StageFailed, Error: "rejected"}), "Pending > Failed  rejected; pipeline Failed"},
	} {
		if got := lines(changes(c.was, c.now, at)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}

	if got := waitsForPerson(e(elevator.ExecutionRunning, waiting)); got != "an approval of stage test" {
		t.Errorf("waiting for an approval: %q", got)
	}
	approved := waiting
	approved.Approval = &elevator.StageDecision{By: "bob"}
	if got := waitsForPerson(e(elevator.ExecutionRunning, approved)); got != "" {
		t.Errorf("approved, the driver not run yet: %q, want no one", got)
	}
	window := elevator.StageRun{Name: "test", State: elevator.StageWaiting, WaitingFor: []string{elevator.WaitWindow}, Until: at}
	if got := waitsForPerson(e(elevator.ExecutionRunning, window)); got != "" {
		t.Errorf("waiting for a window: %q, want no one", got)
	}
	access := elevator.StageRun{Name: "prod", State: elevator.StageWaiting, WaitingFor: []string{elevator.WaitAccess + ": orbit prod: no grant"}}
	if got := waitsForPerson(e(elevator.ExecutionRunning, access)); !strings.Contains(got, "pipeline resume") {
		t.Errorf("waiting for access: %q", got)
	}
}
