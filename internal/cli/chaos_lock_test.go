package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/chaos"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release"
)

// fakeChaosLocker is a fake of the orbit's lock table (moto cannot be
// given a clock): it keeps locks by app, with the leases read on the
// fake clock of the run, and can be told to fail renewals.
type fakeChaosLocker struct {
	mu    sync.Mutex
	now   func() time.Time
	locks map[string]release.Lock
	// renewErrs are returned, in turn, by the next Renew calls.
	renewErrs []error
	renews    int
	// expired records each chaos lock found expired (its lease ended)
	// while the run still held it.
	expired []string
	// endsAt gives back, at that time, the lock a release holds.
	endsAt map[string]time.Time
}

func (f *fakeChaosLocker) Acquire(_ context.Context, want release.Lock, now time.Time) (release.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev, ok := f.locks[want.App]
	if ok && now.Before(prev.Expires) && (prev.Owner != want.Owner || prev.ReleaseID != want.ReleaseID) {
		return release.Lock{}, &release.LockHeldError{Lock: prev}
	}
	f.locks[want.App] = want
	return prev, nil
}

func (f *fakeChaosLocker) Renew(_ context.Context, l release.Lock) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renews++
	if len(f.renewErrs) > 0 {
		err := f.renewErrs[0]
		f.renewErrs = f.renewErrs[1:]
		if err != nil {
			return err
		}
	}
	cur, ok := f.locks[l.App]
	if !ok || cur.Owner != l.Owner || cur.ReleaseID != l.ReleaseID {
		return release.ErrLockLost
	}
	cur.Expires = l.Expires
	f.locks[l.App] = cur
	return nil
}

func (f *fakeChaosLocker) Release(_ context.Context, l release.Lock) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.locks[l.App]
	if !ok {
		return nil
	}
	if cur.Owner != l.Owner || cur.ReleaseID != l.ReleaseID {
		return release.ErrLockLost
	}
	delete(f.locks, l.App)
	return nil
}

func (f *fakeChaosLocker) Get(_ context.Context, app, _ string) (release.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.locks[app]
	if !ok {
		return release.Lock{}, release.ErrNotFound
	}
	return l, nil
}

// watchExpiry notes each chaos lock whose lease ended while still held.
func (f *fakeChaosLocker) watchExpiry() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for app, at := range f.endsAt {
		if !f.now().Before(at) {
			delete(f.locks, app)
			delete(f.endsAt, app)
		}
	}
	for app, l := range f.locks {
		if elevator.IsChaosRun(l.ReleaseID) && !f.now().Before(l.Expires) {
			f.expired = append(f.expired, app+" at "+f.now().Format(time.TimeOnly))
		}
	}
}

// fakeChaosRun is a run whose clock moves only when it sleeps (each sleep
// moves it on by what was asked), with locks in a fakeChaosLocker.
func fakeChaosRun(t *testing.T, lockWait time.Duration) (*chaosRun, *fakeChaosLocker, *bytes.Buffer) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	locker := &fakeChaosLocker{now: now, locks: map[string]release.Lock{}}
	var stderr bytes.Buffer
	g := &globals{stderr: &stderr, stdout: &bytes.Buffer{}}
	o := &chaosOptions{orbitEnv: orbitEnv{globals: g, orbit: &elevator.Orbit{Name: "staging", Regions: []elevator.Region{{Name: "us-east-1"}}}, configs: &awsConfigs{g: g}}, lockWait: lockWait}
	r := &chaosRun{chaosOptions: o, by: "arn:aws:iam::123456789012:user/dave", runID: elevator.ChaosRunPrefix + "20261130-050000-0a1b2c3d",
		progress: progress.New(&bytes.Buffer{}), now: now, locker: locker, renewEvery: chaosLease / 3,
		sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			mu.Lock()
			clock = clock.Add(d)
			mu.Unlock()
			locker.watchExpiry()
			return nil
		}}
	return r, locker, &stderr
}

// TestChaosRenewsTheLocksItHoldsWhileItWaitsForTheNext: the lock of the
// first app is renewed while the run waits, longer than a lease, for a
// release of the second app to end; it never expires (an expired lock is
// free for a release to take).
func TestChaosRenewsTheLocksItHoldsWhileItWaitsForTheNext(t *testing.T) {
	r, locker, _ := fakeChaosRun(t, 10*time.Minute)
	start := r.now()
	locker.locks["blog"] = release.Lock{App: "blog", Orbit: "staging", ReleaseID: "20261130-045900000-blog", Owner: "engine-1", Holder: "erin",
		Since: start, Expires: start.Add(10 * time.Minute)}
	// The release ends, and gives its lock back, 5 minutes in.
	locker.endsAt = map[string]time.Time{"blog": start.Add(5 * time.Minute)}
	locks := r.holdLocks(nil)
	defer locks.close()
	if err := r.lockAll(context.Background(), locks, []string{"api", "blog"}); err != nil {
		t.Fatal(err)
	}
	if waited := r.now().Sub(start); waited < 5*time.Minute {
		t.Fatalf("took both locks after %s; want a wait for blog's release, past api's first lease", waited)
	}
	if len(locker.expired) > 0 {
		t.Errorf("the run's locks expired while it held them: %v", locker.expired)
	}
	if l := locker.locks["api"]; !l.Expires.After(r.now()) {
		t.Errorf("api's lock expires at %s, before now %s", l.Expires, r.now())
	}
}

