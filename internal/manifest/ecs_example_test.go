package manifest

import (
	"os"
	"reflect"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// TestParseAppReadsTheECSExample parses examples/ecs-app.yml, the user
// guide's example (docs/ecs.md): a Fargate web service and a worker on the
// orbit's EC2 capacity.
func TestParseAppReadsTheECSExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/ecs-app.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseApp("examples/ecs-app.yml", data, "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if a.Name != "catalog" || len(a.Services) != 2 {
		t.Fatalf("got app %q with %d services, want catalog with 2", a.Name, len(a.Services))
	}
	web, worker := a.Services[0], a.Services[1]
	if web.Name != "web" || worker.Name != "worker" {
		t.Fatalf("services in file order: got %s, %s", web.Name, worker.Name)
	}
	w := web.Runtime.ECS
	if w == nil {
		t.Fatal("web: no ECS runtime")
	}
	if w.Image != "ghcr.io/acme/catalog" || w.CPU != 512 || w.Memory != 1024 || w.Capacity != elevator.ECSFargate {
		t.Errorf("web: image %q, cpu %d, memory %d, capacity %q", w.Image, w.CPU, w.Memory, w.Capacity)
	}
	if !reflect.DeepEqual(w.Ports, []elevator.ECSPort{{Container: 8080, Protocol: "tcp"}}) || web.Port != 8080 {
		t.Errorf("web: ports %+v, port %d, want 8080/tcp and 8080", w.Ports, web.Port)
	}
	if !elevator.FargateAllows(w.CPU, w.Memory) {
		t.Errorf("web: Fargate takes no %d CPU units with %d MiB", w.CPU, w.Memory)
	}
	k := worker.Runtime.ECS
	if k == nil {
		t.Fatal("worker: no ECS runtime")
	}
	if k.Capacity != elevator.ECSEC2 || k.Repository == nil || k.Image != "" {
		t.Errorf("worker: capacity %q, repository %v, image %q; want ec2 from its own repository", k.Capacity, k.Repository, k.Image)
	}
	if !reflect.DeepEqual(k.Command, []string{"catalog-worker", "--listen", ":9000"}) {
		t.Errorf("worker: command %q", k.Command)
	}
}
