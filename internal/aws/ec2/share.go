package ec2

// This file shares images and copies them between regions: what
// `elevator image promote` does when an image reaches its orbit's last
// stage.

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// shareAPI lists the EC2 operations that share and copy images.
type shareAPI interface {
	ModifyImageAttribute(context.Context, *ec2sdk.ModifyImageAttributeInput, ...func(*ec2sdk.Options)) (*ec2sdk.ModifyImageAttributeOutput, error)
	DescribeImageAttribute(context.Context, *ec2sdk.DescribeImageAttributeInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeImageAttributeOutput, error)
	ModifySnapshotAttribute(context.Context, *ec2sdk.ModifySnapshotAttributeInput, ...func(*ec2sdk.Options)) (*ec2sdk.ModifySnapshotAttributeOutput, error)
	DescribeSnapshotAttribute(context.Context, *ec2sdk.DescribeSnapshotAttributeInput, ...func(*ec2sdk.Options)) (*ec2sdk.DescribeSnapshotAttributeOutput, error)
	CopyImage(context.Context, *ec2sdk.CopyImageInput, ...func(*ec2sdk.Options)) (*ec2sdk.CopyImageOutput, error)
}

// Share is whom an image is shared with: accounts by id, organizations
// and organizational units by ARN.
type Share struct {
	Accounts, Organizations, OUs []string
}

// Empty reports whether s shares with no one.
func (s Share) Empty() bool {
	return len(s.Accounts)+len(s.Organizations)+len(s.OUs) == 0
}

// Has reports whether s shares with everyone want does.
func (s Share) Has(want Share) bool {
	for _, p := range [][2][]string{{s.Accounts, want.Accounts}, {s.Organizations, want.Organizations}, {s.OUs, want.OUs}} {
		for _, w := range p[1] {
			if !slices.Contains(p[0], w) {
				return false
			}
		}
	}
	return true
}

// ShareImage adds launch permissions on the image for everyone s names;
// permissions it has already are kept. Sharing with no one calls nothing.
// It returns ENOTFOUND wrapping ErrNotFound when there is no such image,
// EAWS for other failures.
func (c *Client) ShareImage(ctx context.Context, id string, s Share) error {
	var add []ec2types.LaunchPermission
	for _, a := range s.Accounts {
		add = append(add, ec2types.LaunchPermission{UserId: aws.String(a)})
	}
	for _, o := range s.Organizations {
		add = append(add, ec2types.LaunchPermission{OrganizationArn: aws.String(o)})
	}
	for _, ou := range s.OUs {
		add = append(add, ec2types.LaunchPermission{OrganizationalUnitArn: aws.String(ou)})
	}
	if len(add) == 0 {
		return nil
	}
	_, err := c.api.ModifyImageAttribute(ctx, &ec2sdk.ModifyImageAttributeInput{
		ImageId:          aws.String(id),
		LaunchPermission: &ec2types.LaunchPermissionModifications{Add: add},
	})
	if err != nil {
		return c.fail("share image "+id, "image", id, err)
	}
	return nil
}

// ImageLaunchPermissions returns whom the image is shared with, and
// whether it is public (launch permission for the group all). It returns
// ENOTFOUND wrapping ErrNotFound when there is no such image, EAWS for
// other failures.
func (c *Client) ImageLaunchPermissions(ctx context.Context, id string) (s Share, public bool, err error) {
	out, err := c.api.DescribeImageAttribute(ctx, &ec2sdk.DescribeImageAttributeInput{
		ImageId: aws.String(id), Attribute: ec2types.ImageAttributeNameLaunchPermission,
	})
	if err != nil {
		return Share{}, false, c.fail("describe the launch permissions of image "+id, "image", id, err)
	}
	for _, p := range out.LaunchPermissions {
		switch {
		case aws.ToString(p.UserId) != "":
			s.Accounts = append(s.Accounts, aws.ToString(p.UserId))
		case aws.ToString(p.OrganizationArn) != "":
			s.Organizations = append(s.Organizations, aws.ToString(p.OrganizationArn))
		case aws.ToString(p.OrganizationalUnitArn) != "":
			s.OUs = append(s.OUs, aws.ToString(p.OrganizationalUnitArn))
		case p.Group == ec2types.PermissionGroupAll:
			public = true
		}
	}
	sort.Strings(s.Accounts)
	sort.Strings(s.Organizations)
	sort.Strings(s.OUs)
	return s, public, nil
}

