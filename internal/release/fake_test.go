package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// This file holds in-memory fakes of the engine's interfaces that behave
// like AWS where it matters to a release (the emulator shows neither
// unhealthy targets, nor lifecycle states, nor draining that takes time):
// groups launch instances that boot after a while, instances terminate,
// targets drain after a detach, deletions take time. Every fake operation
// can be made to fail, and every one fails once the context is done, as a
// dead engine's calls would.

// fakeClock's After moves time on at once, so that waits take no real
// time; it remembers the longest wait.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	longest time.Duration
	waits   int
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.longest = max(c.longest, d)
	c.waits++
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// faults makes operations fail: a fixed number of times, or always.
type faults struct {
	mu     sync.Mutex
	next   map[string][]error
	always map[string]error
	calls  map[string]int
	// hook, when set, runs after each successful call of an operation.
	hook func(op string)
}

func (f *faults) enter(ctx context.Context, op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	if err := ctx.Err(); err != nil {
		return err
	}
	if q := f.next[op]; len(q) > 0 {
		f.next[op] = q[1:]
		return q[0]
	}
	if err := f.always[op]; err != nil {
		return err
	}
	return nil
}

func (f *faults) after(op string) {
	f.mu.Lock()
	h := f.hook
	f.mu.Unlock()
	if h != nil {
		h(op)
	}
}

// failNext makes the next n calls of op fail with err.
func (f *faults) failNext(op string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == nil {
		f.next = map[string][]error{}
	}
	for range n {
		f.next[op] = append(f.next[op], err)
	}
}

// failAlways makes every call of op fail with err.
func (f *faults) failAlways(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.always == nil {
		f.always = map[string]error{}
	}
	f.always[op] = err
}

// clearFaults forgets the failures planned for op.
func (f *faults) clearFaults(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.next, op)
	delete(f.always, op)
}

func (f *faults) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

var errThrottled = errors.New("api error Throttling: Rate exceeded")

// fakeStore is an in-memory state bucket and table. Records are kept as
// JSON, so that what the engine stores must survive encoding.
type fakeStore struct {
	faults
	mu      sync.Mutex
	docs    map[string][]byte
	sums    map[string]string
	records map[string][]byte
	halts   map[string]elevator.ReleaseHalt
	retries map[string]elevator.TestRetry // "id/round" -> request
	audit   []elevator.AuditEntry
	// afterPut runs after a record is stored (crash and halt injection).
	afterPut func(rec elevator.ReleaseRecord)
	// locks is the lock table PutLockedRecord checks, as one DynamoDB
	// transaction checks the locks table.
	locks *fakeLocker
}

func newFakeStore() *fakeStore {
	return &fakeStore{docs: map[string][]byte{}, sums: map[string]string{}, records: map[string][]byte{}, halts: map[string]elevator.ReleaseHalt{}}
}

