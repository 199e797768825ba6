package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// fakeTester is a Tester whose tests pass unless fail says otherwise; it
// remembers what it ran.
type fakeTester struct {
	mu   sync.Mutex
	runs []string // "name url"
	// fail, when set, decides a try: a non-empty answer fails it with
	// that output.
	fail func(t elevator.ReleaseTest, try int) string
}

func (f *fakeTester) Test(ctx context.Context, t elevator.ReleaseTest, env TestEnv) TestOutcome {
	f.mu.Lock()
	f.runs = append(f.runs, t.Name+" "+env.URL)
	try := 0
	for _, r := range f.runs {
		if strings.HasPrefix(r, t.Name+" ") {
			try++
		}
	}
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if out := fail(t, try); out != "" {
			return TestOutcome{Output: out, Error: "status 500, want 200"}
		}
	}
	return TestOutcome{Passed: true, Output: "200 OK"}
}

func (f *fakeTester) ran() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.runs)
}

const watched = "shop-prod-web-5xx"

func listener(region string) string {
	return "arn:aws:elasticloadbalancing:" + region + ":123456789012:listener/app/shop-prod/1/test"
}
func topic(region string) string { return "arn:aws:sns:" + region + ":123456789012:prod-events" }

// gated gives a release every gate: a smoke test, an integration test, a
// bake of a minute and an alarm watched, in every region's test listener.
func gated(rel *elevator.Release) {
	rel.Tests = &elevator.ReleaseTests{
		Smoke:       []elevator.ReleaseTest{{Name: "health", Kind: elevator.TestHTTP, Path: "/health"}},
		Integration: []elevator.ReleaseTest{{Name: "checkout", Kind: elevator.TestHTTP, Path: "/checkout", Retries: 1}},
		BakeSeconds: 60,
		Alarms:      []string{watched},
		MissingData: elevator.MissingDataOK,
	}
	for i := range rel.Services[0].Placements {
		pl := &rel.Services[0].Placements[i]
		pl.TestListener = listener(pl.Region)
		pl.TestURL = "http://shop-prod." + pl.Region + ".elb.test:8443"
		pl.ServiceURL = "https://shop.example.com"
		pl.Events = topic(pl.Region)
	}
}

// gatedPath is the path of a release that passes every gate.
var gatedPath = path(V, L, VR, D, CH, ST, CO, IT, BK, CUS, U, OK)

func (w *world) gatedEngine(owner string, tester Tester) *Engine {
	return w.engine(owner, func(c *Config) { c.Tester = tester })
}

// testTG is the ARN of the fake's test target group of a release.
func testTG(region string, rel *elevator.Release) string {
	return "arn:aws:elasticloadbalancing:" + region + ":123456789012:targetgroup/" + TestTargetGroupName(rel.ID, "web") + "/feedfeedfeedfeed"
}

// assertNoTestTargetGroup checks that the release left no test target
// group and that no test listener forwards anywhere.
func (w *world) assertNoTestTargetGroup() {
	w.t.Helper()
	for _, reg := range w.regions {
		c := w.clouds[reg]
		c.mu.Lock()
		if len(c.testTGs) > 0 {
			w.t.Errorf("%s: test target groups left: %v", reg, c.testTGs)
		}
		if to := c.listeners[listener(reg)]; to != "" {
			w.t.Errorf("%s: test listener still forwards to %s", reg, to)
		}
		c.mu.Unlock()
	}
}

