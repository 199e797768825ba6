package autoscaling

// These tests run against a real moto server (emulatortest), each in an
// account of its own, with the network, load balancer and launch template
// a release finds in place made directly with the SDK. Where moto cannot
// show a behaviour (AWS's AlreadyExists and ResourceInUse answers), fake_test.go
// shows it with a fake behind the same api interface.

import (
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// fixture is what a release finds in place: two subnets, a load balancer
// with a target group behind a listener, and a launch template.
type fixture struct {
	asg     *Client
	api     *autoscalingsdk.Client // to check from outside what asg did
	ec2     *ec2sdk.Client
	elb     *elbv2.Client
	subnets []string
	tg      string
	lt      string
}

func newFixture(t *testing.T, region string) fixture {
	t.Helper()
	cfg := emulatortest.Config(t, region)
	ctx := context.Background()
	ec2c, elbc := ec2sdk.NewFromConfig(cfg), elbv2sdk.NewFromConfig(cfg)
	f := fixture{asg: New(cfg), api: autoscalingsdk.NewFromConfig(cfg), ec2: ec2c, elb: elbv2.New(cfg)}

	vpc, err := ec2c.CreateVpc(ctx, &ec2sdk.CreateVpcInput{CidrBlock: aws.String("10.7.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	zones, err := ec2c.DescribeAvailabilityZones(ctx, &ec2sdk.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i, cidr := range []string{"10.7.1.0/24", "10.7.2.0/24"} {
		s, err := ec2c.CreateSubnet(ctx, &ec2sdk.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr), AvailabilityZone: zones.AvailabilityZones[i].ZoneName})
		if err != nil {
			t.Fatal(err)
		}
		f.subnets = append(f.subnets, aws.ToString(s.Subnet.SubnetId))
	}
	lb, err := elbc.CreateLoadBalancer(ctx, &elbv2sdk.CreateLoadBalancerInput{Name: aws.String("shop-web"), Subnets: f.subnets})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := elbc.CreateTargetGroup(ctx, &elbv2sdk.CreateTargetGroupInput{Name: aws.String("shop-web"), Port: aws.Int32(8080), Protocol: elbv2types.ProtocolEnumHttp, VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	f.tg = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := elbc.CreateListener(ctx, &elbv2sdk.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Port: aws.Int32(80), Protocol: elbv2types.ProtocolEnumHttp,
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(f.tg)}},
	}); err != nil {
		t.Fatal(err)
	}
	images, err := ec2c.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("no image: %v", err)
	}
	lt, err := ec2c.CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("shop-web-r1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: images.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.lt = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	return f
}

func (f fixture) input(name, release string) CreateGroupInput {
	return CreateGroupInput{
		Name: name, LaunchTemplateID: f.lt, LaunchTemplateVersion: "1",
		SubnetIDs: f.subnets, TargetGroupARNs: []string{f.tg},
		Min: 2, Max: 4, Desired: 2,
		HealthCheckType: HealthCheckELB, HealthCheckGracePeriod: 2 * time.Minute,
		Tags: map[string]string{elevator.TagApp: "shop", elevator.TagService: "web", elevator.TagRelease: release},
	}
}

