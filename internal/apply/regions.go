package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"

	elevator "github.com/elevatorhq/elevator"
)

// Target is one stack to apply in one region.
type Target struct {
	Engine *Engine
	Spec   Spec
}

// Parallel runs fn for every index in [0, n) at once and joins the errors
// in index order. Field errors from several regions become one list; a
// single error is returned as it is, so that its code decides the exit code.
func Parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return JoinErrors(errs)
}

// JoinErrors joins errors, keeping field errors together as one list and a
// lone error as it is.
func JoinErrors(errs []error) error {
	var others []error
	var fields elevator.FieldErrors
	for _, err := range errs {
		var fe elevator.FieldErrors
		switch {
		case err == nil:
		case errors.As(err, &fe):
			fields = append(fields, fe...)
		default:
			others = append(others, err)
		}
	}
	if len(fields) > 0 {
		others = append(others, fields)
	}
	switch len(others) {
	case 0:
		return nil
	case 1:
		return others[0]
	default:
		return errors.Join(others...)
	}
}

// PlanAll previews every target at once. The change sets it makes to find
// out are deleted again.
func PlanAll(ctx context.Context, targets []Target) ([]*Plan, error) {
	plans := make([]*Plan, len(targets))
	err := Parallel(len(targets), func(i int) error {
		t := targets[i]
		p, err := t.Engine.Plan(ctx, t.Spec)
		if err != nil {
			return err
		}
		plans[i] = p
		return t.Engine.Discard(ctx, p)
	})
	return plans, err
}

// Applied is what applying several targets did, in target order.
type Applied struct {
	Plans   []*Plan   `json:"plans"`
	Results []*Result `json:"results"`
}

// UpAll plans and executes every target at once; a target without changes
// is left alone. after, when not nil, runs for each target once it is
// applied (to set termination protection, say).
func UpAll(ctx context.Context, targets []Target, after func(ctx context.Context, i int, r *Result) error) (*Applied, error) {
	res := &Applied{Plans: make([]*Plan, len(targets)), Results: make([]*Result, len(targets))}
	err := Parallel(len(targets), func(i int) error {
		t := targets[i]
		p, err := t.Engine.Plan(ctx, t.Spec)
		if err != nil {
			return err
		}
		res.Plans[i] = p
		if p.NoChanges {
			t.Engine.Progress.Note(p.Region, p.Stack+": no changes")
		} else {
			t.Engine.Progress.Note(p.Region, fmt.Sprintf("%s: applying %d change(s)", p.Stack, len(p.Changes)))
		}
		r, err := t.Engine.Execute(ctx, p)
		res.Results[i] = r
		if err != nil {
			_ = t.Engine.Discard(context.WithoutCancel(ctx), p)
			return err
		}
		if after != nil {
			return after(ctx, i, r)
		}
		return nil
	})
	return res, err
}
