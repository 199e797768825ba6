package ssm

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// fakeCommands is a Run Command API that records what it was sent and
// says the command succeeded. moto's SendCommand ignores both timeouts,
// so what reaches AWS is checked here.
type fakeCommands struct {
	api
	sent []*ssmsdk.SendCommandInput
}

func (f *fakeCommands) SendCommand(_ context.Context, in *ssmsdk.SendCommandInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.SendCommandOutput, error) {
	f.sent = append(f.sent, in)
	return &ssmsdk.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String("c-1")}}, nil
}

func (f *fakeCommands) GetCommandInvocation(context.Context, *ssmsdk.GetCommandInvocationInput, ...func(*ssmsdk.Options)) (*ssmsdk.GetCommandInvocationOutput, error) {
	return &ssmsdk.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusSuccess, StandardOutputContent: aws.String("ok")}, nil
}

// TestRunShellBoundsTheCommandsRunNotOnlyItsDelivery: SendCommand's
// TimeoutSeconds bounds only how long the command may wait to be
// delivered; the document's executionTimeout bounds how long it runs on
// the instance.
func TestRunShellBoundsTheCommandsRunNotOnlyItsDelivery(t *testing.T) {
	f := &fakeCommands{}
	c := &Client{api: f, region: "us-east-1"}
	res, err := c.RunShell(context.Background(), "i-1", []string{"curl -fsS localhost:8080/health"}, 90*time.Second, time.Millisecond)
	if err != nil || !res.OK {
		t.Fatalf("RunShell = %+v, %v", res, err)
	}
	in := f.sent[0]
	if got := in.Parameters["executionTimeout"]; !slices.Equal(got, []string{"90"}) {
		t.Errorf("executionTimeout = %v, want [90]", got)
	}
	if aws.ToInt32(in.TimeoutSeconds) != 90 {
		t.Errorf("TimeoutSeconds = %d, want 90", aws.ToInt32(in.TimeoutSeconds))
	}
}

// TestSendAndReadACommandOnMoto: moto answers SendCommand and
// GetCommandInvocation (every invocation Success, exit 0, at once); an
// instance the command was not sent to is not known yet, so not Done.
func TestSendAndReadACommandOnMoto(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	c := New(cfg)
	ctx := context.Background()
	id, err := c.Send(ctx, Command{Document: "AWS-RunShellScript", Parameters: map[string][]string{"commands": {"uptime"}}, Instances: []string{"i-0123456789abcdef0"}, Comment: "test"})
	if err != nil || id == "" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	inv, err := c.CommandInvocation(ctx, id, "i-0123456789abcdef0")
	if err != nil || !inv.Done || inv.Status != "Success" || inv.ResponseCode != 0 || inv.Start.IsZero() || !inv.End.After(inv.Start) {
		t.Errorf("CommandInvocation = %+v, %v", inv, err)
	}
	unknown, err := c.CommandInvocation(ctx, id, "i-0fedcba9876543210")
	if err != nil || unknown.Done || unknown.Status != "Pending" {
		t.Errorf("an invocation Run Command does not know: %+v, %v", unknown, err)
	}
}

// fakeRun is a Run Command API whose invocation is still running, that
// records cancels: moto 5.2.5 answers CancelCommand with a 500.
type fakeRun struct {
	fakeCommands
	status    ssmtypes.CommandInvocationStatus
	cancelled []string
}

func (f *fakeRun) GetCommandInvocation(context.Context, *ssmsdk.GetCommandInvocationInput, ...func(*ssmsdk.Options)) (*ssmsdk.GetCommandInvocationOutput, error) {
	return &ssmsdk.GetCommandInvocationOutput{Status: f.status, ResponseCode: -1, StandardOutputContent: aws.String("partial")}, nil
}

func (f *fakeRun) CancelCommand(_ context.Context, in *ssmsdk.CancelCommandInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.CancelCommandOutput, error) {
	f.cancelled = append(f.cancelled, aws.ToString(in.CommandId))
	return &ssmsdk.CancelCommandOutput{}, nil
}

func TestARunningInvocationIsNotDoneAndACommandCanBeCancelled(t *testing.T) {
	for _, s := range []ssmtypes.CommandInvocationStatus{ssmtypes.CommandInvocationStatusInProgress, ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling} {
		f := &fakeRun{status: s}
		c := &Client{api: f, region: "us-east-1"}
		inv, err := c.CommandInvocation(context.Background(), "c-1", "i-1")
		if err != nil || inv.Done || inv.Stdout != "" {
			t.Errorf("%s: %+v, %v", s, inv, err)
		}
	}
	f := &fakeRun{status: ssmtypes.CommandInvocationStatusTimedOut}
	c := &Client{api: f, region: "us-east-1"}
	if inv, err := c.CommandInvocation(context.Background(), "c-1", "i-1"); err != nil || !inv.Done || inv.Status != "TimedOut" || inv.ResponseCode != -1 || inv.Stdout != "partial" {
		t.Errorf("TimedOut: %+v, %v", inv, err)
	}
	if err := c.CancelCommand(context.Background(), "c-1"); err != nil || !slices.Equal(f.cancelled, []string{"c-1"}) {
		t.Errorf("CancelCommand: %v, sent %v", err, f.cancelled)
	}
	// The delivery timeout is 30 seconds at least.
	if _, err := c.Send(context.Background(), Command{Document: "AWS-RunShellScript", Instances: []string{"i-1"}, Delivery: 5 * time.Second}); err != nil || aws.ToInt32(f.sent[0].TimeoutSeconds) != 30 {
		t.Errorf("Send: %v, TimeoutSeconds %v", err, f.sent)
	}
}