func TestSmokeTestsPassOnTheTestListenerBeforeProductionSeesTheNewGroups(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r, "us-east-1", "eu-west-1")
		tester := &fakeTester{}
		rel := w.release(gated)
		// While the smoke tests run, the test listener forwards to the test
		// target group, which the new group is in, and production is not.
		var during []string
		w.store.afterPut = func(rec elevator.ReleaseRecord) {
			if rec.State != ST {
				return
			}
			for _, reg := range w.regions {
				c := w.clouds[reg]
				g, _, _ := c.group(GroupName(rel, "web"))
				c.mu.Lock()
				during = append(during, fmt.Sprintf("%s listener->%s group in %v", reg, c.listeners[listener(reg)], g.TargetGroups))
				c.mu.Unlock()
			}
		}
		rec := w.run(w.gatedEngine("engine-1", tester), rel)
		assertPath(t, rec, gatedPath)
		for i, reg := range w.regions {
			want := fmt.Sprintf("%s listener->%s group in [%s]", reg, testTG(reg, rel), testTG(reg, rel))
			if !slices.Contains(during, want) {
				t.Errorf("during smoke tests: %q, want %q", during, want)
			}
			// Attached to the test target group at creation, to production at cut-over.
			if got := w.clouds[reg].attachedTo(GroupName(rel, "web")); !slices.Equal(got, []string{testTG(reg, rel), tg(reg)}) {
				t.Errorf("%s: new group attached to %v, want the test target group, then production", reg, got)
			}
			if pub := w.clouds[reg].published; len(pub) != 1 || !strings.Contains(pub[0], `"event":"green_ready"`) || !strings.HasPrefix(pub[0], topic(reg)) {
				t.Errorf("%s: published %q, want one green_ready event to the orbit's topic", reg, pub)
			}
			if rec.Regions[i].GreenReadyAt.IsZero() {
				t.Errorf("%s: green is ready not in the record", reg)
			}
		}
		// Smoke tests on each region's test listener, integration tests on the service.
		got := tester.ran()
		slices.Sort(got)
		want := []string{"checkout https://shop.example.com", "checkout https://shop.example.com",
			"health http://shop-prod.eu-west-1.elb.test:8443", "health http://shop-prod.us-east-1.elb.test:8443"}
		if !slices.Equal(got, want) {
			t.Errorf("tests run: %q, want %q", got, want)
		}
		if len(rec.Tests) != 4 || !rec.Tests[0].Passed {
			t.Errorf("record's tests: %+v", rec.Tests)
		}
		if len(rec.Alarms) != 2 || rec.Alarms[0].To != elevator.AlarmMissing {
			t.Errorf("alarm changes %+v, want the first look in each region", rec.Alarms)
		}
		// The bake lasted its minute.
		if bake := rec.Visits[slices.Index(rec.Path, CUS)].Sub(rec.Visits[slices.Index(rec.Path, BK)]); bake < time.Minute {
			t.Errorf("bake lasted %s, want a minute", bake)
		}
		w.assertOnly(only(GroupName(rel, "web")))
		w.assertServing(GroupName(rel, "web"))
		w.assertNoTestTargetGroup()
	})
}

func TestAFailedSmokeTestEndsCleanAndProductionNeverSawTheNewGroups(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		tester := &fakeTester{fail: func(t elevator.ReleaseTest, _ int) string {
			if t.Name == "health" {
				return "GET /health -> 500\ndatabase unreachable"
			}
			return ""
		}}
		rel := w.release(gated)
		rec := w.run(w.gatedEngine("engine-1", tester), rel)
		assertPath(t, rec, path(V, L, VR, D, CH, ST, CUF, U, FC))
		assertFailure(t, rec, elevator.FailureTest)
		if !strings.Contains(rec.Error, "health in us-east-1: status 500") {
			t.Errorf("error %q does not name the test", rec.Error)
		}
		if len(rec.Tests) != 1 || !strings.Contains(rec.Tests[0].Output, "database unreachable") {
			t.Errorf("record's tests %+v, want the failed try with its output", rec.Tests)
		}
		// Production target groups never saw the new group.
		if got := w.clouds["us-east-1"].attachedTo(GroupName(rel, "web")); !slices.Equal(got, []string{testTG("us-east-1", rel)}) {
			t.Errorf("new group attached to %v, want the test target group only", got)
		}
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
		w.assertNoTestTargetGroup()
	})
}

func TestAFailingTestIsTriedItsRetriesAPollApart(t *testing.T) {
	w := newWorld(t)
	tester := &fakeTester{fail: func(t elevator.ReleaseTest, try int) string {
		if t.Name == "checkout" && try == 1 {
			return "502 Bad Gateway"
		}
		return ""
	}}
	rel := w.release(gated)
	rec := w.run(w.gatedEngine("engine-1", tester), rel)
	assertPath(t, rec, gatedPath)
	var tries []string
	for _, x := range rec.Tests {
		if x.Name == "checkout" {
			tries = append(tries, fmt.Sprintf("%d:%v", x.Attempt, x.Passed))
		}
	}
	if !slices.Equal(tries, []string{"1:false", "2:true"}) {
		t.Errorf("checkout tries %v, want a failure then a pass", tries)
	}
}

// oldBackAt records when an old group was put back in its target groups.
func (w *world) oldBackAt(region string) *time.Time {
	at := new(time.Time)
	out := false
	c := w.clouds[region]
	c.hook = func(op string) {
		g, _, _ := c.group(oldGroup)
		in := slices.Contains(g.TargetGroups, tg(region))
		switch {
		case op == "DetachTargetGroups" && !in:
			out = true
		case op == "AttachTargetGroups" && out && in && at.IsZero():
			*at = w.clock.Now()
		}
	}
	return at
}

