package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// releaseAPI lists the EC2 operations a release uses: launch templates for
// its Auto Scaling groups.
type releaseAPI interface {
	CreateLaunchTemplate(context.Context, *ec2sdk.CreateLaunchTemplateInput, ...func(*ec2sdk.Options)) (*ec2sdk.CreateLaunchTemplateOutput, error)
	DescribeLaunchTemplates(context.Context, *ec2sdk.DescribeLaunchTemplatesInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeLaunchTemplatesOutput, error)
	DeleteLaunchTemplate(context.Context, *ec2sdk.DeleteLaunchTemplateInput, ...func(*ec2sdk.Options)) (*ec2sdk.DeleteLaunchTemplateOutput, error)
}

// ErrLaunchTemplateExists is the cause of the ECONFLICT error
// CreateLaunchTemplate returns when a template of that name exists already.
var ErrLaunchTemplateExists = errors.New("launch template already exists")

// ErrNotFound is the cause of every ENOTFOUND error this package returns
// for a launch template, image or other resource named by id that does not
// exist.
var ErrNotFound = errors.New("not found")

// LaunchTemplateInput describes a launch template for one service of one
// release.
type LaunchTemplateInput struct {
	Name         string // unique per region
	ImageID      string
	InstanceType string
	// SecurityGroupIDs are the instances' security groups (IDs, not names).
	SecurityGroupIDs []string
	// InstanceProfile is the instance profile's ARN or name; empty for none.
	InstanceProfile string
	// UserData is the instances' user data as plain bytes; CreateLaunchTemplate
	// encodes it in base64 as EC2 requires.
	UserData []byte
	// RootVolume, when set, sizes the instances' root volume.
	RootVolume *Volume
	// Tags go on the template, and on every instance and volume launched
	// from it.
	Tags map[string]string
	// MetadataHopLimit is how many network hops an IMDSv2 token answer
	// may travel; 0 means 2, so a process in a container on a bridge
	// network (one hop more than the host) can still get a token. 1 keeps
	// tokens on the host.
	MetadataHopLimit int
	// ClientToken makes a retried create return the template the first try
	// made rather than fail; derive it from the release and service.
	ClientToken string
}

// Volume is an EBS volume of a launch template: always encrypted, and
// deleted with its instance.
type Volume struct {
	DeviceName string // e.g. /dev/xvda; it must be the image's root device
	SizeGiB    int
	Type       string // gp3 when empty
}

// LaunchTemplate is a launch template.
type LaunchTemplate struct {
	ID, Name       string
	DefaultVersion int64
	LatestVersion  int64
	Tags           map[string]string
	Created        time.Time
}

// defaultMetadataHops is the hop limit of IMDSv2 token answers unless the
// input says otherwise: 2, for containers (see MetadataHopLimit).
const defaultMetadataHops = 2

// CreateLaunchTemplate creates a launch template whose instances require
// IMDSv2 tokens. It returns an ECONFLICT error wrapping
// ErrLaunchTemplateExists when a template of that name exists already (the
// caller may treat it as done, or look it up with LaunchTemplate), and EAWS
// for other failures.
func (c *Client) CreateLaunchTemplate(ctx context.Context, in LaunchTemplateInput) (LaunchTemplate, error) {
	hops := in.MetadataHopLimit
	if hops == 0 {
		hops = defaultMetadataHops
	}
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:          aws.String(in.ImageID),
		InstanceType:     ec2types.InstanceType(in.InstanceType),
		SecurityGroupIds: in.SecurityGroupIDs,
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpTokens:              ec2types.LaunchTemplateHttpTokensStateRequired,
			HttpEndpoint:            ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
			HttpPutResponseHopLimit: aws.Int32(int32(hops)),
		},
	}
	if p := in.InstanceProfile; strings.HasPrefix(p, "arn:") {
		data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: aws.String(p)}
	} else if p != "" {
		data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(p)}
	}
	if len(in.UserData) > 0 {
		data.UserData = aws.String(base64.StdEncoding.EncodeToString(in.UserData))
	}
	if v := in.RootVolume; v != nil {
		typ := v.Type
		if typ == "" {
			typ = "gp3"
		}
		data.BlockDeviceMappings = []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: aws.String(v.DeviceName),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeSize:          aws.Int32(int32(v.SizeGiB)),
				VolumeType:          ec2types.VolumeType(typ),
				Encrypted:           aws.Bool(true),
				DeleteOnTermination: aws.Bool(true),
			},
		}}
	}
	tags := ec2Tags(in.Tags)
	req := &ec2sdk.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(in.Name),
		LaunchTemplateData: data,
		// The token makes a create retried after a lost answer return the
		// template the first attempt made instead of a name conflict.
		ClientToken: optionalString(in.ClientToken),
	}
	if len(tags) > 0 {
		data.TagSpecifications = []ec2types.LaunchTemplateTagSpecificationRequest{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
		}
		req.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}}
	}
	out, err := c.api.CreateLaunchTemplate(ctx, req)
	if err != nil {
		return LaunchTemplate{}, c.fail("create launch template "+in.Name, "launch template", in.Name, err)
	}
	return launchTemplate(out.LaunchTemplate), nil
}

