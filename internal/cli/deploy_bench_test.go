package cli_test

// BenchmarkDeployCalls counts the HTTP requests one `elevator deploy` makes
// on the emulator, from reading the manifests to the end of the release:
// looking up the stacks and images, writing the document, and the engine's
// whole run. It reports them for apps of 1 and 3 services (each behind a
// load balancer) in a one-region orbit, for the app's first release and
// for the second, which replaces the first's groups.
//
//	go test ./internal/cli -run '^$' -bench DeployCalls -benchtime 3x -v
//
// The requests are counted by a counting reverse proxy in front of moto,
// so they are what AWS would bill and throttle, retries included.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/orbit/orbittest"
)

func BenchmarkDeployCalls(b *testing.B) {
	for _, services := range []int{1, 3} {
		b.Run(fmt.Sprintf("services=%d", services), func(b *testing.B) {
			benchDeployCalls(b, services)
		})
	}
}

func benchDeployCalls(b *testing.B, services int) {
	b.Setenv("AWS_ACCESS_KEY_ID", "testing")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_PROFILE", "")
	b.Setenv("CI", "true")
	orbittest.FakeAgent(b)
	counter := startCountingProxy(b, emulatortest.Endpoint())

	var app strings.Builder
	app.WriteString("name: shop\nservices:\n")
	for i := range services {
		fmt.Fprintf(&app, "  s%d:\n    runtime: {docker: {image: ghcr.io/acme/s%d}}\n    port: 8080\n    load_balancer: {type: public, hosts: [s%d.example.com], health_check: {path: /health}}\n    scaling: {min: 1, max: 2}\n", i, i, i)
	}
	orbit := fmt.Sprintf("bench-%d-%d", services, time.Now().UnixNano()%1e6)
	measureDeploys(b, counter, orbit, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n", app.String(), fmt.Sprintf("services=%d ", services))
}

// measureDeploys brings up the orbit (orbitBody is its manifest after its
// name) and the app through counter, then, b.N times, releases a new app
// of its own twice: its first release, then a second that replaces the
// first's. It reports each release's requests and seconds, and logs the
// first iteration's requests by operation after label.
func measureDeploys(b *testing.B, counter *countingProxy, orbit, orbitBody, app, label string) {
	b.Helper()
	dir := b.TempDir()
	orbitFile := filepath.Join(dir, "orbit.yml")
	appFile := filepath.Join(dir, "app.yml")
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write(orbitFile, "name: "+orbit+"\n"+orbitBody)
	write(appFile, app)
	run := func(args ...string) {
		b.Helper()
		args = append(args, "--endpoint-url", counter.url)
		var stdout, stderr strings.Builder
		if code := cli.Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			b.Fatalf("elevator %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
		if os.Getenv("ELEVATOR_BENCH_SHOW") != "" { // print each command's output
			b.Log(stdout.String())
		}
	}
	flags := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	run("orbit", "up", "-f", orbitFile, "--poll-interval", "100ms")
	run(append([]string{"app", "up", "--poll-interval", "100ms"}, flags...)...)
	run(append([]string{"image", "allow"}, flags...)...)

	// Each iteration releases a new app of its own: its first release, then
	// a second that replaces the first's services and groups.
	for i := range b.N {
		if i > 0 {
			b.StopTimer()
			write(appFile, strings.Replace(app, "name: shop", fmt.Sprintf("name: shop%d", i), 1))
			run(append([]string{"app", "up", "--poll-interval", "100ms"}, flags...)...)
			run(append([]string{"image", "allow"}, flags...)...)
			b.StartTimer()
		}
		for _, which := range []string{"first", "second"} {
			counter.reset()
			start := time.Now()
			run(append([]string{"deploy", "--version", fmt.Sprintf("1.0.%d-%s", i, which), "--poll-interval", "100ms", "-o", "json"}, flags...)...)
			took := time.Since(start)
			total, ops := counter.counts()
			b.ReportMetric(float64(total), which+"-requests")
			b.ReportMetric(took.Seconds(), which+"-s")
			if i == 0 {
				b.Logf("%s%s release: %d requests in %s: %s", label, which, total, took.Round(time.Millisecond), ops)
			}
		}
	}
}

// countingProxy forwards every request to the emulator and counts them by
// AWS operation.
type countingProxy struct {
	url string
	mu  sync.Mutex
	ops map[string]int
}

func startCountingProxy(tb testing.TB, target string) *countingProxy {
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{ops: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operation(r)
		p.mu.Lock()
		p.ops[op]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// operation names a request's AWS operation: the JSON protocol's target,
// the query protocol's Action, or S3's method and key shape.
func operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndex(t, ".")+1:]
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return v.Get("Action")
		}
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	return "s3:" + r.Method
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = map[string]int{}
}

func (p *countingProxy) counts() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	var parts []string
	for op, n := range p.ops {
		total += n
		parts = append(parts, fmt.Sprintf("%s=%d", op, n))
	}
	sort.Strings(parts)
	return total, strings.Join(parts, " ")
}
