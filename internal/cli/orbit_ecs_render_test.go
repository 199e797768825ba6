package cli

import (
	"bytes"
	"testing"

	"github.com/elevatorhq/elevator/internal/orbit"
)

func TestOrbitStatusShowsTheECSCluster(t *testing.T) {
	three := 3
	tests := []struct {
		name string
		ecs  *orbit.ECSStatus
		want string
	}{
		{"no ecs section", nil, ""},
		{"with EC2 capacity", &orbit.ECSStatus{Stack: "elevator-orbit-prod-ecs", StackStatus: "UPDATE_COMPLETE", Cluster: "elevator-prod", ClusterStatus: "ACTIVE",
			CapacityProviders: []string{"FARGATE", "FARGATE_SPOT", "elevator-prod-ec2"}, ContainerInstances: &three, Services: 2, RunningTasks: 5, PendingTasks: 1},
			"  ECS cluster elevator-prod  ACTIVE  (stack elevator-orbit-prod-ecs UPDATE_COMPLETE)\n" +
				"    capacity providers: FARGATE, FARGATE_SPOT, elevator-prod-ec2\n" +
				"    container instances: 3 registered\n" +
				"    services: 2  tasks: 5 running, 1 pending\n"},
		{"Fargate only, no providers associated", &orbit.ECSStatus{Stack: "elevator-orbit-demo-ecs", StackStatus: "CREATE_COMPLETE", Cluster: "elevator-demo", ClusterStatus: "ACTIVE", CapacityProviders: []string{}},
			"  ECS cluster elevator-demo  ACTIVE  (stack elevator-orbit-demo-ecs CREATE_COMPLETE)\n" +
				"    capacity providers: none\n" +
				"    services: 0  tasks: 0 running, 0 pending\n"},
		{"a stack without its cluster", &orbit.ECSStatus{Stack: "elevator-orbit-demo-ecs", StackStatus: "NOT_FOUND", Cluster: "elevator-demo", ClusterStatus: "NOT_FOUND"},
			"  ECS cluster elevator-demo  NOT_FOUND  (stack elevator-orbit-demo-ecs NOT_FOUND)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printECSStatus(&buf, tt.ecs)
			if buf.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
}
