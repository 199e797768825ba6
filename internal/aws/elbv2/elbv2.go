// Package elbv2 is Elevator's adapter for Elastic Load Balancing v2
// (application and network load balancers): target groups and the health
// of their targets, in Elevator's own types. Nothing above it sees an SDK
// type.
//
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping ErrTargetGroupNotFound and an *awserr.NotFoundError when
// TargetHealth names a target group that does not exist, and the codes
// awserr gives every service (EINTERRUPTED when the context was cancelled,
// EAWS for any other refused or failed call). Check the sentinel with
// errors.Is.
package elbv2

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrTargetGroupNotFound is the cause of the ENOTFOUND error returned for a
// target group that does not exist.
var ErrTargetGroupNotFound = errors.New("target group not found")

// codes are ELBv2's answers that mean more than a failed call.
var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "TargetGroupNotFound", Err: ErrTargetGroupNotFound}},
}

// api lists the ELBv2 operations Elevator uses.
type api interface {
	DescribeTargetHealth(context.Context, *elbv2sdk.DescribeTargetHealthInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeTargetHealthOutput, error)
	DescribeTargetGroups(context.Context, *elbv2sdk.DescribeTargetGroupsInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeTargetGroupsOutput, error)
	DescribeTags(context.Context, *elbv2sdk.DescribeTagsInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeTagsOutput, error)
	loadBalancerAPI
}

// Client talks to ELBv2 in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client {
	return &Client{api: elbv2sdk.NewFromConfig(cfg), region: cfg.Region}
}

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// TargetState is what a load balancer thinks of one target.
type TargetState string

// The target states. moto 5.2.5 reports only Healthy (a running
// instance), Unused (a stopped or deregistered one) and Draining (a
// terminated one), never Initial or Unhealthy.
const (
	Initial           TargetState = "initial"
	Healthy           TargetState = "healthy"
	Unhealthy         TargetState = "unhealthy"
	UnhealthyDraining TargetState = "unhealthy.draining"
	Unused            TargetState = "unused"
	Draining          TargetState = "draining"
	Unavailable       TargetState = "unavailable"
)

// TargetHealth is the health of one target of a target group.
type TargetHealth struct {
	InstanceID string // the target's ID: an instance ID for instance targets
	Port       int
	State      TargetState
	// Reason is a code such as Target.ResponseCodeMismatch or
	// Target.NotRegistered; Description explains it. Both are empty for a
	// healthy target.
	Reason, Description string
}

// TargetHealth returns the health of a target group's targets: of the
// instances given, or of every registered target when none is given. Asking
// about given instances also reports those no longer registered (unused, or
// draining while they deregister), which the registered list leaves out.
// It returns an ENOTFOUND error wrapping ErrTargetGroupNotFound when the
// target group does not exist, and EAWS for other failures.
func (c *Client) TargetHealth(ctx context.Context, targetGroupARN string, instanceIDs ...string) ([]TargetHealth, error) {
	in := &elbv2sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(targetGroupARN)}
	for _, id := range instanceIDs {
		in.Targets = append(in.Targets, elbv2types.TargetDescription{Id: aws.String(id)})
	}
	out, err := c.api.DescribeTargetHealth(ctx, in)
	if err != nil {
		return nil, c.check("describe target health of "+targetGroupARN, targetGroupARN, err)
	}
	health := make([]TargetHealth, 0, len(out.TargetHealthDescriptions))
	for _, d := range out.TargetHealthDescriptions {
		h := TargetHealth{}
		if d.Target != nil {
			h.InstanceID = aws.ToString(d.Target.Id)
			h.Port = int(aws.ToInt32(d.Target.Port))
		}
		if th := d.TargetHealth; th != nil {
			h.State = TargetState(th.State)
			h.Reason = string(th.Reason)
			h.Description = aws.ToString(th.Description)
		}
		health = append(health, h)
	}
	return health, nil
}

