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
		DocumentName:   aws.String("AWS-RunShellScript"),
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
