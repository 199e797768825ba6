package cli

import (
	"context"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// listingCloud is a release.Cloud that answers only what the dashboard
// reads: Region, Groups and Targets (any other method panics, as the
// embedded nil interface has none).
type listingCloud struct {
	release.Cloud
	groups  []release.Group
	targets map[string][]release.Target
}

func (c listingCloud) Region() string { return "us-east-1" }

func (c listingCloud) Groups(context.Context, release.GroupFilter) ([]release.Group, error) {
	return c.groups, nil
}

func (c listingCloud) Targets(_ context.Context, tg string) ([]release.Target, error) {
	return c.targets[tg], nil
}

// TestTheDashboardFindsAnECSTasksTargetHealthByItsAddress lists an ECS
// service whose tasks are registered in their target group by private IP,
// as awsvpc tasks are: each task's health in the target group is found by
// its address, and the group carries its cluster. A stopped task (ECS
// lists them for about an hour) whose address a running task has since
// taken is counted as stopped, not listed with that task's target health.
func TestTheDashboardFindsAnECSTasksTargetHealthByItsAddress(t *testing.T) {
	tags := map[string]string{elevator.TagApp: "shop", elevator.TagService: "api", elevator.TagRelease: "20261123-120000-9f86d081"}
	cloud := listingCloud{
		groups: []release.Group{{Name: "shop-production-api-9f86d081", Cluster: "elevator-production", Tags: tags, TargetGroups: []string{"tg-api"},
			Capacity: release.Capacity{Desired: 2}, Instances: []release.Instance{
				{ID: "task-a", Lifecycle: release.LifecycleInService, Healthy: true, Target: "10.0.1.5"},
				{ID: "task-b", Lifecycle: release.LifecycleInService, Healthy: false, Target: "10.0.2.7"},
				{ID: "task-old", Lifecycle: release.LifecycleGone, Healthy: true, Target: "10.0.1.5"}}}},
		targets: map[string][]release.Target{"tg-api": {{InstanceID: "10.0.1.5", State: release.TargetHealthy}, {InstanceID: "10.0.2.7", State: "draining"}}},
	}
	src := &dashboardSource{orbit: "production", clouds: []release.Cloud{cloud}}
	groups, err := src.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Cluster != "elevator-production" || len(groups[0].Instances) != 2 || groups[0].Stopped != 1 {
		t.Fatalf("groups: %+v, want one with 2 tasks listed and 1 stopped", groups)
	}
	for _, in := range groups[0].Instances {
		if in.ID == "task-old" {
			t.Errorf("the stopped task is listed: %+v", in)
		}
		want := map[string]string{"task-a": "UNKNOWN", "task-b": "UNHEALTHY"}[in.ID] // Elevator registers no container health check
		if in.Health != want {
			t.Errorf("%s: container health %q, want %s", in.ID, in.Health, want)
		}
	}
	if a, b := groups[0].Instances[0], groups[0].Instances[1]; a.Targets["tg-api"] != "healthy" || b.Targets["tg-api"] != "draining" {
		t.Errorf("task-a in tg-api: %q, want healthy; task-b: %q, want draining", a.Targets["tg-api"], b.Targets["tg-api"])
	}
	if groups[0].ReadyCount() != 1 {
		t.Errorf("%d tasks ready, want 1", groups[0].ReadyCount())
	}
}