// TestChaosRefusesAnAppWhoseReleaseLeftItsLock: a release whose engine
// stopped leaves its lock (expired) for a replica to resume it; chaos
// does not take it over, and puts it back as it was.
func TestChaosRefusesAnAppWhoseReleaseLeftItsLock(t *testing.T) {
	r, locker, _ := fakeChaosRun(t, 0)
	old := release.Lock{App: "api", Orbit: "staging", ReleaseID: "20261129-220000000-api", Owner: "engine-1", Holder: "erin",
		Since: r.now().Add(-3 * time.Hour), Expires: r.now().Add(-2 * time.Hour)}
	locker.locks["api"] = old
	locks := r.holdLocks(nil)
	err := r.lockAll(context.Background(), locks, []string{"api"})
	locks.close()
	if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), old.ReleaseID) {
		t.Fatalf("lockAll = %v, want a conflict naming release %s", err, old.ReleaseID)
	}
	if got := locker.locks["api"]; got != old {
		t.Errorf("the lock is now %+v, want the release's back: %+v", got, old)
	}
}

// TestChaosLockRenewalsRetryAndStopOnlyWhenLost: one error of the lock
// table does not end a run's hold (a fake locker fails renewals); a lock
// someone else has does, at once.
func TestChaosLockRenewalsRetryAndStopOnlyWhenLost(t *testing.T) {
	r, locker, _ := fakeChaosRun(t, 0)
	var lost int
	locks := r.holdLocks(func() { lost++ })
	defer locks.close()
	if err := r.lockAll(context.Background(), locks, []string{"api"}); err != nil {
		t.Fatal(err)
	}
	transient := errors.New("ProvisionedThroughputExceededException")
	locker.mu.Lock()
	locker.renewErrs, locker.renews = []error{transient, transient}, 0
	locker.mu.Unlock()
	if err := locks.renewDue(context.Background(), true); err != nil || lost != 0 {
		t.Fatalf("renewal after two transient errors = %v (lost called %d times), want it renewed", err, lost)
	}
	if locker.renews != 3 {
		t.Errorf("renew tried %d times, want 3", locker.renews)
	}
	delete(locker.locks, "api") // elevator unlock
	err := locks.renewDue(context.Background(), true)
	if elevator.ErrorCode(err) != elevator.ECONFLICT || lost != 1 || locks.lost() == nil {
		t.Errorf("renewal of a broken lock = %v, lost called %d times; want a conflict, once", err, lost)
	}
	r2, locker2, _ := fakeChaosRun(t, 0)
	locks2 := r2.holdLocks(nil)
	defer locks2.close()
	if err := r2.lockAll(context.Background(), locks2, []string{"api"}); err != nil {
		t.Fatal(err)
	}
	locker2.mu.Lock()
	locker2.renewErrs = []error{transient, transient, transient}
	locker2.mu.Unlock()
	if err := locks2.renewDue(context.Background(), true); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Errorf("renewal failing %d times = %v, want the lock counted lost", renewTries, err)
	}
}

// TestChaosCountsAnInstanceAlreadyGoneAsTerminated: Auto Scaling answers
// not found for an instance terminated since it was read (a fake
// terminates: moto cannot be made to race); that is done, with a note,
// not a failure.
func TestChaosCountsAnInstanceAlreadyGoneAsTerminated(t *testing.T) {
	r, _, _ := fakeChaosRun(t, 0)
	r.terminateFake = func(_ context.Context, region, group, id string) error {
		switch id {
		case "i-gone":
			return elevator.Errorf(elevator.ENOTFOUND, "terminate instance %s of auto scaling group %s in %s: instance not found", id, group, region)
		case "i-denied":
			return elevator.Errorf(elevator.EAWS, "terminate instance %s: AccessDenied", id)
		}
		return nil
	}
	g := chaos.Group{Region: "us-east-1", Name: "shop-web", App: "shop"}
	got := r.terminate(context.Background(), g, []chaos.Instance{{ID: "i-live"}, {ID: "i-gone"}, {ID: "i-denied"}})
	if len(got) != 3 || got[0].Error != "" || got[1].Error != "" || !strings.Contains(got[1].Note, "already gone") || got[2].Error == "" {
		t.Errorf("terminations = %+v; want i-gone done with a note, only i-denied failed", got)
	}
}

