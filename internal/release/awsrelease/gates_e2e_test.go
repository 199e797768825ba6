package awsrelease

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cloudwatchsdk "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cloudwatchtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	snssdk "github.com/aws/aws-sdk-go-v2/service/sns"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/release"
)

// gatedApp is shop's web behind a load balancer with a test listener on
// port 9000 (answering 503, as the app stack makes it) in every region,
// and an alarm on web; it returns the test listeners by region and the
// alarm's name.
func (w *world) gatedApp(t testing.TB) (*app, map[string]string, string) {
	t.Helper()
	a := w.newApp("shop", []string{"web"}, "web")
	ctx := context.Background()
	listeners := map[string]string{}
	const alarm = "elevator-rel-shop-web-5xx_rate"
	for _, r := range w.regions {
		elb := elbv2sdk.NewFromConfig(w.cfg(r))
		lbs, err := elb.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{Names: []string{"shop-" + orbitName}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := elb.CreateListener(ctx, &elbv2sdk.CreateListenerInput{
			LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn, Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(9000),
			DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{
				StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no release under test")}}}})
		if err != nil {
			t.Fatalf("test listener: %v", err)
		}
		listeners[r] = aws.ToString(out.Listeners[0].ListenerArn)
		_, err = cloudwatchsdk.NewFromConfig(w.cfg(r), cloudwatch.QueryProtocol).PutMetricAlarm(ctx, &cloudwatchsdk.PutMetricAlarmInput{
			AlarmName: aws.String(alarm), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
			Statistic: cloudwatchtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
			ComparisonOperator: cloudwatchtypes.ComparisonOperatorGreaterThanOrEqualToThreshold})
		if err != nil {
			t.Fatalf("alarm: %v", err)
		}
		w.setAlarm(t, r, alarm, cloudwatchtypes.StateValueOk)
	}
	return a, listeners, alarm
}

func (w *world) setAlarm(t testing.TB, region, name string, state cloudwatchtypes.StateValue) {
	t.Helper()
	_, err := cloudwatchsdk.NewFromConfig(w.cfg(region), cloudwatch.QueryProtocol).SetAlarmState(context.Background(), &cloudwatchsdk.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: state, StateReason: aws.String("set by the test")})
	if err != nil {
		t.Fatalf("set alarm %s: %v", name, err)
	}
}

// gates gives a release a smoke test (a command run where the engine
// runs), a bake and the alarm, on the test listeners.
func gates(listeners map[string]string, alarm string, bake int) func(*elevator.Release) {
	return func(rel *elevator.Release) {
		rel.Tests = &elevator.ReleaseTests{
			Smoke:       []elevator.ReleaseTest{{Name: "facts", Kind: elevator.TestCommand, Command: []string{"sh", "-c", `test -n "$ELEVATOR_RELEASE_ID" && echo "$ELEVATOR_VERSION on $ELEVATOR_INSTANCES"`}}},
			BakeSeconds: bake,
			MissingData: elevator.MissingDataOK,
		}
		if alarm != "" {
			rel.Tests.Alarms = []string{alarm}
		}
		for i := range rel.Services[0].Placements {
			pl := &rel.Services[0].Placements[i]
			pl.TestListener = listeners[pl.Region]
		}
	}
}

// testSide is what ELBv2 says of a release's test target group and the
// test listener's default action.
func (w *world) testSide(t testing.TB, region, listener, releaseID string) (tg string, forwardsTo string) {
	t.Helper()
	ctx := context.Background()
	elb := elbv2sdk.NewFromConfig(w.cfg(region))
	out, err := elb.DescribeTargetGroups(ctx, &elbv2sdk.DescribeTargetGroupsInput{Names: []string{release.TestTargetGroupName(releaseID, "web")}})
	if err == nil && len(out.TargetGroups) > 0 {
		tg = aws.ToString(out.TargetGroups[0].TargetGroupArn)
	}
	ls, err := elb.DescribeListeners(ctx, &elbv2sdk.DescribeListenersInput{ListenerArns: []string{listener}})
	if err != nil {
		t.Fatal(err)
	}
	act := ls.Listeners[0].DefaultActions[0]
	if act.Type == elbv2types.ActionTypeEnumForward {
		forwardsTo = aws.ToString(act.TargetGroupArn)
	} else {
		forwardsTo = string(act.Type)
	}
	return tg, forwardsTo
}

// withEvents makes an events topic in every region and names it in the
// release's placements.
func (w *world) withEvents(t testing.TB) func(*elevator.Release) {
	t.Helper()
	topics := map[string]string{}
	for _, r := range w.regions {
		out, err := snssdk.NewFromConfig(w.cfg(r)).CreateTopic(context.Background(), &snssdk.CreateTopicInput{Name: aws.String(orbitName + "-info")})
		if err != nil {
			t.Fatal(err)
		}
		topics[r] = aws.ToString(out.TopicArn)
	}
	return func(rel *elevator.Release) {
		for i := range rel.Services[0].Placements {
			rel.Services[0].Placements[i].Events = topics[rel.Services[0].Placements[i].Region]
		}
	}
}

// withSSMTest adds a smoke test run on a new instance through SSM Run
// Command (moto answers it as a success without running anything).
func withSSMTest(rel *elevator.Release) {
	rel.Tests.Smoke = append(rel.Tests.Smoke, elevator.ReleaseTest{Name: "on-instance", Kind: elevator.TestSSM, Command: []string{"echo hi"}, TimeoutSeconds: 20})
}

func TestOnTheEmulatorTheTestListenerAndTestTargetGroupLastOnlyAsLongAsTheRelease(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a, listeners, alarm := w.gatedApp(t)
	events := w.withEvents(t)
	b := w.backend()
	first := w.release(a, "1.0.0")
	assertPath(t, w.run(t, w.engine(b, "engine-a"), first), happyPath...)

	var mu sync.Mutex
	during := map[string][2]string{}
	var rel *elevator.Release
	e := w.engine(b, "engine-b", func(c *release.Config) {
		c.Observe = func(rec elevator.ReleaseRecord) {
			if rec.State != elevator.StateSmokeTest {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range w.regions {
				tg, to := w.testSide(t, r, listeners[r], rel.ID)
				during[r] = [2]string{tg, to}
			}
		}
	})
	rel = w.release(a, "1.1.0", gates(listeners, alarm, 1), events, withSSMTest)
	rec := w.run(t, e, rel)
	assertPath(t, rec, elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
		elevator.StateCheckHealthy, elevator.StateSmokeTest, elevator.StateCutOver, elevator.StateBake, elevator.StateCleanUpSuccess,
		elevator.StateUnlock, elevator.StateSuccess)
	for i, r := range w.regions {
		d := during[r]
		if d[0] == "" || d[1] != d[0] {
			t.Errorf("%s during the smoke tests: test target group %q, test listener forwards to %q; want it to forward to the test target group", r, d[0], d[1])
		}
		if tg, to := w.testSide(t, r, listeners[r], rel.ID); tg != "" || to != string(elbv2types.ActionTypeEnumFixedResponse) {
			t.Errorf("%s after the release: test target group %q, test listener %q; want none, and the fixed answer", r, tg, to)
		}
		if rec.Regions[i].GreenReadyAt.IsZero() {
			t.Errorf("%s: green is ready not recorded", r)
		}
	}
	if len(rec.Tests) != 4 || slices.ContainsFunc(rec.Tests, func(x elevator.ReleaseTestResult) bool { return !x.Passed }) {
		t.Errorf("tests %+v, want both smoke tests passed in each region", rec.Tests)
	}
	for _, r := range w.regions {
		if n := rec.Calls["Cloud.Publish "+r]; n != 1 {
			t.Errorf("%s: %d events published, want green is ready once", r, n)
		}
	}
	if slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "could not publish") }) {
		t.Errorf("notes %q", rec.Notes)
	}
	w.assertServing(t, a, rel.ID)
}

func TestOnTheEmulatorAnAlarmSetDuringTheBakeRollsTheReleaseBack(t *testing.T) {
	w := newWorld(t, "us-east-1")
	a, listeners, alarm := w.gatedApp(t)
	b := w.backend()
	first := w.release(a, "1.0.0")
	assertPath(t, w.run(t, w.engine(b, "engine-a"), first), happyPath...)

	var mu sync.Mutex
	var alarmAt, backAt time.Time
	started := false
	e := w.engine(b, "engine-b", func(c *release.Config) {
		c.Observe = func(rec elevator.ReleaseRecord) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case rec.State == elevator.StateBake && !started:
				started = true
				go func() {
					time.Sleep(3 * testPoll)
					w.setAlarm(t, "us-east-1", alarm, cloudwatchtypes.StateValueAlarm)
					mu.Lock()
					alarmAt = time.Now()
					mu.Unlock()
				}()
			case rec.State == elevator.StateCleanUpFailure && backAt.IsZero():
				backAt = time.Now() // RollBack has put the old group back
			}
		}
	})
	rel := w.release(a, "1.1.0", gates(listeners, alarm, 600))
	rec := w.run(t, e, rel)
	assertPath(t, rec, elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
		elevator.StateCheckHealthy, elevator.StateSmokeTest, elevator.StateCutOver, elevator.StateBake, elevator.StateRollBack,
		elevator.StateCleanUpFailure, elevator.StateUnlock, elevator.StateFailureClean)
	if rec.Failure != elevator.FailureAlarm || rec.Alarms[len(rec.Alarms)-1].To != elevator.AlarmAlarm {
		t.Errorf("failure %q, alarm changes %+v; want the alarm", rec.Failure, rec.Alarms)
	}
	mu.Lock()
	rb := rec.Visits[len(rec.Visits)-4] // entering RollBack: the alarm seen
	fmt.Printf("figure: alarm state change to old group back in its target group: %s (poll %s): seen after %s, RollBack's calls and record %s\n",
		backAt.Sub(alarmAt).Round(time.Millisecond), testPoll, rb.Sub(alarmAt).Round(time.Millisecond), backAt.Sub(rb).Round(time.Millisecond))
	mu.Unlock()
	w.assertServing(t, a, first.ID)
	if tg, to := w.testSide(t, "us-east-1", listeners["us-east-1"], rel.ID); tg != "" || to != string(elbv2types.ActionTypeEnumFixedResponse) {
		t.Errorf("after the rollback: test target group %q, test listener %q", tg, to)
	}
}

// BenchmarkGates measures what the gates add to a healthy release on the
// emulator: one service behind a load balancer in one region, released
// without gates, and with a smoke test (a command) on the test listener
// and a bake of 0 s. It reports wall time, the engine's calls and the
// SDK's HTTP calls per release.
//
//	go test ./internal/release/awsrelease -run '^$' -bench Gates -benchtime 3x
func BenchmarkGates(b *testing.B) {
	for _, gated := range []bool{false, true} {
		b.Run(fmt.Sprintf("gates=%v", gated), func(b *testing.B) {
			w := newWorld(b, "us-east-1")
			a, listeners, _ := w.gatedApp(b)
			counter := newCountingClient()
			c := w.cfg("us-east-1")
			c.HTTPClient = counter
			e := w.engine(w.backend(c), "bench")
			// The first release, off the clock, has no gates.
			f := measureReleases(b, w, e, counter, func(i int) *elevator.Release {
				var change []func(*elevator.Release)
				if gated && i > 0 {
					change = append(change, gates(listeners, "", 0))
				}
				return w.release(a, fmt.Sprint(i), change...)
			})
			b.Logf("HTTP calls by operation over %d release(s): %v", b.N, f.ops)
		})
	}
}
