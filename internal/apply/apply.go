// Package apply puts compiled stacks into AWS through CloudFormation change
// sets, so that every change can be previewed first: Plan makes a change
// set and reads what it would do, Up executes it and follows the stack's
// events until it settles, Down deletes stacks. Waits poll with jitter on an
// injected clock; nothing sleeps a fixed time.
package apply

import (
	"context"
	"math/rand/v2"
	"time"

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

// Clock is the time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// After waits for d.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Poller says how often to look at AWS while waiting.
type Poller struct {
	Clock    Clock
	Interval time.Duration // the mean time between two looks
	Timeout  time.Duration // how long a stack may take to settle
}

// wait waits about one interval: between 0.75 and 1.25 of it, so that many
// regions or processes polling together spread their calls.
func (p Poller) wait(ctx context.Context) error {
	d := p.Interval
	if d > 0 {
		d = time.Duration(float64(d) * (0.75 + rand.Float64()/2))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.Clock.After(d):
		return nil
	}
}
