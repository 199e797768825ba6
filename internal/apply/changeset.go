package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

// Kept returns a plan's change set, left in place for review and a later
// ExecuteKept, or "" when the plan has none (no changes, or discarded).
func (p *Plan) Kept() string { return p.ChangeSetID }

// CheckKept reads the kept change set id and says whether it may still be
// executed on stack. It returns the change set when it is executable or
// was executed already (Executed()), an EINVALID error when it belongs to
// another stack, and an ECONFLICT error wrapping
// elevator.ErrStaleChangeSet when it is gone, failed, not executable
// (OBSOLETE on AWS) or the stack changed after it was made. The last
// check is Elevator's own: the emulator leaves a change set AVAILABLE
// after its stack changed, and would execute it.
func (e *Engine) CheckKept(ctx context.Context, id, stack string) (*cloudformation.ChangeSetStatus, error) {
	region := e.Stacks.Region()
	cs, err := e.Stacks.ChangeSet(ctx, id)
	if errors.Is(err, cloudformation.ErrChangeSetNotFound) || errors.Is(err, cloudformation.ErrStackNotFound) || errors.Is(err, cloudformation.ErrNoChanges) {
		return nil, elevator.Errorf(elevator.ECONFLICT, "change set %s of stack %s in %s: %w: %w", id, stack, region, errGone, elevator.ErrStaleChangeSet)
	}
	if err != nil {
		return nil, err
	}
	if cs.Stack != stack {
		return nil, elevator.Errorf(elevator.EINVALID, "change set %s in %s is of stack %s, not %s", id, region, cs.Stack, stack)
	}
	if cs.Executed() {
		return cs, nil
	}
	switch {
	case cs.Failed:
		return nil, stale(id, stack, region, "it failed: "+cs.Reason)
	case !cs.Done:
		return nil, stale(id, stack, region, "it is still being made")
	case cs.Execution != cloudformation.ExecutionAvailable:
		return nil, stale(id, stack, region, "its execution status is "+cs.Execution)
	}
	events, err := e.Stacks.Events(ctx, stack, cs.Created)
	if err != nil && !errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil, err
	}
	for _, ev := range events {
		// A change set for a new stack makes the stack, in review, first.
		if ev.Status != "REVIEW_IN_PROGRESS" && ev.Time.After(cs.Created) {
			return nil, stale(id, stack, region, fmt.Sprintf("the stack changed at %s (%s %s), after the change set was made at %s",
				ev.Time.UTC().Format(time.RFC3339), ev.LogicalID, ev.Status, cs.Created.UTC().Format(time.RFC3339)))
		}
	}
	return cs, nil
}

// errGone is wrapped, with elevator.ErrStaleChangeSet, by CheckKept's
// error for a change set that no longer exists.
var errGone = errors.New("it no longer exists")

func stale(id, stack, region, why string) error {
	return elevator.Errorf(elevator.ECONFLICT, "change set %s of stack %s in %s: %s: %w", id, stack, region, why, elevator.ErrStaleChangeSet)
}

