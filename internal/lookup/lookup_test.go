package lookup

import (
	"context"
	"reflect"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

// fakeStacks holds stacks' outputs by name; the lookup only describes.
type fakeStacks struct {
	apply.Stacks
	outputs map[string]map[string]string
}

func (f fakeStacks) Region() string { return "us-east-1" }

func (f fakeStacks) Describe(_ context.Context, name string) (*cloudformation.Stack, error) {
	out, ok := f.outputs[name]
	if !ok {
		return nil, cloudformation.ErrStackNotFound
	}
	return &cloudformation.Stack{Name: name, Outputs: out}, nil
}

// fakeImages resolves every AMI by id and records what it was asked.
type fakeImages struct{ asked *[]string }

func (f fakeImages) ImageExists(_ context.Context, id string) error {
	*f.asked = append(*f.asked, id)
	return nil
}

func (f fakeImages) NewestImage(_ context.Context, pattern string, _ []string) (string, error) {
	*f.asked = append(*f.asked, pattern)
	return "ami-newest", nil
}

func (f fakeImages) Parameter(_ context.Context, name string) (string, error) {
	*f.asked = append(*f.asked, name)
	return "ami-parameter", nil
}

func TestReleaseFactsResolveNoImageForAnECSService(t *testing.T) {
	o := &elevator.Orbit{Name: "demo", Regions: []elevator.Region{{Name: "us-east-1"}}}
	a := &elevator.App{Name: "shop", Services: []elevator.Service{
		{Name: "web", Runtime: elevator.Runtime{ECS: &elevator.ECS{Image: "nginx", CPU: 256, Memory: 512}}},
		{Name: "worker", AMI: elevator.AMISelector{ID: "ami-0123456789abcdef0"}, Runtime: elevator.Runtime{Docker: &elevator.Docker{Image: "worker"}}},
	}}
	var asked []string
	stacks := fakeStacks{outputs: map[string]map[string]string{
		o.StackName():       {"PrivateSubnets": "subnet-a"},
		a.StackName(o.Name): {"WebTaskRole": "arn:aws:iam::123456789012:role/x"},
	}}
	facts, err := ReleaseFacts(context.Background(), a, o, func(string) (Clients, error) {
		return Clients{Stacks: stacks, Images: fakeImages{&asked}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"worker": "ami-0123456789abcdef0"}; !reflect.DeepEqual(facts["us-east-1"].Images, want) {
		t.Errorf("images %v, want %v", facts["us-east-1"].Images, want)
	}
	if want := []string{"ami-0123456789abcdef0"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("looked up %q, want only the worker's AMI", asked)
	}
}
