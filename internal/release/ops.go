package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elevatorhq/elevator"
)

// Status returns a release's record, or ENOTFOUND.
func (e *Engine) Status(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	rec, err := e.c.Store.Record(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
	}
	return rec, err
}

// Halt asks a release to stop, and audits it. The engine running the
// release sees the halt at its next transition or poll: before cut-over it
// rolls the release back and ends it FailureClean with the reason; from
// cut-over on the release finishes and notes the halt. A halt never
// expires. Halt returns ENOTFOUND for an unknown release and ECONFLICT for
// one that has ended.
func (e *Engine) Halt(ctx context.Context, id, by, reason string) error {
	rec, err := e.Status(ctx, id)
	if err != nil {
		return err
	}
	if rec.State.Ended() {
		return elevator.Errorf(elevator.ECONFLICT, "release %s already ended %s", id, rec.State)
	}
	now := e.now()
	if err := e.c.Store.PutHalt(ctx, id, elevator.ReleaseHalt{By: by, At: now, Reason: reason}); err != nil {
		return fmt.Errorf("halt release %s: %w", id, err)
	}
	return e.c.Store.Audit(ctx, elevator.AuditEntry{At: now, By: by, Action: elevator.AuditHalt, App: rec.App,
		Orbit: rec.Orbit, ReleaseID: id, Outcome: "requested", Detail: reason})
}

// HaltCurrent halts the release that holds the lock of an app in an
// orbit, and returns its id; ENOTFOUND when no release holds it.
func (e *Engine) HaltCurrent(ctx context.Context, app, orbit, by, reason string) (string, error) {
	l, err := e.c.Locker.Get(ctx, app, orbit)
	if errors.Is(err, ErrNotFound) {
		return "", elevator.Errorf(elevator.ENOTFOUND, "no release of %s is running in %s", app, orbit)
	}
	if err != nil {
		return "", fmt.Errorf("read the lock of %s in %s: %w", app, orbit, err)
	}
	if err := heldByChaos(l); err != nil {
		return "", err
	}
	return l.ReleaseID, e.Halt(ctx, l.ReleaseID, by, reason)
}

// heldByChaos is an ECONFLICT error when the lock is held by `elevator
// chaos` (its ReleaseID is the run's id, not a release's): there is no
// release to halt.
func heldByChaos(l Lock) error {
	if !elevator.IsChaosRun(l.ReleaseID) {
		return nil
	}
	return elevator.Errorf(elevator.ECONFLICT, "the lock of %s in %s is held by elevator chaos (run %s, %s, until %s), not by a release: there is none to halt; it is given back when the run ends, or see elevator unlock",
		l.App, l.Orbit, l.ReleaseID, l.Holder, l.Expires.Format(time.RFC3339))
}

// Unlock breaks the lock of an app in an orbit, whoever holds it, and
// audits who broke which lock and why. A release whose lock was broken
// while it ran stops before its next change in AWS (see fence.go);
// resumed, it rolls back.
// Unlock returns the broken lock, or ENOTFOUND when there is none.
func (e *Engine) Unlock(ctx context.Context, app, orbit, by, reason string) (Lock, error) {
	l, err := e.c.Locker.Break(ctx, app, orbit)
	if errors.Is(err, ErrNotFound) {
		return Lock{}, elevator.Errorf(elevator.ENOTFOUND, "%s is not locked in %s", app, orbit)
	}
	if err != nil {
		return Lock{}, fmt.Errorf("unlock %s in %s: %w", app, orbit, err)
	}
	err = e.c.Store.Audit(ctx, elevator.AuditEntry{At: e.now(), By: by, Action: elevator.AuditUnlock, App: app, Orbit: orbit,
		ReleaseID: l.ReleaseID, Outcome: "unlocked",
		Detail: fmt.Sprintf("%s; the lock was held by release %s of %s since %s (engine %s, lease until %s)",
			reason, l.ReleaseID, l.Holder, l.Since.Format(time.RFC3339), l.Owner, l.Expires.Format(time.RFC3339))})
	return l, err
}

