// Package cloudformation is Elevator's adapter for AWS CloudFormation: stacks,
// change sets, events and resources, in Elevator's own types. Nothing above
// it sees an SDK type. Errors it returns are *elevator.Error, translated by
// awserr: ENOTFOUND wrapping an *awserr.NotFoundError and ErrStackNotFound
// for a stack that does not exist (or was deleted), EINTERRUPTED when the
// context was cancelled, EAWS for any other refused or failed call. A change
// set that would change nothing is ErrNoChanges.
package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrStackNotFound is wrapped by the ENOTFOUND error returned for a stack
// that does not exist (or was deleted); check it with errors.Is, or find the
// *awserr.NotFoundError naming the stack with errors.As.
var ErrStackNotFound = errors.New("stack not found")

// ErrChangeSetNotFound is wrapped by the ENOTFOUND error returned for a
// change set that does not exist (or was deleted, as AWS does with a
// stack's change sets once one of them ran). The emulator answers such a
// call as for a stack that does not exist: ErrStackNotFound.
var ErrChangeSetNotFound = errors.New("change set not found")

// codes are CloudFormation's answers about a stack or change set that does
// not exist.
var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "ValidationError", Message: "does not exist", Err: ErrStackNotFound},
		{Code: "ChangeSetNotFound", Err: ErrChangeSetNotFound},
		{Code: "ChangeSetNotFoundException", Err: ErrChangeSetNotFound},
	},
}

// api lists the CloudFormation operations Elevator uses.
type api interface {
	DescribeStacks(context.Context, *cfn.DescribeStacksInput, ...func(*cfn.Options)) (*cfn.DescribeStacksOutput, error)
	GetTemplate(context.Context, *cfn.GetTemplateInput, ...func(*cfn.Options)) (*cfn.GetTemplateOutput, error)
	CreateChangeSet(context.Context, *cfn.CreateChangeSetInput, ...func(*cfn.Options)) (*cfn.CreateChangeSetOutput, error)
	DescribeChangeSet(context.Context, *cfn.DescribeChangeSetInput, ...func(*cfn.Options)) (*cfn.DescribeChangeSetOutput, error)
	DeleteChangeSet(context.Context, *cfn.DeleteChangeSetInput, ...func(*cfn.Options)) (*cfn.DeleteChangeSetOutput, error)
	ListChangeSets(context.Context, *cfn.ListChangeSetsInput, ...func(*cfn.Options)) (*cfn.ListChangeSetsOutput, error)
	ExecuteChangeSet(context.Context, *cfn.ExecuteChangeSetInput, ...func(*cfn.Options)) (*cfn.ExecuteChangeSetOutput, error)
	DescribeStackEvents(context.Context, *cfn.DescribeStackEventsInput, ...func(*cfn.Options)) (*cfn.DescribeStackEventsOutput, error)
	ListStackResources(context.Context, *cfn.ListStackResourcesInput, ...func(*cfn.Options)) (*cfn.ListStackResourcesOutput, error)
	DeleteStack(context.Context, *cfn.DeleteStackInput, ...func(*cfn.Options)) (*cfn.DeleteStackOutput, error)
	UpdateTerminationProtection(context.Context, *cfn.UpdateTerminationProtectionInput, ...func(*cfn.Options)) (*cfn.UpdateTerminationProtectionOutput, error)
}

// Client talks to CloudFormation in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client {
	return &Client{api: cfn.NewFromConfig(cfg), region: cfg.Region}
}

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// StackStatus is a CloudFormation stack status such as CREATE_COMPLETE.
type StackStatus string

// InProgress reports whether the stack is changing now.
func (s StackStatus) InProgress() bool { return strings.HasSuffix(string(s), "_IN_PROGRESS") }

// Settled reports whether the stack can take a new change set.
func (s StackStatus) Settled() bool {
	switch s {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		return true
	}
	return false
}

// Failed reports whether the stack ended an operation in failure.
func (s StackStatus) Failed() bool {
	return strings.HasSuffix(string(s), "_FAILED") || s == "ROLLBACK_COMPLETE" || s == "UPDATE_ROLLBACK_COMPLETE"
}

// Stack is a deployed stack.
type Stack struct {
	Name, ID              string
	Status                StackStatus
	Reason                string
	Outputs               map[string]string
	Parameters            map[string]string
	Tags                  map[string]string
	TerminationProtection bool
	Updated               time.Time
}

