package awsrelease

// moto drops much of what CreateService and RegisterTaskDefinition are
// sent (capacity provider strategy, deployment configuration, health check
// grace, client token, managed tags, ECS Exec), so reading the service back
// cannot show it. recordingFake records the requests as the SDK sends them
// on the wire, what AWS would receive, before passing them on to the
// ecsproxy in front of moto.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	elevator "github.com/elevatorhq/elevator"
)

// recordingFake is an HTTP client that records the JSON body of each
// request by operation, then sends it on.
type recordingFake struct {
	next aws.HTTPClient
	mu   sync.Mutex
	seen map[string][]map[string]any
}

func (f *recordingFake) Do(r *http.Request) (*http.Response, error) {
	if t := r.Header.Get("X-Amz-Target"); t != "" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		f.mu.Lock()
		op := t[strings.LastIndexByte(t, '.')+1:]
		f.seen[op] = append(f.seen[op], in)
		f.mu.Unlock()
	}
	return f.next.Do(r)
}

// asJSON is v as json.Unmarshal gives it back.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateServiceAndRegisterTaskDefinitionAreSentInFullForEachCapacity(t *testing.T) {
	w := newECSWorld(t)
	ctx := context.Background()
	for _, c := range []struct{ capacity, provider, compat, short string }{
		{elevator.ECSFargate, "FARGATE", "FARGATE", "nnn1"},
		{elevator.ECSFargateSpot, "FARGATE_SPOT", "FARGATE", "nnn2"},
		{elevator.ECSEC2, elevator.ECSCapacityProviderName(orbitName), "EC2", "nnn3"},
	} {
		rec := &recordingFake{next: w.proxy, seen: map[string][]map[string]any{}}
		cfg := w.cfg(w.region)
		cfg.HTTPClient = rec
		cloud := NewCloud(cfg).WithECS(true)
		id := "20261130-071500000-" + c.short
		spec := w.spec(id, c.short, w.tg)
		spec.ECS.Capacity = c.capacity
		token := "token-" + c.short
		if err := cloud.CreateGroup(ctx, spec, token); err != nil {
			t.Fatal(err)
		}
		if len(rec.seen["RegisterTaskDefinition"]) != 1 || len(rec.seen["CreateService"]) != 1 {
			t.Fatalf("%s: calls %d RegisterTaskDefinition, %d CreateService; want one each", c.capacity, len(rec.seen["RegisterTaskDefinition"]), len(rec.seen["CreateService"]))
		}
		tags := []any{}
		for _, k := range []string{elevator.TagApp, elevator.TagManagedBy, elevator.TagOrbit, elevator.TagRelease, elevator.TagService} {
			tags = append(tags, map[string]any{"key": k, "value": spec.Tags[k]})
		}
		e := spec.ECS
		wantTD := asJSON(t, map[string]any{
			"family": spec.Name, "networkMode": "awsvpc", "requiresCompatibilities": []string{c.compat},
			"cpu": "512", "memory": "1024", "taskRoleArn": e.TaskRole, "executionRoleArn": e.ExecutionRole, "tags": tags,
			"containerDefinitions": []any{map[string]any{
				"name": "web", "image": e.Image, "essential": true, "command": e.Command,
				"portMappings": []any{map[string]any{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}},
				"environment": []any{
					map[string]any{"name": "ELEVATOR_APP", "value": "shop"},
					map[string]any{"name": "ELEVATOR_RELEASE_ID", "value": id},
					map[string]any{"name": "LOG_LEVEL", "value": "info"},
				},
				"secrets": []any{map[string]any{"name": "DATABASE_PASSWORD", "valueFrom": e.Secrets[0].ValueFrom}},
				"logConfiguration": map[string]any{"logDriver": "awslogs", "options": map[string]any{
					"awslogs-group": e.LogGroup, "awslogs-region": w.region, "awslogs-stream-prefix": "web"}},
			}},
		})
		if got := rec.seen["RegisterTaskDefinition"][0]; !reflect.DeepEqual(got, wantTD) {
			t.Errorf("%s: RegisterTaskDefinition\n got %v\nwant %v", c.capacity, got, wantTD)
		}
		got := rec.seen["CreateService"][0]
		td, _ := got["taskDefinition"].(string)
		if !strings.Contains(td, ":task-definition/"+spec.Name+":") {
			t.Errorf("%s: taskDefinition %q, want a revision of %s", c.capacity, td, spec.Name)
		}
		wantSvc := asJSON(t, map[string]any{
			"cluster": w.cluster, "serviceName": spec.Name, "taskDefinition": td, "desiredCount": 2,
			"capacityProviderStrategy": []any{map[string]any{"capacityProvider": c.provider, "weight": 1}},
			"networkConfiguration": map[string]any{"awsvpcConfiguration": map[string]any{
				"subnets": spec.Subnets, "securityGroups": []string{w.sg}, "assignPublicIp": "DISABLED"}},
			"loadBalancers":                 []any{map[string]any{"targetGroupArn": w.tg, "containerName": "web", "containerPort": 8080}},
			"deploymentConfiguration":       map[string]any{"deploymentCircuitBreaker": map[string]any{"enable": true, "rollback": false}},
			"healthCheckGracePeriodSeconds": 45, "clientToken": token, "tags": tags,
			"propagateTags": "SERVICE", "enableECSManagedTags": true, "enableExecuteCommand": true,
		})
		if !reflect.DeepEqual(got, wantSvc) {
			t.Errorf("%s: CreateService\n got %v\nwant %v", c.capacity, got, wantSvc)
		}
	}
}
