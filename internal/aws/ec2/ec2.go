// Package ec2 is Elevator's adapter for Amazon EC2: availability zones, VPCs,
// subnets, security groups and images, for releases launch templates, and
// instances for `elevator ssh`, in Elevator's own types. Errors it returns are *elevator.Error,
// translated by awserr: ENOTFOUND when nothing matches (wrapping ErrNotFound
// and an *awserr.NotFoundError when a method says so), and as each method
// says: ECONFLICT wrapping ErrLaunchTemplateExists, EINVALID for a malformed
// ID; and the codes awserr gives every service (EINTERRUPTED when the
// context was cancelled, EAWS for a refused or failed call).
package ec2

import (
	"context"
	"net/netip"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// api lists the EC2 operations Elevator uses.
type api interface {
	EnableImageDeprecation(context.Context, *ec2sdk.EnableImageDeprecationInput, ...func(*ec2sdk.Options)) (*ec2sdk.EnableImageDeprecationOutput, error)
	DescribeAvailabilityZones(context.Context, *ec2sdk.DescribeAvailabilityZonesInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeAvailabilityZonesOutput, error)
	DescribeVpcs(context.Context, *ec2sdk.DescribeVpcsInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeVpcsOutput, error)
	DescribeSubnets(context.Context, *ec2sdk.DescribeSubnetsInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeSubnetsOutput, error)
	DescribeNatGateways(context.Context, *ec2sdk.DescribeNatGatewaysInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeNatGatewaysOutput, error)
	DescribeImages(context.Context, *ec2sdk.DescribeImagesInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeImagesOutput, error)
	DescribeSecurityGroups(context.Context, *ec2sdk.DescribeSecurityGroupsInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeSecurityGroupsOutput, error)
	releaseAPI // launch templates and instances (launchtemplate.go)
	tagAPI
	instanceAPI  // instances to log in to (instances.go)
	inventoryAPI // image inventories and cleanups (inventory.go)
	bakeAPI      // builders and the images made from them (bake.go)
	shareAPI     // sharing and copying images (share.go)
}

// Client talks to EC2 in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: ec2sdk.NewFromConfig(cfg), region: cfg.Region} }

// AvailabilityZones returns the names of the region's available zones (not
// local or wavelength zones), sorted.
func (c *Client) AvailabilityZones(ctx context.Context) ([]string, error) {
	out, err := c.api.DescribeAvailabilityZones(ctx, &ec2sdk.DescribeAvailabilityZonesInput{
		Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}},
	})
	if err != nil {
		return nil, c.fail("describe availability zones", "", "", err)
	}
	var zones []string
	for _, z := range out.AvailabilityZones {
		if t := aws.ToString(z.ZoneType); t != "" && t != "availability-zone" {
			continue
		}
		zones = append(zones, aws.ToString(z.ZoneName))
	}
	sort.Strings(zones)
	return zones, nil
}

// VPC is a VPC and its tags.
type VPC struct {
	ID   string
	CIDR netip.Prefix
	Tags map[string]string
}

// VPCs returns the region's VPCs, optionally only those carrying tag=value.
func (c *Client) VPCs(ctx context.Context, tag, value string) ([]VPC, error) {
	in := &ec2sdk.DescribeVpcsInput{}
	if tag != "" {
		in.Filters = []ec2types.Filter{{Name: aws.String("tag:" + tag), Values: []string{value}}}
	}
	var vpcs []VPC
	p := ec2sdk.NewDescribeVpcsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe vpcs", "vpc", "", err)
		}
		for _, v := range out.Vpcs {
			cidr, _ := netip.ParsePrefix(aws.ToString(v.CidrBlock))
			vpcs = append(vpcs, VPC{ID: aws.ToString(v.VpcId), CIDR: cidr, Tags: tagMap(v.Tags)})
		}
	}
	return vpcs, nil
}

// Subnet is a subnet and its tags.
type Subnet struct {
	ID   string
	CIDR netip.Prefix
	AZ   string
	Tags map[string]string
	// VPCID is the subnet's VPC, set by SubnetsByID (Subnets leaves it
	// empty: its caller named the VPC).
	VPCID string
}

