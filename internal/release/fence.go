package release

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/elevatorhq/elevator"
)

// Fencing: a release changes AWS only while its engine holds the (app,
// orbit) lock, so that `elevator unlock`, or a lease that ended while the
// engine was stalled, never lets two releases change one app at once.
//
// Two checks make the fence, and neither costs a call of its own on the
// usual path:
//
//   - every record the engine writes while it holds the lock is written
//     on condition that the lock is still its own (Store.PutLockedRecord,
//     one transaction in DynamoDB), and a record is written at every
//     transition, just before the new state's step first runs;
//   - a step that runs again after a wait (it polls, or retries after an
//     error) renews the lease on condition that the lock is still its own
//     (Locker.Renew) before the first change it makes in that run: once
//     per run of a step, not per call, and only when the run changes
//     something (see fencedCloud).
//
// A check is trusted for a tenth of the lease (6 s by default): a run of
// a step that goes on longer checks again before its next change.
//
// What remains is the window between a check and the changes that follow
// it within one run of a step, at most a tenth of the lease apart, in
// which an `unlock` can land. It is acceptable because a release that
// takes the lock after an unlock starts with Validate, Lock and
// ValidateResources, which change nothing, so the stale engine has
// normally finished that run and stopped at its next check before the
// new release's first change; and because the changes of a run touch only
// what the stale release itself owns: the groups named after its id and
// tagged with it, and the groups that served before it, which it recorded
// at ValidateResources while it held the lock (and which the new release
// records as old in turn). The worst case is an engine stalled inside a
// call (a paused process, a call that hangs) past the new release's
// ValidateResources: that one call still lands, e.g. a group of the stale
// release created after the new one looked, which then serves beside the
// new release's until the stale release is resumed. A stale release is
// left in its state, to be resumed (which rolls it back and deletes its
// groups by its id, see reclaim) once the lock is free.

// fenceState is the lock check of the current run of a step. Regions
// work in parallel: the first change in any of them makes the check, the
// others wait for it.
type fenceState struct {
	mu   sync.Mutex
	done bool      // the check was made (or a record was just written under the lock)
	at   time.Time // when
	err  error     // what the check found, for every change of the run
}

// armFence prepares the lock check of the next run of a step: none is
// needed when the record was written under the lock since the engine last
// waited.
func (r *Release) armFence() {
	r.fence.mu.Lock()
	defer r.fence.mu.Unlock()
	r.fence.done, r.fence.at, r.fence.err = r.fresh && r.locked, r.Rec.UpdatedAt, nil
}

// lockLost is the error with which the engine stops when its lock is no
// longer its own.
func lockLost(r *Release, l Lock) error {
	return elevator.Errorf(elevator.ECONFLICT, "release %s: the lock of %s in %s is no longer this engine's (unlocked, or taken after its lease ended); stopping before changing anything more",
		r.Rec.ID, l.App, l.Orbit)
}

// checkFence makes sure the engine holds the lock before a change in AWS:
// the first change of a run of a step renews the lease on condition of the
// lock (see the comment at the top of this file), unless a record was just
// written under the lock, and the changes after it reuse what that found
// for a tenth of the lease. It returns an *abort when the lock is lost, and
// another error (the change then fails, and the step is tried again) when
// the lock could not be checked.
func (e *Engine) checkFence(ctx context.Context, r *Release) error {
	r.fence.mu.Lock()
	defer r.fence.mu.Unlock()
	now := e.now()
	if r.fence.done && (r.fence.err != nil || now.Sub(r.fence.at) < e.c.Lease/10) {
		return r.fence.err
	}
	r.fence.done, r.fence.at = true, now
	if !r.locked {
		r.fence.err = fail(elevator.FailureInternal, "%s: a change in AWS without holding the lock", r.Rec.State)
		return r.fence.err
	}
	l := r.lock
	l.Expires = now.Add(e.c.Lease)
	err := e.locker(r).Renew(ctx, l)
	e.renewed(err)
	switch {
	case errors.Is(err, ErrLockLost):
		r.fence.err = &abort{lockLost(r, l)}
	case err != nil:
		r.fence.err = fmt.Errorf("check the lock before changing AWS: %w", err)
	default:
		r.lock = l
	}
	return r.fence.err
}

