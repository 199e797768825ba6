package autoscaling

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// protectionAPI lists the Auto Scaling operations of scale-in protection.
type protectionAPI interface {
	SetInstanceProtection(context.Context, *autoscalingsdk.SetInstanceProtectionInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.SetInstanceProtectionOutput, error)
}

// setInstanceProtectionMax is how many instances one SetInstanceProtection
// call takes.
const setInstanceProtectionMax = 50

// SetInstanceProtection protects instances of a group from scale-in, or
// lifts that protection, fifty per call. Errors are as for SetCapacity.
func (c *Client) SetInstanceProtection(ctx context.Context, group string, ids []string, protected bool) error {
	for len(ids) > 0 {
		n := min(len(ids), setInstanceProtectionMax)
		_, err := c.api.SetInstanceProtection(ctx, &autoscalingsdk.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String(group), InstanceIds: ids[:n], ProtectedFromScaleIn: aws.Bool(protected),
		})
		if err != nil {
			return c.fail("set the scale-in protection of instances "+strings.Join(ids[:n], ", ")+" of auto scaling group "+group, group, err)
		}
		ids = ids[n:]
	}
	return nil
}