// instances reads instances from EC2 itself, as a check from outside.
func (f fixture) instances(t *testing.T, ids []string) []ec2types.Instance {
	t.Helper()
	out, err := f.ec2.DescribeInstances(context.Background(), &ec2sdk.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	var is []ec2types.Instance
	for _, r := range out.Reservations {
		is = append(is, r.Instances...)
	}
	if len(is) != len(ids) {
		t.Fatalf("EC2 has %d of instances %v", len(is), ids)
	}
	return is
}

func ids(is []Instance) []string {
	var out []string
	for _, i := range is {
		out = append(out, i.ID)
	}
	sort.Strings(out)
	return out
}

func names(gs []Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	sort.Strings(out)
	return out
}

func isCode(err error, code string, sentinel error) bool {
	return elevator.ErrorCode(err) == code && errors.Is(err, sentinel)
}

func TestAGroupIsCreatedOnceFoundByItsTagsAndDeleted(t *testing.T) {
	f := newFixture(t, "us-east-1")
	ctx := context.Background()
	in := f.input("shop-web-r1", "r1")
	if err := f.asg.CreateGroup(ctx, in); err != nil {
		t.Fatal(err)
	}
	worker := f.input("shop-worker-r1", "r1")
	worker.Tags[elevator.TagService] = "worker"
	worker.TargetGroupARNs = nil
	if err := f.asg.CreateGroup(ctx, worker); err != nil {
		t.Fatal(err)
	}

	g, err := f.asg.Group(ctx, in.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the group is as asked", func(t *testing.T) {
		if g.ARN == "" || g.Min != 2 || g.Max != 4 || g.Desired != 2 || g.HealthCheckType != HealthCheckELB || g.HealthCheckGracePeriod != 2*time.Minute {
			t.Errorf("group %+v", g)
		}
		if g.LaunchTemplate.ID != f.lt || g.LaunchTemplate.Name != "shop-web-r1" || g.LaunchTemplate.Version != "1" {
			t.Errorf("launch template %+v", g.LaunchTemplate)
		}
		if !reflect.DeepEqual(g.SubnetIDs, f.subnets) || !reflect.DeepEqual(g.TargetGroupARNs, []string{f.tg}) || !reflect.DeepEqual(g.Tags, in.Tags) {
			t.Errorf("subnets %v, target groups %v, tags %v", g.SubnetIDs, g.TargetGroupARNs, g.Tags)
		}
		if g.CreatedTime.IsZero() || g.Deleting() {
			t.Errorf("created %v, status %q", g.CreatedTime, g.Status)
		}
	})
	t.Run("its instances are in service at once in moto", func(t *testing.T) {
		if len(g.Instances) != 2 || len(g.InService()) != 2 || len(g.Terminating()) != 0 {
			t.Fatalf("instances %+v", g.Instances)
		}
		for _, i := range g.Instances {
			if i.AZ == "" || i.LifecycleState != InService || i.HealthStatus != Healthy || i.LaunchTemplate.ID != f.lt {
				t.Errorf("instance %+v", i)
			}
		}
		for _, i := range f.instances(t, ids(g.Instances)) {
			tags := map[string]string{}
			for _, tag := range i.Tags {
				tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if tags[elevator.TagRelease] != "r1" || tags["aws:autoscaling:groupName"] != in.Name {
				t.Errorf("instance %s tags %v, want the group's tags propagated", aws.ToString(i.InstanceId), tags)
			}
		}
	})
	t.Run("creating it again is a conflict and changes nothing", func(t *testing.T) {
		err := f.asg.CreateGroup(ctx, in)
		if !isCode(err, elevator.ECONFLICT, ErrGroupExists) {
			t.Fatalf("got %v (code %q), want ECONFLICT wrapping ErrGroupExists", err, elevator.ErrorCode(err))
		}
		again, err := f.asg.Group(ctx, in.Name)
		if err != nil || !slices.Equal(ids(again.Instances), ids(g.Instances)) {
			t.Errorf("instances %v after a second create, want %v", ids(again.Instances), ids(g.Instances))
		}
	})
	for _, tc := range []struct {
		test string
		tags map[string]string
		want []string
	}{
		{"its release's tag finds both services", map[string]string{elevator.TagRelease: "r1"}, []string{"shop-web-r1", "shop-worker-r1"}},
		{"every tag must match", map[string]string{elevator.TagRelease: "r1", elevator.TagService: "web"}, []string{"shop-web-r1"}},
		{"another release's tag finds nothing", map[string]string{elevator.TagRelease: "r2"}, nil},
		{"an unrelated tag finds nothing", map[string]string{"team": "payments"}, nil},
	} {
		t.Run(tc.test, func(t *testing.T) {
			groups, err := f.asg.Groups(ctx, tc.tags)
			if err != nil || !slices.Equal(names(groups), tc.want) {
				t.Errorf("got %v, %v; want %v", names(groups), err, tc.want)
			}
		})
	}
	t.Run("finding by no tags is refused rather than listing every group", func(t *testing.T) {
		if _, err := f.asg.Groups(ctx, nil); elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("got %v, want EINVALID", err)
		}
	})
	t.Run("capacity is set in one call", func(t *testing.T) {
		if err := f.asg.SetCapacity(ctx, in.Name, Capacity{Min: 3, Max: 5, Desired: 3}); err != nil {
			t.Fatal(err)
		}
		g, err := f.asg.Group(ctx, in.Name)
		if err != nil || g.Min != 3 || g.Max != 5 || g.Desired != 3 || len(g.InService()) != 3 {
			t.Errorf("group %d/%d/%d with %d in service, %v; want 3/5/3 with 3", g.Min, g.Max, g.Desired, len(g.InService()), err)
		}
	})
	t.Run("deleting it with force removes it and its instances, twice", func(t *testing.T) {
		before, _ := f.asg.Group(ctx, in.Name)
		for range 2 {
			if err := f.asg.DeleteGroup(ctx, in.Name, true); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.asg.Group(ctx, in.Name); !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
			t.Errorf("group after delete: %v, want ENOTFOUND", err)
		}
		for _, i := range f.instances(t, ids(before.Instances)) {
			if i.State == nil || i.State.Name != ec2types.InstanceStateNameTerminated {
				t.Errorf("instance %s is %+v, want terminated", aws.ToString(i.InstanceId), i.State)
			}
		}
	})
	for _, tc := range []struct {
		test string
		call func() error
	}{
		{"setting the capacity of a missing group", func() error { return f.asg.SetCapacity(ctx, "nope", Capacity{Max: 1}) }},
		{"reading a missing group", func() error { _, err := f.asg.Group(ctx, "nope"); return err }},
	} {
		t.Run(tc.test+" is not found", func(t *testing.T) {
			if err := tc.call(); !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
				t.Errorf("got %v (code %q), want ENOTFOUND wrapping ErrNotFound", err, elevator.ErrorCode(err))
			}
		})
	}
}