// ShareSnapshot lets the accounts create volumes from the snapshot (which
// launching a shared image needs); permissions it has already are kept.
// No accounts calls nothing. It returns ENOTFOUND wrapping ErrNotFound
// when there is no such snapshot, EAWS for other failures.
func (c *Client) ShareSnapshot(ctx context.Context, id string, accounts []string) error {
	if len(accounts) == 0 {
		return nil
	}
	// OperationType and UserIds, rather than CreateVolumePermission.Add:
	// EC2 takes either, and moto only the first (modify_snapshot_attribute
	// in moto/ec2/responses/elastic_block_store.py).
	_, err := c.api.ModifySnapshotAttribute(ctx, &ec2sdk.ModifySnapshotAttributeInput{
		SnapshotId:    aws.String(id),
		Attribute:     ec2types.SnapshotAttributeNameCreateVolumePermission,
		OperationType: ec2types.OperationTypeAdd,
		UserIds:       accounts,
	})
	if err != nil {
		return c.fail("share snapshot "+id, "snapshot", id, err)
	}
	return nil
}

// SnapshotVolumePermissions returns the accounts that may create volumes
// from the snapshot, sorted. It returns ENOTFOUND wrapping ErrNotFound
// when there is no such snapshot, EAWS for other failures.
func (c *Client) SnapshotVolumePermissions(ctx context.Context, id string) ([]string, error) {
	out, err := c.api.DescribeSnapshotAttribute(ctx, &ec2sdk.DescribeSnapshotAttributeInput{
		SnapshotId: aws.String(id), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission,
	})
	if err != nil {
		return nil, c.fail("describe the volume permissions of snapshot "+id, "snapshot", id, err)
	}
	var accounts []string
	for _, p := range out.CreateVolumePermissions {
		if u := aws.ToString(p.UserId); u != "" {
			accounts = append(accounts, u)
		}
	}
	sort.Strings(accounts)
	return accounts, nil
}

// CopyImageInput says which image CopyImage copies into the client's
// region, under which name, and how the copy is encrypted.
type CopyImageInput struct {
	SourceRegion, SourceImage string
	Name, Description         string
	// KMSKey, when set, encrypts the copy's snapshots with that key; else
	// an unencrypted source makes an unencrypted copy, an encrypted one a copy
	// under the region's default EBS key.
	KMSKey string
	// Token makes retries of one copy one copy (EC2's ClientToken, at
	// most 64 ASCII characters).
	Token string
}

// CopyImage starts copying an image into the client's region and returns
// the copy's id; the copy is pending until EC2 has copied its snapshots.
// Tags are not copied. It returns ENOTFOUND wrapping ErrNotFound when the
// source does not exist, EAWS for other failures.
func (c *Client) CopyImage(ctx context.Context, in CopyImageInput) (string, error) {
	cp := &ec2sdk.CopyImageInput{
		SourceRegion:  aws.String(in.SourceRegion),
		SourceImageId: aws.String(in.SourceImage),
		Name:          aws.String(in.Name),
		Description:   optionalString(in.Description),
		ClientToken:   optionalString(in.Token),
	}
	if in.KMSKey != "" {
		cp.Encrypted, cp.KmsKeyId = aws.Bool(true), aws.String(in.KMSKey)
	}
	out, err := c.api.CopyImage(ctx, cp)
	if err != nil {
		return "", c.fail("copy image "+in.SourceRegion+"/"+in.SourceImage+" to "+c.region, "image", in.SourceImage, err)
	}
	return aws.ToString(out.ImageId), nil
}

// OwnImagesWithTags returns the images the account owns in the region that
// carry every tag of tags (key=value), with their tags, sorted by id. It
// returns EAWS on failure.
func (c *Client) OwnImagesWithTags(ctx context.Context, tags map[string]string) ([]Image, error) {
	var images []Image
	p := ec2sdk.NewDescribeImagesPaginator(c.api, &ec2sdk.DescribeImagesInput{Owners: []string{"self"}, Filters: tagFilters(tags)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe images tagged "+strings.Join(sortedKeys(tags), ", "), "image", "", err)
		}
		for _, img := range out.Images {
			images = append(images, image(img))
		}
	}
	sort.Slice(images, func(i, j int) bool { return images[i].ID < images[j].ID })
	return images, nil
}

// DeprecateImage sets image id to be deprecated at at, which AWS rounds
// to the minute and takes only in the future: every account the image is
// shared with sees when (Image.Deprecated). It returns ENOTFOUND wrapping
// ErrNotFound when there is no such image, EAWS for other failures.
func (c *Client) DeprecateImage(ctx context.Context, id string, at time.Time) error {
	if _, err := c.api.EnableImageDeprecation(ctx, &ec2sdk.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(at)}); err != nil {
		return c.fail("deprecate image "+id, "image", id, err)
	}
	return nil
}