// fencedCloud is a Cloud whose changes wait for the lock check of the
// current run of a step (see checkFence); reads go straight through. It
// lists every method, so that a method added to Cloud must be placed on
// one side or the other here.
type fencedCloud struct {
	c Cloud
	e *Engine
	r *Release
}

func (f fencedCloud) Region() string { return f.c.Region() }

func (f fencedCloud) Describe(ctx context.Context, kind ResourceKind, ids []string) ([]Resource, error) {
	return f.c.Describe(ctx, kind, ids)
}

func (f fencedCloud) Groups(ctx context.Context, g GroupFilter) ([]Group, error) {
	return f.c.Groups(ctx, g)
}

func (f fencedCloud) Targets(ctx context.Context, tg string) ([]Target, error) {
	return f.c.Targets(ctx, tg)
}

func (f fencedCloud) CreateGroup(ctx context.Context, spec GroupSpec, token string) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.CreateGroup(ctx, spec, token)
}

func (f fencedCloud) SetCapacity(ctx context.Context, group GroupRef, cp Capacity) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.SetCapacity(ctx, group, cp)
}

func (f fencedCloud) PutScaling(ctx context.Context, group GroupRef, s Scaling) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.PutScaling(ctx, group, s)
}

func (f fencedCloud) AttachTargetGroups(ctx context.Context, group GroupRef, tgs []string) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.AttachTargetGroups(ctx, group, tgs)
}

func (f fencedCloud) DetachTargetGroups(ctx context.Context, group GroupRef, tgs []string) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.DetachTargetGroups(ctx, group, tgs)
}

func (f fencedCloud) DeleteGroup(ctx context.Context, group GroupRef) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.DeleteGroup(ctx, group)
}

func (f fencedCloud) AllowedImages(ctx context.Context, orbit, app string, images []string) ([]string, error) {
	return f.c.AllowedImages(ctx, orbit, app, images)
}

func (f fencedCloud) Remains(ctx context.Context, g GroupFilter) ([]Remain, error) {
	return f.c.Remains(ctx, g)
}

func (f fencedCloud) DeleteRemain(ctx context.Context, rm Remain) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.DeleteRemain(ctx, rm)
}

func (f fencedCloud) CreateTestTargetGroup(ctx context.Context, name, like string, tags map[string]string) (string, error) {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return "", err
	}
	return f.c.CreateTestTargetGroup(ctx, name, like, tags)
}

func (f fencedCloud) DeleteTestTargetGroup(ctx context.Context, name string) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.DeleteTestTargetGroup(ctx, name)
}

func (f fencedCloud) ForwardListener(ctx context.Context, listener, tg string) error {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return err
	}
	return f.c.ForwardListener(ctx, listener, tg)
}

func (f fencedCloud) AlarmStates(ctx context.Context, names []string) ([]AlarmState, error) {
	return f.c.AlarmStates(ctx, names)
}

// RunCommand runs a test on an instance of the release's own group: not a
// change to what the release owns, but fenced like one, since it acts.
func (f fencedCloud) RunCommand(ctx context.Context, instance string, lines []string, timeout time.Duration) (CommandResult, error) {
	if err := f.e.checkFence(ctx, f.r); err != nil {
		return CommandResult{}, err
	}
	return f.c.RunCommand(ctx, instance, lines, timeout)
}

// Publish tells the orbit's topic of an event; it changes nothing the
// lock guards.
func (f fencedCloud) Publish(ctx context.Context, topic, subject, message string) error {
	return f.c.Publish(ctx, topic, subject, message)
}
