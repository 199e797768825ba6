package manifest

import (
	"reflect"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

const ecsApp = `name: shop
env: {LOG_LEVEL: info}
services:
  web:
    port: 9000
    env: {MODE: web}
    load_balancer: {type: public}
    scaling: {min: 2, max: 6}
    runtime:
      ecs:
        image: public.ecr.aws/nginx/nginx
        cpu: 512
        memory: 1024
        ports: ["8080", "9000/udp", "9000:9000", 7000]
        command: [bin/server, --port, "8080"]
        env: {LOG_LEVEL: debug}
  worker:
    runtime:
      ecs:
        repository: {keep_untagged: 5}
        cpu: 256
        memory: 512
        capacity: ec2
  api:
    load_balancer: {type: private}
    runtime:
      ecs: {cpu: 1024, memory: 2048, capacity: fargate_spot, ports: ["8443/tcp"]}
orbits:
  prod:
    services:
      web:
        runtime: {ecs: {cpu: 1024, memory: 4096, capacity: fargate_spot}}
      worker:
        runtime: {ecs: {repository: {keep_untagged: 20}, cpu: 512, memory: 2048}}
`

func TestParseAppReadsECSServices(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(ecsApp), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	web, worker, api := a.Service("web"), a.Service("worker"), a.Service("api")
	wantWeb := &elevator.ECS{
		Image: "public.ecr.aws/nginx/nginx", CPU: 512, Memory: 1024,
		Ports: []elevator.ECSPort{{Container: 8080, Protocol: "tcp"}, {Container: 9000, Protocol: "udp"},
			{Container: 9000, Protocol: "tcp"}, {Container: 7000, Protocol: "tcp"}},
		Command:  []string{"bin/server", "--port", "8080"},
		Env:      map[string]string{"LOG_LEVEL": "debug"},
		Capacity: elevator.ECSFargate,
		Path:     "services.web.runtime.ecs",
	}
	if msg := differs(web.Runtime.ECS, wantWeb); msg != "" {
		t.Errorf("web: %s", msg)
	}
	if web.Runtime.Docker != nil || web.Runtime.Units != nil {
		t.Errorf("web has another runtime besides ecs: %+v", web.Runtime)
	}
	if web.Port != 9000 {
		t.Errorf("web port %d, want the one given, 9000", web.Port)
	}
	if want := map[string]string{"LOG_LEVEL": "info", "MODE": "web"}; !reflect.DeepEqual(web.Env, want) {
		t.Errorf("web env %v, want the app's and the service's %v (the container's own stays in runtime.ecs.env)", web.Env, want)
	}
	if web.InstanceType != "" || !reflect.DeepEqual(web.AMI, elevator.AMISelector{}) {
		t.Errorf("web on ECS has instance type %q and AMI %+v, want none", web.InstanceType, web.AMI)
	}
	if web.Scaling.Min != 2 || web.Scaling.Max != 6 || web.LoadBalancer.Type != elevator.LoadBalancerPublic {
		t.Errorf("web scaling %+v, load balancer %s", web.Scaling, web.LoadBalancer.Type)
	}

	wantWorker := &elevator.ECS{
		Repository: &elevator.Repository{KeepUntagged: 5, Path: "services.worker.runtime.ecs.repository"},
		CPU:        256, Memory: 512, Capacity: elevator.ECSEC2, Path: "services.worker.runtime.ecs",
	}
	if msg := differs(worker.Runtime.ECS, wantWorker); msg != "" {
		t.Errorf("worker: %s", msg)
	}
	if worker.Port != 0 {
		t.Errorf("worker without ports has port %d, want 0", worker.Port)
	}
	if e := api.Runtime.ECS; e == nil || e.Capacity != elevator.ECSFargateSpot || api.Port != 8443 || e.Repository == nil ||
		e.Repository.KeepUntagged != elevator.DefaultKeepUntagged {
		t.Errorf("api: port %d, ecs %+v; want port 8443 (the first), fargate_spot and its own repository", api.Port, e)
	}
}

func TestParseAppMergesECSOverrides(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(ecsApp), "prod")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	web, worker := a.Service("web").Runtime.ECS, a.Service("worker").Runtime.ECS
	if web.CPU != 1024 || web.Memory != 4096 || web.Capacity != elevator.ECSFargateSpot || web.Image != "public.ecr.aws/nginx/nginx" || len(web.Ports) != 4 {
		t.Errorf("web in prod: %+v; want cpu, memory and capacity overridden, the rest kept", web)
	}
	if worker.Image != "" || worker.Repository == nil || worker.Repository.KeepUntagged != 20 || worker.CPU != 512 || worker.Memory != 2048 || worker.Capacity != elevator.ECSEC2 {
		t.Errorf("worker in prod: %+v; want its repository keeping 20, cpu 512, memory 2048, capacity kept", worker)
	}
}

func TestParseAppOverrideSwitchesARuntimeToECS(t *testing.T) {
	src := "name: shop\nservices:\n  web:\n    instance_type: t3.small\n    runtime: {docker: {image: x}}\n" +
		"orbits:\n  prod:\n    services:\n      web: {runtime: {ecs: {image: x, cpu: 256, memory: 512}}}\n"
	a, err := ParseApp("app.yml", []byte(src), "prod")
	if err == nil {
		t.Fatalf("accepted an ecs override of a service with instance_type: %+v", a.Services[0])
	}
	src = "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x}}\n" +
		"orbits:\n  prod:\n    services:\n      web: {runtime: {ecs: {image: y, cpu: 256, memory: 512}}}\n"
	a, err = ParseApp("app.yml", []byte(src), "prod")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if r := a.Services[0].Runtime; r.Docker != nil || r.ECS == nil || r.ECS.Image != "y" {
		t.Errorf("runtime in prod %+v, want ecs only", r)
	}
}
