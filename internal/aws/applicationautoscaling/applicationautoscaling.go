// Package applicationautoscaling is Elevator's adapter for Application Auto
// Scaling, for the desired count of ECS services: their scalable targets,
// target tracking and step scaling policies and scheduled actions, in
// Elevator's own types. Nothing above it sees an SDK type.
//
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping ErrNotFound for a scalable target (or its service) that does
// not exist, EINVALID for a request the adapter refuses to send (such as a
// cron it cannot convert) or AWS refuses as malformed, and the codes
// awserr gives every service (EINTERRUPTED, EAWS).
package applicationautoscaling

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aassdk "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is the cause of the ENOTFOUND error for a scalable target,
// policy or scheduled action that does not exist.
var ErrNotFound = errors.New("scalable target not found")

// api lists the Application Auto Scaling operations Elevator uses.
type api interface {
	RegisterScalableTarget(context.Context, *aassdk.RegisterScalableTargetInput, ...func(*aassdk.Options)) (*aassdk.RegisterScalableTargetOutput, error)
	DeregisterScalableTarget(context.Context, *aassdk.DeregisterScalableTargetInput, ...func(*aassdk.Options)) (*aassdk.DeregisterScalableTargetOutput, error)
	DescribeScalableTargets(context.Context, *aassdk.DescribeScalableTargetsInput, ...func(*aassdk.Options)) (*aassdk.DescribeScalableTargetsOutput, error)
	PutScalingPolicy(context.Context, *aassdk.PutScalingPolicyInput, ...func(*aassdk.Options)) (*aassdk.PutScalingPolicyOutput, error)
	DescribeScalingPolicies(context.Context, *aassdk.DescribeScalingPoliciesInput, ...func(*aassdk.Options)) (*aassdk.DescribeScalingPoliciesOutput, error)
	DeleteScalingPolicy(context.Context, *aassdk.DeleteScalingPolicyInput, ...func(*aassdk.Options)) (*aassdk.DeleteScalingPolicyOutput, error)
	PutScheduledAction(context.Context, *aassdk.PutScheduledActionInput, ...func(*aassdk.Options)) (*aassdk.PutScheduledActionOutput, error)
	DescribeScheduledActions(context.Context, *aassdk.DescribeScheduledActionsInput, ...func(*aassdk.Options)) (*aassdk.DescribeScheduledActionsOutput, error)
	DeleteScheduledAction(context.Context, *aassdk.DeleteScheduledActionInput, ...func(*aassdk.Options)) (*aassdk.DeleteScheduledActionOutput, error)
}

// Client talks to Application Auto Scaling in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client {
	return &Client{api: aassdk.NewFromConfig(cfg), region: cfg.Region}
}

const (
	namespace = aastypes.ServiceNamespaceEcs
	dimension = aastypes.ScalableDimensionECSServiceDesiredCount
)

// ServiceTarget is the resource id of an ECS service's desired count:
// service/<cluster>/<service>.
func ServiceTarget(cluster, service string) string { return "service/" + cluster + "/" + service }

// Target is a scalable target: an ECS service's desired count, kept
// between Min and Max.
type Target struct {
	ResourceID string
	Min, Max   int
	// Suspended, as ScalableTargets reads it, is whether the target's
	// dynamic scaling in and out and its scheduled actions are all
	// suspended (see Suspend). RegisterScalableTarget leaves it as it is.
	Suspended bool
}

// RegisterScalableTarget registers (or updates) the scalable target of an
// ECS service's desired count.
func (c *Client) RegisterScalableTarget(ctx context.Context, t Target) error {
	_, err := c.api.RegisterScalableTarget(ctx, &aassdk.RegisterScalableTargetInput{
		ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(t.ResourceID),
		MinCapacity: aws.Int32(int32(t.Min)), MaxCapacity: aws.Int32(int32(t.Max)),
	})
	return c.fail("register scalable target "+t.ResourceID, t.ResourceID, err)
}

// ScalableTargets returns the scalable targets of those resource ids that
// have one, by resource id: one call per 50 ids.
func (c *Client) ScalableTargets(ctx context.Context, resourceIDs []string) (map[string]Target, error) {
	out := map[string]Target{}
	for len(resourceIDs) > 0 {
		n := min(len(resourceIDs), describeTargetsMax)
		p := aassdk.NewDescribeScalableTargetsPaginator(c.api, &aassdk.DescribeScalableTargetsInput{
			ServiceNamespace: namespace, ScalableDimension: dimension, ResourceIds: resourceIDs[:n]})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, c.fail("describe scalable targets", "", err)
			}
			for _, t := range page.ScalableTargets {
				id := aws.ToString(t.ResourceId)
				out[id] = Target{ResourceID: id, Min: int(aws.ToInt32(t.MinCapacity)), Max: int(aws.ToInt32(t.MaxCapacity)), Suspended: suspended(t.SuspendedState)}
			}
		}
		resourceIDs = resourceIDs[n:]
	}
	return out, nil
}

