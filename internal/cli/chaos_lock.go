package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// chaosLocker is what a chaos run does with the apps' release locks: the
// orbit's awsrelease.Locker, or a fake in tests.
type chaosLocker interface {
	Acquire(ctx context.Context, want release.Lock, now time.Time) (release.Lock, error)
	Renew(ctx context.Context, l release.Lock) error
	Release(ctx context.Context, l release.Lock) error
	Get(ctx context.Context, app, orbit string) (release.Lock, error)
}

// renewTries is how many times a lock's renewal is tried, a pause apart,
// before the lock counts as lost: one error of the lock table is not the
// end of a run.
const renewTries = 3

// chaosLocks are the app locks a run holds. From the first one taken
// until close, a goroutine renews each when a third of its lease is
// left (as do the waits for the next lock): a lock is never let expire
// while the run waits for another app's, terminates, or keeps a zone
// away. A lock found lost (broken by `elevator unlock`, or not renewed
// after renewTries) is reported by lost, and onLost is called once.
type chaosLocks struct {
	r      *chaosRun
	onLost func()

	mu   sync.Mutex
	held []release.Lock
	err  error // the first lock lost

	stop context.CancelFunc
	done sync.WaitGroup
}

// holdLocks starts holding locks: renewing them, with a context of its
// own, so that Ctrl-C does not stop the renewals while the run gives the
// zone back. close stops it and gives the locks back.
func (r *chaosRun) holdLocks(onLost func()) *chaosLocks {
	ctx, stop := context.WithCancel(context.Background())
	h := &chaosLocks{r: r, onLost: onLost, stop: stop}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(max(r.renewEvery/4, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h.renewDue(ctx, false)
			}
		}
	}()
	return h
}

func (h *chaosLocks) add(l release.Lock) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, l)
}

// lost returns an ECONFLICT error naming the first lock lost, or nil.
func (h *chaosLocks) lost() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// renewDue renews the locks whose lease has less than two thirds left
// (every lock, when all): renewEvery is a third of the lease.
func (h *chaosLocks) renewDue(ctx context.Context, all bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	for i := range h.held {
		l := h.held[i]
		if !all && l.Expires.Sub(h.r.now()) > chaosLease-h.r.renewEvery {
			continue
		}
		l.Expires = h.r.now().Add(chaosLease)
		if err := h.r.renewLock(ctx, l); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.err = elevator.Errorf(elevator.ECONFLICT, "the lock of %s in orbit %s was lost: %v", l.App, l.Orbit, err)
			fmt.Fprintf(h.r.stderr, "elevator: %v\n", h.err)
			if h.onLost != nil {
				h.onLost()
			}
			return h.err
		}
		h.held[i] = l
	}
	return nil
}

// close stops the renewals and gives every lock back.
func (h *chaosLocks) close() {
	h.stop()
	h.done.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.r.unlockAll(h.held)
	h.held = nil
}

// renewLock renews a lock, trying renewTries times a pause apart: it
// fails at once when the lock is someone else's (release.ErrLockLost).
func (r *chaosRun) renewLock(ctx context.Context, l release.Lock) error {
	var err error
	for try := 1; try <= renewTries; try++ {
		if err = r.locker.Renew(ctx, l); err == nil || errors.Is(err, release.ErrLockLost) {
			return err
		}
		if try < renewTries {
			if serr := r.sleep(ctx, r.pollUnit()); serr != nil {
				return serr
			}
		}
	}
	return fmt.Errorf("%d tries: %w", renewTries, err)
}