// Describe returns the stack called name, or ErrStackNotFound.
func (c *Client) Describe(ctx context.Context, name string) (*Stack, error) {
	out, err := c.api.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return nil, c.fail("describe stack "+name, name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, c.notFound(name)
	}
	s := out.Stacks[0]
	st := &Stack{
		Name:                  aws.ToString(s.StackName),
		ID:                    aws.ToString(s.StackId),
		Status:                StackStatus(s.StackStatus),
		Reason:                aws.ToString(s.StackStatusReason),
		Outputs:               map[string]string{},
		Parameters:            map[string]string{},
		Tags:                  map[string]string{},
		TerminationProtection: aws.ToBool(s.EnableTerminationProtection),
		Updated:               aws.ToTime(s.CreationTime),
	}
	if s.LastUpdatedTime != nil {
		st.Updated = *s.LastUpdatedTime
	}
	if st.Status == "DELETE_COMPLETE" {
		return nil, c.notFound(name)
	}
	for _, o := range s.Outputs {
		st.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, p := range s.Parameters {
		st.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, t := range s.Tags {
		st.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return st, nil
}

// Template returns the body of the stack's current template.
func (c *Client) Template(ctx context.Context, name string) (string, error) {
	out, err := c.api.GetTemplate(ctx, &cfn.GetTemplateInput{StackName: aws.String(name), TemplateStage: cfntypes.TemplateStageOriginal})
	if err != nil {
		return "", c.fail("get template of "+name, name, err)
	}
	return aws.ToString(out.TemplateBody), nil
}

// ChangeSetInput describes a change set to create. Every template parameter
// is passed explicitly, and the type (CREATE or UPDATE) always: AWS infers
// neither safely, and the emulator needs both.
type ChangeSetInput struct {
	Stack      string
	Name       string // unique per region
	Create     bool   // CREATE for a new stack, else UPDATE
	Body       string
	Parameters map[string]string
	Tags       map[string]string
	Token      string // idempotency token for retried calls
	// Description is the change set's description: who made it and
	// for what (see ChangeSets).
	Description string
}

// CreateChangeSet starts creating a change set and returns its id.
func (c *Client) CreateChangeSet(ctx context.Context, in ChangeSetInput) (string, error) {
	typ := cfntypes.ChangeSetTypeUpdate
	if in.Create {
		typ = cfntypes.ChangeSetTypeCreate
	}
	req := &cfn.CreateChangeSetInput{
		StackName:     aws.String(in.Stack),
		ChangeSetName: aws.String(in.Name),
		ChangeSetType: typ,
		TemplateBody:  aws.String(in.Body),
		Capabilities:  []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
		// The client token makes a retried call after a network failure
		// create the same change set rather than a second one.
		ClientToken: aws.String(in.Token),
	}
	if in.Description != "" {
		req.Description = aws.String(in.Description)
	}
	for _, k := range sortedKeys(in.Parameters) {
		req.Parameters = append(req.Parameters, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(in.Parameters[k])})
	}
	for _, k := range sortedKeys(in.Tags) {
		req.Tags = append(req.Tags, cfntypes.Tag{Key: aws.String(k), Value: aws.String(in.Tags[k])})
	}
	out, err := c.api.CreateChangeSet(ctx, req)
	if err != nil {
		if noChanges(err) {
			return "", ErrNoChanges
		}
		return "", c.fail("create change set "+in.Name, in.Stack, err)
	}
	return aws.ToString(out.Id), nil
}

// ErrNoChanges is returned when a change set would change nothing.
var ErrNoChanges = errors.New("no changes")

// ChangeSetStatus is where a change set is in its life.
type ChangeSetStatus struct {
	ID      string // its ARN
	Name    string
	Stack   string // the stack's name
	Done    bool   // created (or failed): no more waiting
	Failed  bool
	Reason  string
	Changes []Change
	// Execution is CloudFormation's ExecutionStatus: AVAILABLE when it
	// can be executed; EXECUTE_IN_PROGRESS, EXECUTE_COMPLETE or
	// EXECUTE_FAILED (the stack's update failed and rolled back) once it
	// was (AWS keeps an executed change set and deletes the stack's
	// others); OBSOLETE when the stack changed since, UNAVAILABLE
	// otherwise.
	Execution string
	Created   time.Time
}

// Execution statuses of a change set.
const (
	ExecutionAvailable  = "AVAILABLE"
	ExecutionInProgress = "EXECUTE_IN_PROGRESS"
	ExecutionComplete   = "EXECUTE_COMPLETE"
	ExecutionFailed     = "EXECUTE_FAILED"
)

// Executed reports whether the change set was executed (or is being),
// whether its stack's update succeeded or failed.
func (s *ChangeSetStatus) Executed() bool {
	switch s.Execution {
	case ExecutionInProgress, ExecutionComplete, ExecutionFailed:
		return true
	}
	return false
}

// Change is one resource a change set would add, modify or remove.
type Change struct {
	Action      string // Add, Modify, Remove, Import, Dynamic
	LogicalID   string
	Type        string
	PhysicalID  string
	Replacement string // True, False, Conditional, or "" when unknown
}

// ChangeSet reads a change set. A change set that failed because it holds
// no changes returns ErrNoChanges.
func (c *Client) ChangeSet(ctx context.Context, id string) (*ChangeSetStatus, error) {
	st := &ChangeSetStatus{}
	var token *string
	for {
		out, err := c.api.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{ChangeSetName: aws.String(id), NextToken: token})
		if err != nil {
			return nil, c.fail("describe change set", "", err)
		}
		st.ID, st.Name, st.Stack = aws.ToString(out.ChangeSetId), aws.ToString(out.ChangeSetName), aws.ToString(out.StackName)
		st.Execution, st.Created = string(out.ExecutionStatus), aws.ToTime(out.CreationTime)
		switch out.Status {
		case cfntypes.ChangeSetStatusCreateComplete:
			st.Done = true
		case cfntypes.ChangeSetStatusFailed:
			reason := aws.ToString(out.StatusReason)
			if strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed") {
				return nil, ErrNoChanges
			}
			st.Done, st.Failed, st.Reason = true, true, reason
		}
		for _, ch := range out.Changes {
			rc := ch.ResourceChange
			if rc == nil {
				continue
			}
			st.Changes = append(st.Changes, Change{
				Action:      string(rc.Action),
				LogicalID:   aws.ToString(rc.LogicalResourceId),
				Type:        aws.ToString(rc.ResourceType),
				PhysicalID:  aws.ToString(rc.PhysicalResourceId),
				Replacement: string(rc.Replacement),
			})
		}
		if out.NextToken == nil || !st.Done {
			return st, nil
		}
		token = out.NextToken
	}
}

