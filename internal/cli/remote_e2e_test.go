package cli_test

// The release commands through a deployer (--deployer): the command line,
// run in-process, calls the real API handler (internal/api) served by an
// httptest server on a fake deployer, whose Authenticator asks the
// package's emulator who each caller is, as a deployer asks STS.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release"
)

// fakeDeployer is an api.Releases that really stores, in memory: records
// by id, each app's ids in order (as the releases table keeps them), the
// releases submitted, and what halts, rollbacks and unlocks asked for.
type fakeDeployer struct {
	mu        sync.Mutex
	records   map[string]*domain.ReleaseRecord
	byApp     map[string][]string // ascending
	submitted []*domain.Release
	halts     map[string]string
	rollbacks []string // app:to
	unlocks   []string // app:reason
	lists     []api.ListQuery
	audit     []domain.AuditEntry
	// runs makes a record read after its submission end Success, as a
	// deployer would drive it, one state per read; lockedOut makes it end
	// FailureClean at Lock instead, refused for another release's lock.
	runs, lockedOut bool
}

func newFakeDeployer() *fakeDeployer {
	return &fakeDeployer{records: map[string]*domain.ReleaseRecord{}, byApp: map[string][]string{}, halts: map[string]string{}}
}

func (f *fakeDeployer) put(rec *domain.ReleaseRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.records[rec.ID]; !ok {
		ids := append(f.byApp[rec.App], rec.ID)
		sort.Strings(ids)
		f.byApp[rec.App] = ids
	}
	f.records[rec.ID] = rec
}

func (f *fakeDeployer) Submit(ctx context.Context, rel *domain.Release, by domain.Caller) (*domain.ReleaseRecord, error) {
	f.mu.Lock()
	f.submitted = append(f.submitted, rel)
	f.mu.Unlock()
	rec := &domain.ReleaseRecord{ID: rel.ID, App: rel.App, Orbit: rel.Orbit, Revision: 1, State: domain.StateValidate, SubmittedAt: rel.CreatedAt, UpdatedAt: rel.CreatedAt}
	f.put(rec)
	c := *rec
	return &c, nil
}

func (f *fakeDeployer) List(_ context.Context, q api.ListQuery) (api.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, q)
	ids := f.byApp[q.App]
	end := len(ids)
	if q.Before != "" {
		end = sort.SearchStrings(ids, q.Before) // as a query with release_id < Before
	}
	var p api.Page
	for i := end - 1; i >= 0 && len(p.Records) < q.Limit; i-- {
		p.Records = append(p.Records, f.records[ids[i]])
	}
	if n := len(p.Records); n == q.Limit {
		p.Next = p.Records[n-1].ID
	}
	return p, nil
}

// successPath is the path a successful release takes through the states.
var successPath = []domain.ReleaseState{domain.StateValidate, domain.StateLock, domain.StateValidateResources, domain.StateDeploy,
	domain.StateCheckHealthy, domain.StateCutOver, domain.StateCleanUpSuccess, domain.StateUnlock, domain.StateSuccess}

func (f *fakeDeployer) Get(_ context.Context, id string) (*domain.ReleaseRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[id]
	if !ok {
		return nil, domain.Errorf(domain.ENOTFOUND, "no release %s", id)
	}
	if f.runs && f.lockedOut && rec.State == domain.StateLock {
		rec.Path, rec.State, rec.Revision = append(rec.Path, rec.State, domain.StateFailureClean), domain.StateFailureClean, rec.Revision+1
		rec.Failed, rec.Failure, rec.Error = true, domain.FailureLocked, "release 20261129-110000-00000001 holds the lock"
	}
	if f.runs && !rec.State.Ended() {
		next := successPath[slices.Index(successPath, rec.State)+1]
		rec.Path, rec.State, rec.Revision = append(rec.Path, rec.State), next, rec.Revision+1
		if next.Ended() {
			rec.Path = append(rec.Path, next)
		}
	}
	c := *rec
	return &c, nil
}

