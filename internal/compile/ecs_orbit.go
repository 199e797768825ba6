package compile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// An orbit with an ecs section has a third stack per region, the ECS
// stack (elevator.Orbit.ECSStackName): the orbit's ECS cluster, which the
// ECS services of every app of the orbit run in, and, when the manifest
// asks for EC2 capacity, the Auto Scaling Group of container instances
// that backs the cluster's EC2 capacity provider. It is a stack of its own
// because the orbit's home template is at CloudFormation's inline size
// limit, and because an orbit without ECS has none. Like the
// notifications stack, it takes what it needs of the orbit stack (the VPC
// and the private tier's subnets) as parameters, never imports, so that
// the orbit stack never has an export another stack holds on to.
const (
	idECSCluster          = "Cluster"
	idECSProviders        = "ClusterCapacityProviders"
	idECSInstanceRole     = "RoleContainerInstance"
	idECSInstanceProfile  = "InstanceProfileContainerInstance"
	idECSInstanceSG       = "SecurityGroupContainerInstance"
	idECSLaunchTemplate   = "LaunchTemplateContainerInstance"
	idECSGroup            = "AutoScalingGroupContainerInstance"
	idECSCapacityProvider = "CapacityProvider"
	paramECSVPC           = "VpcId"
	paramECSSubnets       = "PrivateSubnets"
	paramECSAMI           = "ContainerInstanceAmi"
)

// The ECS stack's outputs.
const (
	// ECSClusterOutput is the output that names the cluster.
	ECSClusterOutput = "ClusterName"
	// ECSClusterARNOutput is the output that holds the cluster's ARN.
	ECSClusterARNOutput = "ClusterArn"
	// ECSCapacityProviderOutput is the output that names the EC2 capacity
	// provider, in an orbit with EC2 capacity.
	ECSCapacityProviderOutput = "CapacityProvider"
	// ECSGroupOutput is the output that names the container instances'
	// Auto Scaling Group, in an orbit with EC2 capacity.
	ECSGroupOutput = "ContainerInstanceAutoScalingGroup"
)

// ECSFacts are what the apply step found for one region's ECS stack: the
// orbit stack's outputs and the container instances' image. Only an orbit
// with EC2 capacity needs any of them.
type ECSFacts struct {
	// VPC is the orbit's VPC (the orbit stack's VpcId output).
	VPC string
	// Subnets are the subnets of the orbit's private tier, comma-separated
	// in zone order (the orbit stack's <Tier>Subnets output; see
	// ServiceTier).
	Subnets string
	// AMI is the container instances' image, resolved from the orbit's
	// ecs.ec2.ami.
	AMI string
}

// HasECSStack reports whether o has an ECS stack.
func HasECSStack(o *elevator.Orbit) bool { return o.ECS != nil }

// ECSStack compiles orbit o's ECS stack in region r, given what f says of
// the orbit stack there: the cluster named elevator.ECSClusterName, with
// container insights on, Fargate and Fargate Spot as its capacity
// providers (Fargate by default), and, when o has EC2 capacity, the
// container instances (role, instance profile, security group, launch
// template, Auto Scaling Group in the private tier) and their capacity
// provider elevator.ECSCapacityProviderName with managed scaling and
// managed termination protection.
//
// It returns elevator.FieldErrors when region r has no tier the container
// instances can run in, and an *elevator.Error with code EINTERNAL when o
// has no ecs section or f lacks a fact the EC2 capacity needs.
func ECSStack(o *elevator.Orbit, r *elevator.Region, f ECSFacts) (Stack, error) {
	what := "compile the ECS cluster of orbit " + o.Name + " in " + r.Name
	if !HasECSStack(o) {
		return Stack{}, elevator.Errorf(elevator.EINTERNAL, "%s: the orbit has no ecs section", what)
	}
	b := &ecsBuilder{
		o: o, r: r, f: f,
		t: &Template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              fmt.Sprintf("Elevator orbit %s in %s: the ECS cluster %s and its capacity. Managed by elevator; change the orbit manifest, not this stack.", o.Name, r.Name, elevator.ECSClusterName(o.Name)),
			Parameters:               map[string]Parameter{},
			Resources:                map[string]Resource{},
			Outputs:                  map[string]Output{},
		},
		params: map[string]string{},
	}
	if errs := b.check(); len(errs) > 0 {
		return Stack{}, errs
	}
	if err := b.checkFacts(); err != nil {
		return Stack{}, elevator.Errorf(elevator.EINTERNAL, "%s: %v", what, err)
	}
	b.build()
	if err := checkTags(b.t, stackTags(o, r)); err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: what, Err: err}
	}
	body, err := b.t.Encode()
	if err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: what, Err: err}
	}
	return Stack{
		Name:       o.ECSStackName(),
		Region:     r.Name,
		Body:       body,
		Parameters: b.params,
		Tags:       stackTags(o, r),
		Template:   b.t,
	}, nil
}

