package autoscaling

// These tests show, with a fake behind the package's api interface, the
// answers AWS gives that moto 5.2.5 cannot: AlreadyExists to a create that
// raced another, ResourceInUse and ScalingActivityInProgress, a group
// being deleted, and a not-found ValidationError where moto fails with 500.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"

	elevator "github.com/elevatorhq/elevator"
)

// fake answers the calls these tests make with canned results; any other
// call panics (its embedded api is nil).
type fake struct {
	api
	groups  []autoscalingtypes.AutoScalingGroup
	err     error // answer to every mutating call
	created *autoscalingsdk.CreateAutoScalingGroupInput
}

func (f *fake) DescribeAutoScalingGroups(context.Context, *autoscalingsdk.DescribeAutoScalingGroupsInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DescribeAutoScalingGroupsOutput, error) {
	return &autoscalingsdk.DescribeAutoScalingGroupsOutput{AutoScalingGroups: f.groups}, nil
}

func (f *fake) CreateAutoScalingGroup(_ context.Context, in *autoscalingsdk.CreateAutoScalingGroupInput, _ ...func(*autoscalingsdk.Options)) (*autoscalingsdk.CreateAutoScalingGroupOutput, error) {
	f.created = in
	return &autoscalingsdk.CreateAutoScalingGroupOutput{}, f.err
}

func (f *fake) DeleteAutoScalingGroup(context.Context, *autoscalingsdk.DeleteAutoScalingGroupInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DeleteAutoScalingGroupOutput, error) {
	return &autoscalingsdk.DeleteAutoScalingGroupOutput{}, f.err
}

func (f *fake) AttachLoadBalancerTargetGroups(context.Context, *autoscalingsdk.AttachLoadBalancerTargetGroupsInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.AttachLoadBalancerTargetGroupsOutput, error) {
	return &autoscalingsdk.AttachLoadBalancerTargetGroupsOutput{}, f.err
}

func (f *fake) UpdateAutoScalingGroup(context.Context, *autoscalingsdk.UpdateAutoScalingGroupInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.UpdateAutoScalingGroupOutput, error) {
	return &autoscalingsdk.UpdateAutoScalingGroupOutput{}, f.err
}

func validation(msg string) error {
	return &smithy.GenericAPIError{Code: "ValidationError", Message: msg}
}

func TestAWSAnswersMotoCannotGiveAreTranslated(t *testing.T) {
	ctx := context.Background()
	inUse := &autoscalingtypes.ResourceInUseFault{Message: aws.String("You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")}
	activity := &autoscalingtypes.ScalingActivityInProgressFault{Message: aws.String("Scaling activity in progress")}
	for _, tc := range []struct {
		test     string
		err      error
		call     func(*Client) error
		code     string
		sentinel error
	}{
		{"a create that lost a race to AlreadyExists is a conflict the caller treats as done",
			&autoscalingtypes.AlreadyExistsFault{Message: aws.String("AutoScalingGroup by this name already exists")},
			func(c *Client) error { return c.CreateGroup(ctx, CreateGroupInput{Name: "web"}) }, elevator.ECONFLICT, ErrGroupExists},
		{"deleting a group that still has instances without force is a busy conflict", inUse,
			func(c *Client) error { return c.DeleteGroup(ctx, "web", false) }, elevator.ECONFLICT, ErrGroupBusy},
		{"changing a group during a scaling activity is a busy conflict", activity,
			func(c *Client) error { return c.SetCapacity(ctx, "web", Capacity{Max: 1}) }, elevator.ECONFLICT, ErrGroupBusy},
		{"deleting a missing group succeeds", validation("AutoScalingGroup name not found - AutoScalingGroup 'web' not found"),
			func(c *Client) error { return c.DeleteGroup(ctx, "web", true) }, "", nil},
		{"deleting a group already being deleted succeeds", validation("AutoScalingGroup web is pending delete."),
			func(c *Client) error { return c.DeleteGroup(ctx, "web", true) }, "", nil},
		{"attaching to a missing group is not found (moto answers 500)", validation("AutoScalingGroup name not found - null"),
			func(c *Client) error { return c.AttachTargetGroups(ctx, "web", []string{"arn:tg"}) }, elevator.ENOTFOUND, ErrNotFound},
		{"any other refusal is an AWS error", validation("Max bound, 1, must be greater than or equal to min bound, 2"),
			func(c *Client) error { return c.SetCapacity(ctx, "web", Capacity{Min: 2, Max: 1}) }, elevator.EAWS, nil},
	} {
		t.Run(tc.test, func(t *testing.T) {
			err := tc.call(&Client{api: &fake{err: tc.err}, region: "us-east-1"})
			if elevator.ErrorCode(err) != tc.code || (tc.sentinel != nil && !errors.Is(err, tc.sentinel)) {
				t.Errorf("got %v (code %q), want code %q wrapping %v", err, elevator.ErrorCode(err), tc.code, tc.sentinel)
			}
			if tc.code != "" && !errors.Is(err, tc.err) {
				t.Errorf("%v does not keep AWS's error as its cause", err)
			}
		})
	}
}