func TestAFailedIntegrationTestPutsTheOldGroupsBackAtOnce(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		tester := &fakeTester{fail: func(t elevator.ReleaseTest, _ int) string {
			if t.Name == "checkout" {
				return "payment provider said no"
			}
			return ""
		}}
		rel := w.release(gated)
		back := w.oldBackAt("us-east-1")
		rec := w.run(w.gatedEngine("engine-1", tester), rel)
		assertPath(t, rec, path(V, L, VR, D, CH, ST, CO, IT, RB, CUF, U, FC))
		assertFailure(t, rec, elevator.FailureTest)
		if failedAt := rec.Visits[slices.Index(rec.Path, RB)]; back.IsZero() || back.Sub(failedAt) != 0 {
			t.Errorf("old group back at %v, RollBack entered at %v: want at once", *back, failedAt)
		}
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
		w.assertNoTestTargetGroup()
	})
}

func TestAnAlarmDuringTheBakeRollsBackWithinOnePoll(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		rel := w.release(gated)
		c := w.clouds["us-east-1"]
		c.setAlarm(watched, elevator.AlarmOK)
		var alarmAt time.Time
		w.store.afterPut = func(rec elevator.ReleaseRecord) {
			if rec.State == BK && alarmAt.IsZero() {
				// Some time into the bake, between two looks, the alarm goes
				// off.
				alarmAt = w.clock.Now().Add(7 * time.Second)
				c.setAlarmAt(watched, elevator.AlarmAlarm, alarmAt)
			}
		}
		back := w.oldBackAt("us-east-1")
		rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
		assertPath(t, rec, path(V, L, VR, D, CH, ST, CO, IT, BK, RB, CUF, U, FC))
		assertFailure(t, rec, elevator.FailureAlarm)
		if !strings.Contains(rec.Error, "alarm "+watched+" in us-east-1 is ALARM") {
			t.Errorf("error %q does not name the alarm", rec.Error)
		}
		var changes []string
		for _, a := range rec.Alarms {
			changes = append(changes, a.From+"->"+a.To)
		}
		if !slices.Equal(changes, []string{"->OK", "OK->ALARM"}) {
			t.Errorf("alarm changes %v, want ->OK, OK->ALARM", changes)
		}
		took := back.Sub(alarmAt)
		t.Logf("alarm to old group serving again: %s (poll %s)", took, poll)
		if back.IsZero() || took > poll {
			t.Errorf("old group back %s after the alarm, want within one poll (%s)", took, poll)
		}
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
		w.assertNoTestTargetGroup()
	})
}

func TestWhatMissingAlarmDataMeansIsTheReleasesSetting(t *testing.T) {
	for _, tt := range []struct {
		missing string
		path    []State
	}{
		{elevator.MissingDataOK, gatedPath},
		{elevator.MissingDataBreaching, path(V, L, VR, D, CH, ST, CUF, U, FC)},
	} {
		t.Run(tt.missing, func(t *testing.T) {
			w := newWorld(t)
			w.clouds["us-east-1"].setAlarm(watched, elevator.AlarmInsufficient)
			rel := w.release(gated, func(r *elevator.Release) { r.Tests.MissingData = tt.missing })
			rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
			assertPath(t, rec, tt.path)
			if tt.missing == elevator.MissingDataBreaching {
				assertFailure(t, rec, elevator.FailureAlarm)
				w.assertOnly(only(oldGroup))
			}
		})
	}
}

func TestAHaltInEachGateIsObeyed(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		for _, tt := range []struct {
			at   State
			path []State
		}{
			{ST, path(V, L, VR, D, CH, ST, CUF, U, FC)},
			// Met by the write that leaves IntegrationTest, as any halt
			// written just after a transition's record.
			{IT, path(V, L, VR, D, CH, ST, CO, IT, BK, RB, CUF, U, FC)},
			{BK, path(V, L, VR, D, CH, ST, CO, IT, BK, RB, CUF, U, FC)},
		} {
			t.Run("halted in "+string(tt.at), func(t *testing.T) {
				w := newWorldOn(t, r)
				rel := w.release(gated)
				w.store.afterPut = func(rec elevator.ReleaseRecord) {
					if rec.State == tt.at {
						_ = w.store.PutHalt(context.Background(), rel.ID, elevator.ReleaseHalt{By: "dave", At: w.clock.Now(), Reason: "rollback"})
					}
				}
				rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
				assertPath(t, rec, tt.path)
				assertFailure(t, rec, elevator.FailureHalted)
				w.assertOnly(only(oldGroup))
				w.assertServing(oldGroup)
				w.assertNoTestTargetGroup()
			})
		}
	})
}