// LaunchTemplate returns the launch template called name, or an ENOTFOUND
// error wrapping ErrNotFound.
func (c *Client) LaunchTemplate(ctx context.Context, name string) (LaunchTemplate, error) {
	out, err := c.api.DescribeLaunchTemplates(ctx, &ec2sdk.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err != nil {
		return LaunchTemplate{}, c.fail("describe launch template "+name, "launch template", name, err)
	}
	if len(out.LaunchTemplates) == 0 {
		return LaunchTemplate{}, awserr.NotFound("launch template", name, c.region, ErrNotFound)
	}
	return launchTemplate(&out.LaunchTemplates[0]), nil
}

// LaunchTemplates returns the launch templates carrying every tag in tags,
// found with tag filters (all of them when tags is empty). EAWS on failure.
func (c *Client) LaunchTemplates(ctx context.Context, tags map[string]string) ([]LaunchTemplate, error) {
	// MaxResults is explicit because moto does not paginate this call: it
	// returns the first MaxResults templates (15 by default) and no token.
	in := &ec2sdk.DescribeLaunchTemplatesInput{Filters: tagFilters(tags), MaxResults: aws.Int32(200)}
	var lts []LaunchTemplate
	p := ec2sdk.NewDescribeLaunchTemplatesPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe launch templates", "", "", err)
		}
		for i := range out.LaunchTemplates {
			lts = append(lts, launchTemplate(&out.LaunchTemplates[i]))
		}
	}
	return lts, nil
}

// DeleteLaunchTemplate deletes the launch template called name and all its
// versions. A template that does not exist counts as deleted. Other
// failures are EAWS errors.
func (c *Client) DeleteLaunchTemplate(ctx context.Context, name string) error {
	_, err := c.api.DeleteLaunchTemplate(ctx, &ec2sdk.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String(name)})
	// AWS answers a missing name with a not-found code; moto 5.2.5 with
	// MissingParameter, though the name is given.
	if awserr.Code(err) == "MissingParameter" {
		return nil
	}
	if err = c.fail("delete launch template "+name, "launch template", name, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func launchTemplate(lt *ec2types.LaunchTemplate) LaunchTemplate {
	if lt == nil {
		return LaunchTemplate{}
	}
	return LaunchTemplate{
		ID:             aws.ToString(lt.LaunchTemplateId),
		Name:           aws.ToString(lt.LaunchTemplateName),
		DefaultVersion: aws.ToInt64(lt.DefaultVersionNumber),
		LatestVersion:  aws.ToInt64(lt.LatestVersionNumber),
		Tags:           tagMap(lt.Tags),
		Created:        aws.ToTime(lt.CreateTime),
	}
}

func ec2Tags(tags map[string]string) []ec2types.Tag {
	var ts []ec2types.Tag
	for _, k := range sortedKeys(tags) {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return ts
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func tagFilters(tags map[string]string) []ec2types.Filter {
	var fs []ec2types.Filter
	for _, k := range sortedKeys(tags) {
		fs = append(fs, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{tags[k]}})
	}
	return fs
}
