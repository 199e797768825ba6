package release

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// killedAfterStoring runs rel with an engine that dies right after it
// stores state, and returns once it is dead.
func (w *world) killedAfterStoring(rel *elevator.Release, state State) {
	w.t.Helper()
	ctx, crash := context.WithCancel(context.Background())
	defer crash()
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.ID == rel.ID && rec.State == state && len(rec.Path) > 0 {
			crash()
		}
	}
	defer func() { w.store.afterPut = nil }()
	e := w.engine("engine-1")
	if rec, err := e.Run(ctx, rel.ID, w.submit(e, rel)); !errors.Is(err, context.Canceled) {
		w.t.Fatalf("Run = %v in %s, want the engine to die", err, rec.State)
	}
}

// TestAResumedReleaseThatANewerOneOvertookEndsClean kills a release before
// it held the lock, runs newer releases of the app to Success, and resumes
// the first: it must not put its older version back over theirs.
func TestAResumedReleaseThatANewerOneOvertookEndsClean(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		for _, state := range []State{V, L} {
			t.Run("dead in "+string(state), func(t *testing.T) {
				w := newWorldOn(t, r)
				old := w.release()
				w.killedAfterStoring(old, state)

				var last *elevator.Release
				for i := range 3 {
					w.clock.Advance(time.Minute)
					last = w.release(func(r *elevator.Release) { r.Version = "2.0." + string(rune('0'+i)) })
					assertPath(t, w.run(w.engine("engine-2"), last), happyPath)
				}

				rec, err := w.engine("engine-3").Resume(context.Background(), old.ID, "ops")
				if err != nil {
					t.Fatal(err)
				}
				want := path(V, FC)
				if state == L {
					want = path(V, L, FC)
				}
				assertPath(t, rec, want)
				assertFailure(t, rec, elevator.FailureSuperseded)
				if !strings.Contains(rec.Error, "made after this one, took the lock") {
					t.Errorf("error %q does not say why", rec.Error)
				}
				w.assertOnly(only(GroupName(last, "web")))
				w.assertServing(GroupName(last, "web"))
			})
		}
	})
}

// TestAResumedReleaseThatNoNewerOneOvertookGoesOn is the other side: a
// release that only older releases passed while it was stopped goes on.
func TestAResumedReleaseThatNoNewerOneOvertookGoesOn(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		earlier := w.release() // made first, run after the other died
		w.clock.Advance(time.Second)
		rel := w.release(func(r *elevator.Release) { r.Version = "2.0.0" })
		w.killedAfterStoring(rel, L)
		assertPath(t, w.run(w.engine("engine-2"), earlier), happyPath)

		rec, err := w.engine("engine-3").Resume(context.Background(), rel.ID, "ops")
		if err != nil {
			t.Fatal(err)
		}
		assertPath(t, rec, path(V, L, VR, D, CH, CO, CUS, U, OK))
		w.assertOnly(only(GroupName(rel, "web")))
	})
}