func TestAGatedReleaseResumesAfterItsEngineDiesInEachNewState(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		failing := &fakeTester{fail: func(t elevator.ReleaseTest, _ int) string {
			if t.Name == "checkout" {
				return "no"
			}
			return ""
		}}
		for _, tt := range []struct {
			name   string
			tester *fakeTester
			path   []State
		}{
			{"a passing release", &fakeTester{}, gatedPath},
			{"a release rolled back", failing, path(V, L, VR, D, CH, ST, CO, IT, RB, CUF, U, FC)},
		} {
			for i, state := range tt.path {
				if !slices.Contains([]State{ST, IT, BK, RB}, state) {
					continue
				}
				t.Run(fmt.Sprintf("%s, dead after storing %s", tt.name, state), func(t *testing.T) {
					w := newWorldOn(t, r)
					rel := w.release(gated)
					ctx, crash := context.WithCancel(context.Background())
					defer crash()
					w.store.afterPut = func(rec elevator.ReleaseRecord) {
						if len(rec.Path) == i+1 {
							crash()
						}
					}
					e1 := w.gatedEngine("engine-1", tt.tester)
					if _, err := e1.Run(ctx, rel.ID, w.submit(e1, rel)); !errors.Is(err, context.Canceled) {
						t.Fatalf("Run = %v, want the engine to die", err)
					}
					w.store.afterPut = nil
					e2 := w.gatedEngine("engine-2", tt.tester)
					if _, err := e2.Resume(context.Background(), rel.ID, "ops"); elevator.ErrorCode(err) != elevator.ECONFLICT {
						t.Fatalf("resume while the dead engine's lease lasts: %v, want a conflict", err)
					}
					w.clock.Advance(lease + time.Second)
					rec, err := e2.Resume(context.Background(), rel.ID, "ops")
					if err != nil {
						t.Fatalf("Resume: %v", err)
					}
					assertPath(t, rec, tt.path)
					if tt.path[len(tt.path)-1] == OK {
						w.assertOnly(only(GroupName(rel, "web")))
						w.assertServing(GroupName(rel, "web"))
					} else {
						w.assertOnly(only(oldGroup))
						w.assertServing(oldGroup)
					}
					w.assertNoTestTargetGroup()
					if n := len(w.clouds["us-east-1"].created); n != 1 {
						t.Errorf("%d groups created, want 1", n)
					}
				})
			}
		}
	})
}

func TestATestTargetGroupMadeJustBeforeACrashIsDeleted(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		rel := w.release(gated)
		ctx, crash := context.WithCancel(context.Background())
		defer crash()
		c := w.clouds["us-east-1"]
		c.hook = func(op string) {
			if op == "CreateTestTargetGroup" {
				crash()
			}
		}
		e1 := w.gatedEngine("engine-1", &fakeTester{})
		if _, err := e1.Run(ctx, rel.ID, w.submit(e1, rel)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want the engine to die", err)
		}
		c.hook = nil
		_ = w.store.PutHalt(context.Background(), rel.ID, elevator.ReleaseHalt{By: "dave", At: w.clock.Now(), Reason: "stop"})
		w.clock.Advance(lease + time.Second)
		rec, err := w.gatedEngine("engine-2", &fakeTester{}).Resume(context.Background(), rel.ID, "ops")
		if err != nil {
			t.Fatal(err)
		}
		assertPath(t, rec, path(V, L, VR, D, CUF, U, FC))
		w.assertOnly(only(oldGroup))
		w.assertNoTestTargetGroup()
	})
}

func TestRetryTestsRunsAFailedTestAgainWithoutAbortingTheRelease(t *testing.T) {
	w := newWorld(t)
	fixed := false
	tester := &fakeTester{fail: func(t elevator.ReleaseTest, _ int) string {
		if t.Name == "health" && !fixed {
			return "503"
		}
		return ""
	}}
	// The fix takes longer than the release's timeout: the new round has
	// a timeout of its own.
	rel := w.release(gated, func(r *elevator.Release) { r.Tests.RetrySeconds = 3600 })
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if !rec.TestsFailedAt.IsZero() && !fixed {
			// Someone fixes what the test found, a quarter of an hour later.
			w.clock.Advance(15 * time.Minute)
			fixed = true
			if err := w.store.PutTestRetry(context.Background(), rel.ID, rec.TestRound+1, elevator.TestRetry{By: "erin", At: w.clock.Now()}); err != nil {
				t.Error(err)
			}
		}
	}
	rec := w.run(w.gatedEngine("engine-1", tester), rel)
	assertPath(t, rec, gatedPath)
	if rec.TestRound != 1 || !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "retried (round 1) by erin") }) {
		t.Errorf("round %d, notes %q: want the retry by erin", rec.TestRound, rec.Notes)
	}
}

