package lookup

import (
	"context"
	"reflect"
	"strings"
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

// fakeSecrets answers DescribeSecret from a map of names to full ARNs,
// as Secrets Manager would (a name ending like a suffix included), and
// records what it was asked.
type fakeSecrets struct {
	arns  map[string]string
	asked *[]string
}

func (f fakeSecrets) SecretARN(_ context.Context, id string) (string, error) {
	*f.asked = append(*f.asked, id)
	if arn, ok := f.arns[id]; ok {
		return arn, nil
	}
	return "", elevator.Errorf(elevator.ENOTFOUND, "secret %s not found", id)
}

// TestReleaseFactsFindTheFullARNsOfAnECSAppsSecrets: for an app with an
// ECS service, each Secrets Manager secret named by name (and a
// database's secret output by name) is looked up once for its full ARN;
// an ARN given whole and SSM parameters are not; a secret that is not
// there is an error at its position. An app without ECS services asks
// nothing.
func TestReleaseFactsFindTheFullARNsOfAnECSAppsSecrets(t *testing.T) {
	o := &elevator.Orbit{Name: "demo", Regions: []elevator.Region{{Name: "us-east-1"}}}
	a := &elevator.App{Name: "shop",
		Services: []elevator.Service{{Name: "web", Runtime: elevator.Runtime{ECS: &elevator.ECS{Image: "nginx", CPU: 256, Memory: 512}}}},
		Secrets: []elevator.Secret{
			{Name: "DB_MASTER", SecretsManager: "shop/db-master", Path: "secrets.DB_MASTER"},
			{Name: "AGAIN", SecretsManager: "shop/db-master", Path: "secrets.AGAIN"},
			{Name: "PARTNER", SecretsManager: "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner-AbCdEf", Path: "secrets.PARTNER"},
			{Name: "SIGNING", SSMParameter: "/shop/signing", Path: "secrets.SIGNING"},
		},
		Data: elevator.Data{Database: &elevator.Database{Engine: "postgres"}},
	}
	stacks := fakeStacks{outputs: map[string]map[string]string{
		o.StackName():       {"PrivateSubnets": "subnet-a"},
		a.StackName(o.Name): {elevator.AppOutputDatabaseSecret: "global-db"},
	}}
	arns := map[string]string{
		"shop/db-master": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-master-AAbb11",
		"global-db":      "arn:aws:secretsmanager:us-east-1:123456789012:secret:global-db-CCdd22",
	}
	var asked []string
	clients := func(string) (Clients, error) {
		return Clients{Stacks: stacks, Images: fakeImages{new([]string)}, Secrets: fakeSecrets{arns, &asked}}, nil
	}
	facts, err := ReleaseFacts(context.Background(), a, o, clients)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(facts["us-east-1"].SecretARNs, arns) {
		t.Errorf("secret ARNs %v, want %v", facts["us-east-1"].SecretARNs, arns)
	}
	if want := []string{"shop/db-master", "global-db"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("asked for %q, want %q", asked, want)
	}

	delete(arns, "shop/db-master")
	_, err = ReleaseFacts(context.Background(), a, o, clients)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "secrets.DB_MASTER.secretsmanager") || !strings.Contains(err.Error(), "no such secret in us-east-1") {
		t.Errorf("a missing secret: %v (%s), want an error at secrets.DB_MASTER.secretsmanager", err, elevator.ErrorCode(err))
	}

	asked = nil
	a.Services[0].Runtime = elevator.Runtime{Docker: &elevator.Docker{Image: "web"}}
	a.Services[0].AMI = elevator.AMISelector{ID: "ami-0123456789abcdef0"}
	facts, err = ReleaseFacts(context.Background(), a, o, clients)
	if err != nil || facts["us-east-1"].SecretARNs != nil || len(asked) > 0 {
		t.Errorf("an app without ECS services: %v, ARNs %v, asked %q; want none", err, facts["us-east-1"].SecretARNs, asked)
	}
}
