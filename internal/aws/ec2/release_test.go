package ec2

// These tests run the release's EC2 calls (launch templates, look-ups by ID,
// instances) against a real moto server, each in an account of its own.

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// network is a VPC with two tagged subnets in two zones and a security
// group, made directly with the SDK.
type network struct {
	vpc     string
	subnets []string
	group   string
}

func newNetwork(t *testing.T, sdk *ec2sdk.Client) network {
	t.Helper()
	ctx := context.Background()
	vpc, err := sdk.CreateVpc(ctx, &ec2sdk.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	n := network{vpc: aws.ToString(vpc.Vpc.VpcId)}
	zones, err := sdk.DescribeAvailabilityZones(ctx, &ec2sdk.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i, cidr := range []string{"10.9.1.0/24", "10.9.2.0/24"} {
		s, err := sdk.CreateSubnet(ctx, &ec2sdk.CreateSubnetInput{
			VpcId: aws.String(n.vpc), CidrBlock: aws.String(cidr), AvailabilityZone: zones.AvailabilityZones[i].ZoneName,
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet, Tags: []ec2types.Tag{{Key: aws.String(elevator.TagTier), Value: aws.String("app")}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		n.subnets = append(n.subnets, aws.ToString(s.Subnet.SubnetId))
	}
	sg, err := sdk.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{
		GroupName: aws.String("web"), Description: aws.String("web"), VpcId: aws.String(n.vpc),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{{Key: aws.String(elevator.TagService), Value: aws.String("web")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.group = aws.ToString(sg.GroupId)
	return n
}

// anImage returns the ID of an image moto offers in the region.
func anImage(t *testing.T, sdk *ec2sdk.Client) string {
	t.Helper()
	out, err := sdk.DescribeImages(context.Background(), &ec2sdk.DescribeImagesInput{})
	if err != nil || len(out.Images) == 0 {
		t.Fatalf("no image to launch from: %v", err)
	}
	return aws.ToString(out.Images[0].ImageId)
}

func isCode(err error, code string, sentinel error) bool {
	return elevator.ErrorCode(err) == code && (sentinel == nil || errors.Is(err, sentinel))
}

func TestALaunchTemplateRequiresIMDSv2AndTagsWhatItLaunches(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx, sdk, c := context.Background(), ec2sdk.NewFromConfig(cfg), New(cfg)
	net := newNetwork(t, sdk)
	profile, err := iamsdk.NewFromConfig(cfg).CreateInstanceProfile(ctx, &iamsdk.CreateInstanceProfileInput{InstanceProfileName: aws.String("web"), Path: aws.String(elevator.IAMPath("o", "a", "s"))})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{elevator.TagApp: "shop", elevator.TagRelease: "r-1"}
	in := LaunchTemplateInput{
		Name: "shop-web-r-1", ImageID: anImage(t, sdk), InstanceType: "t3.micro",
		SecurityGroupIDs: []string{net.group},
		InstanceProfile:  aws.ToString(profile.InstanceProfile.Arn),
		UserData:         []byte("#!/bin/sh\necho hello\n"),
		RootVolume:       &Volume{DeviceName: "/dev/xvda", SizeGiB: 20},
		Tags:             tags,
		ClientToken:      "r-1-web-launch-template",
	}
	lt, err := c.CreateLaunchTemplate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if lt.ID == "" || lt.Name != in.Name || lt.DefaultVersion != 1 || !reflect.DeepEqual(lt.Tags, tags) {
		t.Errorf("created %+v", lt)
	}

	versions, err := sdk.DescribeLaunchTemplateVersions(ctx, &ec2sdk.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(lt.ID)})
	if err != nil || len(versions.LaunchTemplateVersions) != 1 {
		t.Fatalf("versions: %v", err)
	}
	data := versions.LaunchTemplateVersions[0].LaunchTemplateData
	t.Run("instances require IMDSv2 tokens, two hops away", func(t *testing.T) {
		m := data.MetadataOptions
		if m == nil || m.HttpTokens != ec2types.LaunchTemplateHttpTokensStateRequired || m.HttpEndpoint != ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled || aws.ToInt32(m.HttpPutResponseHopLimit) != 2 {
			t.Errorf("metadata options %+v", m)
		}
	})
	t.Run("user data is stored in base64", func(t *testing.T) {
		ud, err := base64.StdEncoding.DecodeString(aws.ToString(data.UserData))
		if err != nil || string(ud) != string(in.UserData) {
			t.Errorf("user data %q (%v)", ud, err)
		}
	})
	t.Run("the instance profile, groups, type and volume are kept", func(t *testing.T) {
		if data.IamInstanceProfile == nil || aws.ToString(data.IamInstanceProfile.Arn) != in.InstanceProfile {
			t.Errorf("instance profile %+v", data.IamInstanceProfile)
		}
		if !reflect.DeepEqual(data.SecurityGroupIds, []string{net.group}) || data.InstanceType != "t3.micro" {
			t.Errorf("groups %v, type %s", data.SecurityGroupIds, data.InstanceType)
		}
		if len(data.BlockDeviceMappings) != 1 || aws.ToInt32(data.BlockDeviceMappings[0].Ebs.VolumeSize) != 20 || !aws.ToBool(data.BlockDeviceMappings[0].Ebs.Encrypted) {
			t.Errorf("block devices %+v", data.BlockDeviceMappings)
		}
	})
	t.Run("instances and volumes carry the tags", func(t *testing.T) {
		got := map[ec2types.ResourceType]int{}
		for _, ts := range data.TagSpecifications {
			got[ts.ResourceType] = len(ts.Tags)
		}
		if got[ec2types.ResourceTypeInstance] != 2 || got[ec2types.ResourceTypeVolume] != 2 {
			t.Errorf("tag specifications %+v", data.TagSpecifications)
		}
	})
	t.Run("creating it again is a conflict the caller can treat as done", func(t *testing.T) {
		// moto ignores ClientToken, so a second create meets the name.
		_, err := c.CreateLaunchTemplate(ctx, in)
		if !isCode(err, elevator.ECONFLICT, ErrLaunchTemplateExists) {
			t.Errorf("got %v (code %q), want ECONFLICT wrapping ErrLaunchTemplateExists", err, elevator.ErrorCode(err))
		}
	})
	t.Run("it is found by name", func(t *testing.T) {
		byName, err := c.LaunchTemplate(ctx, in.Name)
		if err != nil || byName.ID != lt.ID {
			t.Errorf("by name: %+v, %v", byName, err)
		}
	})
	t.Run("deleting it twice succeeds and leaves it not found", func(t *testing.T) {
		for range 2 {
			if err := c.DeleteLaunchTemplate(ctx, in.Name); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.LaunchTemplate(ctx, in.Name); !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
			t.Errorf("got %v, want ENOTFOUND", err)
		}
	})
}

func TestImagesAreFoundByID(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx, sdk, c := context.Background(), ec2sdk.NewFromConfig(cfg), New(cfg)
	base := anImage(t, sdk)
	run, err := sdk.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(base), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro})
	if err != nil {
		t.Fatal(err)
	}
	baked, err := sdk.CreateImage(ctx, &ec2sdk.CreateImageInput{
		InstanceId: run.Instances[0].InstanceId, Name: aws.String("shop-2026-11-23"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: []ec2types.Tag{{Key: aws.String(elevator.TagApp), Value: aws.String("shop")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(baked.ImageId)

	img, err := c.Image(ctx, id)
	if err != nil || img.ID != id || img.Name != "shop-2026-11-23" || img.State != "available" || img.Tags[elevator.TagApp] != "shop" {
		t.Errorf("image %+v, %v", img, err)
	}
	t.Run("images by ID leave out a missing one", func(t *testing.T) {
		images, err := c.Images(ctx, []string{"ami-0123456789abcdef0", id, base})
		if err != nil || len(images) != 2 || images[0].ID != id || images[1].ID != base {
			t.Errorf("got %+v, %v; want %s then %s", images, err, id, base)
		}
	})
	for _, tc := range []struct {
		test string
		call func() error
		code string
	}{
		{"a missing image is not found", func() error { _, err := c.Image(ctx, "ami-0123456789abcdef0"); return err }, elevator.ENOTFOUND},
		{"a missing image is not found to ImageExists either", func() error { return c.ImageExists(ctx, "ami-0123456789abcdef0") }, elevator.ENOTFOUND},
	} {
		t.Run(tc.test, func(t *testing.T) {
			if err := tc.call(); !isCode(err, tc.code, ErrNotFound) {
				t.Errorf("got %v (code %q), want %s", err, elevator.ErrorCode(err), tc.code)
			}
		})
	}
}

func TestSubnetsAndSecurityGroupsAreFoundByID(t *testing.T) {
	cfg := emulatortest.Config(t, "us-west-2")
	ctx, sdk, c := context.Background(), ec2sdk.NewFromConfig(cfg), New(cfg)
	net := newNetwork(t, sdk)

	t.Run("subnets come in the order asked for with their VPC and tags", func(t *testing.T) {
		reversed := []string{net.subnets[1], net.subnets[0]}
		subnets, err := c.SubnetsByID(ctx, reversed)
		if err != nil || len(subnets) != 2 {
			t.Fatalf("%+v, %v", subnets, err)
		}
		for i, s := range subnets {
			if s.ID != reversed[i] || s.VPCID != net.vpc || s.Tags[elevator.TagTier] != "app" || s.AZ == "" || !s.CIDR.IsValid() {
				t.Errorf("subnet %d: %+v", i, s)
			}
		}
	})
	t.Run("security groups come with their VPC and tags", func(t *testing.T) {
		groups, err := c.SecurityGroupsByID(ctx, []string{net.group})
		if err != nil || len(groups) != 1 || groups[0].VPCID != net.vpc || groups[0].Name != "web" || groups[0].Tags[elevator.TagService] != "web" {
			t.Errorf("%+v, %v", groups, err)
		}
	})
	for _, tc := range []struct {
		test string
		call func() ([]string, error)
		want []string
	}{
		{"a missing subnet is left out, and a repeated one listed once", func() ([]string, error) {
			s, err := c.SubnetsByID(ctx, []string{net.subnets[0], "subnet-0123456789abcdef0", net.subnets[0]})
			return subnetIDs(s), err
		}, net.subnets[:1]},
		{"a missing security group is left out", func() ([]string, error) {
			g, err := c.SecurityGroupsByID(ctx, []string{"sg-0123456789abcdef0", net.group})
			return groupIDs(g), err
		}, []string{net.group}},
		{"no subnet IDs find no subnets", func() ([]string, error) { s, err := c.SubnetsByID(ctx, nil); return subnetIDs(s), err }, nil},
		{"no group IDs find no groups", func() ([]string, error) { g, err := c.SecurityGroupsByID(ctx, nil); return groupIDs(g), err }, nil},
	} {
		t.Run(tc.test, func(t *testing.T) {
			got, err := tc.call()
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func subnetIDs(ss []Subnet) []string {
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func groupIDs(gs []SecurityGroup) []string {
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}
