package autoscaling

import (
	"context"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elevator "github.com/elevatorhq/elevator"
)

// PolicyType is the kind of a scaling policy.
type PolicyType string

// The policy types.
const (
	TargetTrackingScaling PolicyType = "TargetTrackingScaling"
	StepScaling           PolicyType = "StepScaling"
	SimpleScaling         PolicyType = "SimpleScaling"
	PredictiveScaling     PolicyType = "PredictiveScaling"
)

// Metric is a metric Auto Scaling predefines for target tracking.
type Metric string

// The predefined metrics.
const (
	CPUUtilization        Metric = "ASGAverageCPUUtilization"
	NetworkIn             Metric = "ASGAverageNetworkIn"
	NetworkOut            Metric = "ASGAverageNetworkOut"
	RequestCountPerTarget Metric = "ALBRequestCountPerTarget"
)

// TargetTrackingPolicy keeps a metric of a group near a target value, e.g.
// average CPU at 50%.
type TargetTrackingPolicy struct {
	Name string
	// Metric is CPUUtilization when empty.
	Metric Metric
	// ResourceLabel names the target group for RequestCountPerTarget:
	// app/<load-balancer>/<id>/targetgroup/<target-group>/<id>.
	ResourceLabel string
	Target        float64
	// DisableScaleIn stops the policy removing instances.
	DisableScaleIn bool
	// Warmup is how long a new instance takes to count; zero leaves it to
	// the group's default.
	Warmup time.Duration
}

// AdjustmentType says how a step's adjustment changes the desired capacity.
type AdjustmentType string

// The adjustment types.
const (
	ChangeInCapacity        AdjustmentType = "ChangeInCapacity"
	PercentChangeInCapacity AdjustmentType = "PercentChangeInCapacity"
	ExactCapacity           AdjustmentType = "ExactCapacity"
)

// StepPolicy changes a group's capacity by steps when the CloudWatch alarm
// that invokes it fires. The alarm is created elsewhere with the policy's
// ARN as its action.
type StepPolicy struct {
	Name string
	// AdjustmentType is ChangeInCapacity when empty.
	AdjustmentType AdjustmentType
	// MetricAggregation is Average (when empty), Minimum or Maximum.
	MetricAggregation string
	Steps             []Step
	Warmup            time.Duration
}

// Step is one step of a StepPolicy: when the metric minus the alarm's
// threshold lies in [Lower, Upper), change capacity by Adjustment.
// math.Inf(-1) and math.Inf(1) mean no lower and no upper bound.
type Step struct {
	Lower, Upper float64
	Adjustment   int
}

// PutTargetTrackingPolicy creates or replaces a target tracking policy on a
// group and returns its ARN. Putting the same policy again is a no-op. It
// returns an ENOTFOUND error wrapping ErrNotFound for a missing group
// and EAWS for other failures.
func (c *Client) PutTargetTrackingPolicy(ctx context.Context, group string, p TargetTrackingPolicy) (string, error) {
	metric := p.Metric
	if metric == "" {
		metric = CPUUtilization
	}
	out, err := c.api.PutScalingPolicy(ctx, &autoscalingsdk.PutScalingPolicyInput{
		AutoScalingGroupName: aws.String(group),
		PolicyName:           aws.String(p.Name),
		PolicyType:           aws.String(string(TargetTrackingScaling)),
		TargetTrackingConfiguration: &autoscalingtypes.TargetTrackingConfiguration{
			TargetValue:    aws.Float64(p.Target),
			DisableScaleIn: aws.Bool(p.DisableScaleIn),
			PredefinedMetricSpecification: &autoscalingtypes.PredefinedMetricSpecification{
				PredefinedMetricType: autoscalingtypes.MetricType(metric),
				ResourceLabel:        optional(p.ResourceLabel),
			},
		},
		EstimatedInstanceWarmup: seconds(p.Warmup),
	})
	if err != nil {
		return "", c.fail("put target tracking policy "+p.Name+" on auto scaling group "+group, group, err)
	}
	return c.policyARN(ctx, group, p.Name, out)
}