// ecsBuilder builds one region's ECS template.
type ecsBuilder struct {
	o      *elevator.Orbit
	r      *elevator.Region
	f      ECSFacts
	t      *Template
	params map[string]string
}

// check finds what the manifest parser cannot see: the EC2 capacity needs
// a tier for its instances in every region.
func (b *ecsBuilder) check() elevator.FieldErrors {
	c := b.o.ECS.EC2
	if c == nil {
		return nil
	}
	tier, _, ok := ServiceTier(b.o, b.r)
	if !ok {
		return elevator.FieldErrors{b.o.Source.Errorf(c.Path, nil, "EC2 capacity runs in the %s tier, or else in the first private or isolated tier, and %s has none; add a tier named %s", elevator.TierPrivate, b.r.Name, elevator.TierPrivate)}
	}
	// The orbit makes no VPC endpoints: an instance reaches ECS, ECR and
	// SSM only through NAT.
	why := ""
	switch {
	case tierAccess(b.r, tier) == elevator.AccessIsolated:
		why = fmt.Sprintf("its tier %s in %s is isolated (no route out of the VPC)", tier, b.r.Name)
	case b.r.NAT == elevator.NATNone:
		why = fmt.Sprintf("%s has nat: none, so its tier %s has no route out", b.r.Name, tier)
	}
	if why != "" {
		return elevator.FieldErrors{b.o.Source.Errorf(c.Path, nil, "EC2 capacity needs a way out for its container instances to reach ECS (and ECR and SSM), and %s; give the region NAT (nat: single or per-az) and a private tier, or use Fargate only (ecs: {})", why)}
	}
	return nil
}

// tierAccess is the access of region r's tier named name.
func tierAccess(r *elevator.Region, name string) elevator.TierAccess {
	for _, t := range r.Tiers {
		if t.Name == name {
			if t.Access == "" {
				return elevator.AccessPrivate
			}
			return t.Access
		}
	}
	return ""
}

func (b *ecsBuilder) checkFacts() error {
	if b.o.ECS.EC2 == nil {
		return nil
	}
	var missing []string
	if b.f.VPC == "" {
		missing = append(missing, "the VPC")
	}
	if b.f.Subnets == "" {
		missing = append(missing, "the private tier's subnets")
	}
	if b.f.AMI == "" {
		missing = append(missing, "the container instances' image")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not looked up", strings.Join(missing, ", "))
	}
	return nil
}

func (b *ecsBuilder) build() {
	o := b.o
	cluster := elevator.ECSClusterName(o.Name)
	b.t.add(idECSCluster, Resource{Type: "AWS::ECS::Cluster", Properties: Props{
		"ClusterName": cluster,
		// CPU, memory, network and storage by cluster, service and task
		// in CloudWatch: what `release status` and the alarms read.
		"ClusterSettings": []any{Props{"Name": "containerInsights", "Value": "enabled"}},
		"Tags":            b.tags(""),
	}})
	providers := []any{elevator.ECSProviderFargate, elevator.ECSProviderFargateSpot}
	if o.ECS.EC2 != nil {
		b.ec2Capacity()
		providers = append(providers, Ref(idECSCapacityProvider))
	}
	// A service always names its capacity provider strategy (see
	// elevator.ECS.Capacity); the default is for a task run by hand.
	b.t.add(idECSProviders, Resource{Type: "AWS::ECS::ClusterCapacityProviderAssociations", Properties: Props{
		"Cluster":           Ref(idECSCluster),
		"CapacityProviders": providers,
		"DefaultCapacityProviderStrategy": []any{
			Props{"CapacityProvider": elevator.ECSProviderFargate, "Weight": 1},
		},
	}})
	b.output(ECSClusterOutput, "The orbit's ECS cluster", Ref(idECSCluster))
	b.output(ECSClusterARNOutput, "ARN of the orbit's ECS cluster", GetAtt(idECSCluster, "Arn"))
}

