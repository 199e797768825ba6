package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// memStore is a Store that really stores: records as JSON (so that a
// reader never shares memory with a writer), revision-checked like the
// DynamoDB store. failPut, when set, is called before every Put and its
// error returned: the failure-injection hook that stands for a process
// killed between two writes.
type memStore struct {
	mu      sync.Mutex
	recs    map[string][]byte
	audit   []elevator.AuditEntry
	failPut func(e *elevator.PipelineExecution) error
}

func newMemStore() *memStore { return &memStore{recs: map[string][]byte{}} }

func (m *memStore) Put(_ context.Context, e *elevator.PipelineExecution) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		if err := m.failPut(e); err != nil {
			return err
		}
	}
	key := e.App + "/" + e.ID
	var have int64
	if b, ok := m.recs[key]; ok {
		var old elevator.PipelineExecution
		_ = json.Unmarshal(b, &old)
		have = old.Revision
	}
	if e.Revision != have+1 {
		return fmt.Errorf("put revision %d over %d: %w", e.Revision, have, ErrStale)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m.recs[key] = b
	return nil
}

func (m *memStore) Get(_ context.Context, app, id string) (*elevator.PipelineExecution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.recs[app+"/"+id]
	if !ok {
		return nil, ErrNotFound
	}
	var e elevator.PipelineExecution
	return &e, json.Unmarshal(b, &e)
}

