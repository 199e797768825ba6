package ec2

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// InstanceState is an instance's state: pending, running, stopping,
// stopped, shutting-down or terminated.
type InstanceState string

// The instance states.
const (
	InstancePending      InstanceState = "pending"
	InstanceRunning      InstanceState = "running"
	InstanceStopping     InstanceState = "stopping"
	InstanceStopped      InstanceState = "stopped"
	InstanceShuttingDown InstanceState = "shutting-down"
	InstanceTerminated   InstanceState = "terminated"
)

// Instance is an EC2 instance.
type Instance struct {
	ID           string
	State        InstanceState
	ImageID      string
	InstanceType string
	SubnetID     string
	VPCID        string
	AZ           string
	PrivateIP    string
	LaunchTime   time.Time
	Tags         map[string]string
}

// Instances returns the instances with the given IDs that exist, in the
// order asked for. Terminated instances stay visible for about an hour;
// IDs that match no instance are left out, not an error: the caller
// compares. It returns EAWS on failure. No IDs means no instances (not
// every instance).
func (c *Client) Instances(ctx context.Context, ids []string) ([]Instance, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := map[string]Instance{}
	p := ec2sdk.NewDescribeInstancesPaginator(c.api, &ec2sdk.DescribeInstancesInput{Filters: idFilter("instance-id", ids)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe instances "+strings.Join(ids, ", "), "instance", "", err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				byID[aws.ToString(i.InstanceId)] = instance(i)
			}
		}
	}
	return inOrder(ids, byID), nil
}

func instance(i ec2types.Instance) Instance {
	out := Instance{
		ID:           aws.ToString(i.InstanceId),
		ImageID:      aws.ToString(i.ImageId),
		InstanceType: string(i.InstanceType),
		SubnetID:     aws.ToString(i.SubnetId),
		VPCID:        aws.ToString(i.VpcId),
		PrivateIP:    aws.ToString(i.PrivateIpAddress),
		LaunchTime:   aws.ToTime(i.LaunchTime),
		Tags:         tagMap(i.Tags),
	}
	if i.State != nil {
		out.State = InstanceState(i.State.Name)
	}
	if i.Placement != nil {
		out.AZ = aws.ToString(i.Placement.AvailabilityZone)
	}
	return out
}

// StopInstances starts stopping instances. Stopping a stopped instance is
// a no-op. It returns an ENOTFOUND error wrapping ErrNotFound when any
// instance does not exist (then none is stopped), EINVALID for a malformed
// ID, and EAWS for other failures.
func (c *Client) StopInstances(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.api.StopInstances(ctx, &ec2sdk.StopInstancesInput{InstanceIds: ids}); err != nil {
		return c.fail("stop instances "+strings.Join(ids, ", "), "instance", "", err)
	}
	return nil
}

// TerminateInstances starts terminating instances. Terminating a
// terminated instance is a no-op. Errors are as for StopInstances.
func (c *Client) TerminateInstances(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.api.TerminateInstances(ctx, &ec2sdk.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		return c.fail("terminate instances "+strings.Join(ids, ", "), "instance", "", err)
	}
	return nil
}
