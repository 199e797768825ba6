// Package cloudwatchlogs is Elevator's adapter for Amazon CloudWatch Logs:
// the log groups of an app's services and the events in them, in
// Elevator's own types. Errors it returns are *elevator.Error, translated
// by awserr: ENOTFOUND wrapping ErrNotFound and an
// *awserr.NotFoundError naming the group when it does not exist, and the
// codes awserr gives every service (EINTERRUPTED when the context was
// cancelled, EAWS for a refused or failed call).
package cloudwatchlogs

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	logs "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is the cause of the ENOTFOUND error returned for a log
// group or stream that does not exist.
var ErrNotFound = errors.New("log group or stream not found")

// codes are CloudWatch Logs' answers that mean more than a failed call.
var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "ResourceNotFoundException", Err: ErrNotFound}},
	Conflict: []awserr.Match{{Code: "ResourceAlreadyExistsException"}},
	Invalid:  []awserr.Match{{Code: "InvalidParameterException"}},
}

// api lists the CloudWatch Logs operations Elevator uses.
type api interface {
	DescribeLogGroups(context.Context, *logs.DescribeLogGroupsInput, ...func(*logs.Options)) (*logs.DescribeLogGroupsOutput, error)
	FilterLogEvents(context.Context, *logs.FilterLogEventsInput, ...func(*logs.Options)) (*logs.FilterLogEventsOutput, error)
}

// Client talks to CloudWatch Logs in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: logs.NewFromConfig(cfg), region: cfg.Region} }

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// Groups returns the names of the log groups whose name starts with
// prefix, in name order.
func (c *Client) Groups(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	p := logs.NewDescribeLogGroupsPaginator(c.api, &logs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, codes.Translate(awserr.Op{Doing: "describe log groups " + prefix + "*", Region: c.region, Kind: "log group"}, err)
		}
		for _, g := range out.LogGroups {
			names = append(names, aws.ToString(g.LogGroupName))
		}
	}
	return names, nil
}

// Event is one log event.
type Event struct {
	ID      string
	Group   string
	Stream  string
	Time    time.Time // the event's own time
	Message string
}

// Events returns the events of a group from start on (and before end,
// when end is not zero), reading every page, in the order CloudWatch
// Logs gives them (by time within each stream). It returns ENOTFOUND
// wrapping ErrNotFound when the group does not exist.
func (c *Client) Events(ctx context.Context, group string, start, end time.Time) ([]Event, error) {
	in := &logs.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: aws.Int64(start.UnixMilli())}
	if !end.IsZero() {
		in.EndTime = aws.Int64(end.UnixMilli())
	}
	var events []Event
	p := logs.NewFilterLogEventsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, codes.Translate(awserr.Op{Doing: "filter log events of " + group, Region: c.region, Kind: "log group", Name: group}, err)
		}
		for _, e := range out.Events {
			events = append(events, Event{
				ID:      aws.ToString(e.EventId),
				Group:   group,
				Stream:  aws.ToString(e.LogStreamName),
				Time:    time.UnixMilli(aws.ToInt64(e.Timestamp)).UTC(),
				Message: aws.ToString(e.Message),
			})
		}
	}
	return events, nil
}