func (f *fakeDeployer) Halt(ctx context.Context, id string, by domain.Caller, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec, ok := f.records[id]; !ok || rec.State.Ended() {
		return domain.Errorf(domain.ECONFLICT, "release %s is not running", id)
	}
	f.halts[id] = reason
	return nil
}

func (f *fakeDeployer) Rollback(ctx context.Context, app, to string, by domain.Caller) (*domain.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.records[to]; !ok {
		return nil, domain.Errorf(domain.ENOTFOUND, "no release %s", to)
	}
	f.rollbacks = append(f.rollbacks, app+":"+to)
	return &domain.Release{ID: "20261129-130000-0000beef", App: app, Orbit: "prod", Version: "1.0.0", CreatedBy: by.ARN, RollbackOf: to,
		CreatedAt: time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)}, nil
}

func (f *fakeDeployer) Unlock(ctx context.Context, app string, by domain.Caller, reason string) (release.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlocks = append(f.unlocks, app+":"+reason)
	return release.Lock{App: app, Orbit: "prod", ReleaseID: "20261129-110000-00000001", Holder: "arn:aws:iam::111111111111:user/ci",
		Owner: "deployer-1", Since: time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC), Expires: time.Date(2026, 11, 29, 11, 5, 0, 0, time.UTC)}, nil
}

func (f *fakeDeployer) AuditLog(_ context.Context, since time.Time) ([]domain.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.audit), nil
}

func (f *fakeDeployer) Audit(_ context.Context, e domain.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, e)
	return nil
}

// deployerRecord makes the record of release n of app, made at minute n
// after noon of 2026-11-29.
func deployerRecord(app string, n int, state domain.ReleaseState) *domain.ReleaseRecord {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	rec := &domain.ReleaseRecord{ID: fmt.Sprintf("%s-%08x", at.Format("20060102-150405"), n), App: app, Orbit: "prod",
		Revision: 1, State: state, SubmittedAt: at, UpdatedAt: at}
	if state != domain.StateValidate {
		rec.Path = []domain.ReleaseState{domain.StateValidate, domain.StateLock, state}
	}
	return rec
}

