package ssm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"

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

// fakeRunSteps is a Run Command API for a document of two steps on one
// instance, a fake: moto 5.2.5 answers neither ListCommandInvocations nor
// DescribeInstanceInformation, and runs every document as one step. The
// list gives each step's output cut at 2,500 characters, as AWS does;
// GetCommandInvocation with the step's PluginName gives it whole. It
// records the steps read and the instances cancelled.
type fakeRunSteps struct {
	fakeCommands
	listErr   error
	steps     []string
	cancelled [][]string
	ping      map[string]ssmtypes.PingStatus
	filters   [][]string
}

func (f *fakeRunSteps) ListCommandInvocations(_ context.Context, in *ssmsdk.ListCommandInvocationsInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.ListCommandInvocationsOutput, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	if !in.Details {
		return &ssmsdk.ListCommandInvocationsOutput{}, nil // no steps without Details
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("p", 3000)
	return &ssmsdk.ListCommandInvocationsOutput{CommandInvocations: []ssmtypes.CommandInvocation{
		{InstanceId: aws.String("i-1"), Status: ssmtypes.CommandInvocationStatusFailed, StatusDetails: aws.String("Failed"), CommandPlugins: []ssmtypes.CommandPlugin{
			{Name: aws.String("PatchLinux"), Status: ssmtypes.CommandPluginStatusSuccess, ResponseCode: 0, Output: aws.String(long[:2500]), ResponseStartDateTime: aws.Time(start), ResponseFinishDateTime: aws.Time(start.Add(time.Minute))},
			{Name: aws.String("Reboot"), Status: ssmtypes.CommandPluginStatusFailed, ResponseCode: 3, Output: aws.String("no reboot"), ResponseStartDateTime: aws.Time(start.Add(time.Minute)), ResponseFinishDateTime: aws.Time(start.Add(2 * time.Minute))},
			{Name: aws.String("Report"), Status: ssmtypes.CommandPluginStatusPending, ResponseCode: -1}, // never ran: a step before failed,
		}},
		{InstanceId: aws.String("i-2"), Status: ssmtypes.CommandInvocationStatusInProgress},
	}}, nil
}

func (f *fakeRunSteps) GetCommandInvocation(_ context.Context, in *ssmsdk.GetCommandInvocationInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.GetCommandInvocationOutput, error) {
	f.steps = append(f.steps, aws.ToString(in.InstanceId)+"/"+aws.ToString(in.PluginName))
	if aws.ToString(in.PluginName) == "PatchLinux" {
		return &ssmsdk.GetCommandInvocationOutput{StandardOutputContent: aws.String(strings.Repeat("p", 3000))}, nil
	}
	return &ssmsdk.GetCommandInvocationOutput{StandardErrorContent: aws.String("no reboot")}, nil
}

func (f *fakeRunSteps) CancelCommand(_ context.Context, in *ssmsdk.CancelCommandInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.CancelCommandOutput, error) {
	f.cancelled = append(f.cancelled, in.InstanceIds)
	return &ssmsdk.CancelCommandOutput{}, nil
}

func (f *fakeRunSteps) DescribeInstanceInformation(_ context.Context, in *ssmsdk.DescribeInstanceInformationInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.DescribeInstanceInformationOutput, error) {
	var out []ssmtypes.InstanceInformation
	for _, fl := range in.Filters {
		f.filters = append(f.filters, fl.Values)
		for _, id := range fl.Values {
			if p, ok := f.ping[id]; ok {
				out = append(out, ssmtypes.InstanceInformation{InstanceId: aws.String(id), PingStatus: p})
			}
		}
	}
	return &ssmsdk.DescribeInstanceInformationOutput{InstanceInformationList: out}, nil
}

func TestInvocationsOfADocumentOfSeveralStepsReadEachStepWhole(t *testing.T) {
	f := &fakeRunSteps{}
	c := &Client{api: f, region: "us-east-1"}
	invs, err := c.Invocations(context.Background(), "c-1")
	if err != nil || len(invs) != 2 {
		t.Fatalf("Invocations = %+v, %v", invs, err)
	}
	done, running := invs[0], invs[1]
	if running.Instance != "i-2" || running.Done {
		t.Errorf("the running instance: %+v", running)
	}
	// Exit code of the failed step; each step's output whole (3,000
	// characters, not the list's 2,500), under its name; skipped steps
	// named too (exit code: the failed step's, not the last).
	want := "[step PatchLinux: Success, exit 0]\n" + strings.Repeat("p", 3000) + "\n[step Reboot: Failed, exit 3]\n[step Report: Pending, exit -1]\n"
	if !done.Done || done.Status != "Failed" || done.ResponseCode != 3 || done.Stdout != want || done.Stderr != "[step Reboot]\nno reboot\n" || done.StdoutCut {
		t.Errorf("the ended instance: %+v", done)
	}
	if !slices.Equal(f.steps, []string{"i-1/PatchLinux", "i-1/Reboot"}) {
		t.Errorf("steps read with GetCommandInvocation: %v, want those with output, by PluginName", f.steps)
	}
	if done.End.Sub(done.Start) != 2*time.Minute {
		t.Errorf("ran %s to %s, want the steps' 2 minutes", done.Start, done.End)
	}
}

func TestAReadThatIsThrottledIsEAWSAndThrottled(t *testing.T) {
	f := &fakeRunSteps{listErr: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}}
	c := &Client{api: f, region: "us-east-1"}
	_, err := c.Invocations(context.Background(), "c-1")
	if elevator.ErrorCode(err) != elevator.EAWS || !errors.Is(err, awserr.ErrThrottled) {
		t.Errorf("err = %v, want EAWS, throttled (tried again by the runner)", err)
	}
}

