// Package sqs is Elevator's adapter for Amazon SQS: the queue through which
// an orbit's deployers learn of submitted releases, in Elevator's own
// types.
//
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping ErrNotFound for a queue that does not exist, EINVALID wrapping
// ErrReceiptInvalid for a receipt handle that is no longer valid (the
// message was received again by someone else, or deleted), and the codes
// awserr gives every service (EINTERRUPTED when the context was
// cancelled, EAWS for any other failure).
package sqs

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sqssdk "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is the cause of the ENOTFOUND error returned for a queue
// that does not exist.
var ErrNotFound = errors.New("queue not found")

// ErrReceiptInvalid is the cause of the EINVALID error returned when a
// receipt handle no longer names a message this receiver holds.
var ErrReceiptInvalid = errors.New("receipt handle no longer valid")

var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "AWS.SimpleQueueService.NonExistentQueue", Err: ErrNotFound},
		{Code: "QueueDoesNotExist", Err: ErrNotFound},
	},
	Invalid: []awserr.Match{
		{Code: "ReceiptHandleIsInvalid", Err: ErrReceiptInvalid},
		{Code: "InvalidParameterValue", Message: "receipt handle", Err: ErrReceiptInvalid},
		{Code: "MessageNotInflight", Err: ErrReceiptInvalid},
	},
}

// api lists the SQS operations Elevator uses.
type api interface {
	GetQueueUrl(context.Context, *sqssdk.GetQueueUrlInput, ...func(*sqssdk.Options)) (*sqssdk.GetQueueUrlOutput, error)
	ReceiveMessage(context.Context, *sqssdk.ReceiveMessageInput, ...func(*sqssdk.Options)) (*sqssdk.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqssdk.DeleteMessageInput, ...func(*sqssdk.Options)) (*sqssdk.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqssdk.ChangeMessageVisibilityInput, ...func(*sqssdk.Options)) (*sqssdk.ChangeMessageVisibilityOutput, error)
}

// Client talks to SQS in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client {
	return &Client{api: sqssdk.NewFromConfig(cfg), region: cfg.Region}
}

// Message is a received message.
type Message struct {
	ID            string
	ReceiptHandle string // what Delete and Extend name it by, for this receipt
	Body          string
	// Receives is how many times the queue has handed the message out,
	// this time included.
	Receives int
	// Sent is when the queue first got the message (zero when the queue
	// did not say).
	Sent time.Time
}

// QueueURL returns the URL of the queue called name. It returns ENOTFOUND
// wrapping ErrNotFound when there is none.
func (c *Client) QueueURL(ctx context.Context, name string) (string, error) {
	out, err := c.api.GetQueueUrl(ctx, &sqssdk.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", c.check("get the URL of queue "+name, name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// Receive waits up to wait (long polling; at most 20s) for up to n
// messages (at most 10), which stay invisible to other receivers for
// visibility. No message is no error.
//
// The attempt timeout of the config's HTTP client (awscfg's
// AttemptTimeout, 20s) is lengthened by wait for this call: an empty
// queue answers a long poll only once it is over, so an attempt bounded by
// less than the poll would time out, be retried, and hold the receive
// until the call's deadline.
func (c *Client) Receive(ctx context.Context, url string, n int, wait, visibility time.Duration) ([]Message, error) {
	wait = min(wait.Truncate(time.Second), 20*time.Second)
	out, err := c.api.ReceiveMessage(ctx, &sqssdk.ReceiveMessageInput{
		QueueUrl:            aws.String(url),
		MaxNumberOfMessages: int32(min(max(n, 1), 10)),
		WaitTimeSeconds:     int32(min(wait/time.Second, 20)),
		VisibilityTimeout:   int32(visibility / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount,
			sqstypes.MessageSystemAttributeNameSentTimestamp},
	}, outlast(wait))
	if err != nil {
		return nil, c.check("receive from "+url, url, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		n, _ := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		msg := Message{ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Receives: n}
		// SentTimestamp is epoch milliseconds.
		if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil && ms > 0 {
			msg.Sent = time.UnixMilli(ms).UTC()
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// outlast lengthens the attempt timeout of a call's HTTP client by a long
// poll of wait.
func outlast(wait time.Duration) func(*sqssdk.Options) {
	return func(o *sqssdk.Options) {
		if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok && bc.GetTimeout() > 0 {
			o.HTTPClient = bc.WithTimeout(bc.GetTimeout() + wait)
		}
	}
}

// Delete deletes a received message.
func (c *Client) Delete(ctx context.Context, url, receipt string) error {
	_, err := c.api.DeleteMessage(ctx, &sqssdk.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(receipt)})
	return c.check("delete a message of "+url, url, err)
}

// SetVisibility makes a received message invisible to other receivers for
// d from now (0 makes it visible at once): the heartbeat of a receiver
// still working on it, or a retry after d.
func (c *Client) SetVisibility(ctx context.Context, url, receipt string, d time.Duration) error {
	_, err := c.api.ChangeMessageVisibility(ctx, &sqssdk.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(receipt),
		VisibilityTimeout: int32(min(d/time.Second, 12*3600-1))})
	return c.check("change the visibility of a message of "+url, url, err)
}

func (c *Client) check(doing, name string, err error) error {
	if err == nil {
		return nil
	}
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: "queue", Name: name}, err)
}