func TestFailedTestsNotRetriedInTimeFailTheRelease(t *testing.T) {
	w := newWorld(t)
	tester := &fakeTester{fail: func(elevator.ReleaseTest, int) string { return "503" }}
	rel := w.release(gated, func(r *elevator.Release) { r.Tests.RetrySeconds = 120 })
	rec := w.run(w.gatedEngine("engine-1", tester), rel)
	assertPath(t, rec, path(V, L, VR, D, CH, ST, CUF, U, FC))
	if !strings.Contains(rec.Error, "not retried within 120s") {
		t.Errorf("error %q", rec.Error)
	}
	if waited := rec.Visits[slices.Index(rec.Path, CUF)].Sub(rec.TestsFailedAt); waited < 2*time.Minute {
		t.Errorf("failed %s after the tests, want the retry window of 2m", waited)
	}
}

func TestTestOutputInRecordsIsCappedAndHoldsNoSecret(t *testing.T) {
	t.Setenv("DEPLOY_API_TOKEN", "tok-0123456789")
	t.Setenv("ELEVATOR_TEST_SMOKE_BEARER", "sekrit-bearer-value")
	w := newWorld(t)
	huge := strings.Repeat("x", 100<<10)
	tester := &fakeTester{fail: func(elevator.ReleaseTest, int) string {
		return "Authorization: Bearer sekrit-bearer-value\n" + huge + "\ntoken tok-0123456789 seen\n"
	}}
	rel := w.release(gated, func(r *elevator.Release) {
		r.Tests.Smoke[0].Headers = map[string]string{"Authorization": "Bearer ${ELEVATOR_TEST_SMOKE_BEARER}"}
	})
	rec := w.run(w.gatedEngine("engine-1", tester), rel)
	assertFailure(t, rec, elevator.FailureTest)
	stored, err := w.store.Record(context.Background(), rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := w.store.Release(context.Background(), rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "sekrit-bearer-value") {
		t.Error("the release document holds the header's secret")
	}
	out := stored.Tests[0].Output
	if len(out) > elevator.MaxTestOutput+64 {
		t.Errorf("output of %d bytes stored, want at most about %d", len(out), elevator.MaxTestOutput)
	}
	for _, secret := range []string{"sekrit-bearer-value", "tok-0123456789"} {
		if strings.Contains(out, secret) || strings.Contains(stored.Error, secret) {
			t.Errorf("the record holds secret %q", secret)
		}
	}
	if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "bytes cut") {
		t.Errorf("output %q... not redacted and cut", out[:80])
	}
}

