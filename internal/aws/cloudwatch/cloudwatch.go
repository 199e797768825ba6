// Package cloudwatch is Elevator's adapter for Amazon CloudWatch: the metric
// alarms that invoke the step scaling policies of a release's groups, in
// Elevator's own types. Nothing above it sees an SDK type.
//
// The client always speaks the awsQuery protocol. The Go SDK's CloudWatch
// client speaks Smithy RPC v2 CBOR by default (since v1.6x; see
// options.Protocol in the SDK's api_client.go), which moto 5.2.5 does not
// understand: it answers every such call with an error. CloudWatch still
// serves awsQuery, its original protocol, so one client works against
// both AWS and the emulator; New sets Options.Protocol to
// awsquery.New(schemas.GraniteServiceVersion20100801).
//
// Errors it returns are *elevator.Error: EINVALID for an alarm the adapter
// refuses to send, and the codes awserr gives every service (EINTERRUPTED
// when the context was cancelled, EAWS for any refused or failed call).
// CloudWatch has no answer of its own that means more.
package cloudwatch

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cloudwatchsdk "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cloudwatchschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cloudwatchtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// api lists the CloudWatch operations Elevator uses.
type api interface {
	PutMetricAlarm(context.Context, *cloudwatchsdk.PutMetricAlarmInput, ...func(*cloudwatchsdk.Options)) (*cloudwatchsdk.PutMetricAlarmOutput, error)
	DescribeAlarms(context.Context, *cloudwatchsdk.DescribeAlarmsInput, ...func(*cloudwatchsdk.Options)) (*cloudwatchsdk.DescribeAlarmsOutput, error)
	DeleteAlarms(context.Context, *cloudwatchsdk.DeleteAlarmsInput, ...func(*cloudwatchsdk.Options)) (*cloudwatchsdk.DeleteAlarmsOutput, error)
}

// Client talks to CloudWatch in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region that speaks awsQuery (see the
// package comment).
func New(cfg aws.Config) *Client {
	return &Client{api: cloudwatchsdk.NewFromConfig(cfg, QueryProtocol), region: cfg.Region}
}

// QueryProtocol makes a CloudWatch SDK client speak awsQuery instead of its
// default CBOR, which moto 5.2.5 does not understand. Pass it to
// cloudwatch.NewFromConfig when building a client by hand (tests do).
func QueryProtocol(o *cloudwatchsdk.Options) {
	o.Protocol = awsquery.New(cloudwatchschemas.GraniteServiceVersion20100801)
}

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// Comparison is how an alarm compares its statistic with its threshold.
type Comparison string

// The comparisons Elevator uses.
const (
	GreaterThan        Comparison = "GreaterThanThreshold"
	GreaterThanOrEqual Comparison = "GreaterThanOrEqualToThreshold"
	LessThan           Comparison = "LessThanThreshold"
	LessThanOrEqual    Comparison = "LessThanOrEqualToThreshold"
)

// Alarm is a metric alarm on one metric.
type Alarm struct {
	Name, Description string
	Namespace, Metric string            // e.g. AWS/EC2, CPUUtilization
	Dimensions        map[string]string // e.g. AutoScalingGroupName -> the group
	// Statistic is Average when empty (also Sum, Minimum, Maximum,
	// SampleCount).
	Statistic string
	// Period is the length of one evaluation period: 60 s or a multiple.
	Period time.Duration
	// EvaluationPeriods is how many periods in a row must breach.
	EvaluationPeriods int
	Threshold         float64
	Comparison        Comparison
	// Actions are the ARNs invoked when the alarm fires, such as a scaling
	// policy's; OKActions those invoked when it recovers.
	Actions   []string
	OKActions []string
	// State is what CloudWatch reports (OK, ALARM, INSUFFICIENT_DATA); it
	// is ignored by PutAlarm.
	State string
}

// PutAlarm creates or replaces an alarm; putting the same alarm again is
// harmless. It returns EINVALID for an alarm without a name, metric or
// period of at least a minute, and EAWS for failures.
func (c *Client) PutAlarm(ctx context.Context, a Alarm) error {
	if a.Name == "" || a.Namespace == "" || a.Metric == "" || a.Period < time.Minute || a.EvaluationPeriods < 1 {
		return elevator.Errorf(elevator.EINVALID, "put alarm %q in %s: want a name, a namespace, a metric, a period of a minute or more and at least one evaluation period", a.Name, c.region)
	}
	stat := a.Statistic
	if stat == "" {
		stat = string(cloudwatchtypes.StatisticAverage)
	}
	in := &cloudwatchsdk.PutMetricAlarmInput{
		AlarmName:          aws.String(a.Name),
		AlarmDescription:   optional(a.Description),
		Namespace:          aws.String(a.Namespace),
		MetricName:         aws.String(a.Metric),
		Statistic:          cloudwatchtypes.Statistic(stat),
		Period:             aws.Int32(int32(a.Period / time.Second)),
		EvaluationPeriods:  aws.Int32(int32(a.EvaluationPeriods)),
		Threshold:          aws.Float64(a.Threshold),
		ComparisonOperator: cloudwatchtypes.ComparisonOperator(a.Comparison),
		AlarmActions:       a.Actions,
		OKActions:          a.OKActions,
		ActionsEnabled:     aws.Bool(true),
	}
	keys := make([]string, 0, len(a.Dimensions))
	for k := range a.Dimensions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Dimensions = append(in.Dimensions, cloudwatchtypes.Dimension{Name: aws.String(k), Value: aws.String(a.Dimensions[k])})
	}
	if _, err := c.api.PutMetricAlarm(ctx, in); err != nil {
		return c.fail("put alarm "+a.Name, err)
	}
	return nil
}

