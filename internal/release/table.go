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
	// Save asks the engine to store the record before it waits, for what
	// the step found that others must see before the next transition
	// (tests' results, a phase waiting for `release retry-tests`).
	Save bool
}

// goTo moves the release to next.
func goTo(next State) Outcome { return Outcome{Next: next} }

// requeue runs the current step again after d.
func requeue(d time.Duration) Outcome { return Outcome{After: d} }

// Step is the work of one state. It re-reads what it needs from AWS, is
// safe to run twice (after a crash, a retry or a resume), and returns an
// Outcome instead of waiting. An error is tried again after the state's
// backoff until the state's attempts run out, a permanent one (see fail)
// never; then the state's catch decides what happens.
type Step func(e *Engine, ctx context.Context, r *Release) (Outcome, error)

// retry is a state's retry policy (Odin's Retry): how many times its step
// is tried in all while it returns errors, and how long the engine waits
// between two tries, in poll intervals: first after the first failure,
// doubling after each further one, never more than most. Config.MaxAttempts,
// when set, replaces every state's attempts.
type retry struct {
	attempts    int
	first, most int
}

// catch is what the engine does once a state's step has failed for good
// (Odin's Catch): its attempts ran out, or its error is permanent.
type catch int

const (
	// rollBack fails the release: it is marked failed with the step's
	// error and typed reason, and goes to the state's fail transition.
	rollBack catch = iota
	// leaveBehind gives cleanup up: what the step's error names as still
	// there (a *leftBehind) becomes the record's Leftovers, the error is
	// added to the record's, and the release goes on to the fail
	// transition, Unlock, which ends it FailureDirty.
	leaveBehind
	// leaveToLease gives unlocking up: the lock is left to end with its
	// lease, and the release goes on to its end state.
	leaveToLease
)

// transition is a row of the table.
type transition struct {
	step Step
	// next lists the states the step may go to.
	next []State
	// fail is where a halt, a lost lock, and a step that failed for good
	// (see catch) take the release; "" when the catch decides.
	fail State
	// forward says the release is on its way to changing what serves the
	// app: from ValidateResources (whose look at the serving groups another
	// release may have made stale) to CutOver. A lock lost while no engine
	// ran the release turns it back by its fail transition.
	forward bool
	// halts says whether a halt is obeyed in this state. From cut-over on
	// the release finishes what it started and notes the halt.
	halts bool
	// locked says whether the engine holds the lock in this state.
	locked bool
	// retry is how the step is tried again on errors, and catch what
	// happens when it fails for good.
	retry retry
	catch catch
}

// Retry policies. Steps before cleanup are tried six times. Cleanup,
// whose giving up leaves groups running and billed, is tried twice as
// often. Releasing the lock is tried three times: its lease ends anyway.
// While the lock is held no wait is longer than a third of the lease.
var (
	steady  = retry{attempts: 6, first: 1, most: 8}
	patient = retry{attempts: 12, first: 1, most: 8}
	brief   = retry{attempts: 3, first: 1, most: 2}
)

// table is the release state machine. Every path ends in Success,
// FailureClean or FailureDirty, and every path that took the lock passes
// through Unlock.
var table = map[State]transition{
	elevator.StateValidate: {step: (*Engine).validate, halts: true, retry: steady,
		next: []State{elevator.StateLock}, fail: elevator.StateFailureClean},
	elevator.StateLock: {step: (*Engine).lock, halts: true, retry: steady,
		next: []State{elevator.StateValidateResources}, fail: elevator.StateFailureClean},
	elevator.StateValidateResources: {step: (*Engine).validateResources, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateDeploy}, fail: elevator.StateUnlock},
	elevator.StateDeploy: {step: (*Engine).deploy, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateCheckHealthy}, fail: elevator.StateCleanUpFailure},
	elevator.StateCheckHealthy: {step: (*Engine).checkHealthy, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateScaleUp, elevator.StateSmokeTest, elevator.StateCutOver}, fail: elevator.StateCleanUpFailure},
	elevator.StateScaleUp: {step: (*Engine).scaleUp, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateCheckHealthy}, fail: elevator.StateCleanUpFailure},
	elevator.StateSmokeTest: {step: (*Engine).smokeTest, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateCutOver}, fail: elevator.StateCleanUpFailure},
	elevator.StateCutOver: {step: (*Engine).cutOver, forward: true, locked: true, retry: steady,
		next: []State{elevator.StateDeploy, elevator.StateIntegrationTest, elevator.StateBake, elevator.StateCleanUpSuccess}, fail: elevator.StateCleanUpFailure},
	elevator.StateIntegrationTest: {step: (*Engine).integrationTest, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateBake, elevator.StateCleanUpSuccess}, fail: elevator.StateRollBack},
	elevator.StateBake: {step: (*Engine).bake, forward: true, halts: true, locked: true, retry: steady,
		next: []State{elevator.StateCleanUpSuccess}, fail: elevator.StateRollBack},
	// RollBack must put the old groups back: tried as often as cleanup,
	// then CleanUpFailure tries again.
	elevator.StateRollBack: {step: (*Engine).rollBack, locked: true, retry: patient,
		next: []State{elevator.StateCleanUpFailure}, fail: elevator.StateCleanUpFailure},
	elevator.StateCleanUpSuccess: {step: (*Engine).cleanUpSuccess, locked: true, retry: patient, catch: leaveBehind,
		next: []State{elevator.StateUnlock}, fail: elevator.StateUnlock},
	elevator.StateCleanUpFailure: {step: (*Engine).cleanUpFailure, locked: true, retry: patient, catch: leaveBehind,
		next: []State{elevator.StateUnlock}, fail: elevator.StateUnlock},
	elevator.StateUnlock: {step: (*Engine).unlock, locked: true, retry: brief, catch: leaveToLease,
		next: []State{elevator.StateSuccess, elevator.StateFailureClean, elevator.StateFailureDirty}},
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
