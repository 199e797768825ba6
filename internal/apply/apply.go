// Package apply puts compiled stacks into AWS through CloudFormation change
// sets, so that every change can be previewed first: Plan makes a change
// set and reads what it would do, Up executes it and follows the stack's
// events until it settles, Down deletes stacks. Waits poll with jitter on an
// injected clock; nothing sleeps a fixed time.
package apply

import (
	"context"
	"time"

	"github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

// Stacks is what apply needs of CloudFormation in one region.
type Stacks interface {
	Region() string
	Describe(ctx context.Context, name string) (*cloudformation.Stack, error)
	Template(ctx context.Context, name string) (string, error)
	CreateChangeSet(ctx context.Context, in cloudformation.ChangeSetInput) (string, error)
	ChangeSet(ctx context.Context, id string) (*cloudformation.ChangeSetStatus, error)
	DeleteChangeSet(ctx context.Context, id string) error
	ChangeSets(ctx context.Context, stack string) ([]cloudformation.ChangeSetSummary, error)
	ExecuteChangeSet(ctx context.Context, id, token string) error
	Events(ctx context.Context, stack string, since time.Time) ([]cloudformation.Event, error)
	Resources(ctx context.Context, stack string) ([]cloudformation.Resource, error)
	DeleteStack(ctx context.Context, name, token string) error
	SetTerminationProtection(ctx context.Context, name string, on bool) error
}

// Progress receives what happens while stacks change, for people to watch.
type Progress interface {
	// Event reports one stack event in a region.
	Event(region string, e cloudformation.Event)
	// Note reports a step or a warning in a region.
	Note(region, message string)
}

// Poller says how often to look at AWS while waiting.
type Poller struct {
	Clock    elevator.Clock // elevator.SystemClock outside tests
	Interval time.Duration  // the longest time between two looks
	Timeout  time.Duration  // how long a stack may take to settle
}

// wait waits up to one interval, jittered by elevator.Jitter.
func (p Poller) wait(ctx context.Context) error {
	d := elevator.Jitter(p.Interval, nil)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.Clock.After(d):
		return nil
	}
}
