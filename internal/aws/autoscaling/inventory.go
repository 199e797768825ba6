package autoscaling

// This file reads, in bulk, what the region's groups launch, for `elevator
// image list` and `elevator image cleanup`: every group's launch
// templates and launch configuration, and every launch configuration's
// image. Each read is one paginated call for the whole region.

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// inventoryAPI lists the Auto Scaling operations of image inventories
// (DescribeAutoScalingGroups is in api already).
type inventoryAPI interface {
	DescribeLaunchConfigurations(context.Context, *autoscalingsdk.DescribeLaunchConfigurationsInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DescribeLaunchConfigurationsOutput, error)
}

// GroupLaunch is what one group launches its instances from: launch
// templates (its own, its mixed instances policy's and that policy's
// overrides'), or a launch configuration.
type GroupLaunch struct {
	Group               string
	LaunchTemplates     []LaunchTemplate
	LaunchConfiguration string
}

// GroupLaunches returns what every group of the region launches from, in
// one paginated DescribeAutoScalingGroups. It returns EAWS on failure.
func (c *Client) GroupLaunches(ctx context.Context) ([]GroupLaunch, error) {
	var out []GroupLaunch
	p := autoscalingsdk.NewDescribeAutoScalingGroupsPaginator(c.api, &autoscalingsdk.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe auto scaling groups", "", err)
		}
		for _, g := range page.AutoScalingGroups {
			gl := GroupLaunch{Group: aws.ToString(g.AutoScalingGroupName), LaunchConfiguration: aws.ToString(g.LaunchConfigurationName)}
			add := func(lt LaunchTemplate) {
				if lt != (LaunchTemplate{}) {
					gl.LaunchTemplates = append(gl.LaunchTemplates, lt)
				}
			}
			add(launchTemplate(g.LaunchTemplate))
			if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil {
				add(launchTemplate(m.LaunchTemplate.LaunchTemplateSpecification))
				for _, o := range m.LaunchTemplate.Overrides {
					add(launchTemplate(o.LaunchTemplateSpecification))
				}
			}
			out = append(out, gl)
		}
	}
	return out, nil
}

// LaunchConfiguration is a launch configuration and the image it
// launches.
type LaunchConfiguration struct {
	Name, ImageID string
}

// LaunchConfigurations returns every launch configuration of the region,
// in one paginated DescribeLaunchConfigurations. It returns EAWS on
// failure.
func (c *Client) LaunchConfigurations(ctx context.Context) ([]LaunchConfiguration, error) {
	var out []LaunchConfiguration
	p := autoscalingsdk.NewDescribeLaunchConfigurationsPaginator(c.api, &autoscalingsdk.DescribeLaunchConfigurationsInput{MaxRecords: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe launch configurations", "", err)
		}
		for _, lc := range page.LaunchConfigurations {
			out = append(out, LaunchConfiguration{Name: aws.ToString(lc.LaunchConfigurationName), ImageID: aws.ToString(lc.ImageId)})
		}
	}
	return out, nil
}
