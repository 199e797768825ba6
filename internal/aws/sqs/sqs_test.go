package sqs

// These tests run against a real moto server (emulatortest), each in an
// account of its own.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
