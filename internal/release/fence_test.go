package release

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// changes counts the calls that change AWS a fake region received.
func changes(c *fakeCloud) int {
	n := 0
	for _, op := range []string{"CreateGroup", "SetCapacity", "PutScaling", "AttachTargetGroups", "DetachTargetGroups", "DeleteGroup"} {
		n += c.count(op)
	}
	return n
}

// TestAnUnlockStopsTheReleaseBeforeItsNextChange breaks the lock of a
// running release (as `elevator unlock` does) while it waits between two
// runs of a step, lets another release run to Success, and checks that the
// first one changed nothing after the unlock, however soon its lease would
// have been renewed; resumed, it rolls back without touching the other's
// groups.
func TestAnUnlockStopsTheReleaseBeforeItsNextChange(t *testing.T) {
	tests := []struct {
		name string
		// arm sets the world up so that unlock runs once, while the
		// release waits before a run of a step (or a transition) that
		// changes AWS.
		arm   func(w *world, rel *elevator.Release, unlock func())
		state State // where the release stops
		// late counts the changes made after the unlock by the run of a
		// step it landed in: the window the fence leaves (see fence.go).
		late int
	}{
		{"waiting to retry a detach that failed", func(w *world, rel *elevator.Release, unlock func()) {
			c := w.clouds["us-east-1"]
			c.failNext("DetachTargetGroups", 1, errThrottled)
			c.hook = func(op string) {
				if op == "PutScaling" {
					unlock()
				}
			}
		}, CO, 1}, // the detach that AWS refused
		{"waiting for health, before cut-over", func(w *world, rel *elevator.Release, unlock func()) {
			w.clouds["us-east-1"].boot = 2 * poll // short: no lease renewal is due before cut-over
			w.store.afterPut = func(rec elevator.ReleaseRecord) {
				if rec.ID == rel.ID && rec.State == CH {
					unlock()
				}
			}
		}, CH, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			c := w.clouds["us-east-1"]
			a := w.release()
			seen := -1
			tt.arm(w, a, func() {
				if seen < 0 {
					if _, err := w.locker.Break(context.Background(), app, orbit); err != nil {
						t.Errorf("unlock: %v", err)
					}
					seen = changes(c)
				}
			})
			e1 := w.engine("engine-1")
			rec, err := e1.Run(context.Background(), a.ID, w.submit(e1, a))
			if seen < 0 {
				t.Fatal("the lock was never broken")
			}
			if n := changes(c) - seen; n != tt.late {
				t.Errorf("%d changes in AWS after the unlock, want %d (path %v)", n, tt.late, rec.Path)
			}
			if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "no longer this engine's") {
				t.Fatalf("Run = %v (path %v), want the engine to stop for its lost lock", err, rec.Path)
			}
			stored, _ := w.store.Record(context.Background(), a.ID)
			if stored.State != tt.state {
				t.Errorf("stored state %s, want %s", stored.State, tt.state)
			}
			c.hook, w.store.afterPut = nil, nil

			b := w.release(func(r *elevator.Release) { r.Version = "1.5.0" })
			assertPath(t, w.run(w.engine("engine-2"), b), happyPath)
			w.assertOnly(only(GroupName(b, "web")))

			rec, err = w.engine("engine-3").Resume(context.Background(), a.ID, "ops")
			if err != nil {
				t.Fatal(err)
			}
			if rec.State != FC {
				t.Errorf("resumed: %s (path %v), want FailureClean", rec.State, rec.Path)
			}
			assertFailure(t, rec, elevator.FailureLockLost)
			w.assertOnly(only(GroupName(b, "web")))
			w.assertServing(GroupName(b, "web"))
		})
	}
}

// TestTheFenceCostsNoCallWhenNothingMoved checks that a release whose lock
// is never touched pays for the fence only with the lease renewals it
// made anyway: the record writes carry the lock check.
func TestTheFenceCostsNoCallWhenNothingMoved(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1", func(c *Config) { c.Lease = time.Hour }) // no renewal is due
	rec := w.run(e, w.release())
	assertPath(t, rec, happyPath)
	if n := rec.Calls["Locker.Renew"]; n != 0 {
		t.Errorf("the lock was renewed %d times, want none: the record writes check it", n)
	}
	if n := rec.Calls["Store.PutLockedRecord"]; n == 0 {
		t.Errorf("no record was written under the lock: calls %v", rec.Calls)
	}
}

// TestARecordWriteUnderALostLockIsRefused checks the fake store's side of
// the fence, which the engine tests rely on: a record written under a lock
// that moved is refused, and nothing is stored.
func TestARecordWriteUnderALostLockIsRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := w.clock.Now()
	mine := Lock{App: app, Orbit: orbit, ReleaseID: "20261123-120000-aaaaaaaa", Owner: "engine-1", Expires: now.Add(lease)}
	if _, err := w.locker.Acquire(ctx, mine, now); err != nil {
		t.Fatal(err)
	}
	rec := &elevator.ReleaseRecord{ID: mine.ReleaseID, App: app, Orbit: orbit, Revision: 1}
	if err := w.store.PutLockedRecord(ctx, rec, mine); err != nil {
		t.Fatal(err)
	}
	if _, err := w.locker.Break(ctx, app, orbit); err != nil {
		t.Fatal(err)
	}
	rec.Revision = 2
	if err := w.store.PutLockedRecord(ctx, rec, mine); !errors.Is(err, ErrLockLost) {
		t.Fatalf("after an unlock: %v, want ErrLockLost", err)
	}
	if got, _ := w.store.Record(ctx, rec.ID); got.Revision != 1 {
		t.Errorf("revision %d stored, want 1", got.Revision)
	}
}

// TestALongRunOfAStepChecksTheLockAgain breaks the lock in the middle of a
// run of Deploy that takes longer than a tenth of the lease between two of
// its changes (the time, not the unlock, is what makes it check again):
// the second group is not created.
func TestALongRunOfAStepChecksTheLockAgain(t *testing.T) {
	w := newWorld(t)
	c := w.clouds["us-east-1"]
	rel := w.release(func(r *elevator.Release) {
		worker := r.Services[0]
		worker.Name, worker.Placements = "worker", slices.Clone(worker.Placements)
		worker.Placements[0].SecurityGroups, worker.Placements[0].InstanceProfile = []string{sg("worker")}, "shop-prod-worker"
		worker.Placements[0].TargetGroups = nil
		r.Services = append(r.Services, worker)
	})
	c.hook = func(op string) {
		if op == "CreateGroup" && c.count("CreateGroup") == 1 {
			w.clock.Advance(lease/10 + time.Second) // a slow call
			if _, err := w.locker.Break(context.Background(), app, orbit); err != nil {
				t.Error(err)
			}
		}
	}
	e := w.engine("engine-1")
	rec, err := e.Run(context.Background(), rel.ID, w.submit(e, rel))
	if n := c.count("CreateGroup"); n != 1 {
		t.Errorf("%d groups created, want 1: the second must wait for a check of the lock (path %v, error %q)", n, rec.Path, rec.Error)
	}
	if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "no longer this engine's") {
		t.Errorf("Run = %v, want the engine to stop for its lost lock", err)
	}
}
