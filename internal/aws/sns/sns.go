// Package sns is Elevator's adapter for Amazon SNS: it publishes events
// (such as a release's "green is ready") to the orbit's topics. Errors it
// returns are *elevator.Error, translated by awserr: ENOTFOUND for a topic
// that does not exist, and the codes awserr gives every service.
package sns

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	snssdk "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "NotFound"}},
	Invalid:  []awserr.Match{{Code: "InvalidParameter"}},
}

type api interface {
	Publish(context.Context, *snssdk.PublishInput, ...func(*snssdk.Options)) (*snssdk.PublishOutput, error)
}

// Client talks to SNS in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: snssdk.NewFromConfig(cfg), region: cfg.Region} }

// maxSubject is the longest subject SNS takes (for email endpoints).
const maxSubject = 100

// Publish sends a message with a subject (cut to 100 characters) to a
// topic, and returns the message id.
func (c *Client) Publish(ctx context.Context, topic, subject, message string) (string, error) {
	if len(subject) > maxSubject {
		subject = subject[:maxSubject]
	}
	out, err := c.api.Publish(ctx, &snssdk.PublishInput{TopicArn: aws.String(topic), Subject: aws.String(subject), Message: aws.String(message)})
	if err != nil {
		return "", codes.Translate(awserr.Op{Doing: "publish to " + topic, Region: c.region, Kind: "SNS topic", Name: topic}, err)
	}
	return aws.ToString(out.MessageId), nil
}
