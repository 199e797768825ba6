package manifest

import (
	"fmt"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// CheckECSOrbit checks an app's ECS services against the orbit they are
// released into: the orbit needs an ECS cluster (its manifest's ecs
// section) for any of them, and EC2 capacity (ecs.ec2) for those with
// capacity: ec2. The app manifest alone cannot tell, so parsing it does
// not check this; compiling the app for the orbit does. It returns
// elevator.FieldErrors at the app manifest's positions, or nil.
func CheckECSOrbit(a *elevator.App, o *elevator.Orbit) error {
	var errs elevator.FieldErrors
	for _, s := range a.Services {
		e := s.Runtime.ECS
		switch {
		case e == nil:
		case o.ECS == nil:
			errs = append(errs, a.Source.Errorf(e.Path, nil, "service %s runs on ECS, but orbit %s has no ECS cluster; add an ecs section to the orbit's manifest, such as ecs: {} (Fargate) or ecs: {ec2: {instance_type: m7g.large, max: 4}}, and run elevator orbit up", s.Name, o.Name))
		case e.Capacity == elevator.ECSEC2 && o.ECS.EC2 == nil:
			p := e.Path + ".capacity"
			if _, ok := a.Source.Positions[p]; !ok {
				p = e.Path
			}
			errs = append(errs, a.Source.Errorf(p, e.Capacity, "orbit %s's cluster has no EC2 capacity; add ecs.ec2 to the orbit's manifest, such as ec2: {instance_type: m7g.large, max: 4}, or use capacity fargate or fargate_spot", o.Name))
		}
	}
	if len(errs) > 0 {
		return errs.Sorted()
	}
	return nil
}

// ecs reads the ecs runtime of a service: the task of its ECS services.
func (b *appBuilder) ecs(path string, m map[string]any) *elevator.ECS {
	e := &elevator.ECS{
		Image:    str(m["image"]),
		CPU:      integer(m["cpu"], 0),
		Memory:   integer(m["memory"], 0),
		Env:      b.env(path+".env", m["env"]),
		Capacity: strOr(m["capacity"], elevator.ECSFargate),
		Path:     path,
	}
	for _, f := range []struct{ name, what string }{
		{"cpu", "the task's CPU units, 1024 = one vCPU, such as 512"},
		{"memory", "the task's memory in MiB, such as 1024"},
	} {
		if _, ok := m[f.name]; !ok {
			b.errorf(path, nil, "missing required field %q (%s)", f.name, f.what)
		}
	}
	_, hasImage := m["image"]
	if rv, hasRepo := m["repository"]; hasRepo && hasImage {
		b.errorf(path+".repository#key", nil, "only a service without image has its own repository; remove image to run from the app's ECR repository, or repository to keep %s", e.Image)
	} else if !hasImage {
		e.Repository = b.repository(path, rv, hasRepo)
	}
	if i := strings.LastIndex(e.Image, "/") + 1; strings.Contains(e.Image[i:], ":") {
		repo := e.Image[:i] + e.Image[i:strings.Index(e.Image[i:], ":")+i]
		b.errorf(path+".image", e.Image, "has a tag; give the repository only, such as %s: a release adds :VERSION", repo)
	}
	seen := map[elevator.ECSPort]int{}
	for i, v := range list(m["ports"]) {
		p, ok := b.ecsPort(fmt.Sprintf("%s.ports[%d]", path, i), v)
		if !ok {
			continue
		}
		if first, dup := seen[p]; dup {
			b.errorf(fmt.Sprintf("%s.ports[%d]", path, i), v, "repeats port %d/%s (first in ports[%d]); list each container port once", p.Container, p.Protocol, first)
			continue
		}
		seen[p] = i
		e.Ports = append(e.Ports, p)
	}
	for _, v := range list(m["command"]) {
		e.Command = append(e.Command, str(v))
	}
	_, cpuOK := m["cpu"].(int64)
	_, memoryOK := m["memory"].(int64)
	if cpuOK && memoryOK { // else missing, or faulted by the schema
		b.checkTaskSize(path, e)
	}
	return e
}

// MinECSCPU and MinECSMemory are the smallest task an ECS service on EC2
// capacity may ask for: ECS's own lower bounds for a task's CPU units and
// a container's memory (MiB).
const (
	MinECSCPU    = 128
	MinECSMemory = 6
)

// checkTaskSize checks an ECS task's cpu and memory against its capacity:
// on Fargate a combination FargateSizes lists, on EC2 ECS's lower bounds.
func (b *appBuilder) checkTaskSize(path string, e *elevator.ECS) {
	if e.Capacity == elevator.ECSEC2 {
		if e.CPU < MinECSCPU {
			b.errorf(path+".cpu", e.CPU, "is too small; on ec2 capacity a task takes at least %d CPU units (1024 = one vCPU)", MinECSCPU)
		}
		if e.Memory < MinECSMemory {
			b.errorf(path+".memory", e.Memory, "is too small; on ec2 capacity a task takes at least %d MiB", MinECSMemory)
		}
		return
	}
	if elevator.FargateAllows(e.CPU, e.Memory) {
		return
	}
	var cpus []string
	for _, size := range elevator.FargateSizes {
		cpus = append(cpus, strconv.Itoa(size.CPU))
		if size.CPU == e.CPU {
			b.errorf(path+".memory", e.Memory, "is not a memory size %s takes with cpu %d; want %s MiB", capacityName(e.Capacity), e.CPU, fargateMemory(size))
			return
		}
	}
	b.errorf(path+".cpu", e.CPU, "is not a CPU size %s takes; want one of %s CPU units (1024 = one vCPU), or capacity: ec2", capacityName(e.Capacity), strings.Join(cpus, ", "))
}

// capacityName names an ECS capacity in messages.
func capacityName(capacity string) string {
	if capacity == elevator.ECSFargateSpot {
		return "Fargate Spot"
	}
	return "Fargate"
}

// fargateMemory describes the memory sizes of a FargateSize, such as
// "512, 1024 or 2048" or "1024 to 4096 in steps of 1024".
func fargateMemory(size elevator.FargateSize) string {
	if len(size.Memory) == 0 {
		return fmt.Sprintf("%d to %d in steps of %d", size.MinMemory, size.MaxMemory, size.Step)
	}
	var m []string
	for _, n := range size.Memory {
		m = append(m, strconv.Itoa(n))
	}
	if len(m) == 1 {
		return m[0]
	}
	return strings.Join(m[:len(m)-1], ", ") + " or " + m[len(m)-1]
}

// ecsPort reads one of an ecs runtime's ports: a container port, an
// optional /tcp or /udp, and optionally the same port as host port
// (host:container), as a number or text.
func (b *appBuilder) ecsPort(path string, v any) (elevator.ECSPort, bool) {
	const want = "want a container port from 1 to 65535 with /tcp (the default) or /udp, such as 8080 or 9000/udp"
	var spec string
	switch v := v.(type) {
	case int64:
		spec = strconv.FormatInt(v, 10)
	case string:
		spec = v
	default:
		return elevator.ECSPort{}, false // faulted by the schema
	}
	spec, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		b.errorf(path, v, "protocol %q is not allowed; %s", proto, want)
		return elevator.ECSPort{}, false
	}
	host, container, mapped := strings.Cut(spec, ":")
	if !mapped {
		container = host
	}
	port := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.errorf(path, v, "%q is not a port number; %s", s, want)
			return 0, false
		}
		if n < 1 || n > 65535 {
			b.errorf(path, v, "port %d is out of range; %s", n, want)
			return 0, false
		}
		return n, true
	}
	if container == "" {
		b.errorf(path, v, "has no container port; %s", want)
		return elevator.ECSPort{}, false
	}
	c, ok := port(container)
	if !ok {
		return elevator.ECSPort{}, false
	}
	if mapped {
		h, ok := port(host)
		if !ok {
			return elevator.ECSPort{}, false
		}
		if h != c {
			b.errorf(path, v, "maps host port %d to container port %d; an ECS task has its own address, so the host port is the container port: write %d", h, c, c)
			return elevator.ECSPort{}, false
		}
	}
	return elevator.ECSPort{Container: c, Protocol: proto}, true
}