func TestAGroupBeingDeletedShowsItsTerminatingInstances(t *testing.T) {
	f := &fake{groups: []autoscalingtypes.AutoScalingGroup{{
		AutoScalingGroupName: aws.String("web"),
		Status:               aws.String("Delete in progress"),
		Instances: []autoscalingtypes.Instance{
			{InstanceId: aws.String("i-1"), LifecycleState: autoscalingtypes.LifecycleStateTerminatingWait, HealthStatus: aws.String("Healthy")},
			{InstanceId: aws.String("i-2"), LifecycleState: autoscalingtypes.LifecycleStateTerminated, HealthStatus: aws.String("Unhealthy")},
			{InstanceId: aws.String("i-3"), LifecycleState: autoscalingtypes.LifecycleStateInService, HealthStatus: aws.String("Unhealthy")},
			{InstanceId: aws.String("i-4"), LifecycleState: autoscalingtypes.LifecycleStatePendingWait, HealthStatus: aws.String("Healthy")},
		},
	}}}
	g, err := (&Client{api: f, region: "us-east-1"}).Group(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if !g.Deleting() {
		t.Errorf("status %q, want Deleting", g.Status)
	}
	if got := ids(g.Terminating()); len(got) != 2 || got[0] != "i-1" || got[1] != "i-2" {
		t.Errorf("terminating %v, want i-1 and i-2", got)
	}
	if got := g.InService(); len(got) != 0 {
		t.Errorf("in service %v, want none: i-3 is unhealthy and i-4 pending", got)
	}
	if !g.Instances[3].LifecycleState.Pending() || g.Instances[2].LifecycleState.Pending() {
		t.Errorf("Pending: %v for %s, %v for %s", g.Instances[3].LifecycleState.Pending(), g.Instances[3].LifecycleState, g.Instances[2].LifecycleState.Pending(), g.Instances[2].LifecycleState)
	}
}

func TestLifecycleHooksGoOutWithTheCreate(t *testing.T) {
	// moto ignores hooks given at creation, so the request is checked here.
	f := &fake{}
	err := (&Client{api: f, region: "us-east-1"}).CreateGroup(context.Background(), CreateGroupInput{
		Name: "web", LaunchTemplateID: "lt-1", SubnetIDs: []string{"subnet-a", "subnet-b"}, Max: 1,
		LifecycleHooks: []LifecycleHook{{Name: "warm-up", Transition: LaunchingTransition, Heartbeat: 10 * time.Minute, DefaultResult: Abandon}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hooks := f.created.LifecycleHookSpecificationList
	if len(hooks) != 1 || aws.ToString(hooks[0].LifecycleHookName) != "warm-up" || aws.ToString(hooks[0].LifecycleTransition) != "autoscaling:EC2_INSTANCE_LAUNCHING" ||
		aws.ToInt32(hooks[0].HeartbeatTimeout) != 600 || aws.ToString(hooks[0].DefaultResult) != "ABANDON" || hooks[0].RoleARN != nil {
		t.Errorf("hooks sent: %+v", hooks)
	}
	if aws.ToString(f.created.VPCZoneIdentifier) != "subnet-a,subnet-b" || f.created.LaunchTemplate.Version != nil {
		t.Errorf("subnets %q, version %v; want both subnets and the default version", aws.ToString(f.created.VPCZoneIdentifier), f.created.LaunchTemplate.Version)
	}
}
