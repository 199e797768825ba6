package dashboard

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// fakeSource is an in-memory Source that really stores: records,
// documents, groups and the audit log. Its releases move only when a test
// says so (run), one transition per tick, and only along transitions the
// engine's table has (release.Transitions), so a page shows what the
// engine could write; the engine itself is not run here (its paths are
// tested in internal/release, and through a deployer in internal/cli).
type fakeSource struct {
	mu      sync.Mutex
	recs    map[string]*elevator.ReleaseRecord
	docs    map[string]*elevator.Release
	groups  []Group
	audit   []elevator.AuditEntry
	running map[string]bool
	now     func() time.Time
	pages   int // Page calls
	t       testing.TB
}

// successPath is the path of a release of all-at-once services.
var successPath = []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources,
	elevator.StateDeploy, elevator.StateCheckHealthy, elevator.StateCutOver, elevator.StateCleanUpSuccess,
	elevator.StateUnlock, elevator.StateSuccess}

func newFakeSource(t testing.TB) *fakeSource {
	return &fakeSource{recs: map[string]*elevator.ReleaseRecord{}, docs: map[string]*elevator.Release{},
		running: map[string]bool{}, now: time.Now, t: t}
}

// add stores a release of app at version, by by, that has gone through
// path (its first state when path has one state).
func (f *fakeSource) add(id, app, version, by string, path ...elevator.ReleaseState) *elevator.ReleaseRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := f.now().UTC().Add(-time.Duration(len(path)) * time.Second)
	rec := &elevator.ReleaseRecord{ID: id, App: app, Orbit: "demo", Revision: int64(len(path)), SubmittedAt: at, UpdatedAt: at,
		Regions: []elevator.ReleaseRegionRecord{{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{{Service: "web",
			Group: app + "-web-" + id[16:], Desired: 2, Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 1, Healthy: 1}}}}},
		Calls: map[string]int{"Cloud.Groups us-east-1": 3, "Store.PutRecord": len(path)}}
	for i, s := range path {
		rec.Path = append(rec.Path, s)
		rec.Visits = append(rec.Visits, at.Add(time.Duration(i)*time.Second))
	}
	if len(path) > 0 {
		rec.State = path[len(path)-1]
	}
	if rec.State.Ended() {
		rec.EndedAt = at.Add(time.Duration(len(path)) * time.Second)
	}
	f.recs[id] = rec
	f.docs[id] = &elevator.Release{ID: id, App: app, Orbit: "demo", Version: version, CreatedBy: by, Regions: []string{"us-east-1"}}
	return rec
}

// run makes a release move one transition every tick until it ends or
// the test does.
func (f *fakeSource) run(id string, tick time.Duration) {
	f.mu.Lock()
	f.running[id] = true
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(cancel)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if f.step(id) {
				return
			}
		}
	}()
}

// step moves a release one transition: along successPath, or, once
// halted before cut-over, along each state's failure transition (the
// last of release.Transitions), to FailureClean. It reports whether the
// release has ended.
func (f *fakeSource) step(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.recs[id]
	if rec.State.Ended() {
		return true
	}
	next := successPath[slices.Index(successPath, rec.State)+1]
	outs := release.Transitions()[rec.State]
	if rec.Halt != nil && slices.Index(successPath, rec.State) < slices.Index(successPath, elevator.StateCutOver) {
		rec.Failed = true
	}
	if rec.Failed {
		next = outs[len(outs)-1]
		if rec.State == elevator.StateUnlock {
			next = elevator.StateFailureClean
		}
	}
	if !slices.Contains(outs, next) {
		f.t.Errorf("fake source: %s -> %s is not a transition of the table", rec.State, next)
		return true
	}
	now := f.now().UTC()
	rec.State, rec.Revision, rec.UpdatedAt = next, rec.Revision+1, now
	rec.Path, rec.Visits = append(rec.Path, next), append(rec.Visits, now)
	rec.Calls["Store.PutRecord"]++
	if next.Ended() {
		rec.EndedAt = now
		f.audit = append(f.audit, elevator.AuditEntry{At: now, By: "engine", Action: elevator.AuditRelease, App: rec.App, Orbit: "demo", ReleaseID: id, Outcome: string(next)})
	}
	return next.Ended()
}

func (f *fakeSource) Groups(ctx context.Context) ([]Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.groups), nil
}

func (f *fakeSource) Page(ctx context.Context, app string, limit int, before string) ([]*elevator.ReleaseRecord, string, error) {
	if err := elevator.CheckName("app", app); err != nil {
		return nil, "", err // DynamoDB refuses an empty key too
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages++
	var ids []string
	for id, r := range f.recs {
		if r.App == app && (before == "" || id < before) {
			ids = append(ids, id)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	var out []*elevator.ReleaseRecord
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		out = append(out, clone(f.recs[id]))
	}
	next := ""
	if len(out) == limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

func (f *fakeSource) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.recs[id]
	if !ok {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
	}
	return clone(r), nil
}

func (f *fakeSource) Release(ctx context.Context, id string) (*elevator.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[id]
	if !ok {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
	}
	return d, nil
}

func (f *fakeSource) Halt(ctx context.Context, id, by, reason string) error {
	f.mu.Lock()
	rec, ok := f.recs[id]
	if !ok {
		f.mu.Unlock()
		return elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
	}
	if rec.State.Ended() {
		f.mu.Unlock()
		return elevator.Errorf(elevator.ECONFLICT, "release %s already ended %s", id, rec.State)
	}
	rec.Halt = &elevator.ReleaseHalt{By: by, At: f.now().UTC(), Reason: reason}
	f.audit = append(f.audit, elevator.AuditEntry{At: f.now().UTC(), By: by, Action: elevator.AuditHalt, App: rec.App, Orbit: "demo", ReleaseID: id, Outcome: "asked", Detail: reason})
	running := f.running[id]
	f.mu.Unlock()
	if !running {
		f.run(id, 150*time.Millisecond) // the engine obeys the halt at its next look
	}
	return nil
}

func (f *fakeSource) Rollback(ctx context.Context, app, by, reason string) (*elevator.Release, error) {
	return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no earlier successful release to roll back to", app)
}

func (f *fakeSource) Unlock(ctx context.Context, app, by, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, elevator.AuditEntry{At: f.now().UTC(), By: by, Action: elevator.AuditUnlock, App: app, Orbit: "demo", Outcome: "broken", Detail: reason})
	return nil
}

func (f *fakeSource) AuditLog(ctx context.Context, since time.Time) ([]elevator.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []elevator.AuditEntry
	for _, e := range f.audit {
		if !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeSource) Audit(ctx context.Context, e elevator.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, e)
	return nil
}

// entries returns the audit entries of an action.
func (f *fakeSource) entries(action string) []elevator.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []elevator.AuditEntry
	for _, e := range f.audit {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeSource) state(id string) elevator.ReleaseState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recs[id].State
}

// releaseID makes the n-th release id of a test.
// clone copies what step changes of a record, so that what a read
// returned does not change under the dashboard.
func clone(r *elevator.ReleaseRecord) *elevator.ReleaseRecord {
	c := *r
	c.Path, c.Visits, c.Calls = slices.Clone(r.Path), slices.Clone(r.Visits), maps.Clone(r.Calls)
	return &c
}

func releaseID(n int) string { return fmt.Sprintf("20261129-%06d-%08x", 100000+n%100000, n) }
