package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// TestEachStateDeclaresTheRulesTheDocumentationGives pins the table's
// columns to what the package documentation and table.go say: which
// states move the release forward (and turn back when the lock was lost),
// which obey halts, and how each retries and gives up.
func TestEachStateDeclaresTheRulesTheDocumentationGives(t *testing.T) {
	tests := []struct {
		state   State
		forward bool
		halts   bool
		locked  bool
		retry   retry
		catch   catch
		fail    State
	}{
		// Steps before cleanup: 6 tries, waiting 1, 2, 4, then 8 polls.
		{V, false, true, false, steady, rollBack, FC},
		{L, false, true, false, steady, rollBack, FC},
		{VR, true, true, true, steady, rollBack, U},
		{D, true, true, true, steady, rollBack, CUF},
		{CH, true, true, true, steady, rollBack, CUF},
		{SU, true, true, true, steady, rollBack, CUF},
		{ST, true, true, true, steady, rollBack, CUF},
		{CO, true, false, true, steady, rollBack, CUF},
		// After cut-over the gates obey halts again: a halt rolls back.
		{IT, true, true, true, steady, rollBack, RB},
		{BK, true, true, true, steady, rollBack, RB},
		// Rolling back is tried as often as cleanup, which tries again.
		{RB, false, false, true, patient, rollBack, CUF},
		// Cleanup: 12 tries; giving up leaves groups behind.
		{CUS, false, false, true, patient, leaveBehind, U},
		{CUF, false, false, true, patient, leaveBehind, U},
		// Unlock: 3 tries, then the lease.
		{U, false, false, true, brief, leaveToLease, ""},
	}
	if steady != (retry{attempts: 6, first: 1, most: 8}) || patient != (retry{attempts: 12, first: 1, most: 8}) || brief != (retry{attempts: 3, first: 1, most: 2}) {
		t.Errorf("retry policies steady %+v, patient %+v, brief %+v; not as documented", steady, patient, brief)
	}
	if len(tests) != len(table) {
		t.Fatalf("the table has %d states, the test %d", len(table), len(tests))
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			got, ok := table[tt.state]
			if !ok {
				t.Fatalf("%s is not in the table", tt.state)
			}
			if got.forward != tt.forward || got.halts != tt.halts || got.locked != tt.locked {
				t.Errorf("forward, halts, locked = %v, %v, %v; want %v, %v, %v", got.forward, got.halts, got.locked, tt.forward, tt.halts, tt.locked)
			}
			if got.retry != tt.retry || got.catch != tt.catch || got.fail != tt.fail {
				t.Errorf("retry %+v, catch %d, fail %q; want %+v, %d, %q", got.retry, got.catch, got.fail, tt.retry, tt.catch, tt.fail)
			}
		})
	}
}

func TestEveryRowOfTheTableIsWhole(t *testing.T) {
	for s, tr := range table {
		if tr.step == nil || len(tr.next) == 0 {
			t.Errorf("%s: no step or no next state", s)
		}
		if tr.retry.attempts < 1 || tr.retry.first < 1 || tr.retry.most < tr.retry.first {
			t.Errorf("%s: retry policy %+v tries nothing or waits nothing", s, tr.retry)
		}
		if tr.fail == "" && tr.catch != leaveToLease {
			t.Errorf("%s: catch %d needs a fail transition", s, tr.catch)
		}
		if tr.forward && !tr.locked {
			t.Errorf("%s: moves forward without the lock", s)
		}
	}
}

