package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// faultySource is a fault-injecting fake: the fakeSource, whose Groups
// and Page fail while fail is set, as a store or AWS that cannot be
// reached would. It counts the reads that reach the store.
type faultySource struct {
	*fakeSource
	fail              atomic.Bool
	listings, queries atomic.Int64
}

func (f *faultySource) Groups(ctx context.Context) ([]Group, error) {
	if f.fail.Load() {
		return nil, elevator.Errorf(elevator.EINTERNAL, "injected: the listing of groups failed")
	}
	f.listings.Add(1)
	return f.fakeSource.Groups(ctx)
}

func (f *faultySource) Page(ctx context.Context, app string, limit int, before string) ([]*elevator.ReleaseRecord, string, error) {
	if f.fail.Load() {
		return nil, "", elevator.Errorf(elevator.EINTERNAL, "injected: the query of %s's releases failed", app)
	}
	f.queries.Add(1)
	return f.fakeSource.Page(ctx, app, limit, before)
}

// clock is a fake clock that moves only when the test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(hms string) *clock {
	t, _ := time.Parse(time.DateTime, "2026-11-29 "+hms)
	return &clock{t: t}
}
func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// localDash serves a local dashboard over src with refresh and the
// clock, and returns it, its URL and a client.
func localDash(t *testing.T, src Source, refresh time.Duration, now func() time.Time) (*Server, string, *http.Client) {
	t.Helper()
	h, err := New(context.Background(), Options{Source: src, Orbit: &elevator.Orbit{Name: "demo", Regions: []elevator.Region{{Name: "us-east-1"}}},
		Local: true, LocalRole: elevator.RoleViewer, PlainHTTP: true, Refresh: refresh, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return h, srv.URL, &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// shopGroup is a serving group of shop made by release 1.
var shopGroup = Group{Region: "us-east-1", App: "shop", Service: "web", ReleaseID: releaseID(1), Name: "shop-web-1", Desired: 1, Serving: true,
	Instances: []Instance{{ID: "i-1", Lifecycle: "InService", Healthy: true}}}

// latest is the id of the latest release the overview shows of shop.
func latest(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `<tr data-app="shop">`)
	if i < 0 {
		t.Fatalf("no row of shop:\n%s", page)
	}
	row := page[i:]
	row = row[:strings.Index(row, "</tr>")]
	j := strings.LastIndex(row, `<a href="/releases/`)
	if j < 0 {
		return ""
	}
	id := row[j+len(`<a href="/releases/`):]
	return id[:strings.Index(id, `"`)]
}

// TestTheSummaryIsRefreshed: the overview and an app's first page render
// from the summary without reading the store; a release written to the
// store behind the dashboard's back shows after one refresh, both when
// the refresh is called and when the background one runs (a short
// Refresh; the test waits for it, asserting no time).
func TestTheSummaryIsRefreshed(t *testing.T) {
	src := &faultySource{fakeSource: newFakeSource(t)}
	src.groups = []Group{shopGroup}
	src.add(releaseID(1), "shop", "1.0.0", "local:dev", successPath...)
	clk := newClock("12:03:04")
	h, url, c := localDash(t, src, time.Hour, clk.now)
	code, page := body(t, c, url+"/")
	if code != http.StatusOK || latest(t, page) != releaseID(1) || !strings.Contains(page, "As of 12:03:04 UTC.") {
		t.Fatalf("overview: %d, latest %s\n%s", code, latest(t, page), page)
	}
	src.add(releaseID(2), "shop", "2.0.0", "local:dev", successPath...)
	groups, pages := src.listings.Load(), src.queries.Load()
	_, page = body(t, c, url+"/")
	_, app := body(t, c, url+"/apps/shop")
	if latest(t, page) != releaseID(1) || strings.Contains(app, releaseID(2)) || !strings.Contains(app, releaseID(1)) {
		t.Fatalf("before a refresh the pages show release 2 (or lost release 1): overview's latest %s", latest(t, page))
	}
	if src.listings.Load() != groups || src.queries.Load() != pages {
		t.Fatalf("rendering the overview and an app's first page read the store: %d listings and %d pages",
			src.listings.Load()-groups, src.queries.Load()-pages)
	}
	clk.add(10 * time.Second)
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, page = body(t, c, url+"/")
	_, app = body(t, c, url+"/apps/shop")
	if latest(t, page) != releaseID(2) || !strings.Contains(page, "version 2.0.0") || !strings.Contains(page, "As of 12:03:14 UTC.") {
		t.Fatalf("after a refresh the overview's latest is %s\n%s", latest(t, page), page)
	}
	if !strings.Contains(app, releaseID(2)) || !strings.Contains(app, "As of 12:03:14 UTC.") {
		t.Fatalf("after a refresh the app page:\n%s", app)
	}
	// A filtered page reads the store, and says so with the time of
	// its read.
	clk.add(time.Second)
	pages = src.queries.Load()
	if _, f := body(t, c, url+"/apps/shop?state=Success"); !strings.Contains(f, releaseID(2)) || !strings.Contains(f, "As of 12:03:15 UTC.") ||
		src.queries.Load() == pages {
		t.Fatalf("a filtered page (%d reads):\n%s", src.queries.Load()-pages, f)
	}

	// The background refresh, every 10ms here.
	h2, url2, c2 := localDash(t, src, 10*time.Millisecond, time.Now)
	if _, page := body(t, c2, url2+"/"); latest(t, page) != releaseID(2) {
		t.Fatalf("a second dashboard's latest: %s", latest(t, page))
	}
	src.add(releaseID(3), "shop", "3.0.0", "local:dev", successPath...)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, page := body(t, c2, url2+"/")
		if latest(t, page) == releaseID(3) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background refresh never showed release 3; latest %s", latest(t, page))
		}
	}
	_ = h2.Close()
}

