package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	// As domain: elevator names the command-line helper here.
	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/emulator/faultproxy"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

const releaseApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"]}}
    port: 8080
    load_balancer: {type: public, health_check: {path: /health}}
    scaling: {min: 1, max: 2}
    alarms: [{metric: cpu, threshold: 85, severity: critical}]
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
`

// releasable brings up an orbit over two regions and the app in the
// test's own account, allows its images, and returns the flags that name
// them.
func releasable(t *testing.T) (acct *emulatortest.Account, orbitName string, flags []string) {
	t.Helper()
	return releasableIn(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\n")
}

// releasableIn is releasable with the orbit manifest's body (all but its
// name) given.
func releasableIn(t *testing.T, orbitBody string) (acct *emulatortest.Account, orbitName string, flags []string) {
	t.Helper()
	acct = inAccount(t)
	orbitFile, name := manifest(t, orbitBody)
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(releaseApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	flags = []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	return acct, name, flags
}

// groups returns the app's Auto Scaling Groups in an orbit and region, by
// name, found by tag as the engine finds them.
func groups(t *testing.T, acct *emulatortest.Account, region, orbit string) []string {
	t.Helper()
	out, err := autoscaling.NewFromConfig(acct.Config(region)).DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{orbit}}, {Name: aws.String("tag:" + domain.TagApp), Values: []string{"shop"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range out.AutoScalingGroups {
		names = append(names, aws.ToString(g.AutoScalingGroupName))
	}
	sort.Strings(names)
	return names
}

func lockIsFree(t *testing.T, orbit string, flags []string) {
	t.Helper()
	r := elevator(t, "", "unlock", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5], "--reason", "test")
	if r.code != cli.ExitNotFound {
		t.Errorf("the lock is held: unlock exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

var releaseID = regexp.MustCompile(`release ([0-9]{8}-[0-9]{6}(?:[0-9]{3})?-[0-9a-f]{8})`)

// shortID is the part of a release id that names the release's groups.
func shortID(id string) string { return (&domain.Release{ID: id}).ShortID() }

func TestASecondReleaseReplacesTheFirst(t *testing.T) {
	acct, orbit, flags := releasable(t)
	first := elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...)
	mustSucceed(t, first)
	second := elevator(t, "", append([]string{"deploy", "--version", "1.0.1", "-o", "json"}, flags...)...)
	mustSucceed(t, second)
	firstID := releaseID.FindStringSubmatch(first.stdout)[1]
	secondID := releaseID.FindStringSubmatch(second.stderr)[1]
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		got := strings.Join(groups(t, acct, region, orbit), " ")
		want := "shop-" + orbit + "-web-" + shortID(secondID) + " shop-" + orbit + "-worker-" + shortID(secondID)
		if got != want {
			t.Errorf("%s groups: %s, want %s (the first release's gone)", region, got, want)
		}
	}
	if !strings.Contains(second.stdout, `"state": "Success"`) || !strings.Contains(second.stdout, shortID(firstID)) {
		t.Errorf("second record (json) does not say Success replacing %s:\n%s", firstID, second.stdout)
	}
	// The web service's CPU alarm watches the new group only, and pages
	// the region's critical topic.
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		cw := cloudwatch.New(acct.Config(region))
		for id, want := range map[string]int{firstID: 0, secondID: 1} {
			alarms, err := cw.Alarms(context.Background(), "shop-"+orbit+"-web-"+shortID(id))
			if err != nil {
				t.Fatal(err)
			}
			if len(alarms) != want {
				t.Errorf("%s: %d alarms on web of release %s, want %d", region, len(alarms), id, want)
			}
			for _, a := range alarms {
				if a.Threshold != 85 || len(a.Actions) != 1 || !strings.HasSuffix(a.Actions[0], ":"+orbit+"-critical") {
					t.Errorf("%s: alarm %+v", region, a)
				}
			}
		}
	}
	lockIsFree(t, orbit, flags)
	audit := elevator(t, "", "release", "audit", "--orbit", orbit, "--orbit-file", flags[5])
	mustSucceed(t, audit)
	for _, want := range []string{"submit", "release", firstID, secondID, "Success", "by arn:"} {
		if !strings.Contains(audit.stdout, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit.stdout)
		}
	}
	list := elevator(t, "", "release", "list", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5])
	mustSucceed(t, list)
	if lines := strings.Split(strings.TrimSpace(list.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], secondID) {
		t.Errorf("release list:\n%s", list.stdout)
	}
}

func TestAHaltDuringCheckHealthyEndsFailureClean(t *testing.T) {
	acct, orbit, flags := releasable(t)
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...))
	before := groups(t, acct, "us-east-1", orbit)

	// The second release goes through a gate that holds back the answer
	// to its write of CheckHealthy: the halt lands while it waits, and the
	// engine looks for halts before it checks health.
	gate := newGate(t, enteringCheckHealthy)
	done := make(chan result, 1)
	go func() {
		done <- run(t, gate.URL, "", append([]string{"deploy", "--version", "2.0.0", "--poll-interval", "100ms", "-o", "json"}, flags...)...)
	}()
	select {
	case <-gate.held:
	case r := <-done:
		t.Fatalf("the release ended without entering CheckHealthy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	mustSucceed(t, elevator(t, "", "halt", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5], "--reason", "bad canary"))
	gate.open()
	r := <-done
	var rec struct {
		State   string `json:"state"`
		Error   string `json:"error"`
		Failure string `json:"failure"`
	}
	// With --output json, stdout is the record alone: one JSON document.
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != cli.ExitFailed || rec.State != "FailureClean" || rec.Failure != "halted" || !strings.Contains(rec.Error, "bad canary") {
		t.Fatalf("halted release: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if after := groups(t, acct, "us-east-1", orbit); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("groups after the halt %v, want the first release's %v still serving", after, before)
	}
	lockIsFree(t, orbit, flags)
}

// TestAnUnlockDuringAReleaseStopsItBeforeItsNextChange holds release A in
// CheckHealthy (a gate holds back the answer to its record write), unlocks
// the app as an operator would, and runs release B to Success. Let go, A
// must stop for its lost lock (exit 3) before it changes anything, and,
// resumed, end FailureClean without touching B's groups.
func TestAnUnlockDuringAReleaseStopsItBeforeItsNextChange(t *testing.T) {
	acct, orbit, flags := releasable(t)
	gate := newGate(t, enteringCheckHealthy)
	done := make(chan result, 1)
	go func() {
		done <- run(t, gate.URL, "", append([]string{"deploy", "--version", "1.0.0", "--poll-interval", "100ms"}, flags...)...)
	}()
	select {
	case <-gate.held:
	case r := <-done:
		t.Fatalf("release A ended without entering CheckHealthy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	mustSucceed(t, elevator(t, "", "unlock", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5], "--reason", "looks stuck"))
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "2.0.0", "--poll-interval", "100ms"}, flags...)...))
	regions := []string{"us-east-1", "eu-west-1"}
	b := map[string][]string{}
	for _, region := range regions {
		b[region] = groups(t, acct, region, orbit)
	}

	gate.open()
	a := <-done
	if a.code != cli.ExitConflict || !strings.Contains(a.stderr, "no longer this engine's") {
		t.Fatalf("release A after the unlock: exit %d, want %d for its lost lock\n%s\n%s", a.code, cli.ExitConflict, a.stdout, a.stderr)
	}
	m := releaseID.FindStringSubmatch(a.stderr)
	if m == nil {
		t.Fatalf("never saw release A's id:\n%s", a.stderr)
	}
	resumed := elevator(t, "", "release", "resume", m[1], "--orbit", orbit, "--orbit-file", flags[5], "--poll-interval", "100ms")
	if resumed.code != cli.ExitFailed || !strings.Contains(resumed.stdout+resumed.stderr, "the lock was broken") {
		t.Errorf("resume of release A: exit %d, want %d (rolled back for its lost lock)\n%s\n%s", resumed.code, cli.ExitFailed, resumed.stdout, resumed.stderr)
	}
	for _, region := range regions {
		if got := groups(t, acct, region, orbit); !slices.Equal(got, b[region]) {
			t.Errorf("%s: groups %v, want release B's %v", region, got, b[region])
		}
	}
	lockIsFree(t, orbit, flags)
}

// enteringCheckHealthy matches the engine's write of a release record in
// CheckHealthy (a DynamoDB TransactWriteItems, the record written on
// condition of the lock, whose state attribute says so).
func enteringCheckHealthy(r *http.Request, body []byte) bool {
	return r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.TransactWriteItems" && bytes.Contains(body, []byte(`"state":{"S":"CheckHealthy"}`))
}

// gate is a proxy to the package's emulator that holds back its answer to
// the first request match picks, until the test opens it: the command has
// made the call (the emulator has done it) and waits for the answer.
type gate struct {
	URL          string
	held         chan struct{} // closed once an answer is held back
	once, opened sync.Once
	gate         chan struct{}
}

func newGate(t *testing.T, match func(r *http.Request, body []byte) bool) *gate {
	g := &gate{held: make(chan struct{}), gate: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out, err := http.NewRequestWithContext(r.Context(), r.Method, emulatortest.Endpoint()+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if match(r, body) {
			g.once.Do(func() {
				close(g.held)
				<-g.gate
			})
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.open) // runs first: a failed test must not leave the answer held
	g.URL = srv.URL
	return g
}

// open lets the held answer, and every later one, through.
func (g *gate) open() { g.opened.Do(func() { close(g.gate) }) }

// TestADeployKilledMidReleaseIsResumed kills the elevator process with
// SIGKILL once it has stored CheckHealthy, or once it has taken the lock
// in Lock (before it stored ValidateResources), then resumes the release
// from another process, which waits for the dead engine's 10 s lease to
// end in either state.
func TestADeployKilledMidReleaseIsResumed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "elevator")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/elevator").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tests := []struct {
		name  string
		state string
		// match picks the request whose answer is held back: the process
		// dies with it done and nothing after it.
		match func(r *http.Request, body []byte) bool
	}{
		{"dead in CheckHealthy", "CheckHealthy", enteringCheckHealthy},
		{"dead in Lock, holding the lock", "Lock", takingTheLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acct, orbit, flags := releasable(t)
			gate := newGate(t, tt.match)
			cmd := exec.Command(bin, append([]string{"deploy", "--version", "1.0.0", "--poll-interval", "100ms", "--lease", "10s", "--endpoint-url", gate.URL}, flags...)...)
			var stderr bytes.Buffer // read once the process is gone
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-gate.held:
			case err := <-exited:
				t.Fatalf("deploy ended (%v) before the request held back:\n%s", err, stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			var id string
			if m := releaseID.FindStringSubmatch(stderr.String()); m != nil {
				id = m[1]
			}
			if id == "" {
				t.Fatal("never saw the release id")
			}
			if status := elevator(t, "", "release", "status", id, "--orbit", orbit, "--orbit-file", flags[5]); !strings.Contains(status.stdout, tt.state) {
				t.Fatalf("the killed release is not in %s:\n%s", tt.state, status.stdout)
			}

			resumed := elevator(t, "", "release", "resume", id, "--orbit", orbit, "--orbit-file", flags[5], "--poll-interval", "100ms")
			if resumed.code != 0 && resumed.code != cli.ExitFailed {
				t.Fatalf("resume: exit %d\n%s\n%s", resumed.code, resumed.stdout, resumed.stderr)
			}
			if !strings.Contains(resumed.stderr, "waiting for it to end") {
				t.Errorf("resume did not wait for the dead engine's lease:\n%s", resumed.stderr)
			}
			for _, region := range []string{"us-east-1", "eu-west-1"} {
				got := groups(t, acct, region, orbit)
				switch {
				case resumed.code == 0 && len(got) != 2:
					t.Errorf("%s: Success with groups %v, want web and worker of %s", region, got, id)
				case resumed.code == cli.ExitFailed && len(got) != 0:
					t.Errorf("%s: FailureClean left groups %v", region, got)
				}
			}
			lockIsFree(t, orbit, flags)
		})
	}
}

// takingTheLock matches the engine's write of the release lock (a DynamoDB
// PutItem of an item with a lease).
func takingTheLock(r *http.Request, body []byte) bool {
	return r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.PutItem" && bytes.Contains(body, []byte(`"expires_ns"`))
}

// TestADeployThatFindsTheLockHeldChangesNothingAndExitsThree holds the
// app's lock for another release with the engine's own locker; a deploy
// then ends FailureClean at Lock, which is a conflict (exit 3) for scripts
// that try again later. Its engine's warning reaches stderr with --verbose
// only, and never stdout.
func TestADeployThatFindsTheLockHeldChangesNothingAndExitsThree(t *testing.T) {
	acct, orbit, flags := releasable(t)
	home := acct.Config("us-east-1")
	backend, err := awsrelease.New(awsrelease.Config{Orbit: orbit, AWS: []aws.Config{home}, Bucket: domain.StateBucketName(acct.ID, "us-east-1", orbit)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	holder := release.Lock{App: "shop", Orbit: orbit, ReleaseID: "20261123-115500-bbbbbbbb", Owner: "engine-elsewhere",
		Holder: "arn:aws:iam::" + acct.ID + ":user/bob", Since: now, Expires: now.Add(time.Hour)}
	if _, err := backend.Locker.Acquire(context.Background(), holder, now); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		flags []string
		warn  string // in stderr, or "" for no log at all
	}{
		{"quiet", nil, ""},
		{"verbose", []string{"--verbose"}, `level=WARN msg="release step failed"`},
		{"verbose with json", []string{"--verbose", "-o", "json"}, `"level":"WARN","msg":"release step failed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := elevator(t, "", append(append([]string{"deploy", "--version", "1.0.0"}, tt.flags...), flags...)...)
			if r.code != cli.ExitConflict {
				t.Fatalf("exit %d, want %d (conflict)\n%s\n%s", r.code, cli.ExitConflict, r.stdout, r.stderr)
			}
			out := r.stdout + r.stderr
			for _, want := range []string{"FailureClean", "locked by release 20261123-115500-bbbbbbbb", "user/bob"} {
				if !strings.Contains(out, want) {
					t.Errorf("output does not say %q:\n%s\n%s", want, r.stdout, r.stderr)
				}
			}
			switch {
			case tt.warn == "" && strings.Contains(r.stderr, "level="):
				t.Errorf("a log without --verbose:\n%s", r.stderr)
			case tt.warn != "" && !strings.Contains(r.stderr, tt.warn):
				t.Errorf("stderr lacks %s:\n%s", tt.warn, r.stderr)
			case strings.Contains(r.stdout, "WARN"):
				t.Errorf("a log on stdout:\n%s", r.stdout)
			}
			if slices.Contains(tt.flags, "json") {
				var rec struct{ State string }
				if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.State != "FailureClean" {
					t.Errorf("stdout is not the record alone (%v):\n%s", err, r.stdout)
				}
			}
		})
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if got := groups(t, acct, region, orbit); len(got) != 0 {
			t.Errorf("%s: groups %v after refused releases, want none", region, got)
		}
	}
	unlock := elevator(t, "", "unlock", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5], "--reason", "test")
	mustSucceed(t, unlock)
	if !strings.Contains(unlock.stdout, "held by release 20261123-115500-bbbbbbbb") {
		t.Errorf("the holder's lock was not left alone: %s", unlock.stdout)
	}
}

