package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/route53"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/dashboard"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// countingSource counts what the dashboard reads (records returned by
// pages, release documents) and the wall time during which at least one of
// its calls to the store or AWS is in flight (the overview makes several
// at once).
type countingSource struct {
	dashboard.Source
	records, docs atomic.Int64
	mu            sync.Mutex
	inFlight      int
	since         time.Time
	busy          time.Duration
}

// call marks a call's start; the func it returns marks its end.
func (c *countingSource) call() func() {
	c.mu.Lock()
	if c.inFlight == 0 {
		c.since = time.Now()
	}
	c.inFlight++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.inFlight--; c.inFlight == 0 {
			c.busy += time.Since(c.since)
		}
		c.mu.Unlock()
	}
}

func (c *countingSource) storeTime(reset bool) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.busy
	if reset {
		c.busy = 0
	}
	return d
}

func (c *countingSource) Page(ctx context.Context, app string, limit int, before string) ([]*elevator.ReleaseRecord, string, error) {
	defer c.call()()
	recs, next, err := c.Source.Page(ctx, app, limit, before)
	c.records.Add(int64(len(recs)))
	return recs, next, err
}

func (c *countingSource) Release(ctx context.Context, id string) (*elevator.Release, error) {
	defer c.call()()
	c.docs.Add(1)
	return c.Source.Release(ctx, id)
}

func (c *countingSource) Groups(ctx context.Context) ([]dashboard.Group, error) {
	defer c.call()()
	return c.Source.Groups(ctx)
}

