package apply

import (
	"context"
	"errors"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

// OrbitOutputs returns the outputs of orbit o's stack in the engine's
// region. When the stack does not exist it returns an ENOTFOUND error that
// says to bring the orbit up first; other errors are Outputs'.
func (e *Engine) OrbitOutputs(ctx context.Context, o *elevator.Orbit) (map[string]string, error) {
	out, err := e.Outputs(ctx, o.StackName())
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "orbit %s is not up in %s: run `elevator orbit up` first", o.Name, e.Stacks.Region())
	}
	return out, err
}

// AppOutputs returns the outputs of app a's stack in orbit o, in the
// engine's region. When the stack does not exist it returns an ENOTFOUND
// error that says to bring the app up first; other errors are Outputs'.
func (e *Engine) AppOutputs(ctx context.Context, a *elevator.App, o *elevator.Orbit) (map[string]string, error) {
	out, err := e.Outputs(ctx, a.StackName(o.Name))
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s is not up in orbit %s in %s: run `elevator app up` first", a.Name, o.Name, e.Stacks.Region())
	}
	return out, err
}
