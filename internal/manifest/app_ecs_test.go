package manifest

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
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
	if s := a.Services[0]; s.InstanceType != "" || s.Port != 0 {
		t.Errorf("service in prod has instance type %q and port %d, want none", s.InstanceType, s.Port)
	}

	src = "name: shop\nservices:\n  web:\n    runtime: {ecs: {image: y, cpu: 256, memory: 512, ports: [\"8080\"]}}\n" +
		"orbits:\n  prod:\n    services:\n      web: {instance_type: t3.small, runtime: {units: {web.service: x}}}\n"
	a, err = ParseApp("app.yml", []byte(src), "prod")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if s := a.Services[0]; s.Runtime.ECS != nil || s.Runtime.Units == nil || s.InstanceType != "t3.small" || s.Port != 0 {
		t.Errorf("service in prod: runtime %+v, instance type %q, port %d; want units on t3.small and no port", s.Runtime, s.InstanceType, s.Port)
	}
}

// TestParseAppRejectsBadECSServices holds one bad ecs service per row; each
// must fail with exactly the listed messages, positions included.
func TestParseAppRejectsBadECSServices(t *testing.T) {
	const head = "name: shop\nservices:\n  web:\n"
	const ecs = head + "    runtime:\n      ecs:\n        image: x\n" // the next line is 7
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"a memory Fargate does not take with the cpu", ecs + "        cpu: 512\n        memory: 512\n",
			[]string{`app.yml:8:17: services.web.runtime.ecs.memory: 512: is not a memory size Fargate takes with cpu 512; want 1024 to 4096 in steps of 1024 MiB`}},
		{"a memory of the smallest cpu", ecs + "        cpu: 256\n        memory: 4096\n        capacity: fargate_spot\n",
			[]string{`app.yml:8:17: services.web.runtime.ecs.memory: 4096: is not a memory size Fargate Spot takes with cpu 256; want 512, 1024 or 2048 MiB`}},
		{"a memory between the steps", ecs + "        cpu: 8192\n        memory: 20000\n",
			[]string{`app.yml:8:17: services.web.runtime.ecs.memory: 20000: is not a memory size Fargate takes with cpu 8192; want 16384 to 61440 in steps of 4096 MiB`}},
		{"a cpu Fargate does not take", ecs + "        cpu: 300\n        memory: 1024\n",
			[]string{`app.yml:7:14: services.web.runtime.ecs.cpu: 300: is not a CPU size Fargate takes; want one of 256, 512, 1024, 2048, 4096, 8192, 16384 CPU units (1024 = one vCPU), or capacity: ec2`}},
		{"a task too small for ec2", ecs + "        cpu: 64\n        memory: 4\n        capacity: ec2\n",
			[]string{`app.yml:7:14: services.web.runtime.ecs.cpu: 64: is too small; on ec2 capacity a task takes at least 128 CPU units (1024 = one vCPU)`,
				`app.yml:8:17: services.web.runtime.ecs.memory: 4: is too small; on ec2 capacity a task takes at least 6 MiB`}},
		{"an unknown capacity", ecs + "        cpu: 256\n        memory: 512\n        capacity: lambda\n",
			[]string{`app.yml:9:19: services.web.runtime.ecs.capacity: "lambda": must be one of: fargate, fargate_spot, ec2`}},
		{"no cpu or memory", ecs,
			[]string{`app.yml:5:7: services.web.runtime.ecs: missing required field "cpu" (the task's CPU units, 1024 = one vCPU, such as 512)`,
				`app.yml:5:7: services.web.runtime.ecs: missing required field "memory" (the task's memory in MiB, such as 1024)`}},
		{"a decimal cpu", ecs + "        cpu: 0.5\n        memory: 1024\n",
			[]string{`app.yml:7:14: services.web.runtime.ecs.cpu: 0.5: is a number; want integer (the task's CPU units (1024 = one vCPU), required; on Fargate one of 256, 512, 1024, 2048, 4096, 8192, 16384 with a memory Fargate takes with it; on ec2 at least 128)`}},
		{"ecs with an instance type, an image and lifecycle hooks",
			head + "    instance_type: t3.small\n    ami: {id: ami-0abcdef1234567890}\n    lifecycle_hooks: [{name: drain, transition: terminating}]\n    runtime: {ecs: {image: x, cpu: 256, memory: 512}}\n",
			[]string{`app.yml:4:5: services.web.instance_type: a service with runtime.ecs takes no instance_type: its tasks run on Fargate or the orbit's ECS capacity (the orbit manifest's ecs.ec2)`,
				`app.yml:5:5: services.web.ami: a service with runtime.ecs takes no ami: its tasks run on Fargate or the orbit's ECS capacity (the orbit manifest's ecs.ec2)`,
				`app.yml:6:5: services.web.lifecycle_hooks: a service with runtime.ecs takes no lifecycle_hooks: its tasks run on Fargate or the orbit's ECS capacity (the orbit manifest's ecs.ec2)`}},
		{"ecs with docker", head + "    runtime:\n      docker: {image: x}\n      ecs: {image: x, cpu: 256, memory: 512}\n",
			[]string{`app.yml:4:5: services.web.runtime: give exactly one of docker (a container on instances), units (systemd units) or ecs (an ECS service); this has docker and ecs`}},
		{"ecs with units", head + "    runtime:\n      units: {web.service: x}\n      ecs: {image: x, cpu: 256, memory: 512}\n",
			[]string{`app.yml:4:5: services.web.runtime: give exactly one of docker (a container on instances), units (systemd units) or ecs (an ECS service); this has units and ecs`}},
		{"bad ports", ecs + "        cpu: 256\n        memory: 512\n        ports: [\"8080:\", \":\", \"\", \"80:8080\", \"53/sctp\", \"0\", \"70000\", http, \"8080/tcp\", 8080]\n",
			[]string{`app.yml:9:17: services.web.runtime.ecs.ports[0]: "8080:": has no container port; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:26: services.web.runtime.ecs.ports[1]: ":": has no container port; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:31: services.web.runtime.ecs.ports[2]: "": has no container port; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:35: services.web.runtime.ecs.ports[3]: "80:8080": maps host port 80 to container port 8080; an ECS task has its own address, so the host port is the container port: write 8080`,
				`app.yml:9:46: services.web.runtime.ecs.ports[4]: "53/sctp": protocol "sctp" is not allowed; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:57: services.web.runtime.ecs.ports[5]: "0": port 0 is out of range; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:62: services.web.runtime.ecs.ports[6]: "70000": port 70000 is out of range; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:71: services.web.runtime.ecs.ports[7]: "http": "http" is not a port number; want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp`,
				`app.yml:9:89: services.web.runtime.ecs.ports[9]: 8080: repeats port 8080/tcp (first in ports[8]); list each container port once`}},
		{"a port that is not a container port", head + "    port: 80\n    runtime: {ecs: {image: x, cpu: 256, memory: 512, ports: [\"8080\", \"9000/udp\"]}}\n",
			[]string{`app.yml:4:11: services.web.port: 80: is not a container port of runtime.ecs.ports (8080, 9000); the load balancer and firewall reach the task's port`}},
		{"a port without ports", head + "    port: 80\n    runtime: {ecs: {image: x, cpu: 256, memory: 512}}\n",
			[]string{`app.yml:4:11: services.web.port: 80: is not a port of runtime.ecs.ports, which lists none; add it there, such as ports: ["80"]`}},
		{"a load balancer without ports", head + "    load_balancer: {type: public}\n    runtime: {ecs: {image: x, cpu: 256, memory: 512}}\n",
			[]string{`app.yml:3:3: services.web: missing required field "port" (a service behind a load balancer needs the port it listens on, such as 8080)`}},
		{"a udp port behind a load balancer", head + "    load_balancer: {type: public}\n    runtime: {ecs: {image: x, cpu: 256, memory: 512, ports: [\"53/udp\", \"8080\"]}}\n",
			[]string{`app.yml:5:62: services.web.runtime.ecs.ports[0]: port 53 is udp only, and the load balancer reaches the service over tcp; give port a tcp container port, such as 53/tcp in runtime.ecs.ports`}},
		{"a udp port given behind a load balancer", head + "    port: 53\n    load_balancer: {type: public}\n    runtime: {ecs: {image: x, cpu: 256, memory: 512, ports: [\"8080\", \"53/udp\"]}}\n",
			[]string{`app.yml:4:11: services.web.port: port 53 is udp only, and the load balancer reaches the service over tcp; give port a tcp container port, such as 53/tcp in runtime.ecs.ports`}},
		{"volumes", ecs + "        cpu: 256\n        memory: 512\n        volumes: [\"/data:/data\"]\n",
			[]string{`app.yml:9:9: services.web.runtime.ecs.volumes: unknown field "volumes"; allowed here: capacity, command, cpu, env, image, memory, ports, repository`}},
		{"an image with a tag", head + "    runtime: {ecs: {image: \"nginx:1.27\", cpu: 256, memory: 512}}\n",
			[]string{`app.yml:4:28: services.web.runtime.ecs.image: "nginx:1.27": has a tag; give the repository only, such as nginx: a release adds :VERSION`}},
		{"a repository beside an image", head + "    runtime: {ecs: {image: x, repository: {}, cpu: 256, memory: 512}}\n",
			[]string{`app.yml:4:31: services.web.runtime.ecs.repository: only a service without image has its own repository; remove image to run from the app's ECR repository, or repository to keep x`}},
		{"a container env that is a secret", "name: shop\nsecrets: {TOKEN: {ssm: /shop/token}}\nservices:\n  web:\n    runtime: {ecs: {image: x, cpu: 256, memory: 512, env: {TOKEN: abc}}}\n",
			[]string{`app.yml:5:60: services.web.runtime.ecs.env.TOKEN: "TOKEN": is also a secret (secrets.TOKEN); a variable is either plain env or a secret, not both`}},
		{"an override that makes a Fargate size wrong", head + "    runtime: {ecs: {image: x, cpu: 256, memory: 512}}\norbits:\n  production:\n    services:\n      web: {runtime: {ecs: {cpu: 1024}}}\n",
			[]string{`app.yml:4:49: services.web.runtime.ecs.memory: 512: is not a memory size Fargate takes with cpu 1024; want 2048 to 8192 in steps of 1024 MiB`}},
		{"an override that runs on ecs a service with an instance type", head + "    instance_type: t3.small\n    runtime: {docker: {image: x}}\norbits:\n  production:\n    services:\n      web: {runtime: {ecs: {image: x, cpu: 256, memory: 512}}}\n",
			[]string{`app.yml:4:5: services.web.instance_type: a service with runtime.ecs takes no instance_type: its tasks run on Fargate or the orbit's ECS capacity (the orbit manifest's ecs.ec2)`}},
		{"an unknown field in an override's ecs", head + "    runtime: {ecs: {image: x, cpu: 256, memory: 512}}\norbits:\n  production:\n    services:\n      web: {runtime: {ecs: {gpu: 1}}}\n",
			[]string{`app.yml:8:29: orbits.production.services.web.runtime.ecs.gpu: unknown field "gpu"; allowed here: capacity, command, cpu, env, image, memory, ports, repository`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseApp("app.yml", []byte(tt.src), "production")
			if err == nil {
				t.Fatalf("ParseApp accepted it: %+v", a.Services[0].Runtime.ECS)
			}
			var fe elevator.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want elevator.FieldErrors: %v", err, err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("messages differ;\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestCheckECSOrbitNamesTheOrbitFieldToAdd(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(ecsApp), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	orbit := func(ecs string) *elevator.Orbit {
		o, err := ParseOrbit("orbit.yml", []byte(ecsOrbitHead+ecs))
		if err != nil {
			t.Fatalf("ParseOrbit: %v", err)
		}
		return o
	}
	if err := CheckECSOrbit(a, orbit("ecs: {ec2: {max: 2}}\n")); err != nil {
		t.Errorf("an orbit with a cluster and EC2 capacity: %v, want nil", err)
	}
	err = CheckECSOrbit(a, orbit(""))
	want := `app.yml:10:7: services.web.runtime.ecs: service web runs on ECS, but orbit prod has no ECS cluster; add an ecs section to the orbit's manifest, such as ecs: {} (Fargate) or ecs: {ec2: {instance_type: m7g.large, max: 4}}, and run elevator orbit up
app.yml:19:7: services.worker.runtime.ecs: service worker runs on ECS, but orbit prod has no ECS cluster; add an ecs section to the orbit's manifest, such as ecs: {} (Fargate) or ecs: {ec2: {instance_type: m7g.large, max: 4}}, and run elevator orbit up
app.yml:27:12: services.api.runtime.ecs: service api runs on ECS, but orbit prod has no ECS cluster; add an ecs section to the orbit's manifest, such as ecs: {} (Fargate) or ecs: {ec2: {instance_type: m7g.large, max: 4}}, and run elevator orbit up`
	if err == nil || err.Error() != want {
		t.Errorf("an orbit without ecs:\n%v\nwant:\n%s", err, want)
	}
	err = CheckECSOrbit(a, orbit("ecs: {}\n"))
	want = `app.yml:23:19: services.worker.runtime.ecs.capacity: "ec2": orbit prod's cluster has no EC2 capacity; add ecs.ec2 to the orbit's manifest, such as ec2: {instance_type: m7g.large, max: 4}, or use capacity fargate or fargate_spot`
	if err == nil || err.Error() != want {
		t.Errorf("an orbit with Fargate only:\n%v\nwant:\n%s", err, want)
	}
	docker, err := ParseApp("app.yml", []byte("name: shop\nservices: {web: {runtime: {docker: {image: x}}}}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckECSOrbit(docker, orbit("")); err != nil {
		t.Errorf("an app without ECS services in an orbit without ecs: %v, want nil", err)
	}
}

func TestParseAppRefusesAnSSMTestOnAnECSService(t *testing.T) {
	const app = "name: shop\nservices:\n  api:\n    runtime: {ecs: {image: x, cpu: 256, memory: 512}}\n  web:\n    runtime: {docker: {image: x}}\n"
	tests := []struct {
		name, tests, want string
	}{
		{"naming the ECS service", "tests:\n  smoke:\n    - {name: db, kind: ssm, service: api, command: [echo]}\n",
			`app.yml:9:38: tests.smoke[0].service: an ssm test runs on an instance of its service, and api runs on ECS, which has none; name a service that runs on instances, or use kind: http or command`},
		{"on the first service, by default", "tests:\n  integration:\n    - {name: db, kind: ssm, command: [echo]}\n",
			`app.yml:9:24: tests.integration[0].kind: an ssm test runs on an instance of its service (without service, the app's first), and api runs on ECS, which has none; name a service that runs on instances, or use kind: http or command`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseApp("app.yml", []byte(app+tt.tests), "")
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseApp: %v\nwant: %s", err, tt.want)
			}
		})
	}
	ok := app + "tests:\n  smoke:\n    - {name: db, kind: ssm, service: web, command: [echo]}\n"
	if _, err := ParseApp("app.yml", []byte(ok), ""); err != nil {
		t.Errorf("an ssm test on the Docker service: %v, want it accepted", err)
	}
}

// TestTheSchemaListsTheCPUSizesFargateTakes: the schema's description of
// cpu, which editors show, names the CPU values of elevator.FargateSizes.
func TestTheSchemaListsTheCPUSizesFargateTakes(t *testing.T) {
	var cpus []string
	for _, s := range elevator.FargateSizes {
		cpus = append(cpus, strconv.Itoa(s.CPU))
	}
	rule := appSchema.property(appSchema.lookup("https://github.com/elevatorhq/elevator/schemas/app.schema.json#/$defs/ecs"), "cpu")
	want := "on Fargate one of " + strings.Join(cpus, ", ") + " with"
	if d, _ := rule["description"].(string); !strings.Contains(d, want) {
		t.Errorf("the schema describes cpu as %q; want it to say %q", d, want)
	}
}