func TestSendLetsEveryInstanceRunAndAnUnmanagedInstanceIsNotBadInput(t *testing.T) {
	f := &fakeRunSteps{}
	c := &Client{api: f, region: "us-east-1"}
	if _, err := c.Send(context.Background(), Command{Document: "AWS-RunShellScript", Instances: []string{"i-1", "i-2", "i-3"}, Delivery: 100 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	in := f.sent[0]
	if aws.ToString(in.MaxConcurrency) != "3" || aws.ToString(in.MaxErrors) != "100%" || aws.ToInt32(in.TimeoutSeconds) != 172800 {
		t.Errorf("MaxConcurrency %q, MaxErrors %q, TimeoutSeconds %d: want all at once, go on past errors, at most 48h",
			aws.ToString(in.MaxConcurrency), aws.ToString(in.MaxErrors), aws.ToInt32(in.TimeoutSeconds))
	}
	refused := &refusingSend{fakeRunSteps: f, err: &smithy.GenericAPIError{Code: "InvalidInstanceId", Message: "Instances [[i-3]] not in a valid state"}}
	_, err := (&Client{api: refused, region: "us-east-1"}).Send(context.Background(), Command{Document: "AWS-RunShellScript", Instances: []string{"i-3"}})
	if elevator.ErrorCode(err) != elevator.EAWS {
		t.Errorf("InvalidInstanceId: %v (code %s), want EAWS: the instance, not the request, is at fault", err, elevator.ErrorCode(err))
	}
}

type refusingSend struct {
	*fakeRunSteps
	err error
}

func (f *refusingSend) SendCommand(context.Context, *ssmsdk.SendCommandInput, ...func(*ssmsdk.Options)) (*ssmsdk.SendCommandOutput, error) {
	return nil, f.err
}

func TestManagedNodesAndACancelNamingInstances(t *testing.T) {
	f := &fakeRunSteps{ping: map[string]ssmtypes.PingStatus{"i-1": ssmtypes.PingStatusOnline, "i-3": ssmtypes.PingStatusConnectionLost}}
	c := &Client{api: f, region: "us-east-1"}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("i-%d", i))
	}
	got, err := c.ManagedNodes(context.Background(), ids)
	if err != nil || len(got) != 2 || got["i-1"] != "Online" || got["i-3"] != "ConnectionLost" {
		t.Errorf("ManagedNodes = %v, %v", got, err)
	}
	if len(f.filters) != 2 || len(f.filters[0]) != 50 || len(f.filters[1]) != 10 {
		t.Errorf("asked about %d groups of instances, want 50 then 10", len(f.filters))
	}
	if err := c.CancelCommand(context.Background(), "c-1", "i-1", "i-2"); err != nil || len(f.cancelled) != 1 || !slices.Equal(f.cancelled[0], []string{"i-1", "i-2"}) {
		t.Errorf("CancelCommand: %v, %v", err, f.cancelled)
	}
}