// ExecuteKept executes the kept change set id of stack, after CheckKept,
// and follows the stack until it settles. A change set executed already
// (a retry after a crash; AWS keeps it, EXECUTE_COMPLETE or
// EXECUTE_FAILED) is followed, not executed again; so is one that is gone
// when the stack's events since made (when the change set was made; the
// zero time reads the stack's whole history) carry the token of its
// execution: a later change set's execution deletes it. Errors are
// CheckKept's, and an EAWS error naming the resources that failed and
// wrapping elevator.ErrChangeSetFailed, for an update that fails now or
// failed when the change set ran before.
func (e *Engine) ExecuteKept(ctx context.Context, id, stack string, made time.Time) (*Result, error) {
	start := e.Poller.Clock.Now()
	since := start.Add(-time.Second)
	res := &Result{Region: e.Stacks.Region(), Stack: stack}
	cs, err := e.CheckKept(ctx, id, stack)
	switch {
	case err != nil && errors.Is(err, errGone):
		// Gone: executing a later change set of the stack deletes this
		// one. It ran when the stack's events carry its token;
		// otherwise another change ran first, and it is stale.
		ran, eerr := e.ranWithToken(ctx, stack, tokenFrom(id), made)
		if eerr != nil {
			return nil, eerr
		}
		if !ran {
			return nil, err
		}
	case err != nil:
		return nil, err
	case cs.Executed():
		// Ran before (a resume): its stack's events since it was made
		// say which resources failed, if any.
		res.Changes = len(cs.Changes)
		since = cs.Created
	default:
		res.Changes = len(cs.Changes)
		// The change set's id is unique, so it doubles as the token
		// that makes a retried execute harmless.
		if err := e.Stacks.ExecuteChangeSet(ctx, id, tokenFrom(id)); err != nil {
			return nil, err
		}
		e.Progress.Note(res.Region, fmt.Sprintf("%s: executing reviewed change set %s (%d change(s))", stack, id, res.Changes))
	}
	res.Changed = true
	st, failures, err := e.follow(ctx, stack, since)
	res.Duration = e.Poller.Clock.Now().Sub(start)
	if err != nil {
		return res, err
	}
	res.Status = string(st.Status)
	if st.Status.Failed() {
		return res, elevator.Errorf(elevator.EAWS, "stack %s in %s ended %s%s: %w", stack, res.Region, st.Status, failureList(st, failures), elevator.ErrChangeSetFailed)
	}
	return res, nil
}

// ranWithToken reports whether an event of the stack since since carries
// token: an operation called with it ran.
func (e *Engine) ranWithToken(ctx context.Context, stack, token string, since time.Time) (bool, error) {
	events, err := e.Stacks.Events(ctx, stack, since)
	if err != nil && !errors.Is(err, cloudformation.ErrStackNotFound) {
		return false, err
	}
	for _, ev := range events {
		if ev.Token == token {
			return true, nil
		}
	}
	return false, nil
}

// DeleteKept deletes a kept change set that a newer one superseded; one
// that is gone already is not an error.
func (e *Engine) DeleteKept(ctx context.Context, id string) error {
	err := e.Stacks.DeleteChangeSet(ctx, id)
	if errors.Is(err, cloudformation.ErrChangeSetNotFound) || errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil
	}
	return err
}

// SweepKept deletes the change sets of stack that owner made (Spec.Owner)
// and that are neither executed nor one of keep: those an owner made and
// lost track of (a review whose record was never written, or one
// superseded). A stack left holding no change set while it waits in
// REVIEW_IN_PROGRESS (it only ever existed to hold one) is deleted too.
// It returns how many change sets it deleted.
func (e *Engine) SweepKept(ctx context.Context, stack, owner string, keep ...string) (int, error) {
	if owner == "" {
		return 0, elevator.Errorf(elevator.EINTERNAL, "sweep the change sets of %s: no owner", stack)
	}
	sets, err := e.Stacks.ChangeSets(ctx, stack)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	deleted, left := 0, 0
	for _, cs := range sets {
		st := cloudformation.ChangeSetStatus{Execution: cs.Execution}
		if cs.Description != owner || st.Executed() || slices.Contains(keep, cs.ID) {
			left++
			continue
		}
		if err := e.DeleteKept(ctx, cs.ID); err != nil {
			return deleted, fmt.Errorf("delete change set %s of %s, left by %s: %w", cs.ID, stack, owner, err)
		}
		deleted++
	}
	if left > 0 {
		return deleted, nil
	}
	st, err := e.Stacks.Describe(ctx, stack)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return deleted, nil
	}
	if err != nil {
		return deleted, err
	}
	if st.Status == "REVIEW_IN_PROGRESS" {
		// A token of its own: the stack's id differs from one made
		// later under its name.
		token := tokenFrom(fmt.Sprintf("elevator-sweep-%d", e.Poller.Clock.Now().UnixNano()))
		if err := e.Stacks.DeleteStack(ctx, stack, token); err != nil {
			return deleted, fmt.Errorf("delete stack %s, made only to hold a change set: %w", stack, err)
		}
		e.Progress.Note(e.Stacks.Region(), stack+": deleted, it held no change set any more")
	}
	return deleted, nil
}