// Rollback submits a new release with the content of an earlier release
// that succeeded: a new id, created now by by, with RollbackOf set. Run
// it like any release. It returns ENOTFOUND for an unknown release and
// EINVALID for one that did not succeed or whose document no longer
// matches its checksum.
func (e *Engine) Rollback(ctx context.Context, to, by string) (*elevator.Release, error) {
	rec, err := e.Status(ctx, to)
	if err != nil {
		return nil, err
	}
	if rec.State != elevator.StateSuccess {
		return nil, elevator.Errorf(elevator.EINVALID, "release %s is in %s; only a release that succeeded can be rolled back to", to, rec.State)
	}
	doc, sum, err := e.c.Store.Release(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", to, err)
	}
	if got := elevator.ChecksumOf(doc); got != sum || sum != rec.Checksum {
		return nil, elevator.Errorf(elevator.EINVALID, "release %s: stored document no longer matches its checksum", to)
	}
	earlier, err := elevator.ParseRelease(doc)
	if err != nil {
		return nil, err
	}
	now := e.now()
	id, err := elevator.NewReleaseID(now, e.c.IDs)
	if err != nil {
		return nil, err
	}
	rel := *earlier
	rel.ID, rel.CreatedAt, rel.CreatedBy, rel.RollbackOf = id, now, by, to
	if _, err := e.Submit(ctx, &rel); err != nil {
		return nil, err
	}
	err = e.c.Store.Audit(ctx, elevator.AuditEntry{At: now, By: by, Action: elevator.AuditRollback, App: rel.App, Orbit: rel.Orbit,
		ReleaseID: id, Outcome: "submitted", Detail: fmt.Sprintf("rollback to release %s (version %s)", to, rel.Version)})
	if err != nil {
		return nil, fmt.Errorf("audit rollback %s: %w", id, err)
	}
	return &rel, nil
}

// RetryTests asks the engine running a release whose tests failed, and
// that waits for a retry (tests.retry_window), to run them again, and
// audits it; it returns the round asked for. The engine takes it at its
// next poll. It returns ENOTFOUND for an unknown release, and ECONFLICT
// for one that has ended or whose tests are not waiting for a retry.
func (e *Engine) RetryTests(ctx context.Context, id, by string) (int, error) {
	rec, err := e.Status(ctx, id)
	if err != nil {
		return 0, err
	}
	if rec.State.Ended() {
		return 0, elevator.Errorf(elevator.ECONFLICT, "release %s already ended %s", id, rec.State)
	}
	if rec.TestsFailedAt.IsZero() {
		return 0, elevator.Errorf(elevator.ECONFLICT, "release %s is in %s, and no failed tests are waiting for a retry", id, rec.State)
	}
	round := rec.TestRound + 1
	now := e.now()
	if err := e.c.Store.PutTestRetry(ctx, id, round, elevator.TestRetry{By: by, At: now}); err != nil {
		return 0, fmt.Errorf("ask release %s to retry its tests: %w", id, err)
	}
	err = e.c.Store.Audit(ctx, elevator.AuditEntry{At: now, By: by, Action: elevator.AuditRetryTests, App: rec.App,
		Orbit: rec.Orbit, ReleaseID: id, Outcome: "requested", Detail: fmt.Sprintf("round %d of the %s tests", round, rec.State)})
	return round, err
}

// InGates says whether a release in state s is at one of its gates
// (SmokeTest, IntegrationTest, Bake), where a halt rolls it back at once:
// before cut-over production never saw it, after cut-over its old groups
// are alive, out of their target groups, to be put back.
func InGates(s State) bool {
	return s == elevator.StateSmokeTest || s == elevator.StateIntegrationTest || s == elevator.StateBake
}

// RollBackInGates rolls back the release of an app in an orbit that is at
// one of its gates (see InGates), by halting it with the reason, and
// returns its id; "" and no error when no release of the app is there
// (then a rollback is a new release of earlier content, see Rollback).
func (e *Engine) RollBackInGates(ctx context.Context, app, orbit, by, reason string) (string, error) {
	l, err := e.c.Locker.Get(ctx, app, orbit)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the lock of %s in %s: %w", app, orbit, err)
	}
	if err := heldByChaos(l); err != nil {
		return "", err
	}
	rec, err := e.Status(ctx, l.ReleaseID)
	if err != nil || !InGates(rec.State) {
		return "", err
	}
	return rec.ID, e.Halt(ctx, rec.ID, by, reason)
}