func TestTheLocalTesterRunsHTTPAndCommandTests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Check") != "yes" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.URL.Path == "/long" {
			_, _ = fmt.Fprintf(w, `{"log":%q,"ready":true}`, strings.Repeat("x", 3*elevator.MaxTestOutput))
			return
		}
		_, _ = fmt.Fprint(w, `{"status":"green","version":"1.4.2"}`)
	}))
	defer srv.Close()
	t.Setenv("AWS_SECRET_ACCESS_KEY", "engine-secret")
	t.Setenv("ELEVATOR_TEST_CHECK_VALUE", "yes")
	t.Setenv("CHECK_VALUE", "yes")
	env := TestEnv{URL: srv.URL, Facts: map[string]string{"TEST_URL": srv.URL, "VERSION": "1.4.2"}}
	for _, tt := range []struct {
		name string
		test elevator.ReleaseTest
		pass bool
		out  string
	}{
		{"an answer as expected passes", elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/health", Headers: map[string]string{"X-Check": "yes"}, Body: `"status":"green"`}, true, "-> 200"},
		{"another status fails", elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/health"}, false, "-> 403"},
		{"a header takes ${ELEVATOR_TEST_NAME} from the engine's environment", elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/health", Headers: map[string]string{"X-Check": "${ELEVATOR_TEST_CHECK_VALUE}"}}, true, "-> 200"},
		{"a header never reads an engine variable outside the test prefix", elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/health", Headers: map[string]string{"X-Check": "${CHECK_VALUE}"}}, false, "-> 403"},
		{"the body pattern is matched past the first kilobytes", elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/long", Headers: map[string]string{"X-Check": "yes"}, Body: `"ready":true`}, true, "-> 200"},
		{"a body that does not match fails", elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/", Headers: map[string]string{"X-Check": "yes"}, Body: `"status":"red"`}, false, "green"},
		{"a command sees the release's facts", elevator.ReleaseTest{Kind: elevator.TestCommand, Command: []string{"sh", "-c", `echo "v=$ELEVATOR_VERSION url=$ELEVATOR_TEST_URL key=$AWS_SECRET_ACCESS_KEY"`}}, true, "v=1.4.2 url=" + srv.URL + " key=\n"},
		{"a command that exits non-zero fails", elevator.ReleaseTest{Kind: elevator.TestCommand, Command: []string{"sh", "-c", "echo broken; exit 3"}}, false, "broken"},
		{"a command past its timeout fails", elevator.ReleaseTest{Kind: elevator.TestCommand, TimeoutSeconds: 1, Command: []string{"sleep", "10"}}, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := LocalTester{}.Test(context.Background(), tt.test, env)
			if got.Passed != tt.pass || !strings.Contains(got.Output, tt.out) {
				t.Errorf("Test = %+v, want passed %v with %q in the output", got, tt.pass, tt.out)
			}
		})
	}
}

func TestAnSSMTestRunsOnANewInstance(t *testing.T) {
	w := newWorld(t)
	rel := w.release(gated, func(r *elevator.Release) {
		r.Tests.Smoke = []elevator.ReleaseTest{{Name: "local", Kind: elevator.TestSSM, Command: []string{"curl -fsS localhost:8080/health"}}}
	})
	rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
	assertPath(t, rec, gatedPath)
	cmds := w.clouds["us-east-1"].commands
	if len(cmds) != 1 || !strings.HasSuffix(cmds[0], ": curl -fsS localhost:8080/health") {
		t.Errorf("commands run %q", cmds)
	}
	g, _, _ := w.clouds["us-east-1"].group(GroupName(rel, "web"))
	if !strings.HasPrefix(cmds[0], g.Instances[0].ID+":") {
		t.Errorf("ran on %q, want an instance of the new group %v", cmds[0], g.Instances)
	}
}

func TestRetryTestsIsRefusedUnlessFailedTestsWait(t *testing.T) {
	w := newWorld(t)
	e := w.gatedEngine("engine-1", &fakeTester{})
	rel := w.release(gated)
	rec := w.run(e, rel)
	if _, err := e.RetryTests(context.Background(), rel.ID, "erin"); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Errorf("retry-tests of a release that ended %s: %v, want a conflict", rec.State, err)
	}
	if _, err := e.RetryTests(context.Background(), "20261123-120000-ffffffff", "erin"); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("retry-tests of an unknown release: %v, want not found", err)
	}
	// While failed tests wait, it is taken, audited, and asks for the next round.
	w2 := newWorld(t)
	rel2 := w2.release(gated, func(r *elevator.Release) { r.Tests.RetrySeconds = 600 })
	e2 := w2.gatedEngine("engine-1", &fakeTester{fail: func(elevator.ReleaseTest, int) string { return "503" }})
	var round int
	var rerr error
	w2.store.afterPut = func(r elevator.ReleaseRecord) {
		if !r.TestsFailedAt.IsZero() && round == 0 && rerr == nil {
			round, rerr = e2.RetryTests(context.Background(), rel2.ID, "erin")
		}
	}
	w2.run(e2, rel2)
	if rerr != nil || round != 1 {
		t.Errorf("RetryTests = %d, %v; want round 1", round, rerr)
	}
	if !slices.ContainsFunc(w2.store.audits(), func(a elevator.AuditEntry) bool { return a.Action == elevator.AuditRetryTests && a.By == "erin" }) {
		t.Error("retry-tests not audited")
	}
}

func TestARollbackDuringTheBakeHaltsTheReleaseAndPutsTheOldGroupsBack(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		e := w.gatedEngine("engine-1", &fakeTester{})
		rel := w.release(gated)
		var id string
		var err error
		w.store.afterPut = func(rec elevator.ReleaseRecord) {
			switch {
			case rec.State == CH && id == "":
				// Not at its gates yet: a rollback is a new release.
				if got, gerr := e.RollBackInGates(context.Background(), app, orbit, "erin", "bad numbers"); got != "" || gerr != nil {
					t.Errorf("RollBackInGates in CheckHealthy = %q, %v; want nothing done", got, gerr)
				}
			case rec.State == BK && id == "":
				id, err = e.RollBackInGates(context.Background(), app, orbit, "erin", "bad numbers")
			}
		}
		rec := w.run(e, rel)
		if err != nil || id != rel.ID {
			t.Fatalf("RollBackInGates = %q, %v; want the release", id, err)
		}
		assertPath(t, rec, path(V, L, VR, D, CH, ST, CO, IT, BK, RB, CUF, U, FC))
		assertFailure(t, rec, elevator.FailureHalted)
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
	})
}

