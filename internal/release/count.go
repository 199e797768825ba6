package release

import (
	"context"
	"time"

	"github.com/elevatorhq/elevator"
)

// The engine reaches its interfaces through these wrappers, which count
// every call in the release's record (Record.Calls), so that a release
// shows what it cost and tests can assert that nothing lists every group.

func (e *Engine) store(r *Release) Store { return countingStore{e.c.Store, r} }

func (e *Engine) locker(r *Release) Locker { return countingLocker{e.c.Locker, r} }

// cloud returns the Cloud of a region, or nil when the engine has none.
// Its changes are fenced by the lock (see fence.go).
func (e *Engine) cloud(r *Release, region string) Cloud {
	c, ok := e.clouds[region]
	if !ok {
		return nil
	}
	return fencedCloud{countingCloud{c, r}, e, r}
}

type countingStore struct {
	s Store
	r *Release
}

func (c countingStore) PutRelease(ctx context.Context, id string, doc []byte, checksum string) error {
	c.r.count("Store.PutRelease")
	return c.s.PutRelease(ctx, id, doc, checksum)
}

func (c countingStore) Release(ctx context.Context, id string) ([]byte, string, error) {
	c.r.count("Store.Release")
	return c.s.Release(ctx, id)
}

func (c countingStore) PutRecord(ctx context.Context, rec *elevator.ReleaseRecord) error {
	c.r.count("Store.PutRecord")
	return c.s.PutRecord(ctx, rec)
}

func (c countingStore) PutLockedRecord(ctx context.Context, rec *elevator.ReleaseRecord, l Lock) error {
	c.r.count("Store.PutLockedRecord")
	return c.s.PutLockedRecord(ctx, rec, l)
}

func (c countingStore) ReleasesAfter(ctx context.Context, app, after string) ([]*elevator.ReleaseRecord, error) {
	c.r.count("Store.ReleasesAfter")
	return c.s.ReleasesAfter(ctx, app, after)
}

func (c countingStore) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	c.r.count("Store.Record")
	return c.s.Record(ctx, id)
}

func (c countingStore) PutHalt(ctx context.Context, id string, h elevator.ReleaseHalt) error {
	c.r.count("Store.PutHalt")
	return c.s.PutHalt(ctx, id, h)
}

func (c countingStore) Halt(ctx context.Context, id string) (*elevator.ReleaseHalt, error) {
	c.r.count("Store.Halt")
	return c.s.Halt(ctx, id)
}

func (c countingStore) PutTestRetry(ctx context.Context, id string, round int, t elevator.TestRetry) error {
	c.r.count("Store.PutTestRetry")
	return c.s.PutTestRetry(ctx, id, round, t)
}

func (c countingStore) TestRetry(ctx context.Context, id string, round int) (*elevator.TestRetry, error) {
	c.r.count("Store.TestRetry")
	return c.s.TestRetry(ctx, id, round)
}

func (c countingStore) Audit(ctx context.Context, en elevator.AuditEntry) error {
	c.r.count("Store.Audit")
	return c.s.Audit(ctx, en)
}

type countingLocker struct {
	l Locker
	r *Release
}

func (c countingLocker) Acquire(ctx context.Context, want Lock, now time.Time) (Lock, error) {
	c.r.count("Locker.Acquire")
	return c.l.Acquire(ctx, want, now)
}

func (c countingLocker) Renew(ctx context.Context, l Lock) error {
	c.r.count("Locker.Renew")
	return c.l.Renew(ctx, l)
}

func (c countingLocker) Release(ctx context.Context, l Lock) error {
	c.r.count("Locker.Release")
	return c.l.Release(ctx, l)
}

func (c countingLocker) Break(ctx context.Context, app, orbit string) (Lock, error) {
	c.r.count("Locker.Break")
	return c.l.Break(ctx, app, orbit)
}