// Suspend suspends (or, with suspended false, resumes) a registered
// scalable target's dynamic scaling in and out and its scheduled
// actions, leaving its bounds, policies and actions as they are: while
// suspended, nothing but its owner changes the service's desired count.
// Register the target first: AWS refuses to register one without bounds.
func (c *Client) Suspend(ctx context.Context, resourceID string, suspended bool) error {
	_, err := c.api.RegisterScalableTarget(ctx, &aassdk.RegisterScalableTargetInput{
		ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID),
		SuspendedState: &aastypes.SuspendedState{
			DynamicScalingInSuspended:  aws.Bool(suspended),
			DynamicScalingOutSuspended: aws.Bool(suspended),
			ScheduledScalingSuspended:  aws.Bool(suspended),
		},
	})
	doing := "resume scaling of " + resourceID
	if suspended {
		doing = "suspend scaling of " + resourceID
	}
	return c.fail(doing, resourceID, err)
}

func suspended(s *aastypes.SuspendedState) bool {
	return s != nil && aws.ToBool(s.DynamicScalingInSuspended) && aws.ToBool(s.DynamicScalingOutSuspended) && aws.ToBool(s.ScheduledScalingSuspended)
}

// describeTargetsMax is how many resource ids DescribeScalableTargets
// takes at once.
const describeTargetsMax = 50

// ScalableTarget returns the scalable target of resourceID; ENOTFOUND
// wrapping ErrNotFound when it has none.
func (c *Client) ScalableTarget(ctx context.Context, resourceID string) (Target, error) {
	found, err := c.ScalableTargets(ctx, []string{resourceID})
	if err != nil {
		return Target{}, err
	}
	if t, ok := found[resourceID]; ok {
		return t, nil
	}
	return Target{}, awserr.NotFound("scalable target", resourceID, c.region, ErrNotFound)
}

// DeregisterScalableTarget deregisters a scalable target; AWS deletes its
// policies and scheduled actions with it. One already gone is nil.
func (c *Client) DeregisterScalableTarget(ctx context.Context, resourceID string) error {
	_, err := c.api.DeregisterScalableTarget(ctx, &aassdk.DeregisterScalableTargetInput{
		ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID)})
	err = c.fail("deregister scalable target "+resourceID, resourceID, err)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// TargetTrackingPolicy keeps the service's average CPU at Target percent.
type TargetTrackingPolicy struct {
	Name   string
	Target float64
}

// PutTargetTrackingPolicy puts (or replaces) a target tracking policy on
// ECSServiceAverageCPUUtilization and returns its ARN.
func (c *Client) PutTargetTrackingPolicy(ctx context.Context, resourceID string, p TargetTrackingPolicy) (string, error) {
	out, err := c.api.PutScalingPolicy(ctx, &aassdk.PutScalingPolicyInput{
		PolicyName: aws.String(p.Name), ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID),
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue: aws.Float64(p.Target),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{
				PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization,
			},
		},
	})
	if err != nil {
		return "", c.fail("put target tracking policy "+p.Name+" on "+resourceID, resourceID, err)
	}
	return aws.ToString(out.PolicyARN), nil
}

// Step changes the desired count by Adjustment when the alarm's metric is
// between Lower and Upper above the alarm's threshold (±Inf for no
// bound).
type Step struct {
	Lower, Upper float64
	Adjustment   int
}

// StepPolicy is a step scaling policy, invoked by a CloudWatch alarm.
type StepPolicy struct {
	Name     string
	Steps    []Step
	Cooldown time.Duration
}