// lock takes the app's release lock in the orbit, waiting up to
// --lock-wait while someone else (a release) holds it; then it refuses
// with an ECONFLICT error naming the holder. While it waits, the locks
// held already are renewed. A lock left by a release that did not end
// (its lease expired, but the release is to be resumed), or an app with
// a release record not ended, is given back and refused: chaos must not
// act in the middle of a release.
func (r *chaosRun) lock(ctx context.Context, h *chaosLocks, app string) (release.Lock, error) {
	deadline := r.now().Add(r.lockWait)
	for {
		now := r.now()
		want := release.Lock{App: app, Orbit: r.orbit.Name, ReleaseID: r.runID, Owner: r.runID, Holder: "elevator chaos by " + r.by,
			Since: now, Expires: now.Add(chaosLease)}
		// An expired lock a release left is refused before anything is
		// written; giveBack covers the lock left between this read and
		// the write.
		if cur, err := r.locker.Get(ctx, app, r.orbit.Name); err == nil && cur.Expires.Before(now) {
			if err := r.unfinishedRelease(ctx, app, cur); err != nil {
				return release.Lock{}, err
			}
		} else if err != nil && !errors.Is(err, release.ErrNotFound) {
			return release.Lock{}, err
		}
		prev, err := r.locker.Acquire(ctx, want, now)
		var held *release.LockHeldError
		if err == nil {
			if err := r.unfinishedRelease(ctx, app, prev); err != nil {
				r.giveBack(want, prev)
				return release.Lock{}, err
			}
			return want, nil
		}
		if !errors.As(err, &held) {
			if ctx.Err() != nil {
				// The write may have landed before the context ended.
				r.unlockAll([]release.Lock{want})
			}
			return release.Lock{}, err
		}
		left := deadline.Sub(r.now())
		if left <= 0 {
			waited := "did not wait (--lock-wait 0s)"
			if r.lockWait > 0 {
				waited = "waited " + r.lockWait.String() + " (--lock-wait)"
			}
			return release.Lock{}, elevator.Errorf(elevator.ECONFLICT, "%v: %s; chaos never runs during a release of the app", held, waited)
		}
		r.progress.Note(r.orbit.Regions[0].Name, fmt.Sprintf("%s is locked by %s of %s; waiting up to %s", app, held.Lock.ReleaseID, held.Lock.Holder, left.Round(time.Second)))
		if err := r.sleep(ctx, min(2*time.Second, left)); err != nil {
			return release.Lock{}, err
		}
		if err := h.renewDue(ctx, false); err != nil {
			return release.Lock{}, err
		}
	}
}

// unfinishedRelease returns an ECONFLICT error naming the release that
// has not ended for the app: the one whose expired lock prev is (kept so
// that a replica resumes it), or one whose record is not in an end state.
func (r *chaosRun) unfinishedRelease(ctx context.Context, app string, prev release.Lock) error {
	if prev.ReleaseID != "" && !elevator.IsChaosRun(prev.ReleaseID) {
		return elevator.Errorf(elevator.ECONFLICT, "app %s in orbit %s: release %s (of %s) left its lock, expired since %s, and has not ended; it is resumed or unlocked first (see elevator release status %s, elevator unlock); chaos changed nothing",
			app, r.orbit.Name, prev.ReleaseID, prev.Holder, prev.Expires.Format(time.RFC3339), prev.ReleaseID)
	}
	if r.backend == nil {
		return nil
	}
	recs, err := r.backend.Store.Releases(ctx, app, 20)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if !rec.State.Ended() {
			return elevator.Errorf(elevator.ECONFLICT, "app %s in orbit %s: release %s is in state %s and has not ended; chaos changed nothing", app, r.orbit.Name, rec.ID, rec.State)
		}
	}
	return nil
}

// giveBack gives back a lock just taken: the previous one, when there was
// one, is put back as it was (expired, for its release to resume).
func (r *chaosRun) giveBack(mine, prev release.Lock) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if prev.ReleaseID == "" {
		if err := r.locker.Release(ctx, mine); err != nil {
			fmt.Fprintf(r.stderr, "elevator: give back the lock of %s: %v\n", mine.App, err)
		}
		return
	}
	// In one conditional write, never deleting first: the app is never
	// without a lock, which a resuming engine would take for one broken
	// while no engine ran its release. As of just after this run's lease,
	// the lock in place is free to replace only if it is still this run's.
	if _, err := r.locker.Acquire(ctx, prev, mine.Expires.Add(time.Nanosecond)); err != nil {
		fmt.Fprintf(r.stderr, "elevator: put back the lock of %s of release %s: %v\n", prev.App, prev.ReleaseID, err)
	}
}

// lockAll takes the locks of apps in order, all or none, renewing those
// taken while it waits for the next; once all are taken, each is renewed
// again, and a run that lost one gives them all back and refuses.
func (r *chaosRun) lockAll(ctx context.Context, h *chaosLocks, apps []string) error {
	for _, app := range apps {
		l, err := r.lock(ctx, h, app)
		if err != nil {
			return err
		}
		h.add(l)
	}
	return h.renewDue(ctx, true)
}

// unlockAll gives the locks back, even after the command's context ended.
func (r *chaosRun) unlockAll(locks []release.Lock) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, l := range locks {
		if err := r.locker.Release(ctx, l); err != nil && !errors.Is(err, release.ErrLockLost) {
			fmt.Fprintf(r.stderr, "elevator: give back the lock of %s: %v (it ends with its lease, %s)\n", l.App, err, l.Expires.Format(time.RFC3339))
		}
	}
}