func TestTargetHealthFollowsTheGroupsTargetGroupsAndInstances(t *testing.T) {
	f := newFixture(t, "eu-west-1")
	ctx := context.Background()
	in := f.input("shop-web-r2", "r2")
	in.TargetGroupARNs = nil // attached below, as a release does once instances are up
	if err := f.asg.CreateGroup(ctx, in); err != nil {
		t.Fatal(err)
	}
	g, err := f.asg.Group(ctx, in.Name)
	if err != nil {
		t.Fatal(err)
	}
	members := ids(g.Instances)
	health := func() map[string]elbv2.TargetState {
		t.Helper()
		hs, err := f.elb.TargetHealth(ctx, f.tg, members...)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]elbv2.TargetState{}
		for _, h := range hs {
			m[h.InstanceID] = h.State
		}
		return m
	}
	all := func(s elbv2.TargetState) map[string]elbv2.TargetState {
		m := map[string]elbv2.TargetState{}
		for _, id := range members {
			m[id] = s
		}
		return m
	}

	for _, step := range []struct {
		test string
		do   func() error
		want map[string]elbv2.TargetState
	}{
		{"before attaching, the instances are unused", func() error { return nil }, all(elbv2.Unused)},
		{"attaching the target group makes them healthy", func() error { return f.asg.AttachTargetGroups(ctx, in.Name, []string{f.tg}) }, all(elbv2.Healthy)},
		{"attaching it again changes nothing", func() error { return f.asg.AttachTargetGroups(ctx, in.Name, []string{f.tg}) }, all(elbv2.Healthy)},
		{"a stopped instance is unused", func() error {
			_, err := f.ec2.StopInstances(ctx, &ec2sdk.StopInstancesInput{InstanceIds: members[:1]})
			return err
		},
			map[string]elbv2.TargetState{members[0]: elbv2.Unused, members[1]: elbv2.Healthy}},
		{"detaching the target group deregisters them", func() error { return f.asg.DetachTargetGroups(ctx, in.Name, []string{f.tg}) }, all(elbv2.Unused)},
	} {
		t.Run(step.test, func(t *testing.T) {
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			if got := health(); !reflect.DeepEqual(got, step.want) {
				t.Errorf("got %v, want %v", got, step.want)
			}
		})
	}
	g, err = f.asg.Group(ctx, in.Name)
	if err != nil || len(g.TargetGroupARNs) != 0 {
		t.Errorf("target groups after detaching: %v, %v", g.TargetGroupARNs, err)
	}
}

