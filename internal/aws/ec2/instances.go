package ec2

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
)

// instanceAPI lists the EC2 operations that find instances to log in to.
type instanceAPI interface {
	DescribeInstances(context.Context, *ec2sdk.DescribeInstancesInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeInstancesOutput, error)
}

// Instance is an EC2 instance, as `elevator ssh` needs it.
type Instance struct {
	ID        string
	State     string // pending, running, stopping, ...
	PrivateIP string
	PublicIP  string // "" when it has none
	AZ        string
	Tags      map[string]string
}

// Instances returns the instances with the given IDs that exist, in the
// order asked for. IDs that match no instance are left out, not an error:
// the caller compares. No IDs means no instances. It returns EAWS on
// failure.
func (c *Client) Instances(ctx context.Context, ids []string) ([]Instance, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := c.describeInstances(ctx, &ec2sdk.DescribeInstancesInput{Filters: idFilter("instance-id", ids)}, "describe instances "+strings.Join(ids, ", "))
	if err != nil {
		return nil, err
	}
	byID := map[string]Instance{}
	for _, i := range found {
		byID[i.ID] = i
	}
	return inOrder(ids, byID), nil
}

func (c *Client) describeInstances(ctx context.Context, in *ec2sdk.DescribeInstancesInput, doing string) ([]Instance, error) {
	var out []Instance
	p := ec2sdk.NewDescribeInstancesPaginator(c.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(doing, "instance", "", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				inst := Instance{
					ID:        aws.ToString(i.InstanceId),
					PrivateIP: aws.ToString(i.PrivateIpAddress),
					PublicIP:  aws.ToString(i.PublicIpAddress),
					Tags:      tagMap(i.Tags),
				}
				if i.State != nil {
					inst.State = string(i.State.Name)
				}
				if i.Placement != nil {
					inst.AZ = aws.ToString(i.Placement.AvailabilityZone)
				}
				out = append(out, inst)
			}
		}
	}
	return out, nil
}
