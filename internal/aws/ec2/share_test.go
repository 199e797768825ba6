package ec2

// These tests share and copy an image on a moto server. moto keeps every
// launch permission it is given, organizations and organizational units
// included, and answers them back; it ignores CopyImage's Encrypted,
// KmsKeyId and ClientToken (copy_image in moto/ec2/models/amis.py), so
// neither encryption nor a retried copy being one copy shows here.

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// aTaggedImage makes an image of the account (with one EBS snapshot)
// carrying tags.
func aTaggedImage(t *testing.T, sdk *ec2sdk.Client, name string, tags map[string]string) string {
	t.Helper()
	ctx := context.Background()
	run, err := sdk.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(anImage(t, sdk)), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sdk.CreateImage(ctx, &ec2sdk.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String(name),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: ec2Tags(tags)}}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ImageId)
}

func TestAnImageIsSharedWithAccountsOrganizationsAndUnits(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx, sdk, c := context.Background(), ec2sdk.NewFromConfig(cfg), New(cfg)
	id := aTaggedImage(t, sdk, "base-1", map[string]string{elevator.TagImage: "base"})
	img, err := c.Image(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Snapshots) != 1 || img.Public {
		t.Fatalf("image %+v: want one snapshot, not public", img)
	}
	share := Share{
		Accounts:      []string{"111122223333", "444455556666"},
		Organizations: []string{"arn:aws:organizations::111122223333:organization/o-abc123def4"},
		OUs:           []string{"arn:aws:organizations::111122223333:ou/o-abc123def4/ou-ab12-cdef3456"},
	}
	for range 2 { // sharing twice is sharing once
		if err := c.ShareImage(ctx, id, share); err != nil {
			t.Fatal(err)
		}
		if err := c.ShareSnapshot(ctx, img.Snapshots[0], share.Accounts); err != nil {
			t.Fatal(err)
		}
	}
	got, public, err := c.ImageLaunchPermissions(ctx, id)
	if err != nil || public || !reflect.DeepEqual(got, share) {
		t.Errorf("launch permissions %+v (public %v), %v; want %+v", got, public, err, share)
	}
	accounts, err := c.SnapshotVolumePermissions(ctx, img.Snapshots[0])
	if err != nil || !reflect.DeepEqual(accounts, share.Accounts) {
		t.Errorf("volume permissions %v, %v; want %v", accounts, err, share.Accounts)
	}
	t.Run("an image shared with all is public", func(t *testing.T) {
		if _, err := sdk.ModifyImageAttribute(ctx, &ec2sdk.ModifyImageAttributeInput{ImageId: aws.String(id),
			LaunchPermission: &ec2types.LaunchPermissionModifications{Add: []ec2types.LaunchPermission{{Group: ec2types.PermissionGroupAll}}}}); err != nil {
			t.Fatal(err)
		}
		if _, public, err := c.ImageLaunchPermissions(ctx, id); err != nil || !public {
			t.Errorf("public %v, %v; want public", public, err)
		}
		if img, err := c.Image(ctx, id); err != nil || !img.Public {
			t.Errorf("image %+v, %v; want public", img, err)
		}
	})
	t.Run("a missing image is not found", func(t *testing.T) {
		if err := c.ShareImage(ctx, "ami-0123456789abcdef0", share); !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
			t.Errorf("got %v, want ENOTFOUND", err)
		}
	})
}

func TestAnImageIsCopiedToAnotherRegionAndFoundByItsTags(t *testing.T) {
	east := emulatortest.Config(t, "us-east-1")
	west := east.Copy()
	west.Region = "us-west-2"
	ctx, sdk := context.Background(), ec2sdk.NewFromConfig(east)
	id := aTaggedImage(t, sdk, "base-2", map[string]string{elevator.TagImage: "base"})
	w := New(west)
	copied, err := w.CopyImage(ctx, CopyImageInput{SourceRegion: "us-east-1", SourceImage: id, Name: "base-2", KMSKey: "alias/images", Token: "t-" + id})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Tag(ctx, copied, map[string]string{elevator.TagImage: "base", elevator.TagImageCopiedFrom: "us-east-1/" + id}); err != nil {
		t.Fatal(err)
	}
	found, err := w.OwnImagesWithTags(ctx, map[string]string{elevator.TagImageCopiedFrom: "us-east-1/" + id})
	if err != nil || len(found) != 1 || found[0].ID != copied || found[0].Name != "base-2" || len(found[0].Snapshots) != 1 {
		t.Fatalf("found %+v, %v; want the copy %s named base-2 with a snapshot", found, err, copied)
	}
	if none, err := New(east).OwnImagesWithTags(ctx, map[string]string{elevator.TagImageCopiedFrom: "us-east-1/" + id}); err != nil || len(none) != 0 {
		t.Errorf("in the source's region: %+v, %v; want none", none, err)
	}
	t.Run("a missing source is not found", func(t *testing.T) {
		_, err := w.CopyImage(ctx, CopyImageInput{SourceRegion: "us-east-1", SourceImage: "ami-0123456789abcdef0", Name: "x"})
		if elevator.ErrorCode(err) == "" {
			t.Errorf("got %v, want an error", err)
		}
	})
}
