package ssm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// runAPI lists the operations that read a command sent to many instances.
type runAPI interface {
	commandAPI
	ListCommandInvocations(context.Context, *ssmsdk.ListCommandInvocationsInput, ...func(*ssmsdk.Options)) (*ssmsdk.ListCommandInvocationsOutput, error)
}

type cancelAPI interface {
	CancelCommand(context.Context, *ssmsdk.CancelCommandInput, ...func(*ssmsdk.Options)) (*ssmsdk.CancelCommandOutput, error)
}

type nodesAPI interface {
	DescribeInstanceInformation(context.Context, *ssmsdk.DescribeInstanceInformationInput, ...func(*ssmsdk.Options)) (*ssmsdk.DescribeInstanceInformationOutput, error)
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
// while Run Command has not ended it (Pending, InProgress, Delayed,
// Cancelling); then Status says how it ended (Success, Failed, TimedOut,
// Cancelled) and StatusDetails why (DeliveryTimedOut, Undeliverable,
// Terminated, ...). ResponseCode is what the first failed step exited
// with, else the last step (-1 when none ran). Stdout and Stderr are the
// steps' output, each step's under a "[step NAME]" line when the
// document has several. Start and End are when its steps ran, as Run
// Command says (zero when it does not).
type Invocation struct {
	Instance              string
	Status, StatusDetails string
	Done                  bool
	ResponseCode          int
	Stdout, Stderr        string
	StdoutCut, StderrCut  bool
	Start, End            time.Time
}

// Send sends a command to up to MaxInstancesPerCommand instances and
// returns its id. It is delivered to all of them at once, and to the
// others when it fails on some (MaxErrors 100%). Failures are EAWS
// errors (EINVALID when Run Command refuses the document's parameters,
// ENOTFOUND for an unknown document); an instance id Run Command does
// not manage (InvalidInstanceId) is EAWS: the instances, not the
// request, are at fault.
func (c *Client) Send(ctx context.Context, cmd Command) (string, error) {
	api, ok := c.api.(commandAPI)
	if !ok {
		return "", errors.New("ssm: client cannot run commands")
	}
	op := awserr.Op{Doing: "send command " + cmd.Document, Region: c.region, Kind: "SSM document", Name: cmd.Document}
	secs := int32(min(max(cmd.Delivery/time.Second, 30), MaxTimeout/time.Second))
	in := &ssmsdk.SendCommandInput{
		DocumentName:   aws.String(cmd.Document),
		InstanceIds:    cmd.Instances,
		Parameters:     cmd.Parameters,
		TimeoutSeconds: aws.Int32(secs),
		MaxConcurrency: aws.String(strconv.Itoa(max(len(cmd.Instances), 1))),
		MaxErrors:      aws.String("100%"),
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

// MaxTimeout is the longest a Run Command timeout may be (48 hours):
// both TimeoutSeconds and AWS-RunShellScript's executionTimeout.
const MaxTimeout = 48 * time.Hour

// sendCodes are SendCommand's answers that mean the request was wrong.
var sendCodes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "InvalidDocument"}},
	Invalid:  []awserr.Match{{Code: "InvalidParameters"}, {Code: "InvalidDocumentVersion"}},
}