// Alarms returns the metric alarms whose names start with prefix, in name
// order. An empty prefix is refused with EINVALID: it would read every
// alarm of the region. Failures are EAWS errors.
func (c *Client) Alarms(ctx context.Context, prefix string) ([]Alarm, error) {
	if prefix == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "describe alarms in %s: no name prefix to find them by", c.region)
	}
	var alarms []Alarm
	p := cloudwatchsdk.NewDescribeAlarmsPaginator(c.api, &cloudwatchsdk.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(prefix),
		AlarmTypes:      []cloudwatchtypes.AlarmType{cloudwatchtypes.AlarmTypeMetricAlarm},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("describe alarms "+prefix+"*", err)
		}
		for _, m := range out.MetricAlarms {
			a := Alarm{
				Name:              aws.ToString(m.AlarmName),
				Description:       aws.ToString(m.AlarmDescription),
				Namespace:         aws.ToString(m.Namespace),
				Metric:            aws.ToString(m.MetricName),
				Statistic:         string(m.Statistic),
				Period:            time.Duration(aws.ToInt32(m.Period)) * time.Second,
				EvaluationPeriods: int(aws.ToInt32(m.EvaluationPeriods)),
				Threshold:         aws.ToFloat64(m.Threshold),
				Comparison:        Comparison(m.ComparisonOperator),
				Actions:           m.AlarmActions,
				State:             string(m.StateValue),
				Dimensions:        map[string]string{},
			}
			for _, d := range m.Dimensions {
				a.Dimensions[aws.ToString(d.Name)] = aws.ToString(d.Value)
			}
			alarms = append(alarms, a)
		}
	}
	sort.Slice(alarms, func(i, j int) bool { return alarms[i].Name < alarms[j].Name })
	return alarms, nil
}

// deleteBatch is how many alarms DeleteAlarms takes in one call.
const deleteBatch = 100

// DeleteAlarms deletes alarms by name. Names of alarms that do not exist
// are ignored, as CloudWatch does. Failures are EAWS errors.
func (c *Client) DeleteAlarms(ctx context.Context, names []string) error {
	for start := 0; start < len(names); start += deleteBatch {
		batch := names[start:min(start+deleteBatch, len(names))]
		if _, err := c.api.DeleteAlarms(ctx, &cloudwatchsdk.DeleteAlarmsInput{AlarmNames: batch}); err != nil {
			return c.fail(fmt.Sprintf("delete %d alarm(s) starting with %s", len(batch), batch[0]), err)
		}
	}
	return nil
}

func (c *Client) fail(doing string, err error) error {
	return awserr.Codes{}.Translate(awserr.Op{Doing: doing, Region: c.region}, err)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// AlarmState is an alarm's state (OK, ALARM, INSUFFICIENT_DATA) and why.
type AlarmState struct {
	Name, State, Reason string
	Updated             time.Time
}

// alarmBatch is how many alarm names DescribeAlarms takes in one call.
const alarmBatch = 100

// AlarmStates returns the states of the named alarms, metric or composite;
// names that match no alarm are left out. Failures are EAWS errors.
func (c *Client) AlarmStates(ctx context.Context, names []string) ([]AlarmState, error) {
	var out []AlarmState
	for start := 0; start < len(names); start += alarmBatch {
		batch := names[start:min(start+alarmBatch, len(names))]
		p := cloudwatchsdk.NewDescribeAlarmsPaginator(c.api, &cloudwatchsdk.DescribeAlarmsInput{
			AlarmNames: batch,
			AlarmTypes: []cloudwatchtypes.AlarmType{cloudwatchtypes.AlarmTypeMetricAlarm, cloudwatchtypes.AlarmTypeCompositeAlarm},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, c.fail("describe alarms", err)
			}
			for _, m := range page.MetricAlarms {
				out = append(out, AlarmState{Name: aws.ToString(m.AlarmName), State: string(m.StateValue),
					Reason: aws.ToString(m.StateReason), Updated: aws.ToTime(m.StateUpdatedTimestamp)})
			}
			for _, m := range page.CompositeAlarms {
				out = append(out, AlarmState{Name: aws.ToString(m.AlarmName), State: string(m.StateValue),
					Reason: aws.ToString(m.StateReason), Updated: aws.ToTime(m.StateUpdatedTimestamp)})
			}
		}
	}
	return out, nil
}