// TestChaosWaitsUntilNoTerminatedInstanceIsLeftInTheGroup: Auto Scaling's
// answers lag (a fake answers, as moto's do not): a group reading its
// desired capacity InService while it still lists a terminated instance
// is waited for.
func TestChaosWaitsUntilNoTerminatedInstanceIsLeftInTheGroup(t *testing.T) {
	r, _, _ := fakeChaosRun(t, 0)
	r.testWait = time.Minute
	in := func(id string) autoscaling.Instance {
		return autoscaling.Instance{ID: id, LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy}
	}
	reads := 0
	r.describeFake = func(_ context.Context, _, name string) (autoscaling.Group, error) {
		reads++
		if reads == 1 { // the terminated i-old is still listed, InService
			return autoscaling.Group{Name: name, Desired: 2, Instances: []autoscaling.Instance{in("i-old"), in("i-keep")}}, nil
		}
		return autoscaling.Group{Name: name, Desired: 2, Instances: []autoscaling.Instance{in("i-new"), in("i-keep")}}, nil
	}
	err := r.waitReplaced(context.Background(), []chaos.Group{{Region: "us-east-1", Name: "shop-web"}}, map[string]bool{"i-old": true})
	if err != nil || reads != 2 {
		t.Errorf("waitReplaced = %v after %d reads; want it to wait for i-old to leave the group (2 reads)", err, reads)
	}
}

// TestChaosKeepsRenewingAfterCtrlC: the locks are renewed with a context
// of their own, so that after Ctrl-C (the command's context cancelled)
// they stay held while the zone is given back, until close.
func TestChaosKeepsRenewingAfterCtrlC(t *testing.T) {
	r, locker, _ := fakeChaosRun(t, 0)
	r.renewEvery = 4 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	locks := r.holdLocks(nil)
	if err := r.lockAll(ctx, locks, []string{"api"}); err != nil {
		t.Fatal(err)
	}
	cancel() // Ctrl-C
	_ = r.sleep(context.Background(), time.Minute)
	renewed := func() bool {
		locker.mu.Lock()
		defer locker.mu.Unlock()
		return locker.locks["api"].Expires.Sub(r.now()) > time.Minute
	}
	for deadline := time.Now().Add(10 * time.Second); !renewed() && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	if !renewed() {
		t.Errorf("the lock was not renewed after Ctrl-C: it expires at %s, now %s", locker.locks["api"].Expires, r.now())
	}
	locks.close()
	if _, held := locker.locks["api"]; held {
		t.Error("close did not give the lock back")
	}
}

// fakeSubnetSetter is a fake of a region's groups: moto deletes a group at
// once, so it cannot show one "Delete in progress", which refuses updates.
type fakeSubnetSetter struct {
	groups map[string]autoscaling.Group
	set    []string
}

func (f *fakeSubnetSetter) Group(_ context.Context, name string) (autoscaling.Group, error) {
	g, ok := f.groups[name]
	if !ok {
		return autoscaling.Group{}, elevator.Errorf(elevator.ENOTFOUND, "auto scaling group %s: %w", name, autoscaling.ErrNotFound)
	}
	return g, nil
}

func (f *fakeSubnetSetter) SetSubnets(_ context.Context, name string, _ []string) error {
	if f.groups[name].Deleting() {
		return elevator.Errorf(elevator.EAWS, "ScalingActivityInProgress: group %s is being deleted", name)
	}
	f.set = append(f.set, name)
	return nil
}

func TestChaosRestoreSkipsAGroupBeingDeleted(t *testing.T) {
	r, _, _ := fakeChaosRun(t, 0)
	cl := &fakeSubnetSetter{groups: map[string]autoscaling.Group{
		"shop-web-1": {Name: "shop-web-1", Status: "Delete in progress"},
		"shop-web-2": {Name: "shop-web-2"},
	}}
	rec := chaos.Outage{Region: "us-east-1", Zone: "us-east-1a", Groups: []chaos.OutageGroup{
		{Name: "shop-web-1", App: "shop", Subnets: []string{"s-a", "s-b"}},
		{Name: "shop-web-2", App: "shop", Subnets: []string{"s-a", "s-b"}},
		{Name: "shop-web-0", App: "shop", Subnets: []string{"s-a", "s-b"}}, // gone
	}}
	restored, errs := r.putSubnetsBack(context.Background(), cl, rec)
	if len(errs) != 0 || len(restored) != 1 || restored[0] != "shop-web-2" || len(cl.set) != 1 {
		t.Errorf("restored %v, errors %v, set %v; want only shop-web-2, no error", restored, errs, cl.set)
	}
}