// TestAResumedReleaseMadeAMillisecondAfterTheOneThatPassedItGoesOn is the
// same within one second: ids count milliseconds, so the release made a
// millisecond after the other is the newer one, though the other was
// submitted after it and has the greater random part.
func TestAResumedReleaseMadeAMillisecondAfterTheOneThatPassedItGoesOn(t *testing.T) {
	w := newWorld(t)
	made := w.clock.Now().Add(-time.Minute).Truncate(time.Second)
	idAt := func(at time.Time, random string) func(*elevator.Release) {
		return func(r *elevator.Release) {
			id, err := elevator.ReleaseIDAt(at, strings.NewReader(random))
			if err != nil {
				t.Fatal(err)
			}
			r.ID = id
		}
	}
	earlier := w.release(idAt(made, "\xff\xff\xff\xff"))
	rel := w.release(idAt(made.Add(time.Millisecond), "\x00\x00\x00\x00"), func(r *elevator.Release) { r.Version = "2.0.0" })
	w.killedAfterStoring(rel, L)
	w.clock.Advance(time.Second) // earlier is submitted after rel
	assertPath(t, w.run(w.engine("engine-2"), earlier), happyPath)

	rec, err := w.engine("engine-3").Resume(context.Background(), rel.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	assertPath(t, rec, path(V, L, VR, D, CH, CO, CUS, U, OK))
	w.assertOnly(only(GroupName(rel, "web")))
}

// TestAResumedReleaseOlderThanMaxAgeIsTurnedBack resumes, eleven days
// later, a release whose engine died while it moved forward: replay
// protection covers resume as it covers submission.
func TestAResumedReleaseOlderThanMaxAgeIsTurnedBack(t *testing.T) {
	w := newWorld(t)
	rel := w.release()
	w.killedAfterStoring(rel, CH)
	w.clock.Advance(11 * 24 * time.Hour)

	rec, err := w.engine("engine-2").Resume(context.Background(), rel.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	assertPath(t, rec, rolledBack)
	assertFailure(t, rec, elevator.FailureInvalid)
	if !strings.Contains(rec.Error, "are not resumed (replay protection)") {
		t.Errorf("error %q does not say why", rec.Error)
	}
	w.assertOnly(only(oldGroup))
	w.assertServing(oldGroup)
}

// TestResumeInLockWaitsForADeadEnginesLease kills the engine right after it
// took the lock, before it stored ValidateResources: Resume must say that
// the release is being run (ErrRunning, which `release resume` waits on)
// until the dead engine's lease ends, then finish the release.
func TestResumeInLockWaitsForADeadEnginesLease(t *testing.T) {
	w := newWorld(t)
	rel := w.release()
	ctx, crash := context.WithCancel(context.Background())
	defer crash()
	w.locker.hook = func(op string) {
		if op == "Acquire" {
			crash()
		}
	}
	e1 := w.engine("engine-1")
	if rec, err := e1.Run(ctx, rel.ID, w.submit(e1, rel)); !errors.Is(err, context.Canceled) || rec.State != L {
		t.Fatalf("Run = %v in %s, want the engine to die in Lock", err, rec.State)
	}
	w.locker.hook = nil

	e2 := w.engine("engine-2")
	audits := len(w.store.audits())
	_, err := e2.Resume(context.Background(), rel.ID, "ops")
	if !errors.Is(err, ErrRunning) || elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "engine-1") {
		t.Fatalf("resume while the dead engine's lease lasts: %v, want a conflict wrapping ErrRunning", err)
	}
	if n := len(w.store.audits()); n != audits {
		t.Errorf("a resume that waits audited %d entries, want none", n-audits)
	}
	w.clock.Advance(lease + time.Second)
	rec, err := e2.Resume(context.Background(), rel.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	assertPath(t, rec, happyPath)
	w.assertOnly(only(GroupName(rel, "web")))
}

// TestAResumedReleaseWhoseDocumentIsRefusedIsClosed tampers with the
// stored document of a release whose engine died, and resumes it: it must
// clean up what it made, found by its id, without reading the document,
// and end FailureClean saying why, with the lock free.
func TestAResumedReleaseWhoseDocumentIsRefusedIsClosed(t *testing.T) {
	tests := []struct {
		state  State
		path   []State
		tamper func(string) string
	}{
		{L, path(V, L, FC), nil},
		{VR, path(V, L, VR, U, FC), nil},
		{D, path(V, L, VR, D, CUF, U, FC), nil},
		{CH, path(V, L, VR, D, CH, CUF, U, FC), nil},
		{CO, path(V, L, VR, D, CH, CO, CUF, U, FC), nil},
		{D, path(V, L, VR, D, CUF, U, FC), func(string) string { return "{not json" }},
	}
	for _, tt := range tests {
		name := "dead in " + string(tt.state)
		if tt.tamper != nil {
			name += ", a document that no longer parses"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			rel := w.release()
			w.killedAfterStoring(rel, tt.state)
			tamper := tt.tamper
			if tamper == nil {
				tamper = func(s string) string { return strings.Replace(s, `"1.4.2"`, `"6.6.6"`, 1) }
			}
			w.store.tamper(rel.ID, tamper)
			w.clock.Advance(lease + time.Second)

			rec, err := w.engine("engine-2").Resume(context.Background(), rel.ID, "ops")
			if err != nil {
				t.Fatalf("Resume: %v", err)
			}
			assertPath(t, rec, tt.path)
			assertFailure(t, rec, elevator.FailureInvalid)
			if !strings.Contains(rec.Error, "resume refused") {
				t.Errorf("error %q does not say why", rec.Error)
			}
			w.assertOnly(only(oldGroup))
			w.assertServing(oldGroup)
			assertPath(t, w.run(w.engine("engine-3"), w.release()), happyPath)
		})
	}
}