// PutStepPolicy creates or replaces a step scaling policy on a group and
// returns its ARN, for the alarm that invokes it. Errors are as for
// PutTargetTrackingPolicy.
func (c *Client) PutStepPolicy(ctx context.Context, group string, p StepPolicy) (string, error) {
	adj := p.AdjustmentType
	if adj == "" {
		adj = ChangeInCapacity
	}
	agg := p.MetricAggregation
	if agg == "" {
		agg = "Average"
	}
	req := &autoscalingsdk.PutScalingPolicyInput{
		AutoScalingGroupName:    aws.String(group),
		PolicyName:              aws.String(p.Name),
		PolicyType:              aws.String(string(StepScaling)),
		AdjustmentType:          aws.String(string(adj)),
		MetricAggregationType:   aws.String(agg),
		EstimatedInstanceWarmup: seconds(p.Warmup),
	}
	for _, s := range p.Steps {
		req.StepAdjustments = append(req.StepAdjustments, autoscalingtypes.StepAdjustment{
			ScalingAdjustment:        aws.Int32(int32(s.Adjustment)),
			MetricIntervalLowerBound: bound(s.Lower),
			MetricIntervalUpperBound: bound(s.Upper),
		})
	}
	out, err := c.api.PutScalingPolicy(ctx, req)
	if err != nil {
		return "", c.fail("put step policy "+p.Name+" on auto scaling group "+group, group, err)
	}
	return c.policyARN(ctx, group, p.Name, out)
}

// policyARN returns the ARN PutScalingPolicy answered, or reads it back
// when the answer has none: moto 5.2.5 answers with a PolicyArn element
// where AWS (and the SDK) has PolicyARN.
func (c *Client) policyARN(ctx context.Context, group, name string, out *autoscalingsdk.PutScalingPolicyOutput) (string, error) {
	if arn := aws.ToString(out.PolicyARN); arn != "" {
		return arn, nil
	}
	read, err := c.api.DescribePolicies(ctx, &autoscalingsdk.DescribePoliciesInput{AutoScalingGroupName: aws.String(group), PolicyNames: []string{name}})
	if err != nil {
		return "", c.fail("describe scaling policy "+name+" of auto scaling group "+group, group, err)
	}
	for _, sp := range read.ScalingPolicies {
		if aws.ToString(sp.PolicyName) == name {
			return aws.ToString(sp.PolicyARN), nil
		}
	}
	return "", elevator.Errorf(elevator.EAWS, "put scaling policy %s on auto scaling group %s in %s: no ARN in the answer, and no such policy after", name, group, c.region)
}

// ScheduledAction changes a group's capacity on a schedule. Nil sizes are
// left as they are; at least one must be set.
type ScheduledAction struct {
	Name string
	// Recurrence is a cron expression in TimeZone ("0 8 * * 1-5").
	Recurrence string
	// TimeZone is an IANA zone name; empty means UTC.
	TimeZone string
	// Start and End bound the schedule; zero means unbounded (for a
	// recurrence) and Start alone is a one-off action.
	Start, End        time.Time
	Min, Max, Desired *int
}

// PutScheduledAction creates or replaces a scheduled action of a group. It
// returns an ENOTFOUND error wrapping ErrNotFound for a missing group
// and EAWS for other failures.
func (c *Client) PutScheduledAction(ctx context.Context, group string, a ScheduledAction) error {
	req := &autoscalingsdk.PutScheduledUpdateGroupActionInput{
		AutoScalingGroupName: aws.String(group),
		ScheduledActionName:  aws.String(a.Name),
		Recurrence:           optional(a.Recurrence),
		TimeZone:             optional(a.TimeZone),
		MinSize:              size(a.Min),
		MaxSize:              size(a.Max),
		DesiredCapacity:      size(a.Desired),
	}
	if !a.Start.IsZero() {
		req.StartTime = aws.Time(a.Start)
	}
	if !a.End.IsZero() {
		req.EndTime = aws.Time(a.End)
	}
	_, err := c.api.PutScheduledUpdateGroupAction(ctx, req)
	return c.fail("put scheduled action "+a.Name+" on auto scaling group "+group, group, err)
}