// TestALockLostAtAGateTurnsTheReleaseBack kills the engine in each gate,
// breaks the lock, and resumes: the gates move the release forward, so it
// turns back by their failure transitions, old groups serving.
func TestALockLostAtAGateTurnsTheReleaseBack(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		for _, tt := range []struct {
			at   State
			path []State
		}{
			{ST, path(V, L, VR, D, CH, ST, CUF, U, FC)},
			{IT, path(V, L, VR, D, CH, ST, CO, IT, RB, CUF, U, FC)},
			{BK, path(V, L, VR, D, CH, ST, CO, IT, BK, RB, CUF, U, FC)},
		} {
			t.Run("dead in "+string(tt.at), func(t *testing.T) {
				w := newWorldOn(t, r)
				rel := w.release(gated)
				ctx, crash := context.WithCancel(context.Background())
				defer crash()
				w.store.afterPut = func(rec elevator.ReleaseRecord) {
					if rec.State == tt.at {
						crash()
					}
				}
				e1 := w.gatedEngine("engine-1", &fakeTester{})
				if _, err := e1.Run(ctx, rel.ID, w.submit(e1, rel)); !errors.Is(err, context.Canceled) {
					t.Fatalf("Run = %v, want the engine to die", err)
				}
				w.store.afterPut = nil
				_, _ = w.locker.Break(context.Background(), app, orbit)
				w.clock.Advance(lease + time.Second)
				rec, err := w.gatedEngine("engine-2", &fakeTester{}).Resume(context.Background(), rel.ID, "ops")
				if err != nil {
					t.Fatal(err)
				}
				assertPath(t, rec, tt.path)
				assertFailure(t, rec, elevator.FailureLockLost)
				w.assertOnly(only(oldGroup))
				w.assertServing(oldGroup)
				w.assertNoTestTargetGroup()
			})
		}
	})
}

func TestAnAlarmChangeIsStoredWhenItIsSeenNotAtTheNextTransition(t *testing.T) {
	w := newWorld(t)
	rel := w.release(gated)
	c := w.clouds["us-east-1"]
	c.setAlarm(watched, elevator.AlarmOK)
	var storedInBake []string
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == BK && len(storedInBake) == 0 {
			c.setAlarmAt(watched, elevator.AlarmInsufficient, w.clock.Now().Add(20*time.Second))
		}
		if rec.State == BK {
			a := rec.Alarms[len(rec.Alarms)-1]
			storedInBake = append(storedInBake, a.From+"->"+a.To)
		}
	}
	rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
	assertPath(t, rec, gatedPath)
	if !slices.Equal(storedInBake, []string{"->OK", "OK->INSUFFICIENT_DATA"}) {
		t.Errorf("records stored in Bake end with alarm changes %v, want the first look, then the change while baking", storedInBake)
	}
}

// TestARollBackNeverLeavesTheTargetGroupWithoutAHealthyTarget fails the
// integration test with targets that take a while to pass their health
// checks once attached (the in-memory cloud's warmup: moto's targets are
// healthy at once, so it cannot show this). After every call to the
// cloud, the web target group must have a healthy target: the new groups
// leave only once the old ones serve again.
func TestARollBackNeverLeavesTheTargetGroupWithoutAHealthyTarget(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		c := w.clouds["us-east-1"]
		c.warmup = 15 * time.Second
		var empty []string
		c.hook = func(op string) {
			if n := c.healthyIn(tg("us-east-1")); n == 0 {
				empty = append(empty, op)
			}
		}
		tester := &fakeTester{fail: func(t elevator.ReleaseTest, _ int) string {
			if t.Name == "checkout" {
				return "payment provider said no"
			}
			return ""
		}}
		rel := w.release(gated)
		rec := w.run(w.gatedEngine("engine-1", tester), rel)
		assertPath(t, rec, path(V, L, VR, D, CH, ST, CO, IT, RB, CUF, U, FC))
		if len(empty) > 0 {
			t.Errorf("the target group had no healthy target after %v", empty)
		}
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
	})
}

// tgNamePattern is ELBv2's rule for target group names: 1 to 32
// letters, digits and hyphens, neither first nor last a hyphen.
var tgNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