// ChangeSetARN returns the id (ARN) of the change set called name of
// stack: a change set's name is unique only within its stack.
func (c *Client) ChangeSetARN(ctx context.Context, stack, name string) (string, error) {
	out, err := c.api.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String(stack), ChangeSetName: aws.String(name)})
	if err != nil {
		return "", c.fail("describe change set "+name, stack, err)
	}
	return aws.ToString(out.ChangeSetId), nil
}

// ChangeSetSummary is one change set of a stack, as ChangeSets lists it.
type ChangeSetSummary struct {
	ID          string // its ARN
	Name        string
	Description string
	Execution   string // as ChangeSetStatus.Execution
}

// ChangeSets lists the change sets of stack. A missing stack returns
// ErrStackNotFound.
func (c *Client) ChangeSets(ctx context.Context, stack string) ([]ChangeSetSummary, error) {
	var out []ChangeSetSummary
	var token *string
	for {
		page, err := c.api.ListChangeSets(ctx, &cfn.ListChangeSetsInput{StackName: aws.String(stack), NextToken: token})
		if err != nil {
			return nil, c.fail("list change sets", stack, err)
		}
		for _, s := range page.Summaries {
			out = append(out, ChangeSetSummary{ID: aws.ToString(s.ChangeSetId), Name: aws.ToString(s.ChangeSetName),
				Description: aws.ToString(s.Description), Execution: string(s.ExecutionStatus)})
		}
		if page.NextToken == nil {
			return out, nil
		}
		token = page.NextToken
	}
}

// DeleteChangeSet deletes a change set.
func (c *Client) DeleteChangeSet(ctx context.Context, id string) error {
	if _, err := c.api.DeleteChangeSet(ctx, &cfn.DeleteChangeSetInput{ChangeSetName: aws.String(id)}); err != nil {
		return c.fail("delete change set", "", err)
	}
	return nil
}

