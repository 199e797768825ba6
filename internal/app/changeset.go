package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

// Targets compiles the app's stack for every region of the orbit (or the
// Service's Region alone), each with the engine of its region.
func (s *Service) Targets(ctx context.Context, a *elevator.App, o *elevator.Orbit) ([]apply.Target, error) {
	return s.targets(ctx, a, o)
}

// TemplateHash names what a stack spec would apply: the hash of its
// template, parameters and tags. A review is bound to it: a change set is
// executed only while the app still compiles to the hash it was made for.
func TemplateHash(spec apply.Spec) string {
	b, _ := json.Marshal(struct {
		Body       string
		Parameters map[string]string
		Tags       map[string]string
	}{spec.Body, spec.Parameters, spec.Tags})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// PlanKept is Plan, with the change sets kept for review and a later
// `app up --change-set`: each plan's Kept() names its change set.
func (s *Service) PlanKept(ctx context.Context, a *elevator.App, o *elevator.Orbit) ([]*apply.Plan, error) {
	targets, err := s.targets(ctx, a, o)
	if err != nil {
		return nil, err
	}
	plans := make([]*apply.Plan, len(targets))
	err = apply.Parallel(len(targets), func(i int) error {
		p, err := targets[i].Engine.Plan(ctx, targets[i].Spec)
		plans[i] = p
		return err
	})
	return plans, err
}

// Review makes the change set of the app's stack in one region for review,
// or keeps previous: a ref made before for the same stack, returned as it
// is when the app still compiles to its template hash and its change set
// may still run (or it had none and the stack still needs none). A new
// change set supersedes previous's, which is deleted. owner
// (elevator.ReviewOwner) describes the change sets the review makes; every
// other change set of the stack owner made and that is not the one
// returned (one a review made whose record was lost, one superseded) is
// deleted, with the stack when it held nothing else
// (apply.Engine.SweepKept).
func (s *Service) Review(ctx context.Context, orbit, owner string, t apply.Target, previous *elevator.ChangeSetRef) (elevator.ChangeSetRef, error) {
	hash := TemplateHash(t.Spec)
	region := t.Engine.Stacks.Region()
	sweep := func(ref elevator.ChangeSetRef) (elevator.ChangeSetRef, error) {
		if _, err := t.Engine.SweepKept(ctx, t.Spec.Name, owner, ref.ChangeSetID); err != nil {
			return ref, fmt.Errorf("delete the change sets a review of %s left: %w", owner, err)
		}
		return ref, nil
	}
	if previous != nil && previous.TemplateHash == hash && previous.ChangeSetID != "" {
		cs, err := t.Engine.CheckKept(ctx, previous.ChangeSetID, t.Spec.Name)
		switch {
		case err == nil && !cs.Executed():
			return sweep(*previous)
		case err != nil && !errors.Is(err, elevator.ErrStaleChangeSet):
			return elevator.ChangeSetRef{}, err
		}
	}
	spec := t.Spec
	spec.Owner = owner
	p, err := t.Engine.Plan(ctx, spec)
	if err != nil {
		return elevator.ChangeSetRef{}, err
	}
	ref := elevator.ChangeSetRef{Orbit: orbit, Region: region, Stack: t.Spec.Name, ChangeSetID: p.Kept(), TemplateHash: hash, Changes: Changes(p.Changes), Created: p.ChangeSetCreated}
	if previous != nil && previous.ChangeSetID != "" && previous.ChangeSetID != ref.ChangeSetID {
		if err := t.Engine.DeleteKept(ctx, previous.ChangeSetID); err != nil {
			return ref, fmt.Errorf("delete superseded change set %s: %w", previous.ChangeSetID, err)
		}
	}
	return sweep(ref)
}

// Changes turns a change set's changes into the review's, marking those of
// stateful resources.
func Changes(in []cloudformation.Change) []elevator.ResourceChange {
	var out []elevator.ResourceChange
	for _, c := range in {
		out = append(out, elevator.ResourceChange{Action: c.Action, LogicalID: c.LogicalID, Type: c.Type, Replacement: c.Replacement, Stateful: elevator.StatefulType(c.Type)})
	}
	return out
}

// ExecuteKept executes a reviewed change set of target t's stack (see
// apply.Engine.ExecuteKept) and then gives its load balancers and target
// groups the tags releases rely on, as Up does.
func (s *Service) ExecuteKept(ctx context.Context, t apply.Target, id string, made time.Time) (*apply.Result, error) {
	res, err := t.Engine.ExecuteKept(ctx, id, t.Spec.Name, made)
	if err != nil {
		return res, err
	}
	return res, s.ensureTags(ctx, t)
}

// ExecuteReviewed executes the reviewed change set of ref with target t
// (the app's stack in ref's region, as the app compiles now): it refuses,
// with an ECONFLICT error wrapping elevator.ErrStaleChangeSet, a change set
// not yet executed when the app no longer compiles to the reviewed template
// hash, and otherwise is ExecuteKept.
func (s *Service) ExecuteReviewed(ctx context.Context, t apply.Target, ref elevator.ChangeSetRef) (*apply.Result, error) {
	if t.Spec.Name != ref.Stack || t.Engine.Stacks.Region() != ref.Region {
		return nil, elevator.Errorf(elevator.EINTERNAL, "change set %s is of stack %s in %s, not %s in %s", ref.ChangeSetID, ref.Stack, ref.Region, t.Spec.Name, t.Engine.Stacks.Region())
	}
	cs, err := t.Engine.CheckKept(ctx, ref.ChangeSetID, ref.Stack)
	if err == nil && !cs.Executed() {
		if hash := TemplateHash(t.Spec); hash != ref.TemplateHash {
			return nil, elevator.Errorf(elevator.ECONFLICT, "change set %s of stack %s in %s: the app compiles to template %s now, not the reviewed %s: %w",
				ref.ChangeSetID, ref.Stack, ref.Region, hash, ref.TemplateHash, elevator.ErrStaleChangeSet)
		}
	}
	return s.ExecuteKept(ctx, t, ref.ChangeSetID, ref.Created)
}
