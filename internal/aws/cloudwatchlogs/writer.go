// Package cloudwatchlogs is Elevator's adapter for Amazon CloudWatch Logs.
// Writer puts events into a log stream, creating the stream (and its
// group) on first use, as the agent on an instance ships a service's
// output. Errors it returns are *elevator.Error, translated by awserr:
// ENOTFOUND wrapping ErrNotFound for a missing group or stream, EINVALID
// for events CloudWatch refuses as malformed, and the codes awserr gives
// every service (EINTERRUPTED when the context was cancelled, EAWS for any
// other failure).
package cloudwatchlogs

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// writerAPI lists the CloudWatch Logs operations Writer uses.
type writerAPI interface {
	PutLogEvents(context.Context, *cwl.PutLogEventsInput, ...func(*cwl.Options)) (*cwl.PutLogEventsOutput, error)
	CreateLogStream(context.Context, *cwl.CreateLogStreamInput, ...func(*cwl.Options)) (*cwl.CreateLogStreamOutput, error)
	CreateLogGroup(context.Context, *cwl.CreateLogGroupInput, ...func(*cwl.Options)) (*cwl.CreateLogGroupOutput, error)
}

// Writer puts events into log streams in one region. It is safe for use by
// one goroutine at a time.
type Writer struct {
	api     writerAPI
	region  string
	created map[string]bool // group + "\x00" + stream known to exist
}

// NewWriter returns a writer for cfg's region.
func NewWriter(cfg aws.Config) *Writer {
	return &Writer{api: cwl.NewFromConfig(cfg), region: cfg.Region, created: map[string]bool{}}
}

// Put writes events, in the order of their times, to stream in group,
// creating the stream, and the group when it is missing, on first use.
// The caller keeps a batch within CloudWatch's limits (10,000 events, 1
// MiB, 24 hours). Put returns how many events CloudWatch rejected as too
// old or too new; see the package comment for the errors.
func (w *Writer) Put(ctx context.Context, group, stream string, events []Event) (rejected int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	id := group + "\x00" + stream
	if !w.created[id] {
		if err := w.createStream(ctx, group, stream); err != nil {
			return 0, err
		}
		w.created[id] = true
	}
	in := &cwl.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
		LogEvents: make([]cwltypes.InputLogEvent, len(events))}
	for i, e := range events {
		in.LogEvents[i] = cwltypes.InputLogEvent{Message: aws.String(e.Message), Timestamp: aws.Int64(e.Time.UnixMilli())}
	}
	out, err := w.api.PutLogEvents(ctx, in)
	if err != nil {
		if errors.Is(codes.Translate(awserr.Op{}, err), ErrNotFound) {
			delete(w.created, id) // deleted behind our back: create it again next time
		}
		return 0, codes.Translate(awserr.Op{Doing: "put log events to " + group + "/" + stream, Region: w.region, Kind: "log stream", Name: group + "/" + stream}, err)
	}
	if r := out.RejectedLogEventsInfo; r != nil {
		if i := aws.ToInt32(r.TooOldLogEventEndIndex); i > 0 {
			rejected += int(i)
		}
		if r.TooNewLogEventStartIndex != nil {
			rejected += len(events) - int(*r.TooNewLogEventStartIndex)
		}
		if i := r.ExpiredLogEventEndIndex; i != nil && int(*i) > rejected {
			rejected = int(*i)
		}
	}
	return rejected, nil
}

// createStream creates stream in group, and group first when it is
// missing; either being there already is no failure.
func (w *Writer) createStream(ctx context.Context, group, stream string) error {
	op := awserr.Op{Doing: "create log stream " + group + "/" + stream, Region: w.region, Kind: "log group", Name: group}
	_, err := w.api.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	if awserr.Code(err) == "ResourceNotFoundException" {
		_, gerr := w.api.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)})
		if gerr != nil && awserr.Code(gerr) != "ResourceAlreadyExistsException" {
			return codes.Translate(awserr.Op{Doing: "create log group " + group, Region: w.region}, gerr)
		}
		_, err = w.api.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	}
	if err != nil && awserr.Code(err) != "ResourceAlreadyExistsException" {
		return codes.Translate(op, err)
	}
	return nil
}