// Subnets returns the subnets of a VPC, ordered by CIDR.
func (c *Client) Subnets(ctx context.Context, vpcID string) ([]Subnet, error) {
	var subnets []Subnet
	p := ec2sdk.NewDescribeSubnetsPaginator(c.api, &ec2sdk.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe subnets", "subnet", "", err)
		}
		for _, s := range out.Subnets {
			cidr, _ := netip.ParsePrefix(aws.ToString(s.CidrBlock))
			subnets = append(subnets, Subnet{ID: aws.ToString(s.SubnetId), CIDR: cidr, AZ: aws.ToString(s.AvailabilityZone), Tags: tagMap(s.Tags)})
		}
	}
	sort.Slice(subnets, func(i, j int) bool { return subnets[i].CIDR.Addr().Less(subnets[j].CIDR.Addr()) })
	return subnets, nil
}

// NATGateway is a NAT gateway that is pending or available.
type NATGateway struct {
	ID, SubnetID, State string
}

// NATGateways returns the live NAT gateways of a VPC.
func (c *Client) NATGateways(ctx context.Context, vpcID string) ([]NATGateway, error) {
	var nats []NATGateway
	p := ec2sdk.NewDescribeNatGatewaysPaginator(c.api, &ec2sdk.DescribeNatGatewaysInput{
		Filter: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpcID}},
			{Name: aws.String("state"), Values: []string{"pending", "available"}},
		},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe nat gateways", "nat gateway", "", err)
		}
		for _, n := range out.NatGateways {
			nats = append(nats, NATGateway{ID: aws.ToString(n.NatGatewayId), SubnetID: aws.ToString(n.SubnetId), State: string(n.State)})
		}
	}
	return nats, nil
}

// NewestImage returns the id of the newest image whose name matches pattern
// (with * wildcards) among owners (all when empty). It returns ENOTFOUND when
// none matches.
func (c *Client) NewestImage(ctx context.Context, pattern string, owners []string) (string, error) {
	out, err := c.api.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{
		Owners:  owners,
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{pattern}}, {Name: aws.String("state"), Values: []string{"available"}}},
	})
	if err != nil {
		return "", c.fail("describe images", "image", "", err)
	}
	var best ec2types.Image
	for _, img := range out.Images {
		if best.ImageId == nil || aws.ToString(img.CreationDate) > aws.ToString(best.CreationDate) {
			best = img
		}
	}
	if best.ImageId == nil {
		return "", elevator.Errorf(elevator.ENOTFOUND, "no image named %q in %s", pattern, c.region)
	}
	return aws.ToString(best.ImageId), nil
}

// ImageExists returns nil when the image exists in the region, and the
// errors of Image otherwise: a failed look-up is not a missing image.
func (c *Client) ImageExists(ctx context.Context, id string) error {
	_, err := c.Image(ctx, id)
	return err
}

// SecurityGroup is a security group and its tags.
type SecurityGroup struct {
	ID, Name, VPCID string
	Tags            map[string]string
}

// SecurityGroups returns the security groups carrying every tag in tags
// (key -> value), found with tag filters.
func (c *Client) SecurityGroups(ctx context.Context, tags map[string]string) ([]SecurityGroup, error) {
	in := &ec2sdk.DescribeSecurityGroupsInput{}
	for _, k := range sortedKeys(tags) {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{tags[k]}})
	}
	var groups []SecurityGroup
	p := ec2sdk.NewDescribeSecurityGroupsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe security groups", "security group", "", err)
		}
		for _, g := range out.SecurityGroups {
			groups = append(groups, SecurityGroup{ID: aws.ToString(g.GroupId), Name: aws.ToString(g.GroupName), VPCID: aws.ToString(g.VpcId), Tags: tagMap(g.Tags)})
		}
	}
	return groups, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func tagMap(ts []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// codes are EC2's answers that mean more than a failed call: about
// something that does not exist (InvalidSubnetID.NotFound,
// InvalidLaunchTemplateName.NotFoundException, InvalidAMIID.Unavailable),
// a name taken, or an ID that is not even well formed
// (InvalidSubnetID.Malformed, InvalidAMIID.Malformed, ...).
var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "*.NotFound", Err: ErrNotFound},
		{Code: "*.NotFoundException", Err: ErrNotFound},
		{Code: "InvalidAMIID.Unavailable", Err: ErrNotFound},
	},
	Conflict: []awserr.Match{
		{Code: "InvalidLaunchTemplateName.AlreadyExistsException", Err: ErrLaunchTemplateExists},
		{Code: "InvalidSnapshot.InUse", Err: ErrSnapshotInUse},
	},
	Invalid: []awserr.Match{{Code: "*.Malformed"}},
}

// fail translates the error of a call that names a resource of kind by
// id; a call that names several, or none, passes "" for id.
func (c *Client) fail(doing, kind, id string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: kind, Name: id}, err)
}
