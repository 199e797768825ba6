package api

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// fakeReleases is an in-memory Releases that really stores: records by
// id, each app's ids in order (as the releases table's partition keeps
// them), and the audit log.
type fakeReleases struct {
	mu      sync.Mutex
	records map[string]*elevator.ReleaseRecord
	byApp   map[string][]string // ids, ascending
	audit   []elevator.AuditEntry
	halts   map[string]string
	// read counts the records List has read, to show a page never reads
	// every record.
	read int
	// onGet, when set, may change a record each time Get reads it.
	onGet func(rec *elevator.ReleaseRecord)
	// auditErr, when set, is what Audit returns, writing nothing (a
	// bucket that refuses or does not answer).
	auditErr error
}

func newFake() *fakeReleases {
	return &fakeReleases{records: map[string]*elevator.ReleaseRecord{}, byApp: map[string][]string{}, halts: map[string]string{}}
}

func (f *fakeReleases) put(rec *elevator.ReleaseRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.records[rec.ID]; !ok {
		ids := append(f.byApp[rec.App], rec.ID)
		sort.Strings(ids)
		f.byApp[rec.App] = ids
	}
	f.records[rec.ID] = rec
}

func (f *fakeReleases) Submit(ctx context.Context, rel *elevator.Release, by elevator.Caller) (*elevator.ReleaseRecord, error) {
	rec := &elevator.ReleaseRecord{ID: rel.ID, App: rel.App, Orbit: rel.Orbit, Revision: 1, State: elevator.StateValidate, SubmittedAt: rel.CreatedAt}
	f.put(rec)
	return rec, f.Audit(ctx, elevator.AuditEntry{By: by.ARN, Action: elevator.AuditSubmit, App: rel.App, Orbit: rel.Orbit,
		ReleaseID: rel.ID, Outcome: "submitted", SessionName: by.SessionName, AccessKeyID: by.AccessKeyID})
}

func (f *fakeReleases) List(_ context.Context, q ListQuery) (Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.byApp[q.App]
	end := len(ids)
	if q.Before != "" {
		end = sort.SearchStrings(ids, q.Before) // as a query with release_id < Before
	}
	var p Page
	for i := end - 1; i >= 0 && len(p.Records) < q.Limit; i-- {
		f.read++
		p.Records = append(p.Records, f.records[ids[i]])
	}
	if n := len(p.Records); n == q.Limit && end-n > 0 {
		p.Next = p.Records[n-1].ID
	}
	return p, nil
}

func (f *fakeReleases) Get(_ context.Context, id string) (*elevator.ReleaseRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[id]
	if !ok {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
	}
	if f.onGet != nil {
		f.onGet(rec)
	}
	c := *rec
	return &c, nil
}

func (f *fakeReleases) Halt(ctx context.Context, id string, by elevator.Caller, reason string) error {
	rec, err := f.Get(ctx, id)
	if err != nil {
		return err
	}
	if rec.State.Ended() {
		return elevator.Errorf(elevator.ECONFLICT, "release %s already ended %s", id, rec.State)
	}
	f.mu.Lock()
	f.halts[id] = reason
	f.mu.Unlock()
	return f.Audit(ctx, elevator.AuditEntry{By: by.ARN, Action: elevator.AuditHalt, App: rec.App, Orbit: rec.Orbit, ReleaseID: id,
		Outcome: "requested", Detail: reason, SessionName: by.SessionName, AccessKeyID: by.AccessKeyID})
}

func (f *fakeReleases) Rollback(ctx context.Context, app, to string, by elevator.Caller) (*elevator.Release, error) {
	if to == "" {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no earlier successful release", app)
	}
	rec, err := f.Get(ctx, to)
	if err != nil {
		return nil, err
	}
	rel := &elevator.Release{ID: "20261129-120000-0000beef", App: app, Orbit: rec.Orbit, CreatedBy: by.ARN, RollbackOf: to}
	return rel, f.Audit(ctx, elevator.AuditEntry{By: by.ARN, Action: elevator.AuditRollback, App: app, Orbit: rec.Orbit, ReleaseID: rel.ID, Outcome: "submitted"})
}

func (f *fakeReleases) Unlock(ctx context.Context, app string, by elevator.Caller, reason string) (release.Lock, error) {
	return release.Lock{App: app, ReleaseID: "20261129-110000-00000001", Holder: "arn:aws:iam::111111111111:user/ci"},
		f.Audit(ctx, elevator.AuditEntry{By: by.ARN, Action: elevator.AuditUnlock, App: app, Outcome: "unlocked", Detail: reason})
}

func (f *fakeReleases) AuditLog(_ context.Context, since time.Time) ([]elevator.AuditEntry, error) {
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

func (f *fakeReleases) Audit(_ context.Context, e elevator.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.auditErr != nil {
		return f.auditErr
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	f.audit = append(f.audit, e)
	return nil
}

// entries returns the audit entries of an action.
func (f *fakeReleases) entries(action string) []elevator.AuditEntry {
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

// refusals returns the audited refusals.
func (f *fakeReleases) refusals() []elevator.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []elevator.AuditEntry
	for _, e := range f.audit {
		if e.Action == elevator.AuditRefused {
			out = append(out, e)
		}
	}
	return out
}

// record makes the record of release n of app, made at minute n after
// noon of 2026-11-29.
func record(app string, n int, state elevator.ReleaseState) *elevator.ReleaseRecord {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	return &elevator.ReleaseRecord{ID: fmt.Sprintf("%s-%08x", at.Format("20060102-150405"), n), App: app, Orbit: "prod",
		Revision: 1, State: state, SubmittedAt: at}
}
