package ec2

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// bakeAPI lists the EC2 operations `elevator image bake` uses: a builder
// instance, and the image made from it.
type bakeAPI interface {
	RunInstances(context.Context, *ec2sdk.RunInstancesInput, ...func(*ec2sdk.Options)) (*ec2sdk.RunInstancesOutput, error)
	StopInstances(context.Context, *ec2sdk.StopInstancesInput, ...func(*ec2sdk.Options)) (*ec2sdk.StopInstancesOutput, error)
	TerminateInstances(context.Context, *ec2sdk.TerminateInstancesInput, ...func(*ec2sdk.Options)) (*ec2sdk.TerminateInstancesOutput, error)
	CreateImage(context.Context, *ec2sdk.CreateImageInput, ...func(*ec2sdk.Options)) (*ec2sdk.CreateImageOutput, error)
}

// BuilderInput describes a bake's builder instance.
type BuilderInput struct {
	ImageID, InstanceType, SubnetID string
	SecurityGroupIDs                []string
	InstanceProfile                 string // the instance profile's name
	UserData                        []byte // plain; RunBuilder encodes it
	// RootDevice and VolumeSize size the root volume (gp3, encrypted,
	// deleted with the instance); RootDevice is the image's.
	RootDevice string
	VolumeSize int
	// Tags go on the instance and its volumes.
	Tags map[string]string
	// ClientToken makes a retried launch return the instance the first
	// try made rather than a second one.
	ClientToken string
}

// RunBuilder launches one builder instance requiring IMDSv2 tokens and
// returns its id. It returns EAWS on failure (ENOTFOUND for an image,
// subnet or group that does not exist).
func (c *Client) RunBuilder(ctx context.Context, in BuilderInput) (string, error) {
	run := &ec2sdk.RunInstancesInput{
		ImageId:          aws.String(in.ImageID),
		InstanceType:     ec2types.InstanceType(in.InstanceType),
		MinCount:         aws.Int32(1),
		MaxCount:         aws.Int32(1),
		SubnetId:         aws.String(in.SubnetID),
		SecurityGroupIds: in.SecurityGroupIDs,
		UserData:         aws.String(base64.StdEncoding.EncodeToString(in.UserData)),
		ClientToken:      optionalString(in.ClientToken),
		MetadataOptions: &ec2types.InstanceMetadataOptionsRequest{
			HttpTokens:   ec2types.HttpTokensStateRequired,
			HttpEndpoint: ec2types.InstanceMetadataEndpointStateEnabled,
		},
		// A builder that shuts itself down stops, so that it can still
		// be imaged or looked at.
		InstanceInitiatedShutdownBehavior: ec2types.ShutdownBehaviorStop,
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: ec2Tags(in.Tags)},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: ec2Tags(in.Tags)},
		},
	}
	if in.InstanceProfile != "" {
		run.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(in.InstanceProfile)}
	}
	if in.RootDevice != "" && in.VolumeSize > 0 {
		run.BlockDeviceMappings = []ec2types.BlockDeviceMapping{{
			DeviceName: aws.String(in.RootDevice),
			Ebs: &ec2types.EbsBlockDevice{
				VolumeSize: aws.Int32(int32(in.VolumeSize)), VolumeType: ec2types.VolumeTypeGp3,
				Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true),
			},
		}}
	}
	out, err := c.api.RunInstances(ctx, run)
	if err != nil {
		return "", c.fail("run builder instance", "instance", "", err)
	}
	if len(out.Instances) == 0 {
		return "", c.fail("run builder instance", "instance", "", errors.New("no instance launched"))
	}
	return aws.ToString(out.Instances[0].InstanceId), nil
}

// InstancesTagged returns the instances carrying every tag in tags, in
// any state.
func (c *Client) InstancesTagged(ctx context.Context, tags map[string]string) ([]Instance, error) {
	return c.describeInstances(ctx, &ec2sdk.DescribeInstancesInput{Filters: tagFilters(tags)}, "describe instances by tag")
}

