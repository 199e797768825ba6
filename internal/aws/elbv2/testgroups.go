package elbv2

import (
	"context"
	"errors"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// changeAPI lists the operations that make and remove target groups and
// point listeners at them (a release's test target group).
type changeAPI interface {
	CreateTargetGroup(context.Context, *elbv2sdk.CreateTargetGroupInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.CreateTargetGroupOutput, error)
	DeleteTargetGroup(context.Context, *elbv2sdk.DeleteTargetGroupInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.DeleteTargetGroupOutput, error)
	ModifyListener(context.Context, *elbv2sdk.ModifyListenerInput, ...func(*elbv2sdk.Options)) (*elbv2sdk.ModifyListenerOutput, error)
}

// ErrListenerNotFound is the cause of the ENOTFOUND error returned for a
// listener that does not exist.
var ErrListenerNotFound = errors.New("listener not found")

var changeCodes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "TargetGroupNotFound", Err: ErrTargetGroupNotFound}, {Code: "ListenerNotFound", Err: ErrListenerNotFound}},
	Conflict: []awserr.Match{{Code: "DuplicateTargetGroupName"}, {Code: "ResourceInUse"}},
	Invalid:  []awserr.Match{{Code: "ValidationError"}, {Code: "InvalidConfigurationRequest"}},
}

// TargetGroupNamed returns the target group called name with its tags, or
// an ENOTFOUND error wrapping ErrTargetGroupNotFound.
func (c *Client) TargetGroupNamed(ctx context.Context, name string) (TargetGroup, error) {
	groups, err := c.describe(ctx, &elbv2sdk.DescribeTargetGroupsInput{Names: []string{name}})
	if err != nil {
		return TargetGroup{}, err
	}
	if len(groups) == 0 {
		return TargetGroup{}, c.check("describe target group "+name, name, &smithy.GenericAPIError{Code: "TargetGroupNotFound", Message: "no target group named " + name})
	}
	if err := c.tag(ctx, groups); err != nil {
		return TargetGroup{}, err
	}
	return groups[0], nil
}

// CreateTargetGroupLike makes a target group called name in like's VPC,
// with like's target type (ip for an ECS service's, whose tasks register
// by address; instance when like does not say), protocol, port and
// health check path, tagged with tags, and returns it. It returns ECONFLICT when a target group of
// that name exists (AWS returns an existing one with the same settings
// without an error, as moto does; the caller compares tags).
func (c *Client) CreateTargetGroupLike(ctx context.Context, name string, like TargetGroup, tags map[string]string) (TargetGroup, error) {
	api, ok := c.api.(changeAPI)
	if !ok {
		return TargetGroup{}, errors.New("elbv2: client cannot change target groups")
	}
	targetType := like.TargetType
	if targetType == "" {
		targetType = string(elbv2types.TargetTypeEnumInstance)
	}
	in := &elbv2sdk.CreateTargetGroupInput{
		Name:       aws.String(name),
		Protocol:   elbv2types.ProtocolEnum(like.Protocol),
		Port:       aws.Int32(int32(like.Port)),
		VpcId:      aws.String(like.VPCID),
		TargetType: elbv2types.TargetTypeEnum(targetType),
	}
	if like.HealthCheckPath != "" {
		in.HealthCheckPath = aws.String(like.HealthCheckPath)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, elbv2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	out, err := api.CreateTargetGroup(ctx, in)
	if err != nil {
		return TargetGroup{}, changeCodes.Translate(awserr.Op{Doing: "create target group " + name, Region: c.region, Kind: "target group", Name: name}, err)
	}
	if len(out.TargetGroups) == 0 {
		return TargetGroup{}, errors.New("elbv2: CreateTargetGroup returned no target group")
	}
	return TargetGroup{ARN: aws.ToString(out.TargetGroups[0].TargetGroupArn), Name: name, Port: like.Port, Protocol: like.Protocol,
		TargetType: targetType, VPCID: like.VPCID, HealthCheckPath: like.HealthCheckPath, Tags: tags}, nil
}

// DeleteTargetGroup deletes a target group; one already gone is nil. It
// returns ECONFLICT while a listener still forwards to it.
func (c *Client) DeleteTargetGroup(ctx context.Context, arn string) error {
	api, ok := c.api.(changeAPI)
	if !ok {
		return errors.New("elbv2: client cannot change target groups")
	}
	_, err := api.DeleteTargetGroup(ctx, &elbv2sdk.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
	err = changeCodes.Translate(awserr.Op{Doing: "delete target group " + arn, Region: c.region, Kind: "target group", Name: arn}, err)
	if errors.Is(err, ErrTargetGroupNotFound) {
		return nil
	}
	return err
}

// ForwardListener makes a listener's default action forward to a target
// group, or, when targetGroup is "", answer 503 with a fixed text. It
// returns ENOTFOUND wrapping ErrListenerNotFound for a listener that does
// not exist.
func (c *Client) ForwardListener(ctx context.Context, listener, targetGroup string) error {
	api, ok := c.api.(changeAPI)
	if !ok {
		return errors.New("elbv2: client cannot change listeners")
	}
	action := elbv2types.Action{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(targetGroup)}
	if targetGroup == "" {
		action = elbv2types.Action{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{
			StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no release under test")}}
	}
	_, err := api.ModifyListener(ctx, &elbv2sdk.ModifyListenerInput{ListenerArn: aws.String(listener), DefaultActions: []elbv2types.Action{action}})
	if err != nil {
		return changeCodes.Translate(awserr.Op{Doing: "modify listener " + listener, Region: c.region, Kind: "listener", Name: listener}, err)
	}
	return nil
}