// TestADeployWhoseStoreGoesAwayExitsFourAndResumes runs a deploy through
// a fault proxy that, once the release has stored CheckHealthy, hangs up
// on every call, the state store's first (moto was killed): the engine
// spends its attempts, halt reads included, and stops with exit 4 and a
// message that says so, within the release's timeout. Once AWS answers
// again, `release resume` takes over after the dead engine's lease and
// ends the release Success or FailureClean.
func TestADeployWhoseStoreGoesAwayExitsFourAndResumes(t *testing.T) {
	// Each call fails fast once everything is gone: it is the engine's
	// own attempts that are under test, not the SDK's.
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	acct, orbit, flags := releasable(t)
	const timeout = time.Minute // the least a manifest may give
	if err := os.WriteFile(flags[1], []byte(releaseApp+"release: {timeout: 1m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var gone atomic.Bool
	proxy, err := faultproxy.Start(emulatortest.Endpoint(), faultproxy.Config{Drop: 1, Match: func(r *http.Request, body []byte) bool {
		if enteringCheckHealthy(r, body) {
			gone.Store(true)
			return false // stored: the release is in CheckHealthy
		}
		return gone.Load()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	done := make(chan result, 1)
	go func() {
		done <- run(t, proxy.URL, "", append([]string{"deploy", "--version", "1.0.0", "--poll-interval", "100ms", "--lease", "10s"}, flags...)...)
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(timeout):
		t.Fatalf("deploy still running after the release's timeout (%s) with AWS gone; proxy %+v", timeout, proxy.Counts())
	}
	if !gone.Load() {
		t.Fatalf("the release never entered CheckHealthy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r.code != cli.ExitAWS || !strings.Contains(r.stderr, "state store does not answer") || !strings.Contains(r.stderr, "stopped in CheckHealthy") {
		t.Fatalf("exit %d, want %d saying the store does not answer\n%s\n%s", r.code, cli.ExitAWS, r.stdout, r.stderr)
	}
	m := releaseID.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("never saw the release id:\n%s", r.stderr)
	}
	id := m[1]
	if status := elevator(t, "", "release", "status", id, "--orbit", orbit, "--orbit-file", flags[5]); !strings.Contains(status.stdout, "CheckHealthy") {
		t.Fatalf("the release is not left in CheckHealthy:\n%s", status.stdout)
	}

	// AWS is back (straight to moto): resume waits for the 10 s lease.
	resumed := elevator(t, "", "release", "resume", id, "--orbit", orbit, "--orbit-file", flags[5], "--poll-interval", "100ms")
	if resumed.code != 0 && resumed.code != cli.ExitFailed {
		t.Fatalf("resume: exit %d\n%s\n%s", resumed.code, resumed.stdout, resumed.stderr)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		got := groups(t, acct, region, orbit)
		switch {
		case resumed.code == 0 && len(got) != 2:
			t.Errorf("%s: Success with groups %v, want web and worker of %s", region, got, id)
		case resumed.code == cli.ExitFailed && len(got) != 0:
			t.Errorf("%s: FailureClean left groups %v", region, got)
		}
	}
	lockIsFree(t, orbit, flags)
}