// PutStepPolicy puts (or replaces) a step scaling policy that changes the
// desired count by its steps' adjustments, and returns its ARN, for the
// alarm that invokes it.
func (c *Client) PutStepPolicy(ctx context.Context, resourceID string, p StepPolicy) (string, error) {
	cfg := &aastypes.StepScalingPolicyConfiguration{
		AdjustmentType: aastypes.AdjustmentTypeChangeInCapacity,
		Cooldown:       aws.Int32(int32(p.Cooldown / time.Second)),
	}
	for _, s := range p.Steps {
		a := aastypes.StepAdjustment{ScalingAdjustment: aws.Int32(int32(s.Adjustment))}
		if !math.IsInf(s.Lower, -1) {
			a.MetricIntervalLowerBound = aws.Float64(s.Lower)
		}
		if !math.IsInf(s.Upper, 1) {
			a.MetricIntervalUpperBound = aws.Float64(s.Upper)
		}
		cfg.StepAdjustments = append(cfg.StepAdjustments, a)
	}
	out, err := c.api.PutScalingPolicy(ctx, &aassdk.PutScalingPolicyInput{
		PolicyName: aws.String(p.Name), ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID),
		PolicyType: aastypes.PolicyTypeStepScaling, StepScalingPolicyConfiguration: cfg,
	})
	if err != nil {
		return "", c.fail("put step policy "+p.Name+" on "+resourceID, resourceID, err)
	}
	return aws.ToString(out.PolicyARN), nil
}

// Policies returns the names of resourceID's scaling policies.
func (c *Client) Policies(ctx context.Context, resourceID string) ([]string, error) {
	var names []string
	p := aassdk.NewDescribeScalingPoliciesPaginator(c.api, &aassdk.DescribeScalingPoliciesInput{
		ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe scaling policies of "+resourceID, resourceID, err)
		}
		for _, x := range out.ScalingPolicies {
			names = append(names, aws.ToString(x.PolicyName))
		}
	}
	sort.Strings(names)
	return names, nil
}

// DeletePolicy deletes a scaling policy; one already gone is nil.
func (c *Client) DeletePolicy(ctx context.Context, resourceID, name string) error {
	_, err := c.api.DeleteScalingPolicy(ctx, &aassdk.DeleteScalingPolicyInput{
		PolicyName: aws.String(name), ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID)})
	err = c.fail("delete scaling policy "+name+" of "+resourceID, resourceID, err)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// ScheduledAction changes a scalable target at the times of a five-field
// cron, in UTC. Application Auto Scaling's actions set bounds, not the
// count: the action sets the target's Min to Desired (the count rises to
// it at once, and policies lower it no further) and its Max to Max, or
// Desired when that is more. With Pin, it sets both Min and Max to
// Desired: without a scale-in policy, only a Max below the count lowers
// it, so a target with no policies is pinned to the count as an Auto
// Scaling group's desired capacity is.
type ScheduledAction struct {
	Name    string
	Cron    string // minute hour day-of-month month day-of-week, as Elevator's manifests write it
	Desired int
	Max     int  // the scalable target's max, kept
	Pin     bool // Min = Max = Desired (a target without scaling policies)
}

// PutScheduledAction puts (or replaces) a scheduled action; its cron is
// converted to AWS's six-field form (see Cron), EINVALID when it cannot
// be.
func (c *Client) PutScheduledAction(ctx context.Context, resourceID string, a ScheduledAction) error {
	expr, err := Cron(a.Cron)
	if err != nil {
		return elevator.Errorf(elevator.EINVALID, "put scheduled action %s on %s in %s: %w", a.Name, resourceID, c.region, err)
	}
	action := &aastypes.ScalableTargetAction{MinCapacity: aws.Int32(int32(a.Desired))}
	switch {
	case a.Pin:
		action.MaxCapacity = aws.Int32(int32(a.Desired))
	case a.Max > 0:
		action.MaxCapacity = aws.Int32(int32(max(a.Max, a.Desired)))
	}
	_, err = c.api.PutScheduledAction(ctx, &aassdk.PutScheduledActionInput{
		ScheduledActionName: aws.String(a.Name), ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID),
		Schedule: aws.String(expr), Timezone: aws.String("UTC"), ScalableTargetAction: action,
	})
	return c.fail("put scheduled action "+a.Name+" on "+resourceID, resourceID, err)
}

