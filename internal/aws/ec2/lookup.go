package ec2

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// Image is a machine image (AMI).
type Image struct {
	ID, Name string
	// State is available, pending, failed, deregistered, ...
	State   string
	OwnerID string
	Created time.Time
	Tags    map[string]string
	// Public says whether every account may launch it; Snapshots are the
	// EBS snapshots of its block devices.
	Public    bool
	Snapshots []string
	// Deprecated is when the image's owner set it to be deprecated
	// (EnableImageDeprecation); zero when not. Unlike tags, every account
	// the image is shared with sees it.
	Deprecated time.Time
	// RootVolumeGiB and RootVolumeType are the size and type of the EBS
	// volume an instance of the image boots from, unless its launch
	// template says otherwise; 0 and "" when the image does not say.
	RootVolumeGiB  int
	RootVolumeType string
	// RootDevice is the root device's name (/dev/xvda).
	RootDevice string
}

// Image returns the image with id. It returns an ENOTFOUND error wrapping
// ErrNotFound when there is none (or it is not shared with the account),
// EINVALID for an ID that is not an image ID, and EAWS for other failures.
func (c *Client) Image(ctx context.Context, id string) (Image, error) {
	out, err := c.api.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		return Image{}, c.fail("describe image "+id, "image", id, err)
	}
	if len(out.Images) == 0 {
		return Image{}, awserr.NotFound("image", id, c.region, ErrNotFound)
	}
	return image(out.Images[0]), nil
}

func image(img ec2types.Image) Image {
	created, _ := time.Parse(time.RFC3339, aws.ToString(img.CreationDate))
	deprecated, _ := time.Parse(time.RFC3339, aws.ToString(img.DeprecationTime))
	out := Image{
		Deprecated: deprecated,
		ID:         aws.ToString(img.ImageId),
		Name:       aws.ToString(img.Name),
		State:      string(img.State),
		OwnerID:    aws.ToString(img.OwnerId),
		Created:    created,
		Tags:       tagMap(img.Tags),
		Public:     aws.ToBool(img.Public),
		Snapshots:  imageSnapshots(img),
		RootDevice: aws.ToString(img.RootDeviceName),
	}
	for _, m := range img.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.DeviceName) == aws.ToString(img.RootDeviceName) {
			out.RootVolumeGiB, out.RootVolumeType = int(aws.ToInt32(m.Ebs.VolumeSize)), string(m.Ebs.VolumeType)
		}
	}
	return out
}

// imageSnapshots lists the EBS snapshots of an image's block devices.
func imageSnapshots(img ec2types.Image) []string {
	var ids []string
	for _, m := range img.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.Ebs.SnapshotId) != "" {
			ids = append(ids, aws.ToString(m.Ebs.SnapshotId))
		}
	}
	return ids
}

// Images returns the images with the given IDs that exist (and are
// shared with the account), in the order asked for, with their tags. IDs
// that match no image are left out, not an error: the caller compares.
// It returns EAWS on failure. No IDs means no images (not every image).
func (c *Client) Images(ctx context.Context, ids []string) ([]Image, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := map[string]Image{}
	p := ec2sdk.NewDescribeImagesPaginator(c.api, &ec2sdk.DescribeImagesInput{Filters: idFilter("image-id", ids)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe images "+strings.Join(ids, ", "), "image", "", err)
		}
		for _, img := range out.Images {
			byID[aws.ToString(img.ImageId)] = image(img)
		}
	}
	return inOrder(ids, byID), nil
}

// SubnetsByID returns the subnets with the given IDs that exist, in the
// order asked for, with their VPC and tags. IDs that match no subnet are
// left out, not an error: the caller compares. It returns EAWS on failure.
// No IDs means no subnets (not every subnet).
func (c *Client) SubnetsByID(ctx context.Context, ids []string) ([]Subnet, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := map[string]Subnet{}
	p := ec2sdk.NewDescribeSubnetsPaginator(c.api, &ec2sdk.DescribeSubnetsInput{Filters: idFilter("subnet-id", ids)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe subnets "+strings.Join(ids, ", "), "subnet", "", err)
		}
		for _, s := range out.Subnets {
			cidr, _ := netip.ParsePrefix(aws.ToString(s.CidrBlock))
			byID[aws.ToString(s.SubnetId)] = Subnet{ID: aws.ToString(s.SubnetId), CIDR: cidr, AZ: aws.ToString(s.AvailabilityZone), Tags: tagMap(s.Tags), VPCID: aws.ToString(s.VpcId)}
		}
	}
	return inOrder(ids, byID), nil
}

// SecurityGroupsByID returns the security groups with the given IDs that
// exist, in the order asked for, with their VPC and tags. IDs that match no
// group are left out, as SubnetsByID does. It returns EAWS on failure.
func (c *Client) SecurityGroupsByID(ctx context.Context, ids []string) ([]SecurityGroup, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := map[string]SecurityGroup{}
	p := ec2sdk.NewDescribeSecurityGroupsPaginator(c.api, &ec2sdk.DescribeSecurityGroupsInput{Filters: idFilter("group-id", ids)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe security groups "+strings.Join(ids, ", "), "security group", "", err)
		}
		for _, g := range out.SecurityGroups {
			byID[aws.ToString(g.GroupId)] = SecurityGroup{ID: aws.ToString(g.GroupId), Name: aws.ToString(g.GroupName), VPCID: aws.ToString(g.VpcId), Tags: tagMap(g.Tags)}
		}
	}
	return inOrder(ids, byID), nil
}

// idFilter selects resources by ID with a filter rather than the call's ID
// list, because an unknown ID in the list fails the whole call, while a
// filter just matches nothing. (A filter takes up to 200 values; a release
// names a handful.)
func idFilter(name string, ids []string) []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String(name), Values: ids}}
}

// inOrder returns the values of byID in the order of ids, leaving out IDs
// it lacks and repeats.
func inOrder[T any](ids []string, byID map[string]T) []T {
	out := make([]T, 0, len(byID))
	seen := map[string]bool{}
	for _, id := range ids {
		if v, ok := byID[id]; ok && !seen[id] {
			out = append(out, v)
			seen[id] = true
		}
	}
	return out
}