func (m *memStore) List(ctx context.Context, app string, limit int) ([]*elevator.PipelineExecution, error) {
	m.mu.Lock()
	var ids []string
	for _, b := range m.recs {
		var e elevator.PipelineExecution
		_ = json.Unmarshal(b, &e)
		if e.App == app {
			ids = append(ids, e.ID)
		}
	}
	m.mu.Unlock()
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	var out []*elevator.PipelineExecution
	for _, id := range ids[:min(limit, len(ids))] {
		e, err := m.Get(ctx, app, id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (m *memStore) Audit(_ context.Context, e elevator.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

func (m *memStore) actions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, a := range m.audit {
		out = append(out, a.Action+":"+a.Outcome)
	}
	return out
}

// fakeReleaser runs releases that end after polls reads of their status,
// succeeding unless their orbit is in fail. Start with a token seen before
// returns the same id, as the release engine's submission does.
type fakeReleaser struct {
	mu      sync.Mutex
	polls   int
	fail    map[string]bool
	byToken map[string]string
	reads   map[string]int
	started []string       // orbits, in order
	calls   map[string]int // Start calls by orbit, whether or not they started a release
}

func newFakeReleaser(polls int) *fakeReleaser {
	return &fakeReleaser{polls: polls, fail: map[string]bool{}, byToken: map[string]string{}, reads: map[string]int{}, calls: map[string]int{}}
}

func (f *fakeReleaser) Start(_ context.Context, orbit, version, token string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[orbit]++
	if id, ok := f.byToken[token]; ok {
		return id, nil
	}
	id := fmt.Sprintf("r%d-%s-%s", len(f.byToken)+1, orbit, version)
	f.byToken[token] = id
	f.started = append(f.started, orbit)
	return id, nil
}

func (f *fakeReleaser) Status(_ context.Context, orbit, id string) (ReleaseStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[id]++
	if f.reads[id] < f.polls {
		return ReleaseStatus{}, nil
	}
	if f.fail[orbit] {
		return ReleaseStatus{Done: true, Message: "FailureClean: unhealthy"}, nil
	}
	return ReleaseStatus{Done: true, Succeeded: true}, nil
}

// fakeReviewer behaves like the CLI's reviewer on a cloud that keeps
// change sets: per orbit one stack whose compiled template hash the test
// may change (as a pushed commit would); a review keeps the previous
// change set while the hash is the same and the change set is not stale,
// and otherwise makes a new one and deletes the superseded one. Apply
// executes a change set once (a second Apply of an executed one follows
// it); stale marks change sets whose stack changed since, failing those
// whose update fails. none lists orbits whose stack would not change.
type fakeReviewer struct {
	mu       sync.Mutex
	hash     map[string]string
	changes  map[string][]elevator.ResourceChange // by orbit; one Modify when unset
	none     map[string]bool
	stale    map[string]bool // change set ids
	failing  map[string]bool // change set ids
	made     []string        // change sets made, in order
	deleted  []string
	executed []string // change sets executed, in order
	applies  int      // Apply calls
}

func newFakeReviewer() *fakeReviewer {
	return &fakeReviewer{hash: map[string]string{}, changes: map[string][]elevator.ResourceChange{}, none: map[string]bool{},
		stale: map[string]bool{}, failing: map[string]bool{}}
}

func (f *fakeReviewer) Review(_ context.Context, orbit, owner string, previous []elevator.ChangeSetRef) ([]elevator.ChangeSetRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hash[orbit]
	if h == "" {
		h = "h1"
	}
	stack := "elevator-app-" + orbit + "-shop"
	var prev *elevator.ChangeSetRef
	if len(previous) > 0 {
		prev = &previous[0]
	}
	if prev != nil && prev.TemplateHash == h && prev.ChangeSetID != "" && !f.stale[prev.ChangeSetID] && !slices.Contains(f.executed, prev.ChangeSetID) {
		return []elevator.ChangeSetRef{*prev}, nil
	}
	ref := elevator.ChangeSetRef{Orbit: orbit, Region: "us-east-1", Stack: stack, TemplateHash: h}
	if !f.none[orbit] {
		ref.ChangeSetID = fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs%d-%s-%s/x", len(f.made)+1, orbit, h)
		ref.Changes = f.changes[orbit]
		if ref.Changes == nil {
			ref.Changes = []elevator.ResourceChange{{Action: "Modify", LogicalID: "WebSecurityGroup", Type: "AWS::EC2::SecurityGroup", Replacement: "False"}}
		}
		f.made = append(f.made, ref.ChangeSetID)
	}
	if prev != nil && prev.ChangeSetID != "" && prev.ChangeSetID != ref.ChangeSetID {
		f.deleted = append(f.deleted, prev.ChangeSetID)
	}
	return []elevator.ChangeSetRef{ref}, nil
}

func (f *fakeReviewer) Apply(_ context.Context, ref elevator.ChangeSetRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies++
	if slices.Contains(f.executed, ref.ChangeSetID) {
		// Executed before: followed, not executed again; AWS keeps it,
		// EXECUTE_FAILED when its update failed.
		if f.failing[ref.ChangeSetID] {
			return fmt.Errorf("stack %s ended UPDATE_ROLLBACK_COMPLETE: %w", ref.Stack, elevator.ErrChangeSetFailed)
		}
		return nil
	}
	if f.stale[ref.ChangeSetID] || slices.Contains(f.deleted, ref.ChangeSetID) {
		return fmt.Errorf("change set %s: the stack changed since: %w", ref.ChangeSetID, elevator.ErrStaleChangeSet)
	}
	if h := f.hash[ref.Orbit]; h != "" && h != ref.TemplateHash {
		return fmt.Errorf("change set %s: the app compiles to %s now: %w", ref.ChangeSetID, h, elevator.ErrStaleChangeSet)
	}
	f.executed = append(f.executed, ref.ChangeSetID)
	if f.failing[ref.ChangeSetID] {
		return fmt.Errorf("stack %s ended UPDATE_ROLLBACK_COMPLETE: %w", ref.Stack, elevator.ErrChangeSetFailed)
	}
	return nil
}

// clock is a fake clock whose Sleep moves it. After's channels fire when
// the clock is moved past their time.
type clock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.Advance(d)
	return nil
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.t
	}
	c.waiters = kept
}
func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.t.Add(d), ch})
	return ch
}

// deployedOrbits are orbits as deployed, held in memory: what the
// settings `orbit up` recorded in the state bucket say (an orbit missing
// here has no such record).
type deployedOrbits map[string]*elevator.Orbit

func (d deployedOrbits) Deployed(_ context.Context, orbit string) (*elevator.Orbit, error) {
	o, ok := d[orbit]
	if !ok {
		return nil, fmt.Errorf("orbit %s: %w", orbit, ErrNotDeployed)
	}
	return o, nil
}
