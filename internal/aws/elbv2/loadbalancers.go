package elbv2

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// loadBalancerAPI lists the operations on load balancers and on tags of
// any ELBv2 resource.
type loadBalancerAPI interface {
	DescribeLoadBalancers(context.Context, *elbv2sdk.DescribeLoadBalancersInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeLoadBalancersOutput, error)
	AddTags(context.Context, *elbv2sdk.AddTagsInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.AddTagsOutput, error)
}

// LoadBalancer is an application or network load balancer.
type LoadBalancer struct {
	ARN, Name, DNSName, Scheme, State string
}

// LoadBalancers returns the load balancers with these ARNs.
func (c *Client) LoadBalancers(ctx context.Context, arns []string) ([]LoadBalancer, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	var lbs []LoadBalancer
	p := elbv2sdk.NewDescribeLoadBalancersPaginator(c.api, &elbv2sdk.DescribeLoadBalancersInput{LoadBalancerArns: arns})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.check("describe load balancers", "", err)
		}
		for _, lb := range out.LoadBalancers {
			state := ""
			if lb.State != nil {
				state = string(lb.State.Code)
			}
			lbs = append(lbs, LoadBalancer{ARN: aws.ToString(lb.LoadBalancerArn), Name: aws.ToString(lb.LoadBalancerName), DNSName: aws.ToString(lb.DNSName), Scheme: string(lb.Scheme), State: state})
		}
	}
	return lbs, nil
}

// Tags returns the tags of ELBv2 resources (load balancers, target groups,
// listeners) by ARN, reading them in batches of 20.
func (c *Client) Tags(ctx context.Context, arns []string) (map[string]map[string]string, error) {
	tags := map[string]map[string]string{}
	for start := 0; start < len(arns); start += tagBatch {
		out, err := c.api.DescribeTags(ctx, &elbv2sdk.DescribeTagsInput{ResourceArns: arns[start:min(start+tagBatch, len(arns))]})
		if err != nil {
			return nil, c.check("describe tags", "", err)
		}
		for _, d := range out.TagDescriptions {
			m := make(map[string]string, len(d.Tags))
			for _, t := range d.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			tags[aws.ToString(d.ResourceArn)] = m
		}
	}
	return tags, nil
}

// AddTags adds (or overwrites) tags on an ELBv2 resource.
func (c *Client) AddTags(ctx context.Context, arn string, tags map[string]string) error {
	in := &elbv2sdk.AddTagsInput{ResourceArns: []string{arn}}
	for k, v := range tags {
		in.Tags = append(in.Tags, elbv2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.api.AddTags(ctx, in); err != nil {
		return c.check("add tags", "", err)
	}
	return nil
}
