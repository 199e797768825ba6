package autoscaling

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	elevator "github.com/elevatorhq/elevator"
)

// chaosAPI lists the Auto Scaling operations of `elevator chaos`
// (UpdateAutoScalingGroup is in api already).
type chaosAPI interface {
	TerminateInstanceInAutoScalingGroup(context.Context, *autoscalingsdk.TerminateInstanceInAutoScalingGroupInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.TerminateInstanceInAutoScalingGroupOutput, error)
}

// TerminateInstance terminates an instance of a group without lowering
// the group's desired capacity, so the group launches a replacement. It
// returns an ENOTFOUND error wrapping ErrNotFound when the instance is in
// no group (gone already), and EAWS for other failures.
func (c *Client) TerminateInstance(ctx context.Context, group, id string) error {
	_, err := c.api.TerminateInstanceInAutoScalingGroup(ctx, &autoscalingsdk.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(false),
	})
	return c.fail("terminate instance "+id+" of auto scaling group "+group, group, err)
}

// SetSubnets sets the subnets a group launches into (its
// VPCZoneIdentifier), in the order given. It returns EINVALID for no
// subnets, and errors as SetCapacity otherwise.
func (c *Client) SetSubnets(ctx context.Context, group string, subnets []string) error {
	if len(subnets) == 0 {
		return elevator.Errorf(elevator.EINVALID, "set the subnets of auto scaling group %s in %s: no subnets", group, c.region)
	}
	_, err := c.api.UpdateAutoScalingGroup(ctx, &autoscalingsdk.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), VPCZoneIdentifier: aws.String(strings.Join(subnets, ",")),
	})
	return c.fail("set the subnets of auto scaling group "+group, group, err)
}