// TestARecordTheDashboardSeesShowsAtOnce: a release the dashboard reads
// (its page, its live updates) or is handed (Observe, a deployer's own
// writes) shows on the overview and its app's page at once, with no
// refresh in between.
func TestARecordTheDashboardSeesShowsAtOnce(t *testing.T) {
	src := &faultySource{fakeSource: newFakeSource(t)}
	src.groups = []Group{shopGroup}
	src.add(releaseID(1), "shop", "1.0.0", "local:dev", successPath...)
	h, url, c := localDash(t, src, time.Hour, nil)
	if _, page := body(t, c, url+"/"); latest(t, page) != releaseID(1) {
		t.Fatalf("latest %s", latest(t, page))
	}
	// A running release written behind the dashboard's back, then
	// opened on its page.
	src.add(releaseID(2), "shop", "2.0.0", "local:dev", successPath[:3]...)
	if code, _ := body(t, c, url+"/releases/"+releaseID(2)); code != http.StatusOK {
		t.Fatalf("release page: %d", code)
	}
	_, page := body(t, c, url+"/")
	if latest(t, page) != releaseID(2) || !strings.Contains(page, string(elevator.StateValidateResources)) {
		t.Fatalf("after its page was read, the overview's latest is %s\n%s", latest(t, page), page)
	}
	// It moves on, and its page's live updates read it.
	for !src.step(releaseID(2)) {
	}
	if code, events := body(t, c, url+"/releases/"+releaseID(2)+"/events"); code != http.StatusOK || !strings.Contains(events, "event: end") {
		t.Fatalf("events: %d\n%s", code, events)
	}
	if _, page := body(t, c, url+"/"); !strings.Contains(page, `<span class="state ok">Success</span>`) {
		t.Fatalf("after its live updates, the overview does not show release 2 ended:\n%s", page)
	}
	// A record handed to Observe, as a deployer hands its engine's.
	rec := src.add(releaseID(3), "shop", "3.0.0", "local:dev", successPath[:2]...)
	h.Observe(rec)
	if _, page := body(t, c, url+"/"); latest(t, page) != releaseID(3) {
		t.Fatalf("after Observe, the overview's latest is %s", latest(t, page))
	}
	if _, app := body(t, c, url+"/apps/shop"); !strings.Contains(app, releaseID(3)) || !strings.Contains(app, "3.0.0") {
		t.Fatalf("after Observe, the app page:\n%s", app)
	}
	// An older revision never replaces a newer one.
	old := *rec
	old.Revision, old.State = 1, elevator.StateValidate
	h.Observe(&old)
	if _, page := body(t, c, url+"/"); !strings.Contains(page, string(elevator.StateLock)) {
		t.Fatalf("an older revision replaced the newer:\n%s", page)
	}
}