func (s *fakeStore) PutRelease(ctx context.Context, id string, doc []byte, checksum string) error {
	if err := s.enter(ctx, "PutRelease"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.docs[id]; ok {
		if string(old) != string(doc) || s.sums[id] != checksum {
			return ErrExists
		}
		return nil
	}
	s.docs[id], s.sums[id] = slices.Clone(doc), checksum
	return nil
}

func (s *fakeStore) Release(ctx context.Context, id string) ([]byte, string, error) {
	if err := s.enter(ctx, "Release"); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	doc, ok := s.docs[id]
	if !ok {
		return nil, "", fmt.Errorf("get releases/%s: %w", id, ErrNotFound)
	}
	return slices.Clone(doc), s.sums[id], nil
}

func (s *fakeStore) PutRecord(ctx context.Context, rec *elevator.ReleaseRecord) error {
	if err := s.enter(ctx, "PutRecord"); err != nil {
		return err
	}
	return s.putRecord(rec, nil)
}

func (s *fakeStore) PutLockedRecord(ctx context.Context, rec *elevator.ReleaseRecord, l Lock) error {
	if err := s.enter(ctx, "PutLockedRecord"); err != nil {
		return err
	}
	return s.putRecord(rec, &l)
}

// putRecord stores rec on condition of its revision, its halt and, when l
// is not nil, the lock, all at once: the lock table stays locked while the
// conditions are checked and the record stored.
func (s *fakeStore) putRecord(rec *elevator.ReleaseRecord, l *Lock) error {
	if l != nil {
		s.locks.mu.Lock()
	}
	unlock := func() {
		if l != nil {
			s.locks.mu.Unlock()
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		unlock()
		return err
	}
	s.mu.Lock()
	var stored int64
	if old, ok := s.records[rec.ID]; ok {
		var o elevator.ReleaseRecord
		if err := json.Unmarshal(old, &o); err != nil {
			s.mu.Unlock()
			unlock()
			return err
		}
		stored = o.Revision
	}
	if stored != rec.Revision-1 {
		s.mu.Unlock()
		unlock()
		return ErrStale
	}
	if h, ok := s.halts[rec.ID]; ok && rec.Halt == nil {
		s.mu.Unlock()
		unlock()
		return &HaltedError{Halt: h}
	}
	if l != nil {
		if cur, ok := s.locks.locks[lockKey(l.App, l.Orbit)]; !ok || cur.Owner != l.Owner || cur.ReleaseID != l.ReleaseID {
			s.mu.Unlock()
			unlock()
			return ErrLockLost
		}
	}
	s.records[rec.ID] = b
	after := s.afterPut
	s.mu.Unlock()
	unlock()
	if after != nil {
		var cp elevator.ReleaseRecord
		_ = json.Unmarshal(b, &cp)
		after(cp)
	}
	return nil
}

func (s *fakeStore) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	if err := s.enter(ctx, "Record"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.records[id]
	if !ok {
		return nil, ErrNotFound
	}
	var rec elevator.ReleaseRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

func (s *fakeStore) ReleasesAfter(ctx context.Context, app, after string) ([]*elevator.ReleaseRecord, error) {
	if err := s.enter(ctx, "ReleasesAfter"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*elevator.ReleaseRecord
	for id, b := range s.records {
		var rec elevator.ReleaseRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, err
		}
		if id > after && rec.App == app {
			out = append(out, &rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *fakeStore) PutHalt(ctx context.Context, id string, h elevator.ReleaseHalt) error {
	if err := s.enter(ctx, "PutHalt"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.halts[id]; !ok {
		s.halts[id] = h
	}
	return nil
}

func (s *fakeStore) Halt(ctx context.Context, id string) (*elevator.ReleaseHalt, error) {
	if err := s.enter(ctx, "Halt"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.halts[id]
	if !ok {
		return nil, nil
	}
	return &h, nil
}

func (s *fakeStore) Audit(ctx context.Context, e elevator.AuditEntry) error {
	if err := s.enter(ctx, "Audit"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}

func (s *fakeStore) PutTestRetry(ctx context.Context, id string, round int, t elevator.TestRetry) error {
	if err := s.enter(ctx, "PutTestRetry"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retries == nil {
		s.retries = map[string]elevator.TestRetry{}
	}
	k := fmt.Sprintf("%s/%d", id, round)
	if _, ok := s.retries[k]; !ok {
		s.retries[k] = t
	}
	return nil
}

func (s *fakeStore) TestRetry(ctx context.Context, id string, round int) (*elevator.TestRetry, error) {
	if err := s.enter(ctx, "TestRetry"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.retries[fmt.Sprintf("%s/%d", id, round)]
	if !ok {
		return nil, nil
	}
	return &t, nil
}

func (s *fakeStore) audits() []elevator.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit)
}

// tamper changes a stored document behind the engine's back.
func (s *fakeStore) tamper(id string, change func(string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[id] = []byte(change(string(s.docs[id])))
}

// fakeLocker is an in-memory lock table with conditional writes.
type fakeLocker struct {
	faults
	mu    sync.Mutex
	locks map[string]Lock
}

func newFakeLocker() *fakeLocker { return &fakeLocker{locks: map[string]Lock{}} }

func lockKey(app, orbit string) string { return app + "/" + orbit }

func (l *fakeLocker) Acquire(ctx context.Context, want Lock, now time.Time) (Lock, error) {
	if err := l.enter(ctx, "Acquire"); err != nil {
		return Lock{}, err
	}
	l.mu.Lock()
	k := lockKey(want.App, want.Orbit)
	prev, ok := l.locks[k]
	if ok && !prev.Expires.Before(now) && (prev.Owner != want.Owner || prev.ReleaseID != want.ReleaseID) {
		l.mu.Unlock()
		return Lock{}, &LockHeldError{Lock: prev}
	}
	l.locks[k] = want
	l.mu.Unlock()
	l.after("Acquire")
	return prev, nil
}

func (l *fakeLocker) Renew(ctx context.Context, lk Lock) error {
	if err := l.enter(ctx, "Renew"); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lockKey(lk.App, lk.Orbit)
	cur, ok := l.locks[k]
	if !ok || cur.Owner != lk.Owner || cur.ReleaseID != lk.ReleaseID {
		return ErrLockLost
	}
	cur.Expires = lk.Expires
	l.locks[k] = cur
	return nil
}

func (l *fakeLocker) Release(ctx context.Context, lk Lock) error {
	if err := l.enter(ctx, "Release"); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lockKey(lk.App, lk.Orbit)
	cur, ok := l.locks[k]
	if !ok {
		return nil
	}
	if cur.Owner != lk.Owner || cur.ReleaseID != lk.ReleaseID {
		return ErrLockLost
	}
	delete(l.locks, k)
	return nil
}

func (l *fakeLocker) Break(ctx context.Context, app, orbit string) (Lock, error) {
	if err := l.enter(ctx, "Break"); err != nil {
		return Lock{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.locks[lockKey(app, orbit)]
	if !ok {
		return Lock{}, ErrNotFound
	}
	delete(l.locks, lockKey(app, orbit))
	return cur, nil
}

func (l *fakeLocker) Get(ctx context.Context, app, orbit string) (Lock, error) {
	if err := l.enter(ctx, "Get"); err != nil {
		return Lock{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.locks[lockKey(app, orbit)]
	if !ok {
		return Lock{}, ErrNotFound
	}
	return cur, nil
}

// fakeCloud is one region of an in-memory AWS. Time comes from the fake
// clock: an instance is Pending for boot after launch, then in service and
// healthy (in its group and its target groups); a doomed instance starts
// terminating halfway through its boot and its group launches another;
// a detached group's targets drain for drain; a deleted group goes after
// deleteTime.
type fakeCloud struct {
	faults
	t      *testing.T
	region string
	clock  *fakeClock

	mu        sync.Mutex
	resources map[ResourceKind]map[string]Resource
	allowList map[[3]string]bool // (orbit, app, image) the image allow list has
	groups    map[string]*fakeGroup
	tokens    map[string]string // CreateGroup token -> group
	seq       int

	boot, drain, deleteTime time.Duration
	// warmup is how long a group's instances stay initial in a target
	// group after the group is attached to it (its health checks have not
	// passed yet); 0: healthy at once, as on moto.
	warmup time.Duration
	// neverHealthy keeps the targets of new groups unhealthy.
	neverHealthy bool
	// doomed is how many of the first instances of new groups terminate.
	doomed int
	// created lists the specs of CreateGroup, in order.
	created []GroupSpec
	// capacities lists every capacity set on a group, creation included.
	capacities map[string][]Capacity
	// templates are the launch templates by name, with their tags;
	// alarms the alarms by name, with their group. CreateGroup makes a
	// template before its group (the hook sees "CreateLaunchTemplate" in
	// between), DeleteGroup deletes them before the group.
	templates map[string]map[string]string
	alarms    map[string]string
	// taskDefs are the task definitions of ECS services by
	// family:revision, with their tags; revisions counts each family's.
	// CreateGroup of an ECS service registers one before its service
	// (the hook sees "RegisterTaskDefinition" in between), DeleteGroup
	// deregisters its family's.
	taskDefs  map[string]map[string]string
	revisions map[string]int
	// steadyAfter is how long an ECS service's deployment stays
	// IN_PROGRESS after it started even when all its tasks run (ECS
	// waits for steady state); 0: steady once they run.
	steadyAfter time.Duration
	// reuseIPs are private IPs AWS hands to the next tasks launched, as
	// it may reuse a stopped task's.
	reuseIPs []string
	// redeployBreaker, when set, is why ECS gives up every redeployment
	// of a new ECS service (see redeploy).
	redeployBreaker string
	// redeploys counts the redeployments of ECS services a change of
	// their load balancers started.
	redeploys int
	// breaker, when set, is why ECS gives up the deployment of every new
	// ECS service once its first tasks have had time to boot: its
	// circuit breaker trips (Group.Failed).
	breaker string

	// The gates: test target groups by name (ARN and tags), where each
	// listener forwards ("" for the fixed answer), the watched alarms'
	// states, commands run on instances and messages published.
	testTGs     map[string]fakeTestTG
	listeners   map[string]string
	alarmStates map[string]string
	alarmAt     map[string]fakeAlarmAt
	commands    []string
	commandOK   bool
	// commandOutput, when set, is what a successful command answers.
	commandOutput *CommandResult
	published     []string
	// targetTypes are the target types of target groups that are not
	// instance (see targetType).
	targetTypes map[string]string
	// attachments lists every attach of a group to target groups,
	// creation included, as "group -> target group".
	attachments []string
}

type fakeTestTG struct {
	arn  string
	tags map[string]string
}

// Target types of target groups, as ELB names them: an ECS service's
// tasks (awsvpc network mode) register only in ip target groups.
const (
	targetTypeInstance = "instance"
	targetTypeIP       = "ip"
)

// targetType is the target type of a target group: instance unless the
// test set another (setTargetType) or it was made like an ip one.
func (f *fakeCloud) targetType(tg string) string {
	if t, ok := f.targetTypes[tg]; ok {
		return t
	}
	return targetTypeInstance
}

// setTargetType sets the target type of a target group.
func (f *fakeCloud) setTargetType(tg, t string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targetTypes[tg] = t
}

// refuseForECS is ECS's refusal of a load balancer whose target group
// an awsvpc task cannot register in.
func (f *fakeCloud) refuseForECS(service string, tgs []string) error {
	for _, tg := range tgs {
		if t := f.targetType(tg); t != targetTypeIP {
			return elevator.Errorf(elevator.EINVALID, "InvalidParameterException: service %s: the target group %s has target type %s, which is incompatible with the awsvpc network mode", service, tg, t)
		}
	}
	return nil
}

type fakeGroup struct {
	name    string
	cluster string // an ECS service's; its instances are tasks with IPs
	created time.Time
	// detachedDesired is the desired count an ECS service had when a
	// detach from all its target groups scaled it to zero (the
	// adapter's elevator.TagDetachedDesired); 0 when it was not.
	detachedDesired int
	tags            map[string]string
	capacity        Capacity
	tgs             []string
	detached        map[string]time.Time // target group -> when the group left it
	attached        map[string]time.Time // target group -> when the group was attached to it
	deleting        time.Time
	scaling         Scaling
	// detachedAll: an ECS service a detach from all its target groups
	// scaled to zero; its scaling is suspended (schedules do not scale it)
	// and, its target groups taken out of tgs, Groups lists it with none
	// until an attach (see Cloud.DetachTargetGroups).
	detachedAll bool
	// deployedAt is when an ECS service's last deployment started (its
	// creation, or a change of its load balancers).
	deployedAt time.Time
	failed     string // why ECS gave up its redeployment
	instances  []*fakeInstance
	isNew      bool // made by CreateGroup
}

type fakeInstance struct {
	id       string
	ip       string // a task's private IPv4 address; "" for an instance
	launched time.Time
	doomed   bool
	// unhealthy: its container's health check fails while it runs.
	unhealthy bool
	scaledIn  time.Time // when the group let it go (or lets it go, when replaced); zero while it belongs
	// replaced: a redeployment of its ECS service replaces it; it stops
	// at scaledIn, once the new tasks have had time to boot.
	replaced bool
}

func newFakeCloud(t *testing.T, region string, clock *fakeClock) *fakeCloud {
	return &fakeCloud{t: t, region: region, clock: clock,
		resources:   map[ResourceKind]map[string]Resource{},
		groups:      map[string]*fakeGroup{},
		tokens:      map[string]string{},
		capacities:  map[string][]Capacity{},
		templates:   map[string]map[string]string{},
		taskDefs:    map[string]map[string]string{},
		revisions:   map[string]int{},
		alarms:      map[string]string{},
		targetTypes: map[string]string{},
		testTGs:     map[string]fakeTestTG{}, listeners: map[string]string{}, alarmStates: map[string]string{}, commandOK: true,
		boot: 40 * time.Second, drain: 20 * time.Second, deleteTime: 30 * time.Second}
}

func (f *fakeCloud) Region() string { return f.region }

func (f *fakeCloud) addResource(r Resource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.resources[r.Kind] == nil {
		f.resources[r.Kind] = map[string]Resource{}
	}
	f.resources[r.Kind][r.ID] = r
}

// addRunningGroup makes a group that has served for a day, all healthy.
func (f *fakeCloud) addRunningGroup(name string, tags map[string]string, desired int, tgs []string) {
	f.addRunningService(name, "", tags, desired, tgs)
}

// addRunningService makes an ECS service of cluster (or, when cluster is
// "", a group) that has served for a day, all healthy, with its task
// definition.
func (f *fakeCloud) addRunningService(name, cluster string, tags map[string]string, desired int, tgs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := &fakeGroup{name: name, cluster: cluster, tags: tags, capacity: Capacity{Min: 1, Max: 10, Desired: desired}, tgs: tgs, detached: map[string]time.Time{},
		created: f.clock.Now().Add(-24 * time.Hour)}
	for range desired {
		g.instances = append(g.instances, f.launch(g, f.clock.Now().Add(-24*time.Hour)))
	}
	f.groups[name] = g
	if cluster != "" {
		f.revisions[name]++
		f.taskDefs[fmt.Sprintf("%s:%d", name, f.revisions[name])] = tags
	}
}

// launch makes an instance of g, or a task with its IP when g is an ECS
// service.
func (f *fakeCloud) launch(g *fakeGroup, at time.Time) *fakeInstance {
	f.seq++
	if g.cluster != "" {
		ip := fmt.Sprintf("10.0.%d.%d", f.seq/250, f.seq%250+1)
		if len(f.reuseIPs) > 0 {
			ip, f.reuseIPs = f.reuseIPs[0], f.reuseIPs[1:]
		}
		return &fakeInstance{id: fmt.Sprintf("arn:aws:ecs:%s:123456789012:task/%s/%032x", f.region, g.cluster, f.seq),
			ip: ip, launched: at}
	}
	return &fakeInstance{id: fmt.Sprintf("i-%s-%03d", f.region, f.seq), launched: at}
}

// lookup finds the group ref names, and reports a ref that names an ECS
// service without its cluster (or a group with one) as the test's error:
// AWS would not find it.
func (f *fakeCloud) lookup(ref GroupRef) (*fakeGroup, bool) {
	g, ok := f.groups[ref.Name]
	if ok && g.cluster != ref.Cluster {
		f.t.Errorf("%s: the engine names group %s as %q, but it is %q", f.region, ref.Name, ref, GroupRef{Name: g.name, Cluster: g.cluster})
		return nil, false
	}
	return g, ok
}

// settle brings groups up to date with the clock: launches what their
// desired capacity misses, lets go of what exceeds it, drops what has
// gone.
func (f *fakeCloud) settle() {
	now := f.clock.Now()
	for name, g := range f.groups {
		if !g.deleting.IsZero() {
			if !now.Before(g.deleting.Add(f.deleteTime)) {
				delete(f.groups, name)
			}
			continue
		}
		live := 0
		g.instances = slices.DeleteFunc(g.instances, func(in *fakeInstance) bool {
			// An ECS service lists its stopped tasks for an hour.
			return f.lifecycle(in, now) == LifecycleGone && (g.cluster == "" || !now.Before(f.goneAt(in).Add(time.Hour)))
		})
		for _, in := range g.instances {
			if lc := f.lifecycle(in, now); in.scaledIn.IsZero() && !terminating(lc) {
				live++
			}
		}
		for ; live > g.capacity.Desired; live-- {
			for i := len(g.instances) - 1; i >= 0; i-- {
				if in := g.instances[i]; in.scaledIn.IsZero() && !terminating(f.lifecycle(in, now)) {
					in.scaledIn = now
					break
				}
			}
		}
		for ; live < g.capacity.Desired; live++ {
			in := f.launch(g, now)
			if g.isNew && f.doomed > 0 {
				f.doomed--
				in.doomed = true
			}
			g.instances = append(g.instances, in)
		}
	}
}

// goneAt is when an instance that is gone went.
func (f *fakeCloud) goneAt(in *fakeInstance) time.Time {
	if !in.scaledIn.IsZero() {
		return in.scaledIn.Add(time.Minute)
	}
	return in.launched.Add(f.boot/2 + time.Minute)
}

func (f *fakeCloud) lifecycle(in *fakeInstance, now time.Time) string {
	switch {
	case !in.scaledIn.IsZero() && !now.Before(in.scaledIn.Add(time.Minute)):
		return LifecycleGone
	case !in.scaledIn.IsZero() && !now.Before(in.scaledIn):
		return LifecycleTerminate
	case in.doomed && !now.Before(in.launched.Add(f.boot/2+time.Minute)):
		return LifecycleGone
	case in.doomed && !now.Before(in.launched.Add(f.boot/2)):
		return LifecycleTerminate
	case now.Before(in.launched.Add(f.boot)):
		return LifecyclePending
	}
	return LifecycleInService
}

func (f *fakeCloud) Describe(ctx context.Context, kind ResourceKind, ids []string) ([]Resource, error) {
	if err := f.enter(ctx, "Describe"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Resource
	for _, id := range ids {
		if r, ok := f.resources[kind][id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// allowImage adds image to orbit's image allow list for app.
func (f *fakeCloud) allowImage(orbit, app, image string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.allowList == nil {
		f.allowList = map[[3]string]bool{}
	}
	f.allowList[[3]string{orbit, app, image}] = true
}

func (f *fakeCloud) AllowedImages(ctx context.Context, orbit, app string, images []string) ([]string, error) {
	if err := f.enter(ctx, "AllowedImages"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, id := range images {
		if f.allowList[[3]string{orbit, app, id}] {
			out = append(out, id)
		}
	}
	return out, nil
}

func (f *fakeCloud) Groups(ctx context.Context, filter GroupFilter) ([]Group, error) {
	if err := f.enter(ctx, "Groups"); err != nil {
		return nil, err
	}
	defer f.after("Groups")
	if filter.Orbit == "" {
		f.t.Errorf("Groups(%+v) lists groups without filtering by orbit", filter)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	now := f.clock.Now()
	var out []Group
	for _, g := range f.groups {
		want := map[string]string{elevator.TagApp: filter.App, elevator.TagOrbit: filter.Orbit, elevator.TagService: filter.Service, elevator.TagRelease: filter.ReleaseID}
		match := true
		for k, v := range want {
			if v != "" && g.tags[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		out = append(out, f.view(g, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeCloud) view(g *fakeGroup, now time.Time) Group {
	v := Group{Name: g.name, Cluster: g.cluster, Tags: g.tags, Capacity: g.capacity, TargetGroups: slices.Clone(g.tgs), Deleting: !g.deleting.IsZero()}
	running, replacing := 0, 0
	for _, in := range g.instances {
		lc := f.lifecycle(in, now)
		v.Instances = append(v.Instances, Instance{ID: in.id, Lifecycle: lc, Healthy: lc == LifecycleInService && !in.unhealthy, Target: in.ip})
		switch {
		case in.replaced && lc != LifecycleGone:
			replacing++
		case !in.replaced && in.scaledIn.IsZero() && lc == LifecycleInService:
			running++
		}
	}
	if g.cluster != "" && g.deleting.IsZero() {
		switch {
		case replacing > 0:
			v.Settling = fmt.Sprintf("2 deployments: the new one has %d of %d tasks running", running, g.capacity.Desired)
		case running < g.capacity.Desired:
			v.Settling = fmt.Sprintf("deployment IN_PROGRESS: %d of %d tasks running", running, g.capacity.Desired)
		case now.Before(g.deployedAt.Add(f.steadyAfter)):
			v.Settling = fmt.Sprintf("deployment IN_PROGRESS: %d of %d tasks running, not steady yet", running, g.capacity.Desired)
		}
	}
	if g.cluster != "" && g.isNew && f.breaker != "" && !now.Before(g.created.Add(f.boot)) {
		v.Failed = f.breaker
	}
	if g.failed != "" && !now.Before(g.deployedAt.Add(f.boot)) {
		v.Failed = g.failed
	}
	return v
}

func (f *fakeCloud) CreateGroup(ctx context.Context, spec GroupSpec, token string) error {
	if err := f.enter(ctx, "CreateGroup"); err != nil {
		return err
	}
	defer f.after("CreateGroup")
	if spec.ECS != nil {
		if err := f.registerTaskDefinition(spec); err != nil {
			return err
		}
		f.after("RegisterTaskDefinition")
	} else {
		f.mu.Lock()
		if tags, ok := f.templates[spec.Name]; ok && tags[elevator.TagRelease] != spec.Tags[elevator.TagRelease] {
			f.mu.Unlock()
			return elevator.Errorf(elevator.EINVALID, "AlreadyExists: launch template %s exists", spec.Name)
		}
		f.templates[spec.Name] = spec.Tags
		f.mu.Unlock()
		f.after("CreateLaunchTemplate")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if name, ok := f.tokens[token]; ok && name != spec.Name {
		f.t.Errorf("token %s used for %s and %s", token, name, spec.Name)
	}
	f.tokens[token] = spec.Name
	cluster := ""
	if spec.ECS != nil {
		cluster = spec.ECS.Cluster
	}
	if g, ok := f.groups[spec.Name]; ok {
		if g.cluster != cluster {
			return elevator.Errorf(elevator.EINVALID, "AlreadyExists: %s exists as %q", spec.Name, GroupRef{Name: g.name, Cluster: g.cluster})
		}
		if spec.Absent {
			f.t.Errorf("CreateGroup of %s says the caller found no such group, but it exists", spec.Name)
		}
		if g.tags[elevator.TagRelease] != spec.Tags[elevator.TagRelease] {
			return elevator.Errorf(elevator.EINVALID, "AlreadyExists: group %s exists", spec.Name)
		}
		return nil
	}
	if cluster != "" {
		if err := f.refuseForECS(spec.Name, spec.TargetGroups); err != nil {
			return err
		}
	}
	f.created = append(f.created, spec)
	for _, tg := range spec.TargetGroups {
		f.attachments = append(f.attachments, spec.Name+" -> "+tg)
	}
	f.groups[spec.Name] = &fakeGroup{name: spec.Name, cluster: cluster, tags: spec.Tags, capacity: spec.Capacity, tgs: slices.Clone(spec.TargetGroups),
		detached: map[string]time.Time{}, isNew: true, created: f.clock.Now(), deployedAt: f.clock.Now()}
	f.capacities[spec.Name] = append(f.capacities[spec.Name], spec.Capacity)
	f.settle()
	return nil
}

func (f *fakeCloud) SetCapacity(ctx context.Context, ref GroupRef, c Capacity) error {
	group := ref.Name
	if err := f.enter(ctx, "SetCapacity"); err != nil {
		return err
	}
	defer f.after("SetCapacity")
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.lookup(ref)
	if !ok {
		return ErrNotFound
	}
	g.capacity = c
	f.capacities[group] = append(f.capacities[group], c)
	f.settle()
	return nil
}

func (f *fakeCloud) PutScaling(ctx context.Context, ref GroupRef, s Scaling) error {
	group := ref.Name
	if err := f.enter(ctx, "PutScaling"); err != nil {
		return err
	}
	defer f.after("PutScaling")
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.lookup(ref)
	if !ok {
		return ErrNotFound
	}
	if g.cluster != "" && (s.Min > s.Max || s.Max < 1) {
		return elevator.Errorf(elevator.EINVALID, "ValidationException: scalable target of %s between %d and %d", group, s.Min, s.Max)
	}
	g.scaling = s
	for i, p := range s.Policies {
		if p.Type != elevator.PolicyCPUTarget {
			f.alarms[fmt.Sprintf("%s-policy-%d", group, i)] = group
		}
	}
	for i := range s.Alarms {
		f.alarms[fmt.Sprintf("%s-policy-alarm-%d", group, i)] = group
	}
	return nil
}

func (f *fakeCloud) Targets(ctx context.Context, tg string) ([]Target, error) {
	if err := f.enter(ctx, "Targets"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	now := f.clock.Now()
	var out []Target
	for _, g := range f.groups {
		attached := slices.Contains(g.tgs, tg)
		left, wasIn := g.detached[tg]
		for _, in := range g.instances {
			lc := f.lifecycle(in, now)
			id := in.id
			if g.cluster != "" {
				id = in.ip // tasks register by IP
			}
			switch {
			case lc == LifecyclePending || lc == LifecycleGone:
			case attached && terminating(lc):
				out = append(out, Target{id, TargetDraining})
			case attached && g.isNew && f.neverHealthy:
				out = append(out, Target{id, TargetUnhealthy})
			case attached && now.Before(g.attached[tg].Add(f.warmup)):
				out = append(out, Target{id, TargetInitial})
			case attached:
				out = append(out, Target{id, TargetHealthy})
			case wasIn && now.Before(left.Add(f.drain)):
				out = append(out, Target{id, TargetDraining})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceID < out[j].InstanceID })
	return out, nil
}

func (f *fakeCloud) AttachTargetGroups(ctx context.Context, ref GroupRef, tgs []string) error {
	group := ref.Name
	if err := f.enter(ctx, "AttachTargetGroups"); err != nil {
		return err
	}
	defer f.after("AttachTargetGroups")
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.lookup(ref)
	if !ok || !g.deleting.IsZero() {
		return ErrNotFound
	}
	if g.cluster != "" {
		if err := f.refuseForECS(group, tgs); err != nil {
			return err
		}
	}
	if g.detachedAll {
		// An ECS service a detach scaled to zero gets its tasks back,
		// and its scaling resumes.
		g.capacity.Desired, g.detachedDesired, g.detachedAll = g.detachedDesired, 0, false
		f.capacities[group] = append(f.capacities[group], g.capacity)
		f.settle()
	} else if g.cluster != "" && slices.ContainsFunc(tgs, func(tg string) bool { return !slices.Contains(g.tgs, tg) }) {
		f.redeploy(g)
	}
	for _, tg := range tgs {
		if !slices.Contains(g.tgs, tg) {
			g.tgs = append(g.tgs, tg)
			if g.attached == nil {
				g.attached = map[string]time.Time{}
			}
			g.attached[tg] = f.clock.Now()
		}
		delete(g.detached, tg)
		f.attachments = append(f.attachments, group+" -> "+tg)
	}
	return nil
}

func (f *fakeCloud) DetachTargetGroups(ctx context.Context, ref GroupRef, tgs []string) error {
	group := ref.Name
	if err := f.enter(ctx, "DetachTargetGroups"); err != nil {
		return err
	}
	defer f.after("DetachTargetGroups")
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.lookup(ref)
	if !ok {
		return ErrNotFound
	}
	if g.cluster != "" && len(g.tgs) > 0 && !slices.ContainsFunc(g.tgs, func(tg string) bool { return !slices.Contains(tgs, tg) }) {
		// An ECS service leaving all its load balancers is scaled to
		// zero, its desired count kept, its scaling suspended: ECS
		// drains each task.
		g.detachedDesired, g.detachedAll = g.capacity.Desired, true
		g.capacity.Desired = 0
		f.capacities[group] = append(f.capacities[group], g.capacity)
		f.settle()
	} else if g.cluster != "" && slices.ContainsFunc(tgs, func(tg string) bool { return slices.Contains(g.tgs, tg) }) {
		f.redeploy(g)
	}
	for _, tg := range tgs {
		if slices.Contains(g.tgs, tg) {
			g.tgs = slices.DeleteFunc(g.tgs, func(s string) bool { return s == tg })
			g.detached[tg] = f.clock.Now()
		}
	}
	return nil
}

func (f *fakeCloud) DeleteGroup(ctx context.Context, ref GroupRef) error {
	group := ref.Name
	if err := f.enter(ctx, "DeleteGroup"); err != nil {
		return err
	}
	defer f.after("DeleteGroup")
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, of := range f.alarms {
		if of == group {
			delete(f.alarms, name)
		}
	}
	delete(f.templates, group)
	for name := range f.taskDefs {
		if family, _, _ := strings.Cut(name, ":"); family == group && ref.ECS() {
			delete(f.taskDefs, name)
		}
	}
	g, ok := f.lookup(ref)
	if !ok {
		return nil
	}
	if g.deleting.IsZero() {
		g.deleting = f.clock.Now()
	}
	return nil
}

func (f *fakeCloud) Remains(ctx context.Context, filter GroupFilter) ([]Remain, error) {
	if err := f.enter(ctx, "Remains"); err != nil {
		return nil, err
	}
	if filter.Orbit == "" {
		f.t.Errorf("Remains(%+v) without an orbit", filter)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]string{elevator.TagApp: filter.App, elevator.TagOrbit: filter.Orbit, elevator.TagService: filter.Service, elevator.TagRelease: filter.ReleaseID}
	matches := func(tags map[string]string) bool {
		for k, v := range want {
			if v != "" && tags[k] != v {
				return false
			}
		}
		return true
	}
	var out []Remain
	for name, tags := range f.templates {
		if matches(tags) {
			out = append(out, Remain{Kind: RemainLaunchTemplate, Name: name, Group: name, App: tags[elevator.TagApp], ReleaseID: tags[elevator.TagRelease]})
		}
	}
	for name, tags := range f.taskDefs {
		if matches(tags) {
			family, _, _ := strings.Cut(name, ":")
			out = append(out, Remain{Kind: RemainTaskDefinition, Name: name, Group: family, App: tags[elevator.TagApp], ReleaseID: tags[elevator.TagRelease]})
		}
	}
	for name, group := range f.alarms {
		// As in AWS, alarms are found by name: their group's.
		if filter.App != "" && strings.HasPrefix(group, filter.App+"-"+filter.Orbit+"-") &&
			(filter.ReleaseID == "" || strings.HasSuffix(group, filter.ReleaseID[strings.LastIndexByte(filter.ReleaseID, '-'):])) {
			out = append(out, Remain{Kind: RemainAlarm, Name: name, Group: group, App: filter.App, ReleaseID: filter.ReleaseID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeCloud) DeleteRemain(ctx context.Context, r Remain) error {
	if err := f.enter(ctx, "DeleteRemain"); err != nil {
		return err
	}
	defer f.after("DeleteRemain")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Kind {
	case RemainLaunchTemplate:
		delete(f.templates, r.Name)
	case RemainTaskDefinition:
		delete(f.taskDefs, r.Name)
	case RemainAlarm:
		delete(f.alarms, r.Name)
	}
	return nil
}

// remains lists the launch templates and alarms there are, sorted.
func (f *fakeCloud) remains() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.templates {
		out = append(out, "launch template "+name)
	}
	for name := range f.alarms {
		out = append(out, "alarm "+name)
	}
	for name := range f.taskDefs {
		out = append(out, "task definition "+name)
	}
	sort.Strings(out)
	return out
}

// groupNames lists the groups that exist, being deleted or not.
func (f *fakeCloud) groupNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	var out []string
	for name := range f.groups {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// group returns a copy of a group's state.
func (f *fakeCloud) group(name string) (Group, Scaling, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	g, ok := f.groups[name]
	if !ok {
		return Group{}, Scaling{}, false
	}
	return f.view(g, f.clock.Now()), g.scaling, true
}

// describeAll is a debugging aid for failed tests.
func (f *fakeCloud) describeAll() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for name, g := range f.groups {
		fmt.Fprintf(&b, "%s tgs=%v deleting=%v instances=%d; ", name, g.tgs, !g.deleting.IsZero(), len(g.instances))
	}
	return b.String()
}

func (f *fakeCloud) CreateTestTargetGroup(ctx context.Context, name, like string, tags map[string]string) (string, error) {
	if err := f.enter(ctx, "CreateTestTargetGroup"); err != nil {
		return "", err
	}
	defer f.after("CreateTestTargetGroup")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(name) > 32 {
		return "", elevator.Errorf(elevator.EINVALID, "ValidationError: target group name %q longer than 32 characters", name)
	}
	if _, ok := f.resources[KindTargetGroup][like]; !ok {
		return "", fmt.Errorf("target group %s: %w", like, ErrNotFound)
	}
	if tg, ok := f.testTGs[name]; ok {
		if tg.tags[elevator.TagRelease] != tags[elevator.TagRelease] {
			return "", elevator.Errorf(elevator.EINVALID, "DuplicateTargetGroupName: %s", name)
		}
		return tg.arn, nil
	}
	arn := "arn:aws:elasticloadbalancing:" + f.region + ":123456789012:targetgroup/" + name + "/feedfeedfeedfeed"
	f.testTGs[name] = fakeTestTG{arn: arn, tags: tags}
	if t, ok := f.targetTypes[like]; ok {
		f.targetTypes[arn] = t // made like like, its target type too
	}
	return arn, nil
}

func (f *fakeCloud) DeleteTestTargetGroup(ctx context.Context, name string) error {
	if err := f.enter(ctx, "DeleteTestTargetGroup"); err != nil {
		return err
	}
	defer f.after("DeleteTestTargetGroup")
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, ok := f.testTGs[name]
	if !ok {
		return nil
	}
	for l, to := range f.listeners {
		if to == tg.arn {
			return elevator.Errorf(elevator.EINVALID, "ResourceInUse: target group %s is used by listener %s", name, l)
		}
	}
	delete(f.testTGs, name)
	return nil
}

func (f *fakeCloud) ForwardListener(ctx context.Context, listener, tg string) error {
	if err := f.enter(ctx, "ForwardListener"); err != nil {
		return err
	}
	defer f.after("ForwardListener")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listeners[listener] = tg
	return nil
}

func (f *fakeCloud) AlarmStates(ctx context.Context, names []string) ([]AlarmState, error) {
	if err := f.enter(ctx, "AlarmStates"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []AlarmState
	for n, at := range f.alarmAt {
		if !f.clock.Now().Before(at.at) {
			f.alarmStates[n] = at.state
			delete(f.alarmAt, n)
		}
	}
	for _, n := range names {
		if st, ok := f.alarmStates[n]; ok {
			out = append(out, AlarmState{Name: n, State: st, Reason: "set by the test"})
		}
	}
	return out, nil
}

// setAlarmAt sets a watched alarm's state at a time to come.
func (f *fakeCloud) setAlarmAt(name, state string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.alarmAt == nil {
		f.alarmAt = map[string]fakeAlarmAt{}
	}
	f.alarmAt[name] = fakeAlarmAt{state, at}
}

type fakeAlarmAt struct {
	state string
	at    time.Time
}

// setAlarm sets a watched alarm's state.
func (f *fakeCloud) setAlarm(name, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alarmStates[name] = state
}

func (f *fakeCloud) RunCommand(ctx context.Context, instance string, lines []string, timeout time.Duration) (CommandResult, error) {
	if err := f.enter(ctx, "RunCommand"); err != nil {
		return CommandResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, instance+": "+strings.Join(lines, "; "))
	if !f.commandOK {
		return CommandResult{Stderr: "exit 1", Status: "Failed"}, nil
	}
	if f.commandOutput != nil {
		return *f.commandOutput, nil
	}
	return CommandResult{Stdout: "ok", OK: true, Status: "Success"}, nil
}

func (f *fakeCloud) Publish(ctx context.Context, topic, subject, message string) error {
	if err := f.enter(ctx, "Publish"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, topic+": "+subject+": "+message)
	return nil
}

// attached lists, for the groups made by release id, every target group
// they were ever attached to.
// healthyIn counts the healthy targets of target group tg.
func (f *fakeCloud) healthyIn(tg string) int {
	targets, _ := f.Targets(context.Background(), tg)
	n := 0
	for _, t := range targets {
		if t.State == TargetHealthy {
			n++
		}
	}
	return n
}

func (f *fakeCloud) attachedTo(group string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.attachments {
		if g, tg, _ := strings.Cut(a, " -> "); g == group && !slices.Contains(out, tg) {
			out = append(out, tg)
		}
	}
	return out
}

// registerTaskDefinition registers the next revision of spec's family,
// as ECS does at each call; a family another release registered is
// refused, as a launch template of another release is.
func (f *fakeCloud) registerTaskDefinition(spec GroupSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := spec.ECS
	if e.Cluster == "" || e.Container == "" || e.Image == "" || e.CPU <= 0 || e.Memory <= 0 {
		return elevator.Errorf(elevator.EINVALID, "ClientException: task definition %s: cluster %q, container %q, image %q, cpu %d, memory %d", spec.Name, e.Cluster, e.Container, e.Image, e.CPU, e.Memory)
	}
	for name, tags := range f.taskDefs {
		if family, _, _ := strings.Cut(name, ":"); family == spec.Name && tags[elevator.TagRelease] != spec.Tags[elevator.TagRelease] {
			return elevator.Errorf(elevator.EINVALID, "task definition family %s belongs to release %s", spec.Name, tags[elevator.TagRelease])
		}
	}
	f.revisions[spec.Name]++
	f.taskDefs[fmt.Sprintf("%s:%d", spec.Name, f.revisions[spec.Name])] = spec.Tags
	return nil
}

// stopTasks stops n tasks (or terminates n instances) of a group
// now, as a crash of their container (or an instance failure) would; the
// group replaces them.
func (f *fakeCloud) stopTasks(group string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	now := f.clock.Now()
	for _, in := range f.groups[group].instances {
		if lc := f.lifecycle(in, now); n > 0 && !terminating(lc) {
			in.scaledIn = now.Add(-time.Minute) // gone at once
			n--
		}
	}
	f.settle()
}

// redeploy starts a new deployment of an ECS service whose load
// balancers change, as ECS does: it starts new tasks (with new IPs) and
// stops the old ones once the new ones have had time to boot. The
// service is Settling meanwhile.
func (f *fakeCloud) redeploy(g *fakeGroup) {
	now := f.clock.Now()
	f.redeploys++
	g.deployedAt = now
	if g.isNew && f.redeployBreaker != "" {
		g.failed = f.redeployBreaker
	}
	for _, in := range g.instances {
		if in.scaledIn.IsZero() && !terminating(f.lifecycle(in, now)) {
			in.replaced, in.scaledIn = true, now.Add(f.boot)
		}
	}
	f.settle()
}

// fireSchedules runs the scheduled actions of every group whose scaling
// is not suspended, as their cron would: each sets its desired capacity
// (an ECS service's within its scalable target's bounds).
func (f *fakeCloud) fireSchedules() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.groups {
		if g.detachedAll || !g.deleting.IsZero() {
			continue
		}
		for _, sc := range g.scaling.Schedule {
			g.capacity.Desired = sc.Desired
			if g.cluster != "" {
				g.capacity.Desired = min(max(sc.Desired, g.scaling.Min), g.scaling.Max)
			}
			f.capacities[g.name] = append(f.capacities[g.name], g.capacity)
		}
	}
	f.settle()
}

// sickTasks makes n running tasks (or instances) of a group fail their
// container's health check, while they keep running and their target
// group's health check passes.
func (f *fakeCloud) sickTasks(group string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	g, ok := f.groups[group]
	if !ok {
		return
	}
	for _, in := range g.instances {
		if n > 0 && in.scaledIn.IsZero() && !in.unhealthy {
			in.unhealthy = true
			n--
		}
	}
}
