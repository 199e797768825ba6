package autoscaling

// What groups launch, read in bulk on moto: a group on a launch template,
// one on a mixed instances policy with an override's template, one on a
// launch configuration; and more launch configurations than moto's page.

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestGroupLaunchesAndLaunchConfigurationsAreReadInBulk(t *testing.T) {
	f := newFixture(t, "us-east-1")
	ctx := context.Background()
	images, err := f.ec2.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{MaxResults: aws.Int32(5)})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("no image: %v", err)
	}
	image := aws.ToString(images.Images[0].ImageId)
	other, err := f.ec2.CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("other"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image)}})
	if err != nil {
		t.Fatal(err)
	}
	// 60 launch configurations: more than the 50 moto pages by default.
	for i := range 60 {
		if _, err := f.api.CreateLaunchConfiguration(ctx, &autoscalingsdk.CreateLaunchConfigurationInput{LaunchConfigurationName: aws.String(fmt.Sprintf("lc-%02d", i)),
			ImageId: aws.String(image), InstanceType: aws.String("t3.micro")}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(in *autoscalingsdk.CreateAutoScalingGroupInput) {
		in.MinSize, in.MaxSize, in.VPCZoneIdentifier = aws.Int32(0), aws.Int32(1), aws.String(f.subnets[0])
		if _, err := f.api.CreateAutoScalingGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	create(&autoscalingsdk.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("on-template"),
		LaunchTemplate: &autoscalingtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(f.lt), Version: aws.String("$Latest")}})
	create(&autoscalingsdk.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("mixed"),
		MixedInstancesPolicy: &autoscalingtypes.MixedInstancesPolicy{LaunchTemplate: &autoscalingtypes.LaunchTemplate{
			LaunchTemplateSpecification: &autoscalingtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(f.lt)},
			Overrides: []autoscalingtypes.LaunchTemplateOverrides{{InstanceType: aws.String("t3.small"),
				LaunchTemplateSpecification: &autoscalingtypes.LaunchTemplateSpecification{LaunchTemplateId: other.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")}}},
		}}})
	create(&autoscalingsdk.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("on-config"), LaunchConfigurationName: aws.String("lc-07")})

	launches, err := f.asg.GroupLaunches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]GroupLaunch{}
	for _, g := range launches {
		got[g.Group] = g
	}
	if lts := got["on-template"].LaunchTemplates; len(lts) != 1 || lts[0].ID != f.lt || lts[0].Version != "$Latest" {
		t.Errorf("on-template launches %+v", lts)
	}
	if c := got["on-config"]; c.LaunchConfiguration != "lc-07" || len(c.LaunchTemplates) != 0 {
		t.Errorf("on-config launches %+v", c)
	}
	var mixed []string
	for _, lt := range got["mixed"].LaunchTemplates {
		mixed = append(mixed, lt.ID+" "+lt.Version)
	}
	// The policy's template (moto 5.2.5 says $Default where AWS may say
	// nothing; both mean the default version), then the override's.
	if want := []string{f.lt + " $Default", aws.ToString(other.LaunchTemplate.LaunchTemplateId) + " 1"}; !slices.Equal(mixed, want) &&
		!slices.Equal(mixed, []string{f.lt + " ", want[1]}) {
		t.Errorf("mixed launches %v, want %v", mixed, want)
	}
	configs, err := f.asg.LaunchConfigurations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(configs) != 60 || configs[7].Name != "lc-07" || configs[7].ImageID != image {
		t.Errorf("%d launch configurations (want 60), the 8th %+v", len(configs), configs[min(7, len(configs)-1)])
	}
}