func (c countingLocker) Get(ctx context.Context, app, orbit string) (Lock, error) {
	c.r.count("Locker.Get")
	return c.l.Get(ctx, app, orbit)
}

type countingCloud struct {
	c Cloud
	r *Release
}

func (c countingCloud) n(op string) { c.r.count("Cloud." + op + " " + c.c.Region()) }

func (c countingCloud) Region() string { return c.c.Region() }

func (c countingCloud) Describe(ctx context.Context, kind ResourceKind, ids []string) ([]Resource, error) {
	c.n("Describe")
	return c.c.Describe(ctx, kind, ids)
}

func (c countingCloud) AllowedImages(ctx context.Context, orbit, app string, images []string) ([]string, error) {
	c.n("AllowedImages")
	return c.c.AllowedImages(ctx, orbit, app, images)
}

func (c countingCloud) Groups(ctx context.Context, f GroupFilter) ([]Group, error) {
	c.n("Groups")
	return c.c.Groups(ctx, f)
}

func (c countingCloud) CreateGroup(ctx context.Context, spec GroupSpec, token string) error {
	c.n("CreateGroup")
	return c.c.CreateGroup(ctx, spec, token)
}

func (c countingCloud) SetCapacity(ctx context.Context, group GroupRef, cp Capacity) error {
	c.n("SetCapacity")
	return c.c.SetCapacity(ctx, group, cp)
}

func (c countingCloud) PutScaling(ctx context.Context, group GroupRef, s Scaling) error {
	c.n("PutScaling")
	return c.c.PutScaling(ctx, group, s)
}

func (c countingCloud) Targets(ctx context.Context, tg string) ([]Target, error) {
	c.n("Targets")
	return c.c.Targets(ctx, tg)
}

func (c countingCloud) AttachTargetGroups(ctx context.Context, group GroupRef, tgs []string) error {
	c.n("AttachTargetGroups")
	return c.c.AttachTargetGroups(ctx, group, tgs)
}

func (c countingCloud) DetachTargetGroups(ctx context.Context, group GroupRef, tgs []string) error {
	c.n("DetachTargetGroups")
	return c.c.DetachTargetGroups(ctx, group, tgs)
}

func (c countingCloud) DeleteGroup(ctx context.Context, group GroupRef) error {
	c.n("DeleteGroup")
	return c.c.DeleteGroup(ctx, group)
}

func (c countingCloud) Remains(ctx context.Context, f GroupFilter) ([]Remain, error) {
	c.n("Remains")
	return c.c.Remains(ctx, f)
}

func (c countingCloud) DeleteRemain(ctx context.Context, rm Remain) error {
	c.n("DeleteRemain")
	return c.c.DeleteRemain(ctx, rm)
}

func (c countingCloud) CreateTestTargetGroup(ctx context.Context, name, like string, tags map[string]string) (string, error) {
	c.n("CreateTestTargetGroup")
	return c.c.CreateTestTargetGroup(ctx, name, like, tags)
}

func (c countingCloud) DeleteTestTargetGroup(ctx context.Context, name string) error {
	c.n("DeleteTestTargetGroup")
	return c.c.DeleteTestTargetGroup(ctx, name)
}

func (c countingCloud) ForwardListener(ctx context.Context, listener, tg string) error {
	c.n("ForwardListener")
	return c.c.ForwardListener(ctx, listener, tg)
}

func (c countingCloud) AlarmStates(ctx context.Context, names []string) ([]AlarmState, error) {
	c.n("AlarmStates")
	return c.c.AlarmStates(ctx, names)
}

func (c countingCloud) RunCommand(ctx context.Context, instance string, lines []string, timeout time.Duration) (CommandResult, error) {
	c.n("RunCommand")
	return c.c.RunCommand(ctx, instance, lines, timeout)
}

func (c countingCloud) Publish(ctx context.Context, topic, subject, message string) error {
	c.n("Publish")
	return c.c.Publish(ctx, topic, subject, message)
}