// TargetGroup is a target group, its attributes and its tags.
type TargetGroup struct {
	ARN, Name  string
	Port       int
	Protocol   string // HTTP, HTTPS, TCP, ...
	TargetType string // instance, ip, lambda or alb
	VPCID      string
	// LoadBalancerARNs are the load balancers that route to the group. A
	// group without one cannot take traffic, and its targets stay unused.
	LoadBalancerARNs []string
	HealthCheckPath  string
	Tags             map[string]string
}

// TargetGroups returns the target groups with the given ARNs that exist,
// in the order asked for, with their tags. ARNs that match no
// target group are left out, not an error: the caller compares. (AWS fails
// the whole call for one unknown ARN; TargetGroups then asks for each ARN
// on its own.) It returns EAWS on failure. No ARNs means no target groups.
func (c *Client) TargetGroups(ctx context.Context, arns []string) ([]TargetGroup, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	groups, err := c.describe(ctx, &elbv2sdk.DescribeTargetGroupsInput{TargetGroupArns: arns})
	if errors.Is(err, ErrTargetGroupNotFound) {
		groups = nil
		for _, arn := range arns {
			one, err := c.describe(ctx, &elbv2sdk.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
			if errors.Is(err, ErrTargetGroupNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			groups = append(groups, one...)
		}
	} else if err != nil {
		return nil, err
	}
	byARN := map[string]TargetGroup{}
	for _, g := range groups {
		byARN[g.ARN] = g
	}
	ordered := make([]TargetGroup, 0, len(byARN))
	for _, arn := range arns {
		if g, ok := byARN[arn]; ok {
			ordered = append(ordered, g)
			delete(byARN, arn) // list a repeated ARN once
		}
	}
	if err := c.tag(ctx, ordered); err != nil {
		return nil, err
	}
	return ordered, nil
}

func (c *Client) describe(ctx context.Context, in *elbv2sdk.DescribeTargetGroupsInput) ([]TargetGroup, error) {
	var groups []TargetGroup
	p := elbv2sdk.NewDescribeTargetGroupsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.check("describe target groups", "", err)
		}
		for _, g := range out.TargetGroups {
			var lbs []string // nil, not empty, when there is none
			lbs = append(lbs, g.LoadBalancerArns...)
			groups = append(groups, TargetGroup{
				ARN:              aws.ToString(g.TargetGroupArn),
				Name:             aws.ToString(g.TargetGroupName),
				Port:             int(aws.ToInt32(g.Port)),
				Protocol:         string(g.Protocol),
				TargetType:       string(g.TargetType),
				VPCID:            aws.ToString(g.VpcId),
				LoadBalancerARNs: lbs,
				HealthCheckPath:  aws.ToString(g.HealthCheckPath),
			})
		}
	}
	return groups, nil
}

// tagBatch is how many ARNs DescribeTags takes in one call.
const tagBatch = 20

// tag fills in the groups' tags.
func (c *Client) tag(ctx context.Context, groups []TargetGroup) error {
	for start := 0; start < len(groups); start += tagBatch {
		batch := groups[start:min(start+tagBatch, len(groups))]
		in := &elbv2sdk.DescribeTagsInput{}
		for _, g := range batch {
			in.ResourceArns = append(in.ResourceArns, g.ARN)
		}
		out, err := c.api.DescribeTags(ctx, in)
		if err != nil {
			return c.check("describe tags of target groups", "", err)
		}
		tags := map[string]map[string]string{}
		for _, d := range out.TagDescriptions {
			m := make(map[string]string, len(d.Tags))
			for _, t := range d.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			tags[aws.ToString(d.ResourceArn)] = m
		}
		for i := range batch {
			batch[i].Tags = tags[batch[i].ARN]
			if batch[i].Tags == nil {
				batch[i].Tags = map[string]string{}
			}
		}
	}
	return nil
}

// check translates the error of a call; arn names the target group the
// call is about ("" when it names several, or none).
func (c *Client) check(doing, arn string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: "target group", Name: arn}, err)
}
