package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	yaml "go.yaml.in/yaml/v4"
)

// Spec is a stack as Elevator wants it to be.
type Spec struct {
	Name       string
	Body       string
	Parameters map[string]string
	Tags       map[string]string
	// Owner, when set, is the description of the change set Plan makes:
	// who keeps it, so that SweepKept finds the ones an owner left.
	Owner string
}

// Plan is what applying a Spec would do in one region.
type Plan struct {
	Region    string                  `json:"region"`
	Stack     string                  `json:"stack"`
	Create    bool                    `json:"create"`
	NoChanges bool                    `json:"no_changes"`
	Changes   []cloudformation.Change `json:"changes"`

	ChangeSetID string `json:"change_set_id,omitempty"` // the change set, while it exists (kept for review)
	// ChangeSetCreated is when CloudFormation made the change set.
	ChangeSetCreated time.Time `json:"change_set_created,omitzero"`
	spec             Spec
}

// Engine applies stacks in one region.
type Engine struct {
	Stacks   Stacks
	Progress Progress
	Poller   Poller
}

// Plan makes a change set for spec and reads what it would change. The
// change set is kept for Execute; Discard removes it (and a stack that only
// exists to hold it). A stack in a state that cannot take a change returns
// an ECONFLICT error that says what to do; a body over CloudFormation's
// limit (MaxInlineBody) an EINVALID error, before any call.
func (e *Engine) Plan(ctx context.Context, spec Spec) (*Plan, error) {
	region := e.Stacks.Region()
	if err := checkBody(spec, region, true); err != nil { // the change set carries it inline
		return nil, err
	}
	p := &Plan{Region: region, Stack: spec.Name, spec: spec}
	st, err := e.Stacks.Describe(ctx, spec.Name)
	switch {
	case errors.Is(err, cloudformation.ErrStackNotFound):
		p.Create = true
	case err != nil:
		return nil, err
	case st.Status == "REVIEW_IN_PROGRESS":
		// An earlier change set was made and never executed: the stack
		// exists only to hold it, and is still created by a CREATE one.
		p.Create = true
	default:
		if err := settled(st, region); err != nil {
			return nil, err
		}
		if same, err := e.unchanged(ctx, st, spec); err != nil || same {
			p.NoChanges = same
			return p, err
		}
	}

	now := e.Poller.Clock.Now().UTC()
	name := fmt.Sprintf("elevator-%s-%d", now.Format("20060102-150405"), now.Nanosecond()/1000)
	id, err := e.Stacks.CreateChangeSet(ctx, cloudformation.ChangeSetInput{
		Stack: spec.Name, Name: name, Create: p.Create,
		Body: spec.Body, Parameters: spec.Parameters, Tags: spec.Tags,
		Token: name, Description: spec.Owner,
	})
	if errors.Is(err, cloudformation.ErrNoChanges) {
		p.NoChanges = true
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p.ChangeSetID = id
	e.Progress.Note(region, "change set "+name+" created; waiting for it")
	for {
		cs, err := e.Stacks.ChangeSet(ctx, id)
		if errors.Is(err, cloudformation.ErrNoChanges) {
			p.NoChanges = true
			return p, e.Discard(ctx, p)
		}
		if err != nil {
			return nil, err
		}
		if cs.Failed {
			_ = e.Discard(ctx, p)
			return nil, elevator.Errorf(elevator.EAWS, "change set for %s in %s failed: %s", spec.Name, region, cs.Reason)
		}
		if cs.Done {
			p.Changes, p.ChangeSetCreated = cs.Changes, cs.Created
			return p, nil
		}
		if err := e.Poller.wait(ctx); err != nil {
			return nil, interrupted(err)
		}
	}
}

// unchanged reports whether the deployed stack already has spec's template,
// parameters and tags, in which case no change set is needed at all.
func (e *Engine) unchanged(ctx context.Context, st *cloudformation.Stack, spec Spec) (bool, error) {
	body, err := e.Stacks.Template(ctx, spec.Name)
	if err != nil {
		return false, err
	}
	if !sameTemplate(body, spec.Body) || !maps.Equal(st.Parameters, spec.Parameters) {
		return false, nil
	}
	for k, v := range spec.Tags {
		if st.Tags[k] != v {
			return false, nil
		}
	}
	return true, nil
}

// sameTemplate reports whether two template bodies hold one document,
// whether written as YAML or JSON: a stack applied when Elevator sent YAML
// bodies needs no change set for the same template sent as JSON.
func sameTemplate(deployed, body string) bool {
	if strings.TrimSpace(deployed) == strings.TrimSpace(body) {
		return true
	}
	var a, b any
	if yaml.Unmarshal([]byte(deployed), &a) != nil || yaml.Unmarshal([]byte(body), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// settled returns nil when a stack can take a change, and otherwise an
// error that says why not and what to do.
func settled(st *cloudformation.Stack, region string) error {
	where := fmt.Sprintf("stack %s in %s is %s", st.Name, region, st.Status)
	if st.Reason != "" {
		where += " (" + st.Reason + ")"
	}
	switch {
	case st.Status.Settled():
		return nil
	case st.Status.InProgress():
		return elevator.Errorf(elevator.ECONFLICT, "%s: another change is under way; wait for it to finish (its `status` shows it) and run this again", where)
	case st.Status == "ROLLBACK_COMPLETE" || st.Status == "ROLLBACK_FAILED":
		return elevator.Errorf(elevator.ECONFLICT, "%s: its creation failed and it can only be deleted; fix the cause, delete the stack (`down` of the orbit or app it belongs to), then run this again", where)
	case st.Status == "UPDATE_ROLLBACK_FAILED":
		return elevator.Errorf(elevator.ECONFLICT, "%s: fix what blocked the rollback, then run `aws cloudformation continue-update-rollback --stack-name %s --region %s` and this again", where, st.Name, region)
	case st.Status == "DELETE_FAILED":
		return elevator.Errorf(elevator.ECONFLICT, "%s: remove what blocked the deletion and run `down` again", where)
	default:
		return elevator.Errorf(elevator.ECONFLICT, "%s: it cannot take a change in this state", where)
	}
}

// Discard deletes a plan's change set, and the stack too when it exists
// only to hold that change set, so that a preview leaves nothing behind.
func (e *Engine) Discard(ctx context.Context, p *Plan) error {
	if p.ChangeSetID == "" {
		return nil
	}
	id := p.ChangeSetID
	p.ChangeSetID = ""
	if err := e.Stacks.DeleteChangeSet(ctx, id); err != nil {
		return err
	}
	if !p.Create {
		return nil
	}
	st, err := e.Stacks.Describe(ctx, p.Stack)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Status == "REVIEW_IN_PROGRESS" {
		return e.Stacks.DeleteStack(ctx, p.Stack, tokenFrom("elevator-discard-"+id))
	}
	return nil
}

// Result is how applying a plan ended.
type Result struct {
	Region   string        `json:"region"`
	Stack    string        `json:"stack"`
	Status   string        `json:"status"`
	Changed  bool          `json:"changed"`
	Changes  int           `json:"changes"`
	Duration time.Duration `json:"duration_ns"`
}

// Execute applies a plan and follows the stack's events until it settles.
// A plan with no changes returns at once. A stack that ends in failure
// returns an EAWS error naming the resources that failed and why.
func (e *Engine) Execute(ctx context.Context, p *Plan) (*Result, error) {
	start := e.Poller.Clock.Now()
	res := &Result{Region: p.Region, Stack: p.Stack, Changes: len(p.Changes)}
	if p.NoChanges {
		st, err := e.Stacks.Describe(ctx, p.Stack)
		if err != nil {
			return nil, err
		}
		res.Status = string(st.Status)
		return res, nil
	}
	// The change set's name is unique, so it doubles as the token that
	// makes a retried execute harmless.
	if err := e.Stacks.ExecuteChangeSet(ctx, p.ChangeSetID, tokenFrom(p.ChangeSetID)); err != nil {
		return nil, err
	}
	p.ChangeSetID = ""
	res.Changed = true
	st, failures, err := e.follow(ctx, p.Stack, start.Add(-time.Second))
	res.Duration = e.Poller.Clock.Now().Sub(start)
	if err != nil {
		return res, err
	}
	res.Status = string(st.Status)
	if st.Status.Failed() {
		return res, elevator.Errorf(elevator.EAWS, "stack %s in %s ended %s%s", p.Stack, p.Region, st.Status, failureList(st, failures))
	}
	return res, nil
}

// follow polls a stack until it is no longer in progress, reporting each
// new event once. It returns the settled stack and the failed events.
func (e *Engine) follow(ctx context.Context, stack string, since time.Time) (*cloudformation.Stack, []cloudformation.Event, error) {
	region := e.Stacks.Region()
	seen := map[string]bool{}
	var failures []cloudformation.Event
	deadline := e.Poller.Clock.Now().Add(e.Poller.Timeout)
	report := func() error {
		events, err := e.Stacks.Events(ctx, stack, since)
		if err != nil && !errors.Is(err, cloudformation.ErrStackNotFound) {
			return err
		}
		for _, ev := range events {
			if seen[ev.ID] {
				continue
			}
			seen[ev.ID] = true
			e.Progress.Event(region, ev)
			if strings.HasSuffix(ev.Status, "_FAILED") {
				failures = append(failures, ev)
			}
		}
		return nil
	}
	for {
		if err := report(); err != nil {
			return nil, nil, err
		}
		st, err := e.Stacks.Describe(ctx, stack)
		if err != nil {
			return nil, failures, err
		}
		if !st.Status.InProgress() {
			// The events that settled it came after the last look.
			if err := report(); err != nil {
				return nil, nil, err
			}
			return st, failures, nil
		}
		if e.Poller.Timeout > 0 && e.Poller.Clock.Now().After(deadline) {
			return nil, failures, elevator.Errorf(elevator.EAWS, "stack %s in %s still %s after %s; it goes on in AWS: follow it with `status`", stack, region, st.Status, e.Poller.Timeout)
		}
		if err := e.Poller.wait(ctx); err != nil {
			return nil, failures, interrupted(err)
		}
	}
}

func failureList(st *cloudformation.Stack, failures []cloudformation.Event) string {
	var b strings.Builder
	if st.Reason != "" {
		b.WriteString(": " + st.Reason)
	}
	for _, f := range failures {
		fmt.Fprintf(&b, "\n  %s (%s): %s %s", f.LogicalID, f.Type, f.Status, f.Reason)
	}
	return b.String()
}

// Delete deletes a stack and follows it until it is gone. A stack that does
// not exist is not an error.
func (e *Engine) Delete(ctx context.Context, stack string) (*Result, error) {
	start := e.Poller.Clock.Now()
	res := &Result{Region: e.Stacks.Region(), Stack: stack}
	st, err := e.Stacks.Describe(ctx, stack)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		res.Status = "NOT_FOUND"
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	if st.Status.InProgress() && st.Status != "REVIEW_IN_PROGRESS" {
		return nil, settled(st, res.Region)
	}
	// The token makes a retried call of this delete a no-op; a later
	// delete (after a DELETE_FAILED was fixed) gets a token of its own.
	if err := e.Stacks.DeleteStack(ctx, stack, tokenFrom(fmt.Sprintf("elevator-delete-%d-%s", start.UnixNano(), st.ID))); err != nil {
		return nil, err
	}
	res.Changed = true
	st, failures, err := e.follow(ctx, stack, start.Add(-time.Second))
	res.Duration = e.Poller.Clock.Now().Sub(start)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		res.Status = "DELETE_COMPLETE"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Status = string(st.Status)
	if st.Status.Failed() {
		return res, elevator.Errorf(elevator.EAWS, "stack %s in %s ended %s%s", stack, res.Region, st.Status, failureList(st, failures))
	}
	return res, nil
}

// tokenFrom makes a client request token (at most 128 characters of
// letters, digits and '-') from a name.
func tokenFrom(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 128 {
		s = s[len(s)-128:]
	}
	return s
}

func interrupted(err error) error {
	return elevator.Errorf(elevator.EINTERRUPTED, "interrupted: %w", err)
}
