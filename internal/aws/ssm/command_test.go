package ssm

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
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