// ScheduledActions returns the names of resourceID's scheduled actions.
func (c *Client) ScheduledActions(ctx context.Context, resourceID string) ([]string, error) {
	var names []string
	p := aassdk.NewDescribeScheduledActionsPaginator(c.api, &aassdk.DescribeScheduledActionsInput{
		ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe scheduled actions of "+resourceID, resourceID, err)
		}
		for _, x := range out.ScheduledActions {
			if aws.ToString(x.ResourceId) == resourceID {
				names = append(names, aws.ToString(x.ScheduledActionName))
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// DeleteScheduledAction deletes a scheduled action; one already gone is
// nil.
func (c *Client) DeleteScheduledAction(ctx context.Context, resourceID, name string) error {
	_, err := c.api.DeleteScheduledAction(ctx, &aassdk.DeleteScheduledActionInput{
		ScheduledActionName: aws.String(name), ServiceNamespace: namespace, ScalableDimension: dimension, ResourceId: aws.String(resourceID)})
	err = c.fail("delete scheduled action "+name+" of "+resourceID, resourceID, err)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Cron converts a five-field cron (minute hour day-of-month month
// day-of-week, days of the week 0-7 with 0 and 7 Sunday, or SUN-SAT) to
// Application Auto Scaling's cron(minute hour day-of-month month
// day-of-week year), which wants `?` in one of the two day fields and
// numbers the days of the week 1-7 from Sunday. A cron that restricts
// both day fields (matching either, in cron) has no AWS form: an error.
func Cron(five string) (string, error) {
	f := strings.Fields(five)
	if len(f) != 5 {
		return "", fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", five, len(f))
	}
	dom, dow := f[2], f[4]
	if dom == "?" {
		dom = "*"
	}
	if dow == "?" {
		dow = "*"
	}
	// Every field in its range (minute 0-59, hour 0-23, day 1-31, month
	// 1-12 or JAN-DEC); weekdays checks the day of the week (0-7 or
	// SUN-SAT, FRI-SUN included).
	if err := elevator.CheckCron(strings.Join([]string{f[0], f[1], dom, f[3], "*"}, " ")); err != nil {
		return "", err
	}
	// AWS's step form starts from a value: */n is 0/n for minutes and
	// hours, 1/n for days of the month and months.
	f[0], f[1], dom, f[3] = stepFrom(f[0], "0"), stepFrom(f[1], "0"), stepFrom(dom, "1"), stepFrom(f[3], "1")
	if dow != "*" {
		var err error
		if dow, err = weekdays(dow); err != nil {
			return "", fmt.Errorf("cron %q: %w", five, err)
		}
	}
	switch {
	case dow == "*":
		dow = "?"
	case dom == "*":
		dom = "?"
	default:
		return "", fmt.Errorf("cron %q: AWS cannot run on days that match the day of the month or the day of the week; restrict only one of them", five)
	}
	return fmt.Sprintf("cron(%s %s %s %s %s *)", f[0], f[1], dom, strings.ToUpper(f[3]), dow), nil
}

// stepFrom rewrites each */n item of a cron field as from/n.
func stepFrom(field, from string) string {
	items := strings.Split(field, ",")
	for i, it := range items {
		if n, ok := strings.CutPrefix(it, "*/"); ok {
			items[i] = from + "/" + n
		}
	}
	return strings.Join(items, ",")
}

var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// weekdays converts a cron day-of-week field (numbers 0-7, names,
// ranges, lists, steps) to AWS's: a list of day names, or "*" for every
// day. Names are as good as numbers in AWS and never off by one.
func weekdays(field string) (string, error) {
	days := map[int]bool{}
	for _, part := range strings.Split(field, ",") {
		rng, step := part, 1
		if r, s, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return "", fmt.Errorf("day of the week %q: step %q is not a positive number", part, s)
			}
			rng, step = r, n
		}
		lo, hi := 0, 6
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = weekday(a); err != nil {
				return "", err
			}
			hi = lo
			if isRange {
				if hi, err = weekday(b); err != nil {
					return "", err
				}
				if hi == 0 && lo > 0 { // "5-7", "FRI-SUN" (7 and SUN close the week)
					hi = 7
				}
			} else if step > 1 {
				hi = 6 // "1/2": from 1 on
			}
		}
		if hi < lo {
			return "", fmt.Errorf("day of the week %q: the range runs backwards", part)
		}
		for d := lo; d <= hi; d += step {
			days[d%7] = true
		}
	}
	if len(days) == 7 {
		return "*", nil
	}
	var names []string
	for d := range 7 {
		if days[d] {
			names = append(names, dayNames[d])
		}
	}
	return strings.Join(names, ","), nil
}

func weekday(s string) (int, error) {
	for i, n := range dayNames {
		if strings.EqualFold(s, n) {
			return i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 7 {
		return 0, fmt.Errorf("day of the week %q: want 0-7 or SUN-SAT", s)
	}
	if n == 7 {
		return 7, nil
	}
	return n, nil
}

var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "ObjectNotFoundException", Err: ErrNotFound},
		{Code: "ValidationException", Message: "no scalable target found", Err: ErrNotFound},
		{Code: "ValidationException", Message: "doesn't exist", Err: ErrNotFound},
		{Code: "ValidationException", Message: "no scaling policy found", Err: ErrNotFound},
		{Code: "ValidationException", Message: "no scheduled action found", Err: ErrNotFound},
	},
	Conflict: []awserr.Match{{Code: "ConcurrentUpdateException"}},
}

func (c *Client) fail(doing, resourceID string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: "scalable target", Name: resourceID}, err)
}
