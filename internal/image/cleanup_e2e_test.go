package image

// Cleanup on moto: images registered and copied with the SDK in two
// regions of one account, used by a group, a launch template, a launch
// configuration and an instance, cleaned up through the EC2 and Auto
// Scaling adapters, and read back with the SDK.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// motoImages is one account's images in two regions, named by role.
type motoImages struct {
	east, west       aws.Config
	eastSDK, westSDK *ec2sdk.Client
	ids              map[string]string   // role -> image id in us-east-1
	copies           map[string]string   // role -> its copy's id in us-west-2
	snapshots        map[string][]string // region -> the snapshots of the images first seen there
}

func (m motoImages) regions() []Region {
	return []Region{
		{Name: "us-east-1", Images: ec2.New(m.east), Groups: autoscaling.New(m.east), Parameters: ssm.New(m.east)},
		{Name: "us-west-2", Images: ec2.New(m.west), Groups: autoscaling.New(m.west), Parameters: ssm.New(m.west)},
	}
}

func (m motoImages) removers() map[string]Remover {
	return map[string]Remover{"us-east-1": ec2.New(m.east), "us-west-2": ec2.New(m.west)}
}

func tagsOf(kv map[string]string) []ec2types.Tag {
	var tags []ec2types.Tag
	for k, v := range kv {
		tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return tags
}

// newMotoImages registers, in us-east-1, images of line base at stage
// tested: new1 and new2 built 20 and 21 days ago, then, 30 to 35 days
// ago, byGroup, byInstance, byTemplate, byConfig, byParameter, spare1 and
// spare2; and
// copies each to us-west-2 with the same tags and elevator:copied-from.
// It uses byGroup through a group pinned to a launch template version
// that is neither $Latest nor $Default, byTemplate through a template's
// $Latest, byConfig through a launch configuration, and byInstance's
// copy through an instance in us-west-2, and byParameter's copy through
// an image parameter in us-west-2 (a parameter outside
// elevator.ImageParameterPrefix names spare1: it is no use).
func newMotoImages(t *testing.T) motoImages {
	t.Helper()
	ctx := context.Background()
	acct := emulatortest.NewAccount(t)
	m := motoImages{east: acct.Config("us-east-1"), west: acct.Config("us-west-2"), ids: map[string]string{}, copies: map[string]string{}}
	m.eastSDK, m.westSDK = ec2sdk.NewFromConfig(m.east), ec2sdk.NewFromConfig(m.west)
	roles := []string{"new1", "new2", "byGroup", "byInstance", "byTemplate", "byConfig", "byParameter", "spare1", "spare2"}
	ages := []int{20, 21, 30, 31, 32, 33, 36, 34, 35}
	for i, role := range roles {
		reg, err := m.eastSDK.RegisterImage(ctx, &ec2sdk.RegisterImageInput{Name: aws.String("base-" + role)})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(reg.ImageId)
		tags := map[string]string{elevator.TagImage: "base", elevator.TagImageStage: "tested", elevator.TagOrbit: "demo", elevator.TagImageBakeID: "bake-" + role,
			elevator.TagImageBuilt: time.Now().Add(-time.Duration(ages[i]) * 24 * time.Hour).UTC().Format(time.RFC3339)}
		if _, err := m.eastSDK.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{id}, Tags: tagsOf(tags)}); err != nil {
			t.Fatal(err)
		}
		cp, err := m.westSDK.CopyImage(ctx, &ec2sdk.CopyImageInput{SourceImageId: aws.String(id), SourceRegion: aws.String("us-east-1"), Name: aws.String("base-" + role)})
		if err != nil {
			t.Fatal(err)
		}
		tags[elevator.TagImageCopiedFrom] = "us-east-1/" + id
		if _, err := m.westSDK.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{aws.ToString(cp.ImageId)}, Tags: tagsOf(tags)}); err != nil {
			t.Fatal(err)
		}
		m.ids[role], m.copies[role] = id, aws.ToString(cp.ImageId)
	}

	// A template whose version 1 a group pins: $Default and $Latest are
	// version 3, which launches new1.
	lt, err := m.eastSDK.CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("shop-web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(m.ids["byGroup"]), InstanceType: ec2types.InstanceTypeT3Micro}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := m.eastSDK.CreateLaunchTemplateVersion(ctx, &ec2sdk.CreateLaunchTemplateVersionInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId,
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(m.ids["new1"]), InstanceType: ec2types.InstanceTypeT3Micro}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.eastSDK.ModifyLaunchTemplate(ctx, &ec2sdk.ModifyLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, DefaultVersion: aws.String("3")}); err != nil {
		t.Fatal(err)
	}
	asg := autoscalingsdk.NewFromConfig(m.east)
	if _, err := asg.CreateAutoScalingGroup(ctx, &autoscalingsdk.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("shop-web-r1"),
		MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"},
		LaunchTemplate: &autoscalingtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")}}); err != nil {
		t.Fatal(err)
	}
	// A template nothing launches from yet: its $Latest is byTemplate.
	if _, err := m.eastSDK.CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("spare"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(m.ids["byTemplate"])}}); err != nil {
		t.Fatal(err)
	}
	if _, err := asg.CreateLaunchConfiguration(ctx, &autoscalingsdk.CreateLaunchConfigurationInput{LaunchConfigurationName: aws.String("old-lc"),
		ImageId: aws.String(m.ids["byConfig"]), InstanceType: aws.String("t3.micro")}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.westSDK.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(m.copies["byInstance"]), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	params := ssmsdk.NewFromConfig(m.west)
	for name, id := range map[string]string{elevator.ImageParameterPrefix + "shop/web": m.copies["byParameter"], "/other/web": m.copies["spare1"]} {
		if _, err := params.PutParameter(ctx, &ssmsdk.PutParameterInput{Name: aws.String(name), Value: aws.String(id), Type: ssmtypes.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// state is, by region, every image the account owns and which of their
// snapshots (as first seen: moto's own images have snapshots too) exist.
func (m *motoImages) state(t *testing.T) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for region, sdk := range map[string]*ec2sdk.Client{"us-east-1": m.eastSDK, "us-west-2": m.westSDK} {
		imgs, err := sdk.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{Owners: []string{"self"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range imgs.Images {
			out[region] = append(out[region], aws.ToString(i.ImageId))
			if m.snapshots == nil {
				m.snapshots = map[string][]string{}
			}
			for _, b := range i.BlockDeviceMappings {
				if b.Ebs != nil && !slices.Contains(m.snapshots[region], aws.ToString(b.Ebs.SnapshotId)) {
					m.snapshots[region] = append(m.snapshots[region], aws.ToString(b.Ebs.SnapshotId))
				}
			}
		}
		snaps, err := sdk.DescribeSnapshots(ctx, &ec2sdk.DescribeSnapshotsInput{
			Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: m.snapshots[region]}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps.Snapshots {
			out[region] = append(out[region], aws.ToString(s.SnapshotId))
		}
		slices.Sort(out[region])
	}
	return out
}

func TestCleanupOnMotoKeepsWhatIsUsedOrNewAndRemovesEveryCopyWithItsSnapshots(t *testing.T) {
	m := newMotoImages(t)
	mp := &m
	ctx := context.Background()
	before := mp.state(t)
	if len(before["us-east-1"]) != 18 || len(before["us-west-2"]) != 18 {
		t.Fatalf("want 9 images and 9 snapshots per region, got %v", before)
	}
	policy := Policy{Keep: 2, Age: DefaultAge}

	dry, err := Cleanup(ctx, CleanupInput{Orbit: "demo", Regions: m.regions(), Removers: m.removers(), Policy: policy, DryRun: true, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if after := mp.state(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a dry run changed the account:\nbefore %v\nafter  %v", before, after)
	}
	why := map[string]string{}
	var wouldGo []string
	for _, d := range dry.Decisions {
		for role, id := range m.ids {
			if d.Image.Copies[0].ID == id {
				why[role] = d.Why
				if d.Remove {
					wouldGo = append(wouldGo, role)
				}
			}
		}
		if len(d.Image.Copies) != 2 || d.Image.Copies[1].Region != "us-west-2" {
			t.Errorf("%s: want its copy in us-west-2 with it, got %+v", d.Image.ID(), d.Image.Copies)
		}
	}
	slices.Sort(wouldGo)
	if want := []string{"spare1", "spare2"}; !slices.Equal(wouldGo, want) {
		t.Errorf("a dry run would remove %v, want %v; reasons: %v", wouldGo, want, why)
	}
	for role, want := range map[string]string{
		"new1":        "newest 2 of line base at stage tested (#1)",
		"new2":        "newest 2 of line base at stage tested (#2)",
		"byGroup":     "group shop-web-r1 (launch template shop-web version 1) in us-east-1",
		"byTemplate":  "launch template spare version 1 in us-east-1",
		"byConfig":    "launch configuration old-lc in us-east-1",
		"byInstance":  "in us-west-2",
		"byParameter": "SSM parameter " + elevator.ImageParameterPrefix + "shop/web in us-west-2",
	} {
		if !strings.Contains(why[role], want) {
			t.Errorf("%s: why = %q, want it to say %q", role, why[role], want)
		}
	}
	if !strings.Contains(why["byInstance"], "instance i-") {
		t.Errorf("byInstance: why = %q, want the instance", why["byInstance"])
	}

	var audited []elevator.AuditEntry
	rep, err := Cleanup(ctx, CleanupInput{Orbit: "demo", Regions: m.regions(), Removers: m.removers(), Policy: policy, Now: time.Now(),
		Audit: func(_ context.Context, e elevator.AuditEntry) error { audited = append(audited, e); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removals) != 4 || rep.Failed() != 0 {
		t.Errorf("want 4 copies removed without failure, got %+v", rep.Removals)
	}
	after := mp.state(t)
	for _, role := range []string{"spare1", "spare2"} {
		if slices.Contains(after["us-east-1"], m.ids[role]) || slices.Contains(after["us-west-2"], m.copies[role]) {
			t.Errorf("%s or its copy is still registered", role)
		}
	}
	for _, role := range []string{"new1", "new2", "byGroup", "byInstance", "byTemplate", "byConfig", "byParameter"} {
		if !slices.Contains(after["us-east-1"], m.ids[role]) || !slices.Contains(after["us-west-2"], m.copies[role]) {
			t.Errorf("%s or its copy was removed", role)
		}
	}
	// 7 images and their 7 snapshots remain in each region: the removed
	// images' snapshots went with them.
	if len(after["us-east-1"]) != 14 || len(after["us-west-2"]) != 14 {
		t.Errorf("want 7 images and 7 snapshots left per region, got %v", after)
	}
	for _, r := range rep.Removals {
		if len(r.Snapshots) != 1 {
			t.Errorf("%s %s: snapshots deleted %v, want its one", r.Region, r.ImageID, r.Snapshots)
		}
		for _, s := range r.Snapshots {
			if slices.Contains(after[r.Region], s) {
				t.Errorf("%s %s: snapshot %s is still there", r.Region, r.ImageID, s)
			}
		}
	}
	if len(audited) != 1 || audited[0].Outcome != "removed" || strings.Count(audited[0].Detail, "ami-") != 4 {
		t.Errorf("audit: %+v", audited)
	}
}