// ec2Capacity adds the container instances and their capacity provider.
// Tasks run in the awsvpc network mode on EC2 as on Fargate: each task has
// its own network interface in the private tier with its service's
// security group, so the instances' own group lets nothing in, and tasks
// may not reach the instance's metadata (and so its role): they have
// their task role.
func (b *ecsBuilder) ec2Capacity() {
	o, c := b.o, b.o.ECS.EC2
	name := elevator.ECSCapacityProviderName(o.Name)
	_, subnetsOutput, _ := ServiceTier(o, b.r)
	b.param(paramECSVPC, "AWS::EC2::VPC::Id", "The orbit's VPC (the orbit stack's VpcId output)", b.f.VPC)
	b.param(paramECSSubnets, "List<AWS::EC2::Subnet::Id>", "Subnets of the orbit's private tier, in zone order (the orbit stack's "+subnetsOutput+" output)", b.f.Subnets)
	b.param(paramECSAMI, "AWS::EC2::Image::Id", "The container instances' machine image, resolved by elevator", b.f.AMI)

	path := elevator.ECSInstanceIAMPath(o.Name)
	b.t.add(idECSInstanceRole, Resource{Type: "AWS::IAM::Role", Properties: Props{
		"Path":                     path,
		"Description":              fmt.Sprintf("Elevator: ECS container instances of orbit %s in %s", o.Name, b.r.Name),
		"AssumeRolePolicyDocument": ec2AssumeRole(),
		// The ECS agent registers the instance, pulls images and writes
		// logs for tasks without an execution role; Session Manager may
		// reach the instance. Tasks have roles of their own.
		"ManagedPolicyArns": []any{
			Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
			Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"),
		},
		"Tags": b.tags(name),
	}})
	b.t.add(idECSInstanceProfile, Resource{Type: "AWS::IAM::InstanceProfile", Properties: Props{
		"Path":  path,
		"Roles": []any{Ref(idECSInstanceRole)},
	}})
	b.t.add(idECSInstanceSG, Resource{Type: "AWS::EC2::SecurityGroup", Properties: Props{
		"GroupDescription": fmt.Sprintf("ECS container instances of orbit %s: no way in (tasks have their own interfaces and groups), any way out", o.Name),
		"VpcId":            Ref(paramECSVPC),
		"SecurityGroupEgress": []any{
			Props{"IpProtocol": "-1", "CidrIp": anywhere, "Description": "All traffic out"},
		},
		"Tags": b.tags(name),
	}})
	b.t.add(idECSLaunchTemplate, Resource{Type: "AWS::EC2::LaunchTemplate", Properties: Props{
		"LaunchTemplateData": Props{
			"ImageId":            Ref(paramECSAMI),
			"InstanceType":       c.InstanceType,
			"IamInstanceProfile": Props{"Arn": GetAtt(idECSInstanceProfile, "Arn")},
			// ${Cluster} makes the instances depend on the cluster:
			// CloudFormation deletes them (the group, then its launch
			// template) before it, as a cluster with container
			// instances registered cannot be deleted.
			"UserData": Props{"Fn::Base64": Sub(ecsUserData)},
			"MetadataOptions": Props{
				"HttpTokens":   "required",
				"HttpEndpoint": "enabled",
				// One hop: a container in bridge or host mode cannot
				// reach the instance's credentials either.
				"HttpPutResponseHopLimit": 1,
			},
			"SecurityGroupIds": []any{Ref(idECSInstanceSG)},
			"TagSpecifications": []any{
				Props{"ResourceType": "instance", "Tags": b.tags(name)},
				Props{"ResourceType": "volume", "Tags": b.tags(name)},
			},
		},
		"TagSpecifications": []any{
			Props{"ResourceType": "launch-template", "Tags": b.tags(name)},
		},
	}})
	// The group's tags describe the group; instances get theirs from the
	// launch template. Its desired capacity is ECS managed scaling's to
	// set, so the stack leaves it alone; instances are protected from
	// scale-in so that managed termination protection keeps an instance
	// while it runs tasks (deleting the capacity lifts that first: see
	// internal/orbit's drain). ECS tags the group AmazonECSManaged and
	// needs the tag kept: the stack declares it, so that an update of the
	// group's tags does not remove it.
	var tags []any
	for _, tag := range b.tags(name) {
		tags = append(tags, Props{"Key": tag.Key, "Value": tag.Value, "PropagateAtLaunch": false})
	}
	tags = append(tags, Props{"Key": elevator.TagAmazonECSManaged, "Value": "", "PropagateAtLaunch": true})
	b.t.add(idECSGroup, Resource{Type: "AWS::AutoScaling::AutoScalingGroup", Properties: Props{
		"MinSize":                          strconv.Itoa(c.Min),
		"MaxSize":                          strconv.Itoa(c.Max),
		"VPCZoneIdentifier":                Ref(paramECSSubnets),
		"NewInstancesProtectedFromScaleIn": true,
		"LaunchTemplate": Props{
			"LaunchTemplateId": Ref(idECSLaunchTemplate),
			"Version":          GetAtt(idECSLaunchTemplate, "LatestVersionNumber"),
		},
		"Tags": tags,
	}})
	target := c.TargetCapacity
	if target == 0 {
		target = elevator.DefaultECSTargetCapacity
	}
	b.t.add(idECSCapacityProvider, Resource{Type: "AWS::ECS::CapacityProvider", Properties: Props{
		"Name": name,
		"AutoScalingGroupProvider": Props{
			"AutoScalingGroupArn": Ref(idECSGroup),
			"ManagedScaling": Props{
				"Status":         "ENABLED",
				"TargetCapacity": target,
			},
			"ManagedTerminationProtection": "ENABLED",
		},
		"Tags": b.tags(""),
	}})
	b.output(ECSCapacityProviderOutput, "The EC2 capacity provider of the orbit's cluster", Ref(idECSCapacityProvider))
	b.output(ECSGroupOutput, "Auto Scaling Group of the cluster's container instances", Ref(idECSGroup))
}

