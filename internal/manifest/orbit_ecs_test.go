package manifest

import (
	"errors"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

const ecsOrbitHead = "name: prod\nregions: {us-east-1: }\n"

func TestParseOrbitReadsTheECSSection(t *testing.T) {
	tests := []struct {
		name string
		ecs  string
		want *elevator.OrbitECS
	}{
		{"no section", "", nil},
		{"fargate only", "ecs: {}\n", &elevator.OrbitECS{Path: "ecs"}},
		{"an empty section", "ecs:\n", &elevator.OrbitECS{Path: "ecs"}},
		{"ec2 capacity with defaults", "ecs:\n  ec2: {max: 4}\n", &elevator.OrbitECS{Path: "ecs", EC2: &elevator.ECSCapacity{
			InstanceType: DefaultInstanceType, Max: 4, TargetCapacity: 100, AMI: DefaultECSAMI, Path: "ecs.ec2"}}},
		{"graviton capacity", "ecs:\n  ec2: {instance_type: m7g.large, min: 1, max: 10, target_capacity: 80}\n", &elevator.OrbitECS{Path: "ecs", EC2: &elevator.ECSCapacity{
			InstanceType: "m7g.large", Min: 1, Max: 10, TargetCapacity: 80, AMI: DefaultECSARM64AMI, Path: "ecs.ec2"}}},
		{"an own image", "ecs:\n  ec2: {instance_type: c7g.xlarge, max: 2, ami: {id: ami-0abcdef1234567890}}\n", &elevator.OrbitECS{Path: "ecs", EC2: &elevator.ECSCapacity{
			InstanceType: "c7g.xlarge", Max: 2, TargetCapacity: 100, AMI: elevator.AMISelector{ID: "ami-0abcdef1234567890"}, Path: "ecs.ec2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOrbit("orbit.yml", []byte(ecsOrbitHead+tt.ecs))
			if err != nil {
				t.Fatalf("ParseOrbit: %v", err)
			}
			if msg := differs(o.ECS, tt.want); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestARM64InstanceTypes(t *testing.T) {
	for it, want := range map[string]bool{
		"m7g.large": true, "c6gn.xlarge": true, "t4g.micro": true, "im4gn.large": true, "is4gen.large": true,
		"x2gd.medium": true, "a1.large": true, "g5g.xlarge": true, "hpc7g.4xlarge": true,
		"t3.micro": false, "m7i.large": false, "m6a.large": false, "g5.xlarge": false, "c5n.large": false, "inf2.xlarge": false,
	} {
		if got := arm64InstanceType(it); got != want {
			t.Errorf("arm64InstanceType(%q) = %v, want %v", it, got, want)
		}
	}
}

func TestParseOrbitRejectsABadECSSection(t *testing.T) {
	tests := []struct {
		name string
		ecs  string
		want []string
	}{
		{"capacity without max", "ecs:\n  ec2: {instance_type: m7g.large}\n",
			[]string{`orbit.yml:4:8: ecs.ec2: missing required field "max" (the most instances in each region, at least 1 and at least min)`}},
		{"max 0", "ecs:\n  ec2: {max: 0}\n",
			[]string{`orbit.yml:4:14: ecs.ec2.max: 0: must be at least 1 (the most instances in each region, at least 1 and at least min)`}},
		{"min over max", "ecs:\n  ec2: {min: 5, max: 2}\n",
			[]string{`orbit.yml:4:14: ecs.ec2.min: 5: is more than max (2); want min <= max`}},
		{"a negative min", "ecs:\n  ec2: {min: -1, max: 2}\n",
			[]string{`orbit.yml:4:14: ecs.ec2.min: -1: must be at least 0 (the fewest instances in each region, 0 or more (default 0))`}},
		{"target capacity 0", "ecs:\n  ec2: {max: 2, target_capacity: 0}\n",
			[]string{`orbit.yml:4:34: ecs.ec2.target_capacity: 0: must be at least 1 (the percent of the instances' capacity ECS managed scaling keeps in use, 1 to 100 (default 100))`}},
		{"target capacity over 100", "ecs:\n  ec2: {max: 2, target_capacity: 101}\n",
			[]string{`orbit.yml:4:34: ecs.ec2.target_capacity: 101: must be at most 100 (the percent of the instances' capacity ECS managed scaling keeps in use, 1 to 100 (default 100))`}},
		{"a bad instance type", "ecs:\n  ec2: {max: 2, instance_type: M7G}\n",
			[]string{`orbit.yml:4:32: ecs.ec2.instance_type: "M7G": not allowed; want an EC2 instance type such as m7g.large (default t3.micro); a Graviton type (such as m7g, c7g, t4g) runs the arm64 image`}},
		{"an image with two selectors", "ecs:\n  ec2: {max: 2, ami: {id: ami-0abcdef1234567890, ssm: /x}}\n",
			[]string{`orbit.yml:4:22: ecs.ec2.ami: give exactly one of id, ssm or name (found 2)`}},
		{"an unknown field", "ecs:\n  fargate: true\n",
			[]string{`orbit.yml:4:3: ecs.fargate: unknown field "fargate"; allowed here: ec2`}},
		{"volumes are not a field", "ecs:\n  ec2: {max: 2, volumes: [a]}\n",
			[]string{`orbit.yml:4:17: ecs.ec2.volumes: unknown field "volumes"; allowed here: ami, instance_type, max, min, target_capacity`}},
		{"a list", "ecs: [fargate]\n",
			[]string{`orbit.yml:3:6: ecs: "[...]": is a list; want null or object (an ECS cluster in every region (in the orbit's own ECS stack) for the services of apps that run on ECS (runtime.ecs), such as ecs: {} for Fargate and Fargate Spot only; ec2 adds EC2 capacity for services with capacity: ec2)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOrbit("orbit.yml", []byte(ecsOrbitHead+tt.ecs))
			if err == nil {
				t.Fatalf("ParseOrbit accepted it: %+v", o.ECS)
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
