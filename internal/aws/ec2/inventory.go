package ec2

// This file reads, in bulk, what `elevator image list` and `elevator
// image cleanup` need to know of a region: the account's own images of
// a tag, the images launch templates name, and the images instances run;
// and removes images and their snapshots. Every read is one paginated
// call for the whole region, never one per image.

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// inventoryAPI lists the EC2 operations of image inventories and
// cleanups (DescribeImages and DescribeInstances are in api already).
type inventoryAPI interface {
	DescribeLaunchTemplateVersions(context.Context, *ec2sdk.DescribeLaunchTemplateVersionsInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeLaunchTemplateVersionsOutput, error)
	DeregisterImage(context.Context, *ec2sdk.DeregisterImageInput, ...func(*ec2sdk.Options)) (*ec2sdk.DeregisterImageOutput, error)
	DeleteSnapshot(context.Context, *ec2sdk.DeleteSnapshotInput, ...func(*ec2sdk.Options)) (*ec2sdk.DeleteSnapshotOutput, error)
}

// OwnImagesTagged returns every image the account owns that carries the
// tag key (whatever its value), in one paginated DescribeImages
// (Owners=self, Filters tag-key). It returns EAWS on failure.
func (c *Client) OwnImagesTagged(ctx context.Context, key string) ([]ImageDetail, error) {
	return c.describeImages(ctx, &ec2sdk.DescribeImagesInput{
		Owners:     []string{"self"},
		Filters:    []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{key}}},
		MaxResults: aws.Int32(1000),
	}, "describe own images tagged "+key)
}

// TemplateImage is the image one version of a launch template launches.
type TemplateImage struct {
	TemplateID, TemplateName string
	Version                  int64
	Default                  bool
	// ImageID is what the version says: an AMI id, or "resolve:ssm:..."
	// for an image a parameter names.
	ImageID string
}

// maxTemplateVersions is the page size of DescribeLaunchTemplateVersions,
// AWS's largest. It is explicit because moto 5.2.5 does not paginate the
// call: it returns the first MaxResults versions (15 by default) and no
// token (describe_launch_template_versions in
// moto/ec2/models/launch_templates.py).
const maxTemplateVersions = 200

// UsableTemplateImages returns, for every launch template of the region,
// the images of its $Latest and $Default versions: the versions a group
// or a launch that names no number uses. It is one paginated
// DescribeLaunchTemplateVersions with no template named, which AWS and
// moto 5.2.5 both answer for all templates. On moto, which does not
// paginate it, only the first maxTemplateVersions versions come back
// (two per template: 100 templates). It returns EAWS on failure.
func (c *Client) UsableTemplateImages(ctx context.Context) ([]TemplateImage, error) {
	return c.templateImages(ctx, &ec2sdk.DescribeLaunchTemplateVersionsInput{
		Versions:   []string{"$Latest", "$Default"},
		MaxResults: aws.Int32(maxTemplateVersions),
	}, "describe launch template versions $Latest, $Default")
}

// TemplateVersionImages returns the images of the given versions
// (numbers, "$Latest" or "$Default") of the launch template with id
// (when id starts with "lt-") or name. A template that does not exist is
// no versions, not an error (a group may outlive its template). It
// returns EAWS on other failures.
func (c *Client) TemplateVersionImages(ctx context.Context, idOrName string, versions []string) ([]TemplateImage, error) {
	in := &ec2sdk.DescribeLaunchTemplateVersionsInput{Versions: versions}
	if strings.HasPrefix(idOrName, "lt-") {
		in.LaunchTemplateId = aws.String(idOrName)
	} else {
		in.LaunchTemplateName = aws.String(idOrName)
	}
	out, err := c.templateImages(ctx, in, "describe versions "+strings.Join(versions, ", ")+" of launch template "+idOrName)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return out, err
}

func (c *Client) templateImages(ctx context.Context, in *ec2sdk.DescribeLaunchTemplateVersionsInput, doing string) ([]TemplateImage, error) {
	var out []TemplateImage
	seen := map[string]bool{}
	p := ec2sdk.NewDescribeLaunchTemplateVersionsPaginator(c.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(doing, "launch template", "", err)
		}
		for _, v := range page.LaunchTemplateVersions {
			ti := TemplateImage{
				TemplateID:   aws.ToString(v.LaunchTemplateId),
				TemplateName: aws.ToString(v.LaunchTemplateName),
				Version:      aws.ToInt64(v.VersionNumber),
				Default:      aws.ToBool(v.DefaultVersion),
			}
			if v.LaunchTemplateData != nil {
				ti.ImageID = aws.ToString(v.LaunchTemplateData.ImageId)
			}
			// $Latest and $Default are often the same version.
			if k := ti.TemplateID + "/" + strconv.FormatInt(ti.Version, 10); !seen[k] {
				seen[k] = true
				out = append(out, ti)
			}
		}
	}
	return out, nil
}

// InstanceImage is the image an instance that has not terminated runs.
type InstanceImage struct {
	InstanceID, ImageID, State string
}

// LiveInstanceImages returns the image of every instance of the region
// that is pending, running, stopping or stopped (one that can still
// start again from its image's snapshots), in one paginated
// DescribeInstances. It returns EAWS on failure.
func (c *Client) LiveInstanceImages(ctx context.Context) ([]InstanceImage, error) {
	var out []InstanceImage
	p := ec2sdk.NewDescribeInstancesPaginator(c.api, &ec2sdk.DescribeInstancesInput{
		Filters:    []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}},
		MaxResults: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe instances", "instance", "", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				ii := InstanceImage{InstanceID: aws.ToString(i.InstanceId), ImageID: aws.ToString(i.ImageId)}
				if i.State != nil {
					ii.State = string(i.State.Name)
				}
				out = append(out, ii)
			}
		}
	}
	return out, nil
}

// DeregisterImage deregisters the image id. An image that is gone
// already counts as deregistered. Its snapshots stay: delete them with
// DeleteSnapshot after. Other failures are EAWS errors.
func (c *Client) DeregisterImage(ctx context.Context, id string) error {
	_, err := c.api.DeregisterImage(ctx, &ec2sdk.DeregisterImageInput{ImageId: aws.String(id)})
	if err = c.fail("deregister image "+id, "image", id, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// ErrSnapshotInUse is the cause of the ECONFLICT error DeleteSnapshot
// returns while a registered image names the snapshot
// (InvalidSnapshot.InUse). AWS may answer so for a while after the image
// was deregistered: the call is worth retrying then.
var ErrSnapshotInUse = errors.New("snapshot in use by an image")

// DeleteSnapshot deletes the EBS snapshot id. A snapshot that is gone
// already counts as deleted. AWS refuses (ECONFLICT wrapping
// ErrSnapshotInUse) while a registered image still names it. Other
// failures are EAWS errors.
func (c *Client) DeleteSnapshot(ctx context.Context, id string) error {
	_, err := c.api.DeleteSnapshot(ctx, &ec2sdk.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	if err = c.fail("delete snapshot "+id, "snapshot", id, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