func TestBackoffDoublesFromTheFirstWaitUpToTheMost(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	tests := []struct {
		name   string
		policy retry
		want   []time.Duration // after the 1st, 2nd, ... failure
	}{
		{"steady waits 1, 2, 4, then 8 polls", steady, []time.Duration{poll, 2 * poll, 4 * poll, 8 * poll, 8 * poll}},
		{"brief waits 1, then 2 polls", brief, []time.Duration{poll, 2 * poll, 2 * poll}},
		{"a policy that starts at 3 polls stops at its most", retry{attempts: 4, first: 3, most: 5}, []time.Duration{3 * poll, 5 * poll, 5 * poll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			for n := 1; n <= len(tt.want); n++ {
				got = append(got, e.backoff(tt.policy, n))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("waits %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMaxAttemptsReplacesTheAttemptsOfEveryState(t *testing.T) {
	w := newWorld(t)
	declared := w.engine("engine-1", func(c *Config) { c.MaxAttempts = 0 })
	forced := w.engine("engine-2", func(c *Config) { c.MaxAttempts = 2 })
	for s, tr := range table {
		if got := declared.attempts(tr.retry); got != tr.retry.attempts {
			t.Errorf("%s: %d attempts without MaxAttempts, want the declared %d", s, got, tr.retry.attempts)
		}
		if got := forced.attempts(tr.retry); got != 2 {
			t.Errorf("%s: %d attempts with MaxAttempts 2", s, got)
		}
	}
}

// declared is an engine that tries each state as often as the table says.
func declared(c *Config) { c.MaxAttempts = 0 }

func TestCleanupGivesUpAfterItsDeclaredAttempts(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*fakeCloud)
		state State
		path  []State
		why   error
	}{
		{"deleting the old groups of a release that went well", func(c *fakeCloud) { c.failAlways("DeleteGroup", errThrottled) },
			CUS, path(V, L, VR, D, CH, CO, CUS, U, FD), elevator.FailureLeftBehind},
		{"deleting the new groups of a release that failed", func(c *fakeCloud) { c.neverHealthy = true; c.failAlways("DeleteGroup", errThrottled) },
			CUF, path(V, L, VR, D, CH, CUF, U, FD), elevator.FailureUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			c := w.clouds["us-east-1"]
			tt.setup(c)
			rec := w.run(w.engine("engine-1", declared), w.release())
			assertPath(t, rec, tt.path)
			want := table[tt.state].retry.attempts
			if n := c.count("DeleteGroup"); n != want {
				t.Errorf("DeleteGroup tried %d times, want the %d attempts %s declares", n, want, tt.state)
			}
			if !strings.Contains(rec.Error, fmt.Sprintf("%s gave up after %d attempts", tt.state, want)) {
				t.Errorf("error %q does not say the attempts", rec.Error)
			}
			if err := rec.Err(); !errors.Is(err, elevator.FailureLeftBehind) || !errors.Is(err, tt.why) {
				t.Errorf("Err() = %v (failure %q), want it to wrap %v and %v", err, rec.Failure, elevator.FailureLeftBehind, tt.why)
			}
		})
	}
}

func TestAPermanentCleanupErrorGivesUpAtOnce(t *testing.T) {
	w := newWorld(t)
	c := w.clouds["us-east-1"]
	c.failAlways("DeleteGroup", elevator.Errorf(elevator.EINVALID, "AccessDenied: autoscaling:DeleteAutoScalingGroup"))
	rel := w.release()
	rec := w.run(w.engine("engine-1", declared), rel)
	assertPath(t, rec, path(V, L, VR, D, CH, CO, CUS, U, FD))
	if n := c.count("DeleteGroup"); n != 1 {
		t.Errorf("DeleteGroup tried %d times, want once: retrying cannot fix a refusal", n)
	}
	if !slices.Contains(rec.Leftovers, w.leftover("us-east-1", oldGroup, "old")) || !strings.Contains(rec.Error, "gave up after 1 attempt:") {
		t.Errorf("leftovers %q, error %q", rec.Leftovers, rec.Error)
	}
}

func TestALockThatCannotBeReleasedIsLeftToItsLease(t *testing.T) {
	w := newWorld(t)
	w.locker.failAlways("Release", errThrottled)
	rel := w.release()
	rec := w.run(w.engine("engine-1", declared), rel)
	assertPath(t, rec, happyPath)
	if n, want := w.locker.count("Release"), table[U].retry.attempts; n != want {
		t.Errorf("Release tried %d times, want the %d attempts Unlock declares", n, want)
	}
	if !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "gave up releasing the lock") }) {
		t.Errorf("notes %q do not say the lock was left", rec.Notes)
	}
	if l, err := w.locker.Get(context.Background(), app, orbit); err != nil || l.ReleaseID != rel.ID {
		t.Errorf("lock %+v, %v; want the release's lock left to its lease", l, err)
	}
	if err := rec.Err(); err != nil {
		t.Errorf("Err() = %v for a release that succeeded", err)
	}
}