// StopInstance asks an instance to stop. It returns ENOTFOUND wrapping
// ErrNotFound when there is no such instance, EAWS for other failures.
func (c *Client) StopInstance(ctx context.Context, id string) error {
	if _, err := c.api.StopInstances(ctx, &ec2sdk.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		return c.fail("stop instance "+id, "instance", id, err)
	}
	return nil
}

// TerminateInstance terminates an instance. It returns ENOTFOUND wrapping
// ErrNotFound when there is no such instance, EAWS for other failures.
func (c *Client) TerminateInstance(ctx context.Context, id string) error {
	if _, err := c.api.TerminateInstances(ctx, &ec2sdk.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		return c.fail("terminate instance "+id, "instance", id, err)
	}
	return nil
}

// CreateImage makes an image of a (stopped) instance, named name, with
// tags on the image, and returns its id. (Its snapshots are tagged with
// Tag once the image is available: the emulator refuses snapshot tags
// here.) It returns EAWS
// on failure (EINVALID when the name is taken or not allowed).
func (c *Client) CreateImage(ctx context.Context, instanceID, name, description string, tags map[string]string) (string, error) {
	out, err := c.api.CreateImage(ctx, &ec2sdk.CreateImageInput{
		InstanceId:  aws.String(instanceID),
		Name:        aws.String(name),
		Description: optionalString(description),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeImage, Tags: ec2Tags(tags)},
		},
	})
	if err != nil {
		return "", c.fail("create image "+name, "instance", instanceID, err)
	}
	return aws.ToString(out.ImageId), nil
}

// ImageDetail is an image with its root device: what a bake needs beyond
// Image.
type ImageDetail struct {
	Image
	RootDevice string
}

// OwnImages returns the account's own images carrying every tag in tags,
// and named name when name is not "", in any state but deregistered.
func (c *Client) OwnImages(ctx context.Context, name string, tags map[string]string) ([]ImageDetail, error) {
	in := &ec2sdk.DescribeImagesInput{Owners: []string{"self"}, Filters: tagFilters(tags)}
	if name != "" {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("name"), Values: []string{name}})
	}
	return c.describeImages(ctx, in, "describe own images")
}

// describeImages is every page of DescribeImages in, each image with its
// detail. doing names the call in errors (EAWS).
func (c *Client) describeImages(ctx context.Context, in *ec2sdk.DescribeImagesInput, doing string) ([]ImageDetail, error) {
	var out []ImageDetail
	p := ec2sdk.NewDescribeImagesPaginator(c.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(doing, "image", "", err)
		}
		for _, img := range page.Images {
			out = append(out, imageDetail(img))
		}
	}
	return out, nil
}

// ImageDetail returns the image with id, with its root device and
// snapshots. It returns the errors of Image.
func (c *Client) ImageDetail(ctx context.Context, id string) (ImageDetail, error) {
	out, err := c.api.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		return ImageDetail{}, c.fail("describe image "+id, "image", id, err)
	}
	if len(out.Images) == 0 {
		return ImageDetail{}, awserr.NotFound("image", id, c.region, ErrNotFound)
	}
	return imageDetail(out.Images[0]), nil
}

func imageDetail(img ec2types.Image) ImageDetail {
	return ImageDetail{Image: image(img), RootDevice: aws.ToString(img.RootDeviceName)}
}

// SecurityGroupNamed returns the security group called name in a VPC. It
// returns an ENOTFOUND error wrapping ErrNotFound when there is none, EAWS
// for other failures.
func (c *Client) SecurityGroupNamed(ctx context.Context, vpcID, name string) (SecurityGroup, error) {
	out, err := c.api.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpcID}},
		{Name: aws.String("group-name"), Values: []string{name}},
	}})
	if err != nil {
		return SecurityGroup{}, c.fail("describe security group "+name, "security group", name, err)
	}
	if len(out.SecurityGroups) == 0 {
		return SecurityGroup{}, awserr.NotFound("security group", name, c.region, ErrNotFound)
	}
	g := out.SecurityGroups[0]
	return SecurityGroup{ID: aws.ToString(g.GroupId), Name: aws.ToString(g.GroupName), VPCID: aws.ToString(g.VpcId), Tags: tagMap(g.Tags)}, nil
}