func TestPoliciesScheduledActionsAndHooksArePutAndReadBack(t *testing.T) {
	f := newFixture(t, "us-west-2")
	ctx := context.Background()
	in := f.input("shop-web-r3", "r3")
	if err := f.asg.CreateGroup(ctx, in); err != nil {
		t.Fatal(err)
	}

	t.Run("scaling policies", func(t *testing.T) {
		cpu := TargetTrackingPolicy{Name: "cpu", Target: 50, Warmup: 3 * time.Minute}
		cpuARN, err := f.asg.PutTargetTrackingPolicy(ctx, in.Name, cpu)
		if err != nil || cpuARN == "" {
			t.Fatalf("target tracking: %q, %v", cpuARN, err)
		}
		step := StepPolicy{Name: "scale-out", Steps: []Step{
			{Lower: 0, Upper: 20, Adjustment: 1},
			{Lower: 20, Upper: math.Inf(1), Adjustment: 2},
		}}
		stepARN, err := f.asg.PutStepPolicy(ctx, in.Name, step)
		if err != nil || stepARN == "" || stepARN == cpuARN {
			t.Fatalf("step: %q, %v", stepARN, err)
		}
		// Read back from Auto Scaling itself.
		out, err := f.api.DescribePolicies(ctx, &autoscalingsdk.DescribePoliciesInput{AutoScalingGroupName: aws.String(in.Name)})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]autoscalingtypes.ScalingPolicy{}
		for _, p := range out.ScalingPolicies {
			byName[aws.ToString(p.PolicyName)] = p
		}
		if len(byName) != 2 {
			t.Fatalf("policies %v, want cpu and scale-out", slices.Sorted(maps.Keys(byName)))
		}
		tt := byName["cpu"]
		if aws.ToString(tt.PolicyARN) != cpuARN || aws.ToString(tt.PolicyType) != string(TargetTrackingScaling) ||
			aws.ToInt32(tt.EstimatedInstanceWarmup) != 180 || tt.TargetTrackingConfiguration == nil ||
			aws.ToFloat64(tt.TargetTrackingConfiguration.TargetValue) != 50 ||
			tt.TargetTrackingConfiguration.PredefinedMetricSpecification == nil ||
			tt.TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType != autoscalingtypes.MetricType(CPUUtilization) {
			t.Errorf("target tracking policy %+v", tt)
		}
		st := byName["scale-out"]
		type adj struct {
			lower, upper *float64
			by           int32
		}
		var steps []adj
		for _, a := range st.StepAdjustments {
			steps = append(steps, adj{a.MetricIntervalLowerBound, a.MetricIntervalUpperBound, aws.ToInt32(a.ScalingAdjustment)})
		}
		wantSteps := []adj{{aws.Float64(0), aws.Float64(20), 1}, {aws.Float64(20), nil, 2}}
		if aws.ToString(st.PolicyARN) != stepARN || aws.ToString(st.PolicyType) != string(StepScaling) ||
			aws.ToString(st.AdjustmentType) != string(ChangeInCapacity) || aws.ToString(st.MetricAggregationType) != "Average" ||
			!reflect.DeepEqual(steps, wantSteps) {
			t.Errorf("step policy %+v, steps %+v", st, steps)
		}
	})
	t.Run("scheduled actions", func(t *testing.T) {
		two, four := 2, 4
		a := ScheduledAction{Name: "business-hours", Recurrence: "0 8 * * 1-5", TimeZone: "Europe/Berlin", Min: &two, Max: &four, Desired: &four}
		if err := f.asg.PutScheduledAction(ctx, in.Name, a); err != nil {
			t.Fatal(err)
		}
		out, err := f.api.DescribeScheduledActions(ctx, &autoscalingsdk.DescribeScheduledActionsInput{AutoScalingGroupName: aws.String(in.Name)})
		if err != nil || len(out.ScheduledUpdateGroupActions) != 1 {
			t.Fatalf("%+v, %v", out, err)
		}
		got := out.ScheduledUpdateGroupActions[0]
		if aws.ToString(got.ScheduledActionName) != a.Name || aws.ToString(got.Recurrence) != a.Recurrence || aws.ToString(got.TimeZone) != a.TimeZone ||
			aws.ToInt32(got.MinSize) != 2 || aws.ToInt32(got.MaxSize) != 4 || aws.ToInt32(got.DesiredCapacity) != 4 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("lifecycle hooks", func(t *testing.T) {
		h := LifecycleHook{
			Name: "drain", Transition: TerminatingTransition, Heartbeat: 5 * time.Minute, DefaultResult: Continue,
			NotificationTargetARN: "arn:aws:sns:us-west-2:123456789012:drain", RoleARN: "arn:aws:iam::123456789012:role/drain",
		}
		if err := f.asg.PutLifecycleHook(ctx, in.Name, h); err != nil {
			t.Fatal(err)
		}
		hooks, err := f.asg.LifecycleHooks(ctx, in.Name)
		if err != nil || len(hooks) != 1 {
			t.Fatalf("%+v, %v", hooks, err)
		}
		// moto keeps the name, transition, heartbeat and default result;
		// it reports fixed notification target and role ARNs whatever was
		// put, and has no lifecycle actions, so those are not checked.
		got := hooks[0]
		if got.Name != h.Name || got.Transition != h.Transition || got.Heartbeat != h.Heartbeat || got.DefaultResult != h.DefaultResult {
			t.Errorf("got %+v", got)
		}
	})
}
