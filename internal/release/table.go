package release

import (
	"context"
	"slices"
	"time"

	"github.com/elevatorhq/elevator"
)

// State is a state of the release state machine.
type State = elevator.ReleaseState

// Outcome is what a step asks of the engine: go to Next, or, when Next is
// "", run the same step again after After (the step is waiting for
// something to happen in AWS; it never sleeps itself).
type Outcome struct {
	Next  State
	After time.Duration
}

// goTo moves the release to next.
func goTo(next State) Outcome { return Outcome{Next: next} }

// requeue runs the current step again after d.
func requeue(d time.Duration) Outcome { return Outcome{After: d} }

// Step is the work of one state. It re-reads what it needs from AWS, is
// safe to run twice (after a crash, a retry or a resume), and returns an
// Outcome instead of waiting. An error is retried with backoff, unless it
// is permanent (see fail) or the state's attempts run out; then the
// release goes to the state's failure transition.
type Step func(e *Engine, ctx context.Context, r *Release) (Outcome, error)

// transition is a row of the table.
type transition struct {
	step Step
	// next lists the states the step may go to.
	next []State
	// fail is where a permanent error, exhausted retries, a halt or a lost
	// lock take the release; "" means the step handles its own errors.
	fail State
	// halts says whether a halt is obeyed in this state. From cut-over on
	// the release finishes what it started and notes the halt.
	halts bool
	// locked says whether the engine holds the lock in this state.
	locked bool
}

// table is the release state machine. Every path ends in Success,
// FailureClean or FailureDirty, and every path that took the lock passes
// through Unlock.
var table = map[State]transition{
	elevator.StateValidate: {step: (*Engine).validate, halts: true,
		next: []State{elevator.StateLock}, fail: elevator.StateFailureClean},
	elevator.StateLock: {step: (*Engine).lock, halts: true,
		next: []State{elevator.StateValidateResources}, fail: elevator.StateFailureClean},
	elevator.StateValidateResources: {step: (*Engine).validateResources, halts: true, locked: true,
		next: []State{elevator.StateDeploy}, fail: elevator.StateUnlock},
	elevator.StateDeploy: {step: (*Engine).deploy, halts: true, locked: true,
		next: []State{elevator.StateCheckHealthy}, fail: elevator.StateCleanUpFailure},
	elevator.StateCheckHealthy: {step: (*Engine).checkHealthy, halts: true, locked: true,
		next: []State{elevator.StateScaleUp, elevator.StateCutOver}, fail: elevator.StateCleanUpFailure},
	elevator.StateScaleUp: {step: (*Engine).scaleUp, halts: true, locked: true,
		next: []State{elevator.StateCheckHealthy}, fail: elevator.StateCleanUpFailure},
	elevator.StateCutOver: {step: (*Engine).cutOver, locked: true,
		next: []State{elevator.StateDeploy, elevator.StateCleanUpSuccess}, fail: elevator.StateCleanUpFailure},
	elevator.StateCleanUpSuccess: {step: (*Engine).cleanUpSuccess, locked: true,
		next: []State{elevator.StateUnlock}},
	elevator.StateCleanUpFailure: {step: (*Engine).cleanUpFailure, locked: true,
		next: []State{elevator.StateUnlock}},
	elevator.StateUnlock: {step: (*Engine).unlock, locked: true,
		next: []State{elevator.StateSuccess, elevator.StateFailureClean, elevator.StateFailureDirty}},
}

// forward reports whether s moves the release forward, so that losing the
// lock in s must turn the release back.
func forward(s State) bool {
	t, ok := table[s]
	return ok && t.fail == elevator.StateCleanUpFailure || s == elevator.StateValidateResources
}

// Transitions returns the state machine: for each state that is not an end
// state, the states it may go to (its failure transition last), for
// dashboards and documentation.
func Transitions() map[State][]State {
	out := make(map[State][]State, len(table))
	for s, t := range table {
		next := slices.Clone(t.next)
		if t.fail != "" && !slices.Contains(next, t.fail) {
			next = append(next, t.fail)
		}
		out[s] = next
	}
	return out
}