// LifecycleTransition is the moment a lifecycle hook pauses an instance at.
type LifecycleTransition string

// The lifecycle transitions.
const (
	LaunchingTransition   LifecycleTransition = "autoscaling:EC2_INSTANCE_LAUNCHING"
	TerminatingTransition LifecycleTransition = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// LifecycleResult is what happens to a paused instance when its hook's
// heartbeat runs out: CONTINUE or ABANDON.
type LifecycleResult string

// The lifecycle results.
const (
	Continue LifecycleResult = "CONTINUE"
	Abandon  LifecycleResult = "ABANDON"
)

// LifecycleHook pauses a group's instances at a transition (e.g. to drain a
// worker before it terminates) and notifies a target (SNS topic or SQS
// queue) through a role that may publish to it.
type LifecycleHook struct {
	Name       string
	Transition LifecycleTransition
	// Heartbeat is how long an instance stays paused; zero means AWS's
	// default (one hour).
	Heartbeat time.Duration
	// DefaultResult is ABANDON when empty.
	DefaultResult         LifecycleResult
	NotificationTargetARN string
	RoleARN               string
	Metadata              string
}

// PutLifecycleHook creates or replaces a lifecycle hook of a group. It
// returns an ENOTFOUND error wrapping ErrNotFound for a missing group
// and EAWS for other failures.
func (c *Client) PutLifecycleHook(ctx context.Context, group string, h LifecycleHook) error {
	req := &autoscalingsdk.PutLifecycleHookInput{
		AutoScalingGroupName:  aws.String(group),
		LifecycleHookName:     aws.String(h.Name),
		LifecycleTransition:   aws.String(string(h.Transition)),
		HeartbeatTimeout:      seconds(h.Heartbeat),
		DefaultResult:         optional(string(h.DefaultResult)),
		NotificationTargetARN: optional(h.NotificationTargetARN),
		RoleARN:               optional(h.RoleARN),
		NotificationMetadata:  optional(h.Metadata),
	}
	_, err := c.api.PutLifecycleHook(ctx, req)
	return c.fail("put lifecycle hook "+h.Name+" on auto scaling group "+group, group, err)
}

// LifecycleHooks returns a group's lifecycle hooks. Failures are EAWS
// errors.
func (c *Client) LifecycleHooks(ctx context.Context, group string) ([]LifecycleHook, error) {
	out, err := c.api.DescribeLifecycleHooks(ctx, &autoscalingsdk.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(group)})
	if err != nil {
		return nil, c.fail("describe lifecycle hooks of auto scaling group "+group, group, err)
	}
	var hooks []LifecycleHook
	for _, h := range out.LifecycleHooks {
		hooks = append(hooks, LifecycleHook{
			Name:                  aws.ToString(h.LifecycleHookName),
			Transition:            LifecycleTransition(aws.ToString(h.LifecycleTransition)),
			Heartbeat:             time.Duration(aws.ToInt32(h.HeartbeatTimeout)) * time.Second,
			DefaultResult:         LifecycleResult(aws.ToString(h.DefaultResult)),
			NotificationTargetARN: aws.ToString(h.NotificationTargetARN),
			RoleARN:               aws.ToString(h.RoleARN),
			Metadata:              aws.ToString(h.NotificationMetadata),
		})
	}
	return hooks, nil
}

// seconds converts d to whole seconds, or nil for zero (AWS's default).
func seconds(d time.Duration) *int32 {
	if d <= 0 {
		return nil
	}
	return aws.Int32(int32(d / time.Second))
}

// bound converts a step bound, nil for an infinite one.
func bound(f float64) *float64 {
	if math.IsInf(f, 0) {
		return nil
	}
	return aws.Float64(f)
}

func size(n *int) *int32 {
	if n == nil {
		return nil
	}
	return aws.Int32(int32(*n))
}

func fromSize(n *int32) *int {
	if n == nil {
		return nil
	}
	v := int(*n)
	return &v
}
