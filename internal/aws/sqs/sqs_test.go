package sqs

// These tests run against a real moto server (emulatortest), each in an
// account of its own.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sqssdk "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// TestReceiveSaysWhenAMessageWasSentAndHowOftenReceived sends a message,
// receives it twice (SetVisibility 0 lets it back at once), and deletes it:
// each receive carries the time SQS got it and its receive count.
func TestReceiveSaysWhenAMessageWasSentAndHowOftenReceived(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx := context.Background()
	sdk := sqssdk.NewFromConfig(cfg)
	q, err := sdk.CreateQueue(ctx, &sqssdk.CreateQueueInput{QueueName: aws.String("submissions")})
	if err != nil {
		t.Fatal(err)
	}
	c := New(cfg)
	url, err := c.QueueURL(ctx, "submissions")
	if err != nil || url != aws.ToString(q.QueueUrl) {
		t.Fatalf("QueueURL = %q, %v; want %q", url, err, aws.ToString(q.QueueUrl))
	}
	if _, err := c.QueueURL(ctx, "nothing-here"); !errors.Is(err, ErrNotFound) {
		t.Errorf("QueueURL of a missing queue: %v, want ErrNotFound", err)
	}
	before := time.Now().Add(-time.Second) // SentTimestamp is in milliseconds
	if _, err := sdk.SendMessage(ctx, &sqssdk.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second)
	for want := 1; want <= 2; want++ {
		msgs, err := c.Receive(ctx, url, 10, time.Second, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("receive %d: %d messages, want 1", want, len(msgs))
		}
		m := msgs[0]
		if m.Body != "hello" || m.Receives != want {
			t.Errorf("receive %d: body %q, receives %d", want, m.Body, m.Receives)
		}
		if m.Sent.Before(before) || m.Sent.After(after) {
			t.Errorf("receive %d: sent at %s, want between %s and %s", want, m.Sent, before, after)
		}
		if want == 1 {
			err = c.SetVisibility(ctx, url, m.ReceiptHandle, 0)
		} else {
			err = c.Delete(ctx, url, m.ReceiptHandle)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := c.Receive(ctx, url, 10, time.Second, time.Minute)
	if err != nil || len(msgs) != 0 {
		t.Errorf("after delete: %d messages, %v", len(msgs), err)
	}
}

// TestALongPollOnAnEmptyQueueOutlastsTheAttemptTimeout receives from an
// empty queue with a long poll longer than the HTTP client's attempt
// timeout (2s here, as awscfg sets 20s against 20s polls): the receive
// returns no message and no error once the poll is over, instead of
// timing out, being retried, and failing or holding on to the call's
// deadline.
func TestALongPollOnAnEmptyQueueOutlastsTheAttemptTimeout(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(2 * time.Second)
	ctx := context.Background()
	q, err := sqssdk.NewFromConfig(cfg).CreateQueue(ctx, &sqssdk.CreateQueueInput{QueueName: aws.String("empty")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	msgs, err := New(cfg).Receive(ctx, aws.ToString(q.QueueUrl), 10, 3*time.Second, time.Minute)
	took := time.Since(start)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("Receive = %d messages, %v after %s; want none, no error", len(msgs), err, took)
	}
	t.Logf("a 3s long poll on an empty queue returned after %s", took.Round(time.Millisecond))
}
