package ec2

// The image inventory's reads and the removals on moto, in an account of
// the test's own.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestTheInventoryReadsTaggedImagesTemplatesAndInstancesInBulk(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	sdk, c := ec2sdk.NewFromConfig(cfg), New(cfg)
	ctx := context.Background()
	var tagged []string
	for i := range 3 {
		reg, err := sdk.RegisterImage(ctx, &ec2sdk.RegisterImageInput{Name: aws.String("img-" + string(rune('a'+i)))})
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 { // the third has no elevator:image tag
			if _, err := sdk.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{aws.ToString(reg.ImageId)},
				Tags: []ec2types.Tag{{Key: aws.String(elevator.TagImage), Value: aws.String("base")}}}); err != nil {
				t.Fatal(err)
			}
			tagged = append(tagged, aws.ToString(reg.ImageId))
		}
	}
	own, err := c.OwnImagesTagged(ctx, elevator.TagImage)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range own {
		got = append(got, o.ID)
		if len(o.Snapshots) != 1 || o.Tags[elevator.TagImage] != "base" {
			t.Errorf("%s: snapshots %v, tags %v", o.ID, o.Snapshots, o.Tags)
		}
	}
	slices.Sort(got)
	slices.Sort(tagged)
	if !slices.Equal(got, tagged) {
		t.Errorf("own tagged images %v, want %v (not moto's own, not the untagged one)", got, tagged)
	}

	// Two templates: a's default is v1 and latest v2; b has one version.
	a, err := sdk.CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("a"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(tagged[0])}})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{tagged[1], tagged[0]} {
		if _, err := sdk.CreateLaunchTemplateVersion(ctx, &ec2sdk.CreateLaunchTemplateVersionInput{LaunchTemplateId: a.LaunchTemplate.LaunchTemplateId,
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(img)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sdk.CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("b"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(tagged[1])}}); err != nil {
		t.Fatal(err)
	}
	usable, err := c.UsableTemplateImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, v := range usable {
		versions = append(versions, fmt.Sprintf("%s %d %s", v.TemplateName, v.Version, v.ImageID))
	}
	slices.Sort(versions)
	if want := []string{"a 1 " + tagged[0], "a 3 " + tagged[0], "b 1 " + tagged[1]}; !slices.Equal(versions, want) {
		t.Errorf("usable versions %v, want %v ($Default and $Latest of each, once)", versions, want)
	}
	pinned, err := c.TemplateVersionImages(ctx, aws.ToString(a.LaunchTemplate.LaunchTemplateId), []string{"2"})
	if err != nil || len(pinned) != 1 || pinned[0].ImageID != tagged[1] || pinned[0].Version != 2 {
		t.Errorf("version 2 of a: %+v, %v", pinned, err)
	}
	if gone, err := c.TemplateVersionImages(ctx, "nope", []string{"1"}); err != nil || len(gone) != 0 {
		t.Errorf("a template that does not exist: %+v, %v; want nothing and no error", gone, err)
	}

	run, err := sdk.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(tagged[0]), MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.TerminateInstances(ctx, &ec2sdk.TerminateInstancesInput{InstanceIds: []string{aws.ToString(run.Instances[1].InstanceId)}}); err != nil {
		t.Fatal(err)
	}
	live, err := c.LiveInstanceImages(ctx)
	if err != nil || len(live) != 1 || live[0].InstanceID != aws.ToString(run.Instances[0].InstanceId) || live[0].ImageID != tagged[0] {
		t.Errorf("live instances: %+v, %v; want only the running one", live, err)
	}
}

func TestRemovingAnImageTwiceAndItsSnapshotAfterIt(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	sdk, c := ec2sdk.NewFromConfig(cfg), New(cfg)
	ctx := context.Background()
	reg, err := sdk.RegisterImage(ctx, &ec2sdk.RegisterImageInput{Name: aws.String("old")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(reg.ImageId)
	if _, err := sdk.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String(elevator.TagImage), Value: aws.String("base")}}}); err != nil {
		t.Fatal(err)
	}
	own, err := c.OwnImagesTagged(ctx, elevator.TagImage)
	if err != nil || len(own) != 1 || len(own[0].Snapshots) != 1 {
		t.Fatalf("own: %+v, %v", own, err)
	}
	snap := own[0].Snapshots[0]
	if err := c.DeleteSnapshot(ctx, snap); elevator.ErrorCode(err) != elevator.ECONFLICT || !errors.Is(err, ErrSnapshotInUse) {
		t.Errorf("deleting the snapshot of a registered image: %v, want ECONFLICT wrapping ErrSnapshotInUse", err)
	}
	for range 2 {
		if err := c.DeregisterImage(ctx, id); err != nil {
			t.Errorf("deregister %s: %v (a gone image counts as deregistered)", id, err)
		}
	}
	if err := c.DeregisterImage(ctx, "ami-0123456789abcdef0"); err != nil {
		t.Errorf("deregister an image that never was: %v", err)
	}
	for range 2 {
		if err := c.DeleteSnapshot(ctx, snap); err != nil {
			t.Errorf("delete %s: %v (a gone snapshot counts as deleted)", snap, err)
		}
	}
	out, err := sdk.DescribeSnapshots(ctx, &ec2sdk.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: []string{snap}}}})
	if err != nil || len(out.Snapshots) != 0 {
		t.Errorf("snapshot %s still there: %v", snap, err)
	}
}