// ecsService checks the fields of a service that runs on ECS and sets
// its port: the one port gives, else its first container port.
func (b *appBuilder) ecsService(path string, m map[string]any, s *elevator.Service, e *elevator.ECS) {
	s.InstanceType = ""
	s.AMI = elevator.AMISelector{}
	for _, f := range []string{"instance_type", "ami", "lifecycle_hooks"} {
		if _, ok := m[f]; ok {
			b.errorf(path+"."+f+"#key", nil, "a service with runtime.ecs takes no %s: its tasks run on Fargate or the orbit's ECS capacity (the orbit manifest's ecs.ec2)", f)
		}
	}
	if _, given := m["port"]; !given {
		if len(e.Ports) > 0 {
			s.Port = e.Ports[0].Container
		}
		return
	}
	var ports []string
	for _, p := range e.Ports {
		if p.Container == s.Port {
			return
		}
		ports = append(ports, strconv.Itoa(p.Container))
	}
	if len(ports) == 0 {
		b.errorf(path+".port", s.Port, "is not a port of runtime.ecs.ports, which lists none; add it there, such as ports: [\"%d\"]", s.Port)
		return
	}
	b.errorf(path+".port", s.Port, "is not a container port of runtime.ecs.ports (%s); the load balancer and firewall reach the task's port", strings.Join(ports, ", "))
}