func TestTheTestTargetGroupNameFollowsAWSRules(t *testing.T) {
	for _, tt := range []struct{ name, id, service, want string }{
		{"a release and a service", "20261123-120000-9f86d081", "web", "t-9f86d081-web"},
		{"a service of twenty characters", "20261123-120000-9f86d081", "a-service-of-twenty", "t-9f86d081-a-service-of-twenty"},
		{"a service that ends with a hyphen", "20261123-120000-9f86d081", "web-", ""},
		{"a longer id than today's", "20261123-120000-9f86d0819f86d0819f86d081", "checkout-api", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := TestTargetGroupName(tt.id, tt.service)
			if !tgNamePattern.MatchString(got) {
				t.Errorf("TestTargetGroupName(%q, %q) = %q: not a target group name AWS accepts", tt.id, tt.service, got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("TestTargetGroupName(%q, %q) = %q, want %q", tt.id, tt.service, got, tt.want)
			}
		})
	}
}

// FuzzTestTargetGroupName checks that every name is one AWS accepts, and
// that two services of a release never share one.
func FuzzTestTargetGroupName(f *testing.F) {
	f.Add("20261123-120000-9f86d081", "web", "worker")
	f.Add("20261123-120000-9f86d081", "web-", "web")
	f.Add("20261123-120000-9f86d0819f86d0819f86d081", "checkout-api-eu-west", "checkout-api-eu-west-")
	f.Add("", "-", "--")
	f.Fuzz(func(t *testing.T, id, a, b string) {
		na, nb := TestTargetGroupName(id, a), TestTargetGroupName(id, b)
		for _, n := range []string{na, nb} {
			if !tgNamePattern.MatchString(n) {
				t.Fatalf("TestTargetGroupName(%q, ...) = %q: not a target group name AWS accepts", id, n)
			}
		}
		if a != b && na == nb {
			t.Errorf("services %q and %q of %q share the name %q", a, b, id, na)
		}
		if again := TestTargetGroupName(id, a); again != na {
			t.Errorf("the name of %q changed from %q to %q", a, na, again)
		}
	})
}

// TestASecretCutWhereOutputIsCutLeavesNoPrefixInTheRecord runs a command
// test that prints a secret across the old 4 KiB cut and across the
// capture limit: no part of it may reach the record.
func TestASecretCutWhereOutputIsCutLeavesNoPrefixInTheRecord(t *testing.T) {
	const secret = "tok-ABCDEFGHIJKLMNOP"
	t.Setenv("DEPLOY_API_TOKEN", secret)
	for _, at := range []int{elevator.MaxTestOutput - 8, elevator.MaxTestOutput/2 - 8, elevator.MaxTestCapture - 8} {
		t.Run(fmt.Sprintf("at byte %d", at), func(t *testing.T) {
			w := newWorld(t)
			rel := w.release(gated, func(r *elevator.Release) {
				r.Tests.Smoke = []elevator.ReleaseTest{{Name: "chatty", Kind: elevator.TestCommand,
					Command: []string{"sh", "-c", fmt.Sprintf(`yes x | tr -d '\n' | head -c %d; printf '%s'; yes y | tr -d '\n' | head -c 100; exit 1`, at, secret)}}}
			})
			rec := w.run(w.gatedEngine("engine-1", LocalTester{}), rel)
			assertFailure(t, rec, elevator.FailureTest)
			out := rec.Tests[0].Output
			if !strings.Contains(out, "xxxx") {
				t.Fatalf("output %.60q... is not the command's", out)
			}
			if strings.Contains(out, secret[:6]) {
				t.Errorf("the record holds the beginning of the secret: ...%q", out[max(0, strings.Index(out, secret[:6])-10):][:30])
			}
		})
	}
}

// TestASecretSSMCutLeavesNoPrefixInTheRecord: SSM keeps 24,000
// characters of a command's output, cut before the engine can redact it
// (the in-memory cloud answers as SSM would; moto runs no commands).
func TestASecretSSMCutLeavesNoPrefixInTheRecord(t *testing.T) {
	const secret = "tok-ABCDEFGHIJKLMNOP"
	t.Setenv("DEPLOY_API_TOKEN", secret)
	w := newWorld(t)
	w.clouds["us-east-1"].commandOutput = &CommandResult{Stdout: strings.Repeat("x", 23990) + secret[:10], StdoutCut: true, Stderr: "warning: " + secret, Status: "Failed"}
	rel := w.release(gated, func(r *elevator.Release) {
		r.Tests.Smoke = []elevator.ReleaseTest{{Name: "local", Kind: elevator.TestSSM, Command: []string{"./long-report.sh"}}}
	})
	rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
	assertFailure(t, rec, elevator.FailureTest)
	out := rec.Tests[0].Output
	if !strings.Contains(out, "warning: [redacted]") {
		t.Errorf("output %q... lacks the redacted error stream", out[len(out)-80:])
	}
	if strings.Contains(out, secret[:6]) {
		t.Errorf("the record holds the beginning of the secret: %q", out)
	}
}
