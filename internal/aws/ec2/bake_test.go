package ec2

// These tests run a bake's EC2 calls (a builder, its image, cleanup)
// against a real moto server, each in an account of its own.

import (
	"context"
	"errors"
	"testing"

	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestABuilderIsLaunchedStoppedImagedAndCleanedUp(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	sdk := ec2sdk.NewFromConfig(cfg)
	c := New(cfg)
	ctx := context.Background()
	n := newNetwork(t, sdk)
	base := anImage(t, sdk)

	g, err := c.SecurityGroupNamed(ctx, n.vpc, "web")
	if err != nil || g.ID != n.group {
		t.Fatalf("SecurityGroupNamed web: %+v, %v; want %s", g, err, n.group)
	}
	if _, err := c.SecurityGroupNamed(ctx, n.vpc, "bake"); elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrNotFound) {
		t.Errorf("SecurityGroupNamed of a missing group: %v", err)
	}

	tags := map[string]string{elevator.TagBakeBuilder: "b1", elevator.TagOrbit: "test"}
	id, err := c.RunBuilder(ctx, BuilderInput{ImageID: base, InstanceType: "t3.small", SubnetID: n.subnets[0], SecurityGroupIDs: []string{n.group},
		UserData: []byte("#!/bin/sh\n"), RootDevice: "/dev/xvda", VolumeSize: 12, Tags: tags, ClientToken: "elevator-bake-b1"})
	if err != nil {
		t.Fatal(err)
	}
	found, err := c.InstancesTagged(ctx, map[string]string{elevator.TagBakeBuilder: "b1"})
	if err != nil || len(found) != 1 || found[0].ID != id || found[0].Tags[elevator.TagOrbit] != "test" {
		t.Fatalf("InstancesTagged: %+v, %v", found, err)
	}
	out, err := sdk.DescribeInstances(ctx, &ec2sdk.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Reservations[0].Instances[0]
	if inst.MetadataOptions == nil || inst.MetadataOptions.HttpTokens != "required" {
		t.Errorf("builder metadata options %+v, want IMDSv2 tokens required", inst.MetadataOptions)
	}
	if err := c.StopInstance(ctx, id); err != nil {
		t.Fatal(err)
	}
	img, err := c.CreateImage(ctx, id, "web-1", "a bake", map[string]string{elevator.TagImageBakeID: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := c.OwnImages(ctx, "web-1", nil)
	if err != nil || len(own) != 1 || own[0].ID != img || own[0].Tags[elevator.TagImageBakeID] != "b1" {
		t.Fatalf("OwnImages by name: %+v, %v", own, err)
	}
	if byTag, err := c.OwnImages(ctx, "", map[string]string{elevator.TagImageBakeID: "b1"}); err != nil || len(byTag) != 1 {
		t.Errorf("OwnImages by tag: %+v, %v", byTag, err)
	}
	d, err := c.ImageDetail(ctx, img)
	if err != nil || d.State != "available" || len(d.Snapshots) == 0 {
		t.Fatalf("ImageDetail: %+v, %v", d, err)
	}
	if err := c.DeregisterImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Snapshots {
		if err := c.DeleteSnapshot(ctx, s); err != nil {
			t.Errorf("DeleteSnapshot %s: %v", s, err)
		}
	}
	if _, err := c.ImageDetail(ctx, img); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("ImageDetail after deregistering: %v", err)
	}
	if err := c.TerminateInstance(ctx, id); err != nil {
		t.Fatal(err)
	}
	after, err := c.Instances(ctx, []string{id})
	if err != nil || len(after) != 1 || (after[0].State != "terminated" && after[0].State != "shutting-down") {
		t.Errorf("after TerminateInstance: %+v, %v", after, err)
	}
	if err := c.TerminateInstance(ctx, "i-0000000000000dead"); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("TerminateInstance of a missing instance: %v", err)
	}
}