// ecsUserData is the container instances' boot script, for Fn::Sub: it
// tells the ECS agent of the ECS-optimized image which cluster to join
// (the stack's, by reference), and to keep awsvpc tasks away from the
// instance's metadata.
const ecsUserData = "#!/bin/bash\n" +
	"cat >> /etc/ecs/ecs.config <<'EOF'\n" +
	"ECS_CLUSTER=${" + idECSCluster + "}\n" +
	"ECS_AWSVPC_BLOCK_IMDS=true\n" +
	"EOF\n"

// param declares a parameter with its value.
func (b *ecsBuilder) param(name, typ, description, value string) {
	b.t.Parameters[name] = Parameter{Type: typ, Description: description}
	b.params[name] = value
}

// output adds an output; the ECS stack exports nothing, so that no stack
// holds on to it.
func (b *ecsBuilder) output(key, description string, value any) {
	b.t.Outputs[key] = Output{Description: description, Value: value}
}

// tags returns the elevator tags, and a Name tag when name is not "",
// sorted by key.
func (b *ecsBuilder) tags(name string) []Tag {
	tags := []Tag{
		{elevator.TagManagedBy, elevator.ManagedBy},
		{elevator.TagOrbit, b.o.Name},
		{elevator.TagRegion, b.r.Name},
	}
	if name != "" {
		tags = append(tags, Tag{"Name", name})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}
