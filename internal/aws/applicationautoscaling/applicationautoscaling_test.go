package applicationautoscaling

// The calls run against a real moto server (emulatortest), on an ECS
// service made with the SDK (moto checks that a scalable target's service
// exists), and are read back with the SDK.

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aassdk "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func TestAServicesScalableTargetPoliciesAndActionsArePutFoundAndDeleted(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	e := ecssdk.NewFromConfig(cfg)
	if _, err := e.CreateCluster(ctx, &ecssdk.CreateClusterInput{ClusterName: aws.String("elevator-prod")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateService(ctx, &ecssdk.CreateServiceInput{Cluster: aws.String("elevator-prod"), ServiceName: aws.String("web-1"), DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	c, api := New(cfg), aassdk.NewFromConfig(cfg)
	id := ServiceTarget("elevator-prod", "web-1")
	if id != "service/elevator-prod/web-1" {
		t.Fatalf("resource id %s", id)
	}
	if err := c.RegisterScalableTarget(ctx, Target{ResourceID: ServiceTarget("elevator-prod", "nothing"), Min: 1, Max: 2}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a target of a missing service: %v", err)
	}
	if _, err := c.ScalableTarget(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("before registering: %v", err)
	}
	if err := c.RegisterScalableTarget(ctx, Target{ResourceID: id, Min: 2, Max: 6}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ScalableTarget(ctx, id); err != nil || got != (Target{ResourceID: id, Min: 2, Max: 6}) {
		t.Errorf("target %+v, %v", got, err)
	}
	// Suspended and resumed: the three flags, read back with the SDK,
	// and the bounds kept, also by a register that does not name them.
	for _, suspend := range []bool{true, false} {
		if err := c.Suspend(ctx, id, suspend); err != nil {
			t.Fatal(err)
		}
		if suspend {
			if err := c.RegisterScalableTarget(ctx, Target{ResourceID: id, Min: 2, Max: 6}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := api.DescribeScalableTargets(ctx, &aassdk.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{id}})
		if err != nil || len(out.ScalableTargets) != 1 {
			t.Fatalf("%+v, %v", out, err)
		}
		st := out.ScalableTargets[0].SuspendedState
		if st == nil || aws.ToBool(st.DynamicScalingInSuspended) != suspend || aws.ToBool(st.DynamicScalingOutSuspended) != suspend ||
			aws.ToBool(st.ScheduledScalingSuspended) != suspend {
			t.Errorf("suspended %v: state %+v", suspend, st)
		}
		if got, err := c.ScalableTarget(ctx, id); err != nil || got != (Target{ResourceID: id, Min: 2, Max: 6, Suspended: suspend}) {
			t.Errorf("suspended %v: target %+v, %v", suspend, got, err)
		}
	}

	if _, err := c.PutTargetTrackingPolicy(ctx, id, TargetTrackingPolicy{Name: "web-1-policy-0", Target: 55}); err != nil {
		t.Fatal(err)
	}
	arn, err := c.PutStepPolicy(ctx, id, StepPolicy{Name: "web-1-policy-1", Steps: []Step{{Lower: 0, Upper: math.Inf(1), Adjustment: 2}}, Cooldown: 2 * time.Minute})
	if err != nil || arn == "" {
		t.Fatalf("step policy %q, %v", arn, err)
	}
	pol, err := api.DescribeScalingPolicies(ctx, &aassdk.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(id)})
	if err != nil || len(pol.ScalingPolicies) != 2 {
		t.Fatalf("policies %+v, %v", pol, err)
	}
	for _, p := range pol.ScalingPolicies {
		switch aws.ToString(p.PolicyName) {
		case "web-1-policy-0":
			tt := p.TargetTrackingScalingPolicyConfiguration
			if p.PolicyType != aastypes.PolicyTypeTargetTrackingScaling || tt == nil || aws.ToFloat64(tt.TargetValue) != 55 ||
				tt.PredefinedMetricSpecification.PredefinedMetricType != aastypes.MetricTypeECSServiceAverageCPUUtilization {
				t.Errorf("target tracking policy %+v", p)
			}
		case "web-1-policy-1":
			st := p.StepScalingPolicyConfiguration
			if p.PolicyType != aastypes.PolicyTypeStepScaling || st == nil || aws.ToInt32(st.Cooldown) != 120 || len(st.StepAdjustments) != 1 ||
				aws.ToInt32(st.StepAdjustments[0].ScalingAdjustment) != 2 || aws.ToFloat64(st.StepAdjustments[0].MetricIntervalLowerBound) != 0 ||
				st.StepAdjustments[0].MetricIntervalUpperBound != nil {
				t.Errorf("step policy %+v", p)
			}
		default:
			t.Errorf("unexpected policy %s", aws.ToString(p.PolicyName))
		}
	}

	if err := c.PutScheduledAction(ctx, id, ScheduledAction{Name: "web-1-schedule-0", Cron: "0 8 * * 1-5", Desired: 4, Max: 6}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutScheduledAction(ctx, id, ScheduledAction{Name: "bad", Cron: "0 8 1 * 1", Desired: 4}); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("a cron with both day fields: %v", err)
	}
	acts, err := api.DescribeScheduledActions(ctx, &aassdk.DescribeScheduledActionsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(id)})
	if err != nil || len(acts.ScheduledActions) != 1 {
		t.Fatalf("actions %+v, %v", acts, err)
	}
	a := acts.ScheduledActions[0]
	if aws.ToString(a.Schedule) != "cron(0 8 ? * MON,TUE,WED,THU,FRI *)" || aws.ToInt32(a.ScalableTargetAction.MinCapacity) != 4 || aws.ToInt32(a.ScalableTargetAction.MaxCapacity) != 6 {
		t.Errorf("scheduled action %+v (%s)", a, aws.ToString(a.Schedule))
	}

	names, err := c.Policies(ctx, id)
	if err != nil || !slices.Equal(names, []string{"web-1-policy-0", "web-1-policy-1"}) {
		t.Errorf("policies %v, %v", names, err)
	}
	actions, err := c.ScheduledActions(ctx, id)
	if err != nil || !slices.Equal(actions, []string{"web-1-schedule-0"}) {
		t.Errorf("actions %v, %v", actions, err)
	}
	for _, n := range names {
		if err := c.DeletePolicy(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeleteScheduledAction(ctx, id, "web-1-schedule-0"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time, it is gone: nil
		if err := c.DeregisterScalableTarget(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if names, _ := c.Policies(ctx, id); len(names) != 0 {
		t.Errorf("policies left %v", names)
	}
	if found, err := c.ScalableTargets(ctx, []string{id}); err != nil || len(found) != 0 {
		t.Errorf("targets left %v, %v", found, err)
	}
}

func TestCronConvertsFiveFieldsToAWSsSixWithOneDayFieldAsked(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "0 8 * * *", want: "cron(0 8 * * ? *)"},
		{in: "*/15 * * * *", want: "cron(0/15 * * * ? *)"},
		{in: "0 */6 */2 */3 *", want: "cron(0 0/6 1/2 1/3 ? *)"},
		{in: "5,*/20 8 * * *", want: "cron(5,0/20 8 * * ? *)"},
		{in: "61 8 * * *", err: "minute"},
		{in: "0 24 * * *", err: "hour"},
		{in: "0 8 32 * *", err: "day of month"},
		{in: "0 8 0 * *", err: "day of month"},
		{in: "0 8 * 13 *", err: "month"},
		{in: "0 8 * * 9", err: "want 0-7"},
		{in: "0 8 * * 1-5", want: "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"},
		{in: "0 8 * * 0", want: "cron(0 8 ? * SUN *)"},
		{in: "0 8 * * 7", want: "cron(0 8 ? * SUN *)"},
		{in: "0 8 * * 5-7", want: "cron(0 8 ? * SUN,FRI,SAT *)"},
		{in: "0 8 * * 6,0", want: "cron(0 8 ? * SUN,SAT *)"},
		{in: "0 8 * * mon-fri", want: "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"},
		{in: "0 8 * * FRI-SUN", want: "cron(0 8 ? * SUN,FRI,SAT *)"},
		{in: "0 8 * * */2", want: "cron(0 8 ? * SUN,TUE,THU,SAT *)"},
		{in: "0 8 * * 1/2", want: "cron(0 8 ? * MON,WED,FRI *)"},
		{in: "0 8 * * 0-6", want: "cron(0 8 * * ? *)"},
		{in: "30 2 1 * *", want: "cron(30 2 1 * ? *)"},
		{in: "30 2 1,15 jan *", want: "cron(30 2 1,15 JAN ? *)"},
		{in: "30 2 ? * 1", want: "cron(30 2 ? * MON *)"},
		{in: "0 8 1 * 1", err: "restrict only one"},
		{in: "0 8 * *", err: "want 5 fields"},
		{in: "0 8 * * * *", err: "want 5 fields"},
		{in: "0 8 * * 8", err: "want 0-7"},
		{in: "0 8 * * 5-2", err: "runs backwards"},
		{in: "0 8 * * */0", err: "not a positive number"},
		{in: "0 8 * * FUN", err: "want 0-7"},
	} {
		got, err := Cron(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Cron(%q) = %q, %v; want an error saying %q", c.in, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("Cron(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzCron: any input converts or errors, never panics, and what
// converts is cron(...) of six fields with exactly one `?` day field.
func FuzzCron(f *testing.F) {
	for _, s := range []string{"0 8 * * 1-5", "*/5 * 1 * *", "0 0 * * 7", "0 8 * * 5-0/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Cron(in)
		if err != nil {
			return
		}
		if len(got) < 7 || got[:5] != "cron(" || got[len(got)-1] != ')' {
			t.Fatalf("Cron(%q) = %q", in, got)
		}
		fields := strings.Fields(got[5 : len(got)-1])
		if len(fields) != 6 || (fields[2] == "?") == (fields[4] == "?") {
			t.Fatalf("Cron(%q) = %q: want six fields with one ? day field", in, got)
		}
	})
}
