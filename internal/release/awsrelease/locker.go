package awsrelease

import (
	"context"
	"errors"
	"fmt"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/release"
)

type locksAPI interface {
	GetItem(ctx context.Context, table string, key dynamodb.Item) (dynamodb.Item, error)
	UpdateItem(ctx context.Context, table string, key, set dynamodb.Item, conds ...dynamodb.Condition) (dynamodb.Item, error)
	Replace(ctx context.Context, table string, item dynamodb.Item, conds ...dynamodb.Condition) (dynamodb.Item, error)
	Remove(ctx context.Context, table string, key dynamodb.Item, conds ...dynamodb.Condition) (dynamodb.Item, error)
}

// Locker is the release engine's release.Locker on an orbit's locks table
// (hash key id), in the orbit's home region. The lock of an app is the
// item "release/<app>"; every change is one conditional write, so two
// engines never both hold it. Leases are kept to the nanosecond in
// expires_ns, which the conditions compare; expires_at (Unix seconds,
// rounded up) plus lockKept is the table's time-to-live attribute, so
// DynamoDB removes a lock some time after its lease has ended, never
// before a replica had the time to resume a release whose driver died
// (that release would roll back if its lock were gone).
type Locker struct {
	orbit, table string
	items        locksAPI
}

var _ release.Locker = (*Locker)(nil)

func lockKey(app string) dynamodb.Item { return dynamodb.Item{"id": "release/" + app} }

func (l *Locker) check(orbit string) error {
	if orbit != l.orbit {
		return elevator.Errorf(elevator.EINVALID, "lock of orbit %q: this locker keeps the locks of orbit %s", orbit, l.orbit)
	}
	return nil
}

func lockItem(k release.Lock) dynamodb.Item {
	item := lockKey(k.App)
	item["app"], item["orbit"], item["release_id"] = k.App, k.Orbit, k.ReleaseID
	item["owner"], item["holder"] = k.Owner, k.Holder
	item["since_ns"] = k.Since.UnixNano()
	for k, v := range lease(k.Expires) {
		item[k] = v
	}
	return item
}

// lockKept is how long the table keeps a lock after its lease's end.
const lockKept = 24 * time.Hour

// lease is the attributes of a lease that ends at t.
func lease(t time.Time) dynamodb.Item {
	secs := t.Unix()
	if t.After(time.Unix(secs, 0)) {
		secs++
	}
	return dynamodb.Item{"expires_ns": t.UnixNano(), "expires_at": secs + int64(lockKept/time.Second)}
}

func lockOf(item dynamodb.Item) release.Lock {
	if item == nil {
		return release.Lock{}
	}
	str := func(k string) string { s, _ := item[k].(string); return s }
	ns := func(k string) time.Time {
		n, _ := item[k].(int64)
		return time.Unix(0, n).UTC()
	}
	return release.Lock{App: str("app"), Orbit: str("orbit"), ReleaseID: str("release_id"), Owner: str("owner"),
		Holder: str("holder"), Since: ns("since_ns"), Expires: ns("expires_ns")}
}

// mine is the condition that the stored lock is held by k's engine for
// k's release.
func mine(k release.Lock) dynamodb.Condition {
	return dynamodb.And(dynamodb.Equal("owner", k.Owner), dynamodb.Equal("release_id", k.ReleaseID))
}

// Acquire stores want if the app has no lock, or its lease ended before
// now, or it is want's already (same owner and release), in one
// conditional write that also returns the lock it replaced. Otherwise it
// returns a *release.LockHeldError with the lock as stored.
func (l *Locker) Acquire(ctx context.Context, want release.Lock, now time.Time) (release.Lock, error) {
	if err := l.check(want.Orbit); err != nil {
		return release.Lock{}, err
	}
	free := dynamodb.Or(dynamodb.AttributeNotExists("id"), dynamodb.LessThan("expires_ns", now.UnixNano()), mine(want))
	prev, err := l.items.Replace(ctx, l.table, lockItem(want), free)
	var cf *dynamodb.ConditionFailedError
	if errors.As(err, &cf) {
		if cf.Current == nil {
			// The lock went away between the check and the answer.
			return release.Lock{}, elevator.Errorf(elevator.EAWS, "lock %s in %s: refused, with no lock in place; try again", want.App, want.Orbit)
		}
		return release.Lock{}, &release.LockHeldError{Lock: lockOf(cf.Current)}
	}
	if err != nil {
		return release.Lock{}, err
	}
	return lockOf(prev), nil
}

// Renew sets the lease of a lock to k.Expires if the stored lock has k's
// owner and release; else release.ErrLockLost.
func (l *Locker) Renew(ctx context.Context, k release.Lock) error {
	if err := l.check(k.Orbit); err != nil {
		return err
	}
	_, err := l.items.UpdateItem(ctx, l.table, lockKey(k.App), lease(k.Expires), mine(k))
	if errors.Is(err, dynamodb.ErrConditionFailed) {
		return fmt.Errorf("renew the lock of %s in %s: %w", k.App, k.Orbit, release.ErrLockLost)
	}
	return err
}

// Release deletes the lock if it has k's owner and release: nil when there
// is no lock, release.ErrLockLost when someone else holds it.
func (l *Locker) Release(ctx context.Context, k release.Lock) error {
	if err := l.check(k.Orbit); err != nil {
		return err
	}
	_, err := l.items.Remove(ctx, l.table, lockKey(k.App), mine(k))
	var cf *dynamodb.ConditionFailedError
	switch {
	case errors.As(err, &cf) && cf.Current == nil:
		return nil
	case errors.As(err, &cf):
		return fmt.Errorf("release the lock of %s in %s, held by release %v of engine %v: %w", k.App, k.Orbit, cf.Current["release_id"], cf.Current["owner"], release.ErrLockLost)
	}
	return err
}

// Break deletes the lock of an app whoever holds it and returns it;
// release.ErrNotFound when there is none.
func (l *Locker) Break(ctx context.Context, app, orbit string) (release.Lock, error) {
	if err := l.check(orbit); err != nil {
		return release.Lock{}, err
	}
	prev, err := l.items.Remove(ctx, l.table, lockKey(app))
	if err != nil {
		return release.Lock{}, err
	}
	if prev == nil {
		return release.Lock{}, fmt.Errorf("lock of %s in %s: %w", app, orbit, release.ErrNotFound)
	}
	return lockOf(prev), nil
}

// Get returns the lock of an app, or release.ErrNotFound.
func (l *Locker) Get(ctx context.Context, app, orbit string) (release.Lock, error) {
	if err := l.check(orbit); err != nil {
		return release.Lock{}, err
	}
	item, err := l.items.GetItem(ctx, l.table, lockKey(app))
	if err != nil {
		return release.Lock{}, missing(err)
	}
	return lockOf(item), nil
}