// ExecuteChangeSet starts applying a change set.
func (c *Client) ExecuteChangeSet(ctx context.Context, id, token string) error {
	_, err := c.api.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{
		ChangeSetName: aws.String(id),
		// The token makes a retried execute a no-op instead of an error.
		ClientRequestToken: aws.String(token),
	})
	if err != nil {
		return c.fail("execute change set", "", err)
	}
	return nil
}

// Event is one stack event.
type Event struct {
	ID         string
	Time       time.Time
	LogicalID  string
	Type       string
	Status     string
	Reason     string
	PhysicalID string
	// Token is the client request token of the operation that caused
	// the event (ExecuteChangeSet's, DeleteStack's); the emulator keeps
	// none.
	Token string
}

// Events returns the stack's events newer than since, oldest first. It reads
// pages only until it reaches an event older than since.
func (c *Client) Events(ctx context.Context, stack string, since time.Time) ([]Event, error) {
	var events []Event
	var token *string
	for {
		out, err := c.api.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String(stack), NextToken: token})
		if err != nil {
			return nil, c.fail("describe events of "+stack, stack, err)
		}
		older := false
		for _, e := range out.StackEvents {
			t := aws.ToTime(e.Timestamp)
			if t.Before(since) {
				older = true
				continue
			}
			events = append(events, Event{
				ID:         aws.ToString(e.EventId),
				Time:       t,
				LogicalID:  aws.ToString(e.LogicalResourceId),
				Type:       aws.ToString(e.ResourceType),
				Status:     string(e.ResourceStatus),
				Reason:     aws.ToString(e.ResourceStatusReason),
				PhysicalID: aws.ToString(e.PhysicalResourceId),
				Token:      aws.ToString(e.ClientRequestToken),
			})
		}
		if older || out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	return events, nil
}

// Resource is one resource of a stack.
type Resource struct {
	LogicalID, PhysicalID, Type, Status string
}

// Resources lists the stack's resources.
func (c *Client) Resources(ctx context.Context, stack string) ([]Resource, error) {
	var res []Resource
	p := cfn.NewListStackResourcesPaginator(c.api, &cfn.ListStackResourcesInput{StackName: aws.String(stack)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list resources of "+stack, stack, err)
		}
		for _, r := range out.StackResourceSummaries {
			res = append(res, Resource{
				LogicalID:  aws.ToString(r.LogicalResourceId),
				PhysicalID: aws.ToString(r.PhysicalResourceId),
				Type:       aws.ToString(r.ResourceType),
				Status:     string(r.ResourceStatus),
			})
		}
	}
	return res, nil
}

// DeleteStack starts deleting a stack.
func (c *Client) DeleteStack(ctx context.Context, name, token string) error {
	_, err := c.api.DeleteStack(ctx, &cfn.DeleteStackInput{
		StackName: aws.String(name),
		// The token makes a retried delete a no-op instead of an error.
		ClientRequestToken: aws.String(token),
	})
	if err != nil {
		return c.fail("delete stack "+name, name, err)
	}
	return nil
}

// SetTerminationProtection turns a stack's termination protection on or off.
// It is not retried: an endpoint that does not implement it answers at once.
func (c *Client) SetTerminationProtection(ctx context.Context, name string, on bool) error {
	_, err := c.api.UpdateTerminationProtection(ctx, &cfn.UpdateTerminationProtectionInput{
		StackName:                   aws.String(name),
		EnableTerminationProtection: aws.Bool(on),
	}, func(o *cfn.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return c.fail("set termination protection of "+name, name, err)
	}
	return nil
}

// fail translates the error of a call about stack ("" when the call names
// a change set by id: a not-found answer then says which stack).
func (c *Client) fail(doing, stack string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: "stack", Name: stack}, err)
}

func (c *Client) notFound(stack string) error {
	return awserr.NotFound("stack", stack, c.region, ErrStackNotFound)
}

func noChanges(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (strings.Contains(ae.ErrorMessage(), "No updates are to be performed") || strings.Contains(ae.ErrorMessage(), "didn't contain changes"))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String formats a change for logs.
func (ch Change) String() string {
	return fmt.Sprintf("%s %s (%s)", ch.Action, ch.LogicalID, ch.Type)
}