// deployerFor serves the API of orbit's deployer on fake and returns its
// URL. rules grant roles; the caller's ARN is arn:aws:iam::ACCOUNT:user/elevator-test.
func deployerFor(t *testing.T, orbit string, fake *fakeDeployer, rules ...domain.AccessRule) string {
	t.Helper()
	sts, err := api.EmulatorSTS(emulatortest.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{Releases: fake, Orbit: &domain.Orbit{Name: orbit, Access: rules}, WatchPoll: 5 * time.Millisecond,
		Auth: &api.Authenticator{ServerID: domain.DeployerServerID(orbit), STSTransportForTests: sts}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// userARN is the ARN of an emulator account's user, as STS names it.
func userARN(a *emulatortest.Account) string { return "arn:aws:iam::" + a.ID + ":user/elevator-test" }

// prodOrbit writes the manifest of an orbit "prod" (its releases are
// only in the fake: nothing of it is in AWS) and returns the flags that
// name it.
func prodOrbit(t *testing.T, extra string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "orbit.yml")
	if err := os.WriteFile(file, []byte("name: prod\nregions: {us-east-1: {}}\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--orbit", "prod", "--orbit-file", file}
}

func TestThroughADeployerDeploySubmitsTheReleaseItWouldRun(t *testing.T) {
	acct, orbit, flags := releasable(t)
	fake := newFakeDeployer()
	url := deployerFor(t, orbit, fake, domain.AccessRule{Role: domain.RoleDeployer, Principals: []string{userARN(acct)}})

	dry := elevator(t, "", append([]string{"deploy", "--version", "1.0.0", "--dry-run", "-o", "json"}, flags...)...)
	mustSucceed(t, dry)
	var want domain.Release
	if err := json.Unmarshal([]byte(dry.stdout), &want); err != nil {
		t.Fatalf("deploy --dry-run -o json: %v\n%s", err, dry.stdout)
	}

	r := elevator(t, "", append([]string{"deploy", "--version", "1.0.0", "--deployer", url, "-o", "json"}, flags...)...)
	mustSucceed(t, r)
	if len(fake.submitted) != 1 {
		t.Fatalf("the deployer got %d releases, want 1", len(fake.submitted))
	}
	got := *fake.submitted[0]
	var rec domain.ReleaseRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.ID != got.ID || rec.State != domain.StateValidate {
		t.Errorf("deploy --deployer -o json printed %+v (%v), want the submitted release's first record\n%s", rec, err, r.stdout)
	}
	if !strings.Contains(r.stderr, "release "+got.ID+" of shop 1.0.0 into orbit "+orbit+" submitted to the deployer at "+url) {
		t.Errorf("deploy --deployer said:\n%s", r.stderr)
	}
	// The document is the one the in-process path builds, but for its
	// id and time.
	got.ID, got.CreatedAt = want.ID, want.CreatedAt
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("the deployer got\n%s\nwant the document deploy --dry-run builds:\n%s", g, dry.stdout)
	}
	if len(groups(t, acct, "us-east-1", orbit)) != 0 {
		t.Error("deploy --deployer made groups itself")
	}

	t.Run("with --wait it follows the release to its end", func(t *testing.T) {
		fake.runs = true
		r := elevator(t, "", append([]string{"deploy", "--version", "1.0.1", "--deployer", url, "--wait"}, flags...)...)
		mustSucceed(t, r)
		for _, state := range []string{"Lock", "CheckHealthy", "Success"} {
			if !strings.Contains(r.stderr, "  "+state+"\n") {
				t.Errorf("--wait did not show %s:\n%s", state, r.stderr)
			}
		}
		if !strings.Contains(r.stdout, " Success\n") {
			t.Errorf("--wait printed:\n%s", r.stdout)
		}
	})
	t.Run("a release refused at Lock for another's lock exits as a conflict", func(t *testing.T) {
		fake.runs, fake.lockedOut = true, true
		r := elevator(t, "", append([]string{"deploy", "--version", "1.0.2", "--deployer", url, "--wait", "-o", "json"}, flags...)...)
		var rec domain.ReleaseRecord
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != cli.ExitConflict || rec.Failure != domain.FailureLocked {
			t.Errorf("exit %d, %v, record %+v; want 3 and the record\n%s\n%s", r.code, err, rec, r.stdout, r.stderr)
		}
		id := releaseID.FindStringSubmatch(r.stderr)[1]
		if r := elevator(t, "", append([]string{"release", "watch", id, "--deployer", url}, flags[2:]...)...); r.code != cli.ExitFailed {
			t.Errorf("release watch of it: exit %d, want %d (only the command that submitted it says conflict)\n%s", r.code, cli.ExitFailed, r.stderr)
		}
	})
}

func TestThroughADeployerTheReleaseCommandsReachIt(t *testing.T) {
	acct := inAccount(t)
	fake := newFakeDeployer()
	for n := range 130 {
		fake.put(deployerRecord("shop", n, domain.StateSuccess))
	}
	for n := range 5 {
		fake.put(deployerRecord("cart", n, domain.StateSuccess))
	}
	running := deployerRecord("shop", 200, domain.StateCheckHealthy)
	fake.put(running)
	url := deployerFor(t, "prod", fake, domain.AccessRule{Role: domain.RoleAdmin, Principals: []string{userARN(acct)}})
	o := append(prodOrbit(t, ""), "--deployer", url)

	t.Run("release list pages through the deployer's list", func(t *testing.T) {
		fake.lists = nil
		r := elevator(t, "", append([]string{"release", "list", "--app", "shop", "--limit", "120", "-o", "json"}, o...)...)
		mustSucceed(t, r)
		var recs []domain.ReleaseRecord
		if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
			t.Fatalf("release list -o json: %v\n%s", err, r.stdout)
		}
		if len(recs) != 120 || recs[0].ID != running.ID {
			t.Fatalf("release list: %d records, the first %+v; want 120, newest first", len(recs), recs[0])
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].App != "shop" || recs[i].ID >= recs[i-1].ID {
				t.Fatalf("record %d: %s of %s after %s: not newest first, or not shop's", i, recs[i].ID, recs[i].App, recs[i-1].ID)
			}
		}
		if len(fake.lists) != 2 || fake.lists[0].Limit != api.MaxLimit || fake.lists[0].Before != "" ||
			fake.lists[1].Limit != 20 || fake.lists[1].Before != recs[99].ID {
			t.Errorf("the deployer was asked for %+v, want a page of 100 and one of the 20 before the 100th", fake.lists)
		}
	})
	t.Run("release list prints what it prints in process", func(t *testing.T) {
		r := elevator(t, "", append([]string{"release", "list", "--app", "shop", "--limit", "3", "-o", "json"}, o...)...)
		mustSucceed(t, r)
		requireJSONGolden(t, filepath.Join("testdata", "deployer", "release_list.json.golden"), r.stdout, nil)
		text := elevator(t, "", append([]string{"release", "list", "--app", "shop", "--limit", "2"}, o...)...)
		mustSucceed(t, text)
		if want := running.ID + "  CheckHealthy   2026-11-29T15:20:00Z  Validate > Lock > CheckHealthy\n"; !strings.HasPrefix(text.stdout, want) || strings.Count(text.stdout, "\n") != 2 {
			t.Errorf("release list:\n%s\nwant it to start with\n%s", text.stdout, want)
		}
	})
	t.Run("release show and status read the record", func(t *testing.T) {
		for _, verb := range []string{"show", "status"} {
			r := elevator(t, "", append([]string{"release", verb, running.ID}, o...)...)
			mustSucceed(t, r)
			if !strings.HasPrefix(r.stdout, "release "+running.ID+"  app shop  orbit prod  CheckHealthy\n") {
				t.Errorf("release %s:\n%s", verb, r.stdout)
			}
		}
		r := elevator(t, "", append([]string{"release", "show", "20261129-000000-00000000"}, o...)...)
		if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "no release 20261129-000000-00000000") {
			t.Errorf("show of an unknown release: exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("halt stops the running release", func(t *testing.T) {
		r := elevator(t, "", append([]string{"halt", "--app", "shop", "--reason", "bad canary", "-o", "json"}, o...)...)
		mustSucceed(t, r)
		if fake.halts[running.ID] != "bad canary" {
			t.Errorf("the deployer's halts: %v", fake.halts)
		}
		var out map[string]string
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["halted"] != running.ID || out["reason"] != "bad canary" {
			t.Errorf("halt -o json: %v\n%s", err, r.stdout)
		}
		r = elevator(t, "", append([]string{"halt", "--app", "cart", "--reason", "x"}, o...)...)
		if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "no release of cart is running in prod") {
			t.Errorf("halt of an app with nothing running: exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("unlock breaks the lock", func(t *testing.T) {
		r := elevator(t, "", append([]string{"unlock", "--app", "shop", "--reason", "stuck"}, o...)...)
		mustSucceed(t, r)
		if !slices.Equal(fake.unlocks, []string{"shop:stuck"}) {
			t.Errorf("the deployer's unlocks: %v", fake.unlocks)
		}
		want := "lock of shop in orbit prod broken (it was held by release 20261129-110000-00000001 of arn:aws:iam::111111111111:user/ci since 2026-11-29T11:00:00Z)\n"
		if r.stdout != want {
			t.Errorf("unlock:\n%s\nwant\n%s", r.stdout, want)
		}
	})
	t.Run("rollback asks the deployer for the release", func(t *testing.T) {
		to := deployerRecord("shop", 7, domain.StateSuccess).ID
		r := elevator(t, "", append([]string{"rollback", "--app", "shop", "--to", to, "-o", "json"}, o...)...)
		mustSucceed(t, r)
		if !slices.Equal(fake.rollbacks, []string{"shop:" + to}) {
			t.Errorf("the deployer's rollbacks: %v", fake.rollbacks)
		}
		var rel domain.Release
		if err := json.Unmarshal([]byte(r.stdout), &rel); err != nil || rel.RollbackOf != to {
			t.Errorf("rollback -o json: %v\n%s", err, r.stdout)
		}
		if !strings.Contains(r.stderr, "release 20261129-130000-0000beef rolls shop back to release "+to) {
			t.Errorf("rollback said:\n%s", r.stderr)
		}
	})
	t.Run("the deployer comes from the environment or the orbit manifest too", func(t *testing.T) {
		before := len(fake.lists)
		t.Setenv(domain.DeployerEnv, url)
		mustSucceed(t, elevator(t, "", append([]string{"release", "list", "--app", "cart"}, prodOrbit(t, "")...)...))
		t.Setenv(domain.DeployerEnv, "")
		mustSucceed(t, elevator(t, "", append([]string{"release", "list", "--app", "cart"}, prodOrbit(t, "deployer: "+url+"\n")...)...))
		if n := len(fake.lists) - before; n != 2 {
			t.Errorf("the deployer was asked %d times, want 2", n)
		}
	})
}

func TestThroughADeployerACallerWithoutTheRoleIsToldWhy(t *testing.T) {
	viewer := inAccount(t)
	fake := newFakeDeployer()
	fake.put(deployerRecord("shop", 1, domain.StateCheckHealthy))
	url := deployerFor(t, "prod", fake, domain.AccessRule{Role: domain.RoleViewer, Principals: []string{userARN(viewer)}})
	o := append(prodOrbit(t, ""), "--deployer", url)

	mustSucceed(t, elevator(t, "", append([]string{"release", "list", "--app", "shop"}, o...)...))
	r := elevator(t, "", append([]string{"unlock", "--app", "shop", "--reason", "stuck"}, o...)...)
	if r.code != cli.ExitAWS {
		t.Errorf("unlock as a viewer: exit %d, want %d (refused)\n%s", r.code, cli.ExitAWS, r.stderr)
	}
	want := "elevator: the deployer at " + url + " refused: POST /v1/apps/{app}/unlock needs the approver role in app shop; " + userARN(viewer) + " has the viewer role\n"
	if r.stderr != want {
		t.Errorf("unlock as a viewer said:\n%s\nwant\n%s", r.stderr, want)
	}
	r = elevator(t, "", append([]string{"unlock", "--app", "shop", "--reason", "stuck", "-o", "json"}, o...)...)
	var out struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != cli.ExitAWS || out.Error.Code != domain.EAWS || !strings.Contains(out.Error.Message, "needs the approver role") {
		t.Errorf("unlock -o json as a viewer: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if len(fake.unlocks) != 0 {
		t.Errorf("the refused unlock reached the deployer: %v", fake.unlocks)
	}
	refused := 0
	for _, e := range fake.audit {
		if e.Action == domain.AuditRefused && e.By == userARN(viewer) {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d refusals audited, want 2", refused)
	}

	t.Run("a deployer of another orbit cannot be called with this orbit's signature", func(t *testing.T) {
		other := deployerFor(t, "staging", fake, domain.AccessRule{Role: domain.RoleAdmin, Principals: []string{userARN(viewer)}})
		r := elevator(t, "", append([]string{"release", "list", "--app", "shop"}, append(prodOrbit(t, ""), "--deployer", other)...)...)
		if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "could not verify who you are") {
			t.Errorf("a call to another orbit's deployer: exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("a bad deployer URL is refused before any call", func(t *testing.T) {
		r := elevator(t, "", append([]string{"release", "list", "--app", "shop", "--deployer", "deployer.prod:8080"}, prodOrbit(t, "")...)...)
		if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "--deployer") {
			t.Errorf("a bad --deployer: exit %d\n%s", r.code, r.stderr)
		}
	})
}
