package cli_test

// The orbit's ECS stack through the command line on moto: up makes it,
// status shows the cluster (in text and JSON), down refuses while a
// service is in the cluster, and then deletes the ECS stack first.
// What moto does not make of the stack is said in internal/orbit's
// ecs_test.go.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/elevatorhq/elevator/internal/cli"
)

func TestOrbitUpStatusAndDownOfTheECSCluster(t *testing.T) {
	acct := inAccount(t)
	file, name := manifest(t, "regions:\n  eu-north-1: {}\nnetwork: {nat: single}\necs:\n  ec2: {instance_type: t4g.small, max: 2}\n")
	up := elevator(t, "", "orbit", "up", "-f", file)
	mustSucceed(t, up)
	stack := "elevator-orbit-" + name + "-ecs"
	if !stackExists(t, acct, "eu-north-1", stack) {
		t.Fatalf("no ECS stack %s after up:\n%s\n%s", stack, up.stdout, up.stderr)
	}

	status := elevator(t, "", "orbit", "status", "-f", file)
	mustSucceed(t, status)
	for _, want := range []string{"ECS cluster elevator-" + name + "  ACTIVE  (stack " + stack + " CREATE_COMPLETE)", "container instances: 0 registered", "services: 0"} {
		if !strings.Contains(status.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, status.stdout)
		}
	}
	js := elevator(t, "", "orbit", "status", "-f", file, "--output", "json")
	mustSucceed(t, js)
	var doc any
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatalf("status --output json: %v", err)
	}
	if e := firstUnderKey(doc, "ecs"); e == nil || e.(map[string]any)["cluster"] != "elevator-"+name || e.(map[string]any)["cluster_status"] != "ACTIVE" {
		t.Errorf("status --output json has ecs %v:\n%s", e, js.stdout)
	}

	// While an app's service is in the cluster, down refuses before it
	// asks.
	ctx := context.Background()
	ecsClient := ecssdk.NewFromConfig(acct.Config("eu-north-1"))
	td, err := ecsClient.RegisterTaskDefinition(ctx, &ecssdk.RegisterTaskDefinitionInput{
		Family: aws.String("shop-web-r1"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("public.ecr.aws/nginx/nginx"), Memory: aws.Int32(128)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cluster := aws.String("elevator-" + name)
	if _, err := ecsClient.CreateService(ctx, &ecssdk.CreateServiceInput{Cluster: cluster, ServiceName: aws.String("shop-web-r1"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	refused := elevator(t, name+"\n", "orbit", "down", "-f", file)
	if refused.code != cli.ExitConflict || !strings.Contains(refused.stderr, "eu-north-1: 1 service(s) (shop-web-r1)") || strings.Contains(refused.stderr, "Type the orbit's name") {
		t.Errorf("down with a service in the cluster: exit %d, stderr:\n%s", refused.code, refused.stderr)
	}
	if !stackExists(t, acct, "eu-north-1", stack) {
		t.Fatal("the ECS stack went although a service runs in its cluster")
	}
	if _, err := ecsClient.DeleteService(ctx, &ecssdk.DeleteServiceInput{Cluster: cluster, Service: aws.String("shop-web-r1"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	// moto cannot delete a VPC stack's route tables (see
	// TestOrbitDownAsksBeforeDeleting): the ECS stack goes first.
	down := elevator(t, "", "orbit", "down", "-f", file, "--yes")
	if down.code != 0 && !strings.Contains(down.stderr, "DependencyViolation") {
		t.Errorf("down: exit %d, stderr:\n%s", down.code, down.stderr)
	}
	if stackExists(t, acct, "eu-north-1", stack) {
		t.Error("the ECS stack is still there after down")
	}
}

// firstUnderKey returns the first value under key in a JSON document, depth
// first, or nil.
func firstUnderKey(doc any, key string) any {
	switch v := doc.(type) {
	case map[string]any:
		if found, ok := v[key]; ok {
			return found
		}
		for _, x := range v {
			if found := firstUnderKey(x, key); found != nil {
				return found
			}
		}
	case []any:
		for _, x := range v {
			if found := firstUnderKey(x, key); found != nil {
				return found
			}
		}
	}
	return nil
}
