package ssm

import (
	"context"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// commandAPI lists the Run Command operations.
type commandAPI interface {
	SendCommand(context.Context, *ssmsdk.SendCommandInput, ...func(*ssmsdk.Options)) (*ssmsdk.SendCommandOutput, error)
	GetCommandInvocation(context.Context, *ssmsdk.GetCommandInvocationInput, ...func(*ssmsdk.Options)) (*ssmsdk.GetCommandInvocationOutput, error)
}

// CommandResult is what a command run on an instance printed and how it
// ended: Status is Run Command's (Success, Failed, TimedOut, Cancelled,
// ...), OK whether it is Success. Run Command keeps at most MaxOutput
// characters of each stream; StdoutCut and StderrCut say it cut one.
type CommandResult struct {
	Stdout, Stderr       string
	StdoutCut, StderrCut bool
	Status               string
	OK                   bool
}

// MaxOutput is the most of a stream GetCommandInvocation answers with:
// the rest is cut.
const MaxOutput = 24000

// RunShell runs shell lines on an instance with the AWS-RunShellScript
// document and waits, looking every poll, until they end or timeout
// passes (then Status is TimedOut). Failures are EAWS errors.
func (c *Client) RunShell(ctx context.Context, instance string, lines []string, timeout, poll time.Duration) (CommandResult, error) {
	api, ok := c.api.(commandAPI)
	if !ok {
		return CommandResult{}, errors.New("ssm: client cannot run commands")
	}
	op := awserr.Op{Doing: "run command on " + instance, Region: c.region, Kind: "instance", Name: instance}
	// TimeoutSeconds only bounds how long the command may wait to be
	// delivered to the instance (30 s at least); the document's
	// executionTimeout bounds how long it runs there, so that a command
	// past its test's timeout is stopped on the instance too.
	secs := max(int32(timeout/time.Second), 1)
	out, err := api.SendCommand(ctx, &ssmsdk.SendCommandInput{
		DocumentName:   aws.String(elevator.ShellDocument),
		InstanceIds:    []string{instance},
		Parameters:     map[string][]string{"commands": lines, "executionTimeout": {strconv.Itoa(int(secs))}},
		TimeoutSeconds: aws.Int32(max(secs, 30)),
	})
	if err != nil {
		return CommandResult{}, codes.Translate(op, err)
	}
	id := aws.ToString(out.Command.CommandId)
	deadline := time.Now().Add(timeout)
	for {
		inv, err := api.GetCommandInvocation(ctx, &ssmsdk.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(instance)})
		if err != nil && awserr.Code(err) != "InvocationDoesNotExist" {
			return CommandResult{}, codes.Translate(op, err)
		}
		if err == nil {
			switch inv.Status {
			case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress, ssmtypes.CommandInvocationStatusDelayed:
			default:
				res := CommandResult{Stdout: aws.ToString(inv.StandardOutputContent), Stderr: aws.ToString(inv.StandardErrorContent), Status: string(inv.Status)}
				res.StdoutCut, res.StderrCut = utf8.RuneCountInString(res.Stdout) >= MaxOutput, utf8.RuneCountInString(res.Stderr) >= MaxOutput
				res.OK = inv.Status == ssmtypes.CommandInvocationStatusSuccess
				return res, nil
			}
		}
		if time.Now().After(deadline) {
			return CommandResult{Status: "TimedOut"}, nil
		}
		select {
		case <-ctx.Done():
			return CommandResult{}, codes.Translate(op, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// runAPI lists the operations of a command sent to many instances.
type runAPI interface {
	commandAPI
	CancelCommand(context.Context, *ssmsdk.CancelCommandInput, ...func(*ssmsdk.Options)) (*ssmsdk.CancelCommandOutput, error)
}

// MaxInstancesPerCommand is the most instance ids one SendCommand takes.
const MaxInstancesPerCommand = 50

// Command is a document to run on instances with its parameters.
// Delivery bounds how long Run Command may wait to deliver it to an
// instance (at least 30 seconds); how long it may run is the document's
// business (AWS-RunShellScript's executionTimeout parameter).
type Command struct {
	Document   string
	Parameters map[string][]string
	Instances  []string
	Delivery   time.Duration
	Comment    string
}

// Invocation is how a command sent to one instance stands. Done is false
// while Run Command has not ended it (Pending, InProgress, Delayed, or
// not yet known to it); then Status says how it ended (Success, Failed,
// TimedOut, Cancelled, Undeliverable, Terminated, ...) and ResponseCode
// is what the document's last step exited with (-1 when it did not run).
// Start and End are when it ran on the instance, as Run Command says
// (zero when it does not).
type Invocation struct {
	Status, StatusDetails string
	Done                  bool
	ResponseCode          int
	Stdout, Stderr        string
	StdoutCut, StderrCut  bool
	Start, End            time.Time
}

// Send sends a command to up to MaxInstancesPerCommand instances and
// returns its id. Failures are EAWS errors (EINVALID when Run Command
// refuses the document or its parameters).
func (c *Client) Send(ctx context.Context, cmd Command) (string, error) {
	api, ok := c.api.(commandAPI)
	if !ok {
		return "", errors.New("ssm: client cannot run commands")
	}
	op := awserr.Op{Doing: "send command " + cmd.Document, Region: c.region, Kind: "SSM document", Name: cmd.Document}
	secs := max(int32(cmd.Delivery/time.Second), 30)
	in := &ssmsdk.SendCommandInput{
		DocumentName:   aws.String(cmd.Document),
		InstanceIds:    cmd.Instances,
		Parameters:     cmd.Parameters,
		TimeoutSeconds: aws.Int32(secs),
	}
	if cmd.Comment != "" {
		in.Comment = aws.String(cmd.Comment)
	}
	out, err := api.SendCommand(ctx, in)
	if err != nil {
		return "", sendCodes.Translate(op, err)
	}
	return aws.ToString(out.Command.CommandId), nil
}

// sendCodes are SendCommand's answers that mean the request was wrong.
var sendCodes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "InvalidDocument"}},
	Invalid:  []awserr.Match{{Code: "InvalidParameters"}, {Code: "InvalidDocumentVersion"}, {Code: "InvalidInstanceId"}},
}

// CommandInvocation returns how command id stands on instance. An
// invocation Run Command does not know yet is not Done.
func (c *Client) CommandInvocation(ctx context.Context, id, instance string) (Invocation, error) {
	api, ok := c.api.(commandAPI)
	if !ok {
		return Invocation{}, errors.New("ssm: client cannot run commands")
	}
	out, err := api.GetCommandInvocation(ctx, &ssmsdk.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(instance)})
	if awserr.Code(err) == "InvocationDoesNotExist" {
		return Invocation{Status: string(ssmtypes.CommandInvocationStatusPending)}, nil
	}
	if err != nil {
		return Invocation{}, codes.Translate(awserr.Op{Doing: "get command " + id + " on " + instance, Region: c.region, Kind: "instance", Name: instance}, err)
	}
	inv := Invocation{Status: string(out.Status), StatusDetails: aws.ToString(out.StatusDetails), ResponseCode: int(out.ResponseCode)}
	switch out.Status {
	case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress, ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling:
		return inv, nil
	}
	inv.Done = true
	inv.Stdout, inv.Stderr = aws.ToString(out.StandardOutputContent), aws.ToString(out.StandardErrorContent)
	inv.StdoutCut, inv.StderrCut = utf8.RuneCountInString(inv.Stdout) >= MaxOutput, utf8.RuneCountInString(inv.Stderr) >= MaxOutput
	inv.Start, inv.End = runTime(aws.ToString(out.ExecutionStartDateTime)), runTime(aws.ToString(out.ExecutionEndDateTime))
	return inv, nil
}

// runTime reads a time GetCommandInvocation gives as a string: RFC 3339
// from AWS, or without a zone (UTC) from some emulators. It is zero when
// unreadable.
func runTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// CancelCommand asks Run Command to stop command id on every instance it
// still runs on. Failures are EAWS errors.
func (c *Client) CancelCommand(ctx context.Context, id string) error {
	api, ok := c.api.(runAPI)
	if !ok {
		return errors.New("ssm: client cannot cancel commands")
	}
	if _, err := api.CancelCommand(ctx, &ssmsdk.CancelCommandInput{CommandId: aws.String(id)}); err != nil {
		return codes.Translate(awserr.Op{Doing: "cancel command " + id, Region: c.region, Kind: "command", Name: id}, err)
	}
	return nil
}