// TestALockLostWhileNoEngineRanTurnsBackExactlyTheForwardStates kills the
// engine after it stores each state of a good release, breaks the lock,
// and resumes: the states that move the release forward roll back by
// their failure transition, the others finish.
func TestALockLostWhileNoEngineRanTurnsBackExactlyTheForwardStates(t *testing.T) {
	turnBack := map[State][]State{
		VR: path(V, L, VR, U, FC),
		D:  path(V, L, VR, D, CUF, U, FC),
		CH: path(V, L, VR, D, CH, CUF, U, FC),
		CO: path(V, L, VR, D, CH, CO, CUF, U, FC),
	}
	for i, state := range happyPath[:len(happyPath)-1] {
		t.Run(fmt.Sprintf("dead after storing %s", state), func(t *testing.T) {
			w := newWorld(t)
			rel := w.release()
			ctx, crash := context.WithCancel(context.Background())
			defer crash()
			w.store.afterPut = func(rec elevator.ReleaseRecord) {
				if len(rec.Path) == i+1 {
					crash()
				}
			}
			e1 := w.engine("engine-1")
			if _, err := e1.Run(ctx, rel.ID, w.submit(e1, rel)); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want the engine to die", err)
			}
			w.store.afterPut = nil
			_, _ = w.locker.Break(context.Background(), app, orbit)
			w.clock.Advance(lease + time.Second)

			rec, err := w.engine("engine-2").Resume(context.Background(), rel.ID, "ops")
			if err != nil {
				t.Fatal(err)
			}
			want, back := turnBack[state]
			if !back {
				assertPath(t, rec, happyPath)
				w.assertOnly(only(GroupName(rel, "web")))
				return
			}
			assertPath(t, rec, want)
			if !errors.Is(rec.Err(), elevator.FailureLockLost) {
				t.Errorf("Err() = %v (failure %q), want %v", rec.Err(), rec.Failure, elevator.FailureLockLost)
			}
			w.assertOnly(only(oldGroup))
			w.assertServing(oldGroup)
		})
	}
}

// TestAHaltIsObeyedUntilCutOverAndNotedAfter halts a good release just
// after it stores its record on entering each state. The engine meets the
// halt when its next record write is refused (or at its next poll, when it
// waits): up to cut-over the release takes the failure transition of the
// state it was entering, before that state's step changes anything; from
// cut-over on it finishes and notes the halt.
func TestAHaltIsObeyedUntilCutOverAndNotedAfter(t *testing.T) {
	obeyed := map[State][]State{
		V:  path(V, FC), // met by Run's first write, the halt follows submission
		L:  path(V, L, VR, U, FC),
		VR: path(V, L, VR, D, CUF, U, FC),
		D:  path(V, L, VR, D, CH, CUF, U, FC),
		CH: path(V, L, VR, D, CH, CUF, U, FC),
	}
	for _, state := range happyPath[:len(happyPath)-1] {
		t.Run(fmt.Sprintf("halted on entering %s", state), func(t *testing.T) {
			w := newWorld(t)
			rel := w.release()
			w.store.afterPut = func(rec elevator.ReleaseRecord) {
				if rec.State == state {
					_ = w.store.PutHalt(context.Background(), rel.ID, elevator.ReleaseHalt{By: "dave", At: w.clock.Now(), Reason: "stop"})
				}
			}
			rec := w.run(w.engine("engine-1"), rel)
			want, ok := obeyed[state]
			if !ok {
				assertPath(t, rec, happyPath)
				assertFailure(t, rec, nil)
				if !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "after cut-over began") }) {
					t.Errorf("notes %q do not mention the halt", rec.Notes)
				}
				return
			}
			assertPath(t, rec, want)
			assertFailure(t, rec, elevator.FailureHalted)
			w.assertOnly(only(oldGroup))
		})
	}
}