// TestAFailedRefreshKeepsTheLastSummary: while the store fails (a
// fault-injecting fake, faultySource), the pages show the last summary
// and say when it was read and how old it is; once the store answers
// again, the next refresh clears that. Before any summary, a failure is
// an error page, and the next request reads again.
func TestAFailedRefreshKeepsTheLastSummary(t *testing.T) {
	src := &faultySource{fakeSource: newFakeSource(t)}
	src.groups = []Group{shopGroup}
	src.add(releaseID(1), "shop", "1.0.0", "local:dev", successPath...)
	clk := newClock("12:00:00")
	h, url, c := localDash(t, src, time.Hour, clk.now)
	src.fail.Store(true)
	if code, page := body(t, c, url+"/"); code != http.StatusInternalServerError {
		t.Fatalf("no summary and a failing store: %d\n%s", code, page)
	}
	src.fail.Store(false)
	if code, page := body(t, c, url+"/"); code != http.StatusOK || latest(t, page) != releaseID(1) {
		t.Fatalf("the store answers again: %d\n%s", code, page)
	}
	src.add(releaseID(2), "shop", "2.0.0", "local:dev", successPath...)
	src.fail.Store(true)
	clk.add(30 * time.Second)
	if err := h.Refresh(context.Background()); err == nil {
		t.Fatal("a refresh of a failing store succeeded")
	}
	clk.add(5 * time.Second)
	for _, path := range []string{"/", "/apps/shop"} {
		code, page := body(t, c, url+path)
		want := "As of 12:00:00 UTC: the dashboard could not read the orbit's state again at 12:00:30 UTC (its log says why), so this is what it read 35s ago."
		if code != http.StatusOK || !strings.Contains(page, want) || !strings.Contains(page, releaseID(1)) || strings.Contains(page, releaseID(2)) {
			t.Fatalf("%s while the store fails: %d\n%s", path, code, page)
		}
	}
	src.fail.Store(false)
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, page := body(t, c, url+"/")
	if latest(t, page) != releaseID(2) || !strings.Contains(page, "As of 12:00:35 UTC.") || strings.Contains(page, "could not read") {
		t.Fatalf("after the store recovers:\n%s", page)
	}
}

// TestAPageTakesARecordInItsPlace: a record seen goes into an app's first
// page in id order, replaces an older revision of itself only, pushes the
// oldest out of a full page (which then has a next page), and is left out
// when it is older than a full page's records.
func TestAPageTakesARecordInItsPlace(t *testing.T) {
	rec := func(n int, rev int64) *elevator.ReleaseRecord {
		return &elevator.ReleaseRecord{ID: releaseID(n), App: "shop", Revision: rev}
	}
	ids := func(p *appPage) (out []int) {
		for _, r := range p.recs {
			var n int
			fmt.Sscanf(r.ID[16:], "%x", &n)
			out = append(out, n*10+int(r.Revision))
		}
		return out
	}
	page := &appPage{recs: []*elevator.ReleaseRecord{rec(5, 1), rec(3, 2), rec(2, 1)}}
	tests := []struct {
		name string
		rec  *elevator.ReleaseRecord
		size int
		want []int
		next string
	}{
		{"newest", rec(9, 1), 5, []int{91, 51, 32, 21}, ""},
		{"between", rec(4, 1), 5, []int{51, 41, 32, 21}, ""},
		{"a newer revision", rec(3, 3), 5, []int{51, 33, 21}, ""},
		{"an older revision", rec(3, 1), 5, []int{51, 32, 21}, ""},
		{"oldest, on the only page", rec(1, 1), 5, []int{51, 32, 21, 11}, ""},
		{"newest, on a full page", rec(9, 1), 3, []int{91, 51, 32}, releaseID(3)},
	}
	for _, tt := range tests {
		got := page.with(tt.rec, tt.size)
		if !slices.Equal(ids(got), tt.want) || got.next != tt.next {
			t.Errorf("%s: %v next %q, want %v next %q", tt.name, ids(got), got.next, tt.want, tt.next)
		}
	}
	full := &appPage{recs: page.recs, next: releaseID(2)}
	if got := full.with(rec(1, 1), 3); !slices.Equal(ids(got), []int{51, 32, 21}) {
		t.Errorf("a record older than a full page: %v", ids(got))
	}
	if !slices.Equal(ids(page), []int{51, 32, 21}) {
		t.Errorf("with changed the page: %v", ids(page))
	}
}
