package elbv2

// These tests run against a real moto server (emulatortest), each in an
// account of its own. moto reports target health only as healthy (a
// running instance), unused (stopped, or not registered) and draining
// (terminated while registered); initial and unhealthy never show.

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// fixture is a VPC with two subnets, a load balancer and a target group
// behind a listener, made directly with the SDK.
type fixture struct {
	ec2     *ec2sdk.Client
	elb     *elbv2sdk.Client
	vpc     string
	subnets []string
	lb      string
	tg      string
}

func newFixture(t *testing.T, region string) (*Client, fixture) {
	t.Helper()
	cfg := emulatortest.Config(t, region)
	ctx := context.Background()
	f := fixture{ec2: ec2sdk.NewFromConfig(cfg), elb: elbv2sdk.NewFromConfig(cfg)}
	vpc, err := f.ec2.CreateVpc(ctx, &ec2sdk.CreateVpcInput{CidrBlock: aws.String("10.8.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	f.vpc = aws.ToString(vpc.Vpc.VpcId)
	zones, err := f.ec2.DescribeAvailabilityZones(ctx, &ec2sdk.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i, cidr := range []string{"10.8.1.0/24", "10.8.2.0/24"} {
		s, err := f.ec2.CreateSubnet(ctx, &ec2sdk.CreateSubnetInput{VpcId: aws.String(f.vpc), CidrBlock: aws.String(cidr), AvailabilityZone: zones.AvailabilityZones[i].ZoneName})
		if err != nil {
			t.Fatal(err)
		}
		f.subnets = append(f.subnets, aws.ToString(s.Subnet.SubnetId))
	}
	lb, err := f.elb.CreateLoadBalancer(ctx, &elbv2sdk.CreateLoadBalancerInput{Name: aws.String("shop-web"), Subnets: f.subnets})
	if err != nil {
		t.Fatal(err)
	}
	f.lb = aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	f.tg = f.targetGroup(t, "shop-web", map[string]string{elevator.TagApp: "shop", elevator.TagService: "web"})
	if _, err := f.elb.CreateListener(ctx, &elbv2sdk.CreateListenerInput{
		LoadBalancerArn: aws.String(f.lb), Port: aws.Int32(80), Protocol: elbv2types.ProtocolEnumHttp,
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(f.tg)}},
	}); err != nil {
		t.Fatal(err)
	}
	return New(cfg), f
}

func (f fixture) targetGroup(t *testing.T, name string, tags map[string]string) string {
	t.Helper()
	in := &elbv2sdk.CreateTargetGroupInput{
		Name: aws.String(name), Port: aws.Int32(8080), Protocol: elbv2types.ProtocolEnumHttp, VpcId: aws.String(f.vpc),
		HealthCheckPath: aws.String("/health"),
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, elbv2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := f.elb.CreateTargetGroup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupArn)
}

func (f fixture) instances(t *testing.T, n int) []string {
	t.Helper()
	ctx := context.Background()
	images, err := f.ec2.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("no image: %v", err)
	}
	run, err := f.ec2.RunInstances(ctx, &ec2sdk.RunInstancesInput{
		ImageId: images.Images[0].ImageId, MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n)),
		InstanceType: ec2types.InstanceTypeT3Micro, SubnetId: aws.String(f.subnets[0]),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range run.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	return ids
}

func states(health []TargetHealth) map[string]TargetState {
	m := map[string]TargetState{}
	for _, h := range health {
		m[h.InstanceID] = h.State
	}
	return m
}

func TestTargetHealthFollowsTheInstances(t *testing.T) {
	c, f := newFixture(t, "us-east-1")
	ctx := context.Background()
	ids := f.instances(t, 3)
	running, stopped, gone := ids[0], ids[1], ids[2]
	var targets []elbv2types.TargetDescription
	for _, id := range ids {
		targets = append(targets, elbv2types.TargetDescription{Id: aws.String(id)})
	}
	if _, err := f.elb.RegisterTargets(ctx, &elbv2sdk.RegisterTargetsInput{TargetGroupArn: aws.String(f.tg), Targets: targets}); err != nil {
		t.Fatal(err)
	}

	health, err := c.TargetHealth(ctx, f.tg)
	if err != nil {
		t.Fatal(err)
	}
	if got := states(health); !reflect.DeepEqual(got, map[string]TargetState{running: Healthy, stopped: Healthy, gone: Healthy}) {
		t.Errorf("registered and running: %v, want all healthy", got)
	}
	if health[0].Port != 8080 || health[0].Reason != "" {
		t.Errorf("first target %+v, want port 8080 and no reason", health[0])
	}

	if _, err := f.ec2.StopInstances(ctx, &ec2sdk.StopInstancesInput{InstanceIds: []string{stopped}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ec2.TerminateInstances(ctx, &ec2sdk.TerminateInstancesInput{InstanceIds: []string{gone}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		test string
		ids  []string
		want map[string]TargetState
	}{
		{"the registered list drops a terminated instance", nil, map[string]TargetState{running: Healthy, stopped: Unused}},
		{"asking by instance shows it draining", ids, map[string]TargetState{running: Healthy, stopped: Unused, gone: Draining}},
	} {
		t.Run(tc.test, func(t *testing.T) {
			health, err := c.TargetHealth(ctx, f.tg, tc.ids...)
			if err != nil {
				t.Fatal(err)
			}
			if got := states(health); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for _, h := range health {
				if h.State == Unused && (h.Reason != "Target.InvalidState" || h.Description == "") {
					t.Errorf("a stopped target: %+v, want reason Target.InvalidState with a description", h)
				}
			}
		})
	}
	t.Run("a missing target group is not found", func(t *testing.T) {
		missing := f.tg[:len(f.tg)-16] + "0123456789abcdef"
		_, err := c.TargetHealth(ctx, missing)
		if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrTargetGroupNotFound) {
			t.Errorf("got %v (code %q), want ENOTFOUND", err, elevator.ErrorCode(err))
		}
	})
}

func TestTargetGroupsComeWithLoadBalancersAndTags(t *testing.T) {
	c, f := newFixture(t, "eu-west-1")
	ctx := context.Background()
	worker := f.targetGroup(t, "shop-worker", map[string]string{elevator.TagApp: "shop", elevator.TagService: "worker"})

	groups, err := c.TargetGroups(ctx, []string{worker, f.tg})
	if err != nil {
		t.Fatal(err)
	}
	want := []TargetGroup{
		{ARN: worker, Name: "shop-worker", Port: 8080, Protocol: "HTTP", TargetType: "instance", VPCID: f.vpc, LoadBalancerARNs: nil, HealthCheckPath: "/health",
			Tags: map[string]string{elevator.TagApp: "shop", elevator.TagService: "worker"}},
		{ARN: f.tg, Name: "shop-web", Port: 8080, Protocol: "HTTP", TargetType: "instance", VPCID: f.vpc, LoadBalancerARNs: []string{f.lb}, HealthCheckPath: "/health",
			Tags: map[string]string{elevator.TagApp: "shop", elevator.TagService: "web"}},
	}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("got  %+v\nwant %+v", groups, want)
	}

	missing := f.tg[:len(f.tg)-16] + "0123456789abcdef"
	for _, tc := range []struct {
		test string
		arns []string
		want []string
	}{
		{"no ARNs find none", nil, nil},
		{"a missing ARN is left out, and a repeated one listed once", []string{missing, f.tg, worker, f.tg}, []string{f.tg, worker}},
	} {
		t.Run(tc.test, func(t *testing.T) {
			groups, err := c.TargetGroups(ctx, tc.arns)
			var got []string
			for _, g := range groups {
				got = append(got, g.ARN)
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestATargetGroupIsCreatedLikeAnotherWithItsTargetType(t *testing.T) {
	c, f := newFixture(t, "eu-west-1")
	ctx := context.Background()
	// An ECS service's target group: its tasks register by address.
	out, err := f.elb.CreateTargetGroup(ctx, &elbv2sdk.CreateTargetGroupInput{
		Name: aws.String("shop-api"), Port: aws.Int32(9000), Protocol: elbv2types.ProtocolEnumHttp, VpcId: aws.String(f.vpc),
		HealthCheckPath: aws.String("/ready"), TargetType: elbv2types.TargetTypeEnumIp,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c0 := range []struct {
		like, name, want string
	}{
		{aws.ToString(out.TargetGroups[0].TargetGroupArn), "shop-api-test", "ip"},
		{f.tg, "shop-web-test", "instance"},
	} {
		likes, err := c.TargetGroups(ctx, []string{c0.like})
		if err != nil || len(likes) != 1 {
			t.Fatalf("target group %s: %+v, %v", c0.like, likes, err)
		}
		tags := map[string]string{elevator.TagApp: "shop", elevator.TagRelease: "r1"}
		made, err := c.CreateTargetGroupLike(ctx, c0.name, likes[0], tags)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.elb.DescribeTargetGroups(ctx, &elbv2sdk.DescribeTargetGroupsInput{TargetGroupArns: []string{made.ARN}})
		if err != nil || len(got.TargetGroups) != 1 {
			t.Fatalf("%+v, %v", got, err)
		}
		g := got.TargetGroups[0]
		if string(g.TargetType) != c0.want || made.TargetType != c0.want || aws.ToInt32(g.Port) != int32(likes[0].Port) ||
			aws.ToString(g.HealthCheckPath) != likes[0].HealthCheckPath || aws.ToString(g.VpcId) != f.vpc {
			t.Errorf("made like %s: %+v (returned %+v), want target type %s", likes[0].Name, g, made, c0.want)
		}
	}
}