// ManagedNodes returns the Systems Manager ping status (Online,
// ConnectionLost, Inactive) of those of instances registered as managed
// nodes; an instance it does not name is not registered.
func (c *Client) ManagedNodes(ctx context.Context, instances []string) (map[string]string, error) {
	api, ok := c.api.(nodesAPI)
	if !ok {
		return nil, errors.New("ssm: client cannot describe managed nodes")
	}
	out := map[string]string{}
	for ids := range slices.Chunk(instances, MaxInstancesPerCommand) {
		in := &ssmsdk.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: ids}}}
		for {
			page, err := api.DescribeInstanceInformation(ctx, in)
			if err != nil {
				return nil, codes.Translate(awserr.Op{Doing: "describe managed nodes", Region: c.region}, err)
			}
			for _, i := range page.InstanceInformationList {
				out[aws.ToString(i.InstanceId)] = string(i.PingStatus)
			}
			if aws.ToString(page.NextToken) == "" {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	return out, nil
}

// Invocations returns how command id stands on each instance Run Command
// has an invocation for (one ListCommandInvocations with each step's
// status), with the full output of those that ended (one
// GetCommandInvocation per step that printed anything: the list keeps
// 2,500 characters of a step's output).
func (c *Client) Invocations(ctx context.Context, id string) ([]Invocation, error) {
	api, ok := c.api.(runAPI)
	if !ok {
		return nil, errors.New("ssm: client cannot run commands")
	}
	op := awserr.Op{Doing: "list invocations of command " + id, Region: c.region, Kind: "command", Name: id}
	var out []Invocation
	in := &ssmsdk.ListCommandInvocationsInput{CommandId: aws.String(id), Details: true}
	for {
		page, err := api.ListCommandInvocations(ctx, in)
		if err != nil {
			return nil, codes.Translate(op, err)
		}
		for _, ci := range page.CommandInvocations {
			inv, err := c.invocation(ctx, api, id, ci)
			if err != nil {
				return nil, err
			}
			out = append(out, inv)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// listOutputMax is the most of a step's output ListCommandInvocations gives.
const listOutputMax = 2500

// invocation reads one instance's invocation, with its steps' output
// when it ended.
func (c *Client) invocation(ctx context.Context, api runAPI, id string, ci ssmtypes.CommandInvocation) (Invocation, error) {
	inv := Invocation{Instance: aws.ToString(ci.InstanceId), Status: string(ci.Status), StatusDetails: aws.ToString(ci.StatusDetails), ResponseCode: -1}
	switch ci.Status {
	case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress, ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling:
		return inv, nil
	}
	inv.Done = true
	steps := len(ci.CommandPlugins) > 1
	failed := false
	var stdout, stderr strings.Builder
	for _, p := range ci.CommandPlugins {
		name := aws.ToString(p.Name)
		if p.ResponseStartDateTime != nil && (inv.Start.IsZero() || p.ResponseStartDateTime.Before(inv.Start)) {
			inv.Start = p.ResponseStartDateTime.UTC()
		}
		if p.ResponseFinishDateTime != nil && p.ResponseFinishDateTime.After(inv.End) {
			inv.End = p.ResponseFinishDateTime.UTC()
		}
		if !failed && p.Status != ssmtypes.CommandPluginStatusPending {
			inv.ResponseCode = int(p.ResponseCode)
			failed = p.Status != ssmtypes.CommandPluginStatusSuccess
		}
		var so, se string
		var soCut, seCut bool
		if aws.ToString(p.Output) != "" {
			full, err := api.GetCommandInvocation(ctx, &ssmsdk.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: ci.InstanceId, PluginName: p.Name})
			switch {
			case err == nil:
				so, se = aws.ToString(full.StandardOutputContent), aws.ToString(full.StandardErrorContent)
				soCut, seCut = utf8.RuneCountInString(so) >= MaxOutput, utf8.RuneCountInString(se) >= MaxOutput
			case awserr.Code(err) == "InvocationDoesNotExist":
				// The list's output, stdout and stderr together.
				so = aws.ToString(p.Output)
				soCut = utf8.RuneCountInString(so) >= listOutputMax
			default:
				return Invocation{}, codes.Translate(awserr.Op{Doing: "get step " + name + " of command " + id + " on " + inv.Instance, Region: c.region, Kind: "instance", Name: inv.Instance}, err)
			}
		}
		if steps {
			fmt.Fprintf(&stdout, "[step %s: %s, exit %d]\n", name, p.Status, p.ResponseCode)
			if se != "" {
				fmt.Fprintf(&stderr, "[step %s]\n", name)
			}
		}
		stdout.WriteString(so)
		stderr.WriteString(se)
		if steps && so != "" && !strings.HasSuffix(so, "\n") {
			stdout.WriteString("\n")
		}
		if steps && se != "" && !strings.HasSuffix(se, "\n") {
			stderr.WriteString("\n")
		}
		inv.StdoutCut, inv.StderrCut = inv.StdoutCut || soCut, inv.StderrCut || seCut
	}
	inv.Stdout, inv.Stderr = stdout.String(), stderr.String()
	return inv, nil
}

// CommandInvocation returns how command id stands on instance, for a
// document of one step (a document of several needs Invocations). An
// invocation Run Command does not know yet is not Done.
func (c *Client) CommandInvocation(ctx context.Context, id, instance string) (Invocation, error) {
	api, ok := c.api.(commandAPI)
	if !ok {
		return Invocation{}, errors.New("ssm: client cannot run commands")
	}
	out, err := api.GetCommandInvocation(ctx, &ssmsdk.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(instance)})
	if awserr.Code(err) == "InvocationDoesNotExist" {
		return Invocation{Instance: instance, Status: string(ssmtypes.CommandInvocationStatusPending)}, nil
	}
	if err != nil {
		return Invocation{}, codes.Translate(awserr.Op{Doing: "get command " + id + " on " + instance, Region: c.region, Kind: "instance", Name: instance}, err)
	}
	inv := Invocation{Instance: instance, Status: string(out.Status), StatusDetails: aws.ToString(out.StatusDetails), ResponseCode: int(out.ResponseCode)}
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

// CancelCommand asks Run Command to stop command id on instances (on
// every instance it still runs on when none is given). Failures are
// EAWS errors.
func (c *Client) CancelCommand(ctx context.Context, id string, instances ...string) error {
	api, ok := c.api.(cancelAPI)
	if !ok {
		return errors.New("ssm: client cannot cancel commands")
	}
	if _, err := api.CancelCommand(ctx, &ssmsdk.CancelCommandInput{CommandId: aws.String(id), InstanceIds: instances}); err != nil {
		return codes.Translate(awserr.Op{Doing: "cancel command " + id, Region: c.region, Kind: "command", Name: id}, err)
	}
	return nil
}