// BenchmarkDashboard renders the overview and an app page of an orbit on
// the emulator whose store holds 10,000 releases of 10 apps (9,100 of
// them of shop), and reports the server time (p50, p99) and what each
// render read: the pages render from the dashboard's summary, warm (read
// by the first, cold render, which is logged), and read nothing of the
// store. Separately, "refresh" is one refresh cycle of that summary on
// the emulator, which the store pays every --refresh, off the request
// path: one listing of groups, and one page of 20 records per app. Every
// record and document is written through the release store as the
// engine writes them; the orbit has no groups, so the listing of groups
// is one empty DescribeAutoScalingGroups in its region.
//
//	go test ./internal/cli -run '^$' -bench Dashboard -benchtime 10x -v
//
// Figures and what the emulator's DynamoDB costs: docs/dashboard.md.
func BenchmarkDashboard(b *testing.B) {
	cfg := emulatortest.Config(b, "us-east-1")
	ctx := context.Background()
	o, err := manifest.ParseOrbit("orbit.yml", []byte("name: dash\nregions:\n  us-east-1: {}\nnetwork: {nat: none}\n"))
	if err != nil {
		b.Fatal(err)
	}
	svc := &orbit.Service{
		Clients: func(region string) (orbit.Clients, error) {
			return orbit.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), Parameters: ssm.New(cfg)}, nil
		},
		Zones: route53.New(cfg), Progress: progress.Discard(), Poller: apply.Poller{Clock: elevator.SystemClock{}},
	}
	if _, err := svc.Up(ctx, o); err != nil {
		b.Fatalf("orbit up: %v", err)
	}
	outputs, err := svc.Outputs(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	backend, err := awsrelease.New(awsrelease.Config{Orbit: o.Name, AWS: []aws.Config{cfg}, Bucket: outputs["us-east-1"][compile.StateBucketOutput]})
	if err != nil {
		b.Fatal(err)
	}
	apps := []string{"shop"}
	for i := 1; i < 10; i++ {
		apps = append(apps, fmt.Sprintf("app%d", i))
	}
	o.Access = []elevator.AccessRule{{Role: elevator.RoleViewer, Principals: []string{"group:all"}, Apps: apps}}
	const n = 10_000
	start := time.Now()
	seed(b, backend.Store, apps, n)
	b.Logf("wrote %d releases (record and document each) in %s", n, time.Since(start).Round(time.Second))

	engine, err := release.New(backend.EngineConfig("bench"))
	if err != nil {
		b.Fatal(err)
	}
	src := &countingSource{Source: &dashboardSource{orbit: o.Name, store: backend.Store, engine: engine, clouds: backend.Clouds}}
	// No background refresh during the measures: "refresh" measures it.
	h, err := dashboard.New(ctx, dashboard.Options{Source: src, Orbit: o, Local: true, LocalRole: elevator.RoleViewer, PlainHTTP: true, Refresh: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/signin", nil))
	cookie := rec.Header().Get("Set-Cookie")
	for _, page := range []struct{ name, path, want string }{
		{"overview", "/", `data-app="shop"`},
		{"app", "/apps/shop", "Older releases"},
	} {
		b.Run(page.name, func(b *testing.B) {
			get := func() time.Duration {
				req := httptest.NewRequest(http.MethodGet, page.path, nil)
				req.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(w, req)
				d := time.Since(t0)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), page.want) {
					b.Fatalf("GET %s: %d\n%s", page.path, w.Code, w.Body.String())
				}
				return d
			}
			src.records.Store(0)
			src.docs.Store(0)
			src.storeTime(true)
			cold := get()
			b.Logf("%s cold: %s, of which %s in the store and AWS; %d records and %d documents read", page.name, cold.Round(time.Microsecond),
				src.storeTime(true).Round(time.Microsecond), src.records.Load(), src.docs.Load())
			src.records.Store(0)
			var lat []time.Duration
			b.ResetTimer()
			for b.Loop() {
				lat = append(lat, get())
			}
			b.StopTimer()
			per := float64(src.records.Load()) / float64(len(lat))
			if per > 0 {
				b.Fatalf("a warm render of %s read %.1f records of the store; it renders from the summary", page.path, per)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(per, "records-read/op")
			// The dashboard's own time: the server time less its calls to
			// the store and AWS (on the emulator, a DynamoDB query costs
			// time in the size of the app's partition, whatever its
			// limit; on DynamoDB it costs the items it returns).
			var total time.Duration
			for _, d := range lat {
				total += d
			}
			store := src.storeTime(false)
			b.ReportMetric(float64((total-store).Microseconds())/float64(len(lat)), "own-µs/op")
			b.ReportMetric(float64(store.Milliseconds())/float64(len(lat)), "store-ms/op")
		})
	}
	// One refresh cycle of the summary: what the store pays every
	// --refresh, whoever looks.
	b.Run("refresh", func(b *testing.B) {
		src.records.Store(0)
		src.docs.Store(0)
		var lat []time.Duration
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			if err := h.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
		b.ReportMetric(float64(src.records.Load())/float64(len(lat)), "records-read/op")
		b.ReportMetric(float64(src.docs.Load())/float64(len(lat)), "documents-read/op")
	})
}

// seed writes n ended releases through the store, 91% of them of the
// first app, eight writers at a time.
func seed(b *testing.B, store *awsrelease.Store, apps []string, n int) {
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Duration(n) * time.Minute)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	bad := func() error { mu.Lock(); defer mu.Unlock(); return failed }
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				app := apps[0]
				if i%11 == 0 {
					app = apps[1+(i/11)%(len(apps)-1)]
				}
				at := base.Add(time.Duration(i) * time.Minute)
				id := fmt.Sprintf("%s-%08x", at.Format("20060102-150405"), i)
				rel := &elevator.Release{ID: id, CreatedAt: at, CreatedBy: "arn:aws:iam::123456789012:role/ci", App: app, Orbit: "dash",
					Version: fmt.Sprintf("1.%d.0", i), Regions: []string{"us-east-1"}, TimeoutSeconds: 600}
				doc, err := rel.Canonical()
				if err == nil {
					err = store.PutRelease(ctx, id, doc, elevator.ChecksumOf(doc))
				}
				state := elevator.StateSuccess
				if i%7 == 0 {
					state = elevator.StateFailureClean
				}
				if err == nil {
					err = store.PutRecord(ctx, &elevator.ReleaseRecord{ID: id, App: app, Orbit: "dash", Revision: 1, State: state,
						Path: []elevator.ReleaseState{elevator.StateValidate, state}, Visits: []time.Time{at, at.Add(time.Minute)},
						SubmittedAt: at, UpdatedAt: at.Add(time.Minute), EndedAt: at.Add(time.Minute)})
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		if bad() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := bad(); err != nil {
		b.Fatalf("seed: %v", err)
	}
}
