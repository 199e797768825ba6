package compile

import (
	elevator "github.com/elevatorhq/elevator"
)

// Logical IDs of an ECS service's roles: <Kind><Service>.
const (
	idTaskRole      = "TaskRole"
	idExecutionRole = "ExecutionRole"
)

// Outputs of an ECS service in its app's stack, by ServiceOutput's what:
// the ARNs of its task role and task execution role, and the name of its
// log group. (It has the SecurityGroup and TargetGroup outputs of every
// service too.)
const (
	OutputTaskRole      = "TaskRole"
	OutputExecutionRole = "ExecutionRole"
	OutputLogGroup      = "LogGroup"
)

// ecsService compiles what an ECS service has in its app's stack: its
// security group and log group as every service, and, instead of an
// instance profile, the two roles of its tasks. Its target group, made
// with the load balancers, takes tasks by IP.
func (b *appBuilder) ecsService(s *elevator.Service) {
	b.serviceSecurityGroup(s)
	b.ecsRoles(s)
	b.logGroup(s)
	b.repository(s)
}

// ecsTrust is the trust policy of a role ECS tasks assume; condition, when
// not nil, limits it further.
func ecsTrust(condition Props) Props {
	st := Props{
		"Effect":    "Allow",
		"Principal": Props{"Service": ecsTasksPrincipal},
		"Action":    "sts:AssumeRole",
	}
	if condition != nil {
		st["Condition"] = condition
	}
	return Props{"Version": "2012-10-17", "Statement": []any{st}}
}

// ecsRoles compiles an ECS service's task role, which its containers act
// as, and its task execution role, which ECS pulls the image, writes the
// logs and reads the secrets with. Both are under the service's IAM path;
// their ARNs are outputs.
func (b *appBuilder) ecsRoles(s *elevator.Service) {
	svc := b.svcID[s.Name]
	path := elevator.IAMPath(b.o.Name, b.a.Name, s.Name)
	task, exec := idTaskRole+svc, idExecutionRole+svc

	// Only tasks of the stack's account may take the task role (the
	// confused deputy: another account's ECS acting for its tasks).
	taskProps := Props{
		"Path":                     path,
		"AssumeRolePolicyDocument": ecsTrust(Props{"StringEquals": Props{"aws:SourceAccount": Ref("AWS::AccountId")}}),
		"Policies": []any{Props{
			"PolicyName":     policyName,
			"PolicyDocument": Props{"Version": "2012-10-17", "Statement": b.rolePolicy(s, false)},
		}},
		"Tags": b.tags(b.resourceName(s.Name), s.Name),
	}
	if managed := b.orbitManagedPolicies(s); len(managed) > 0 {
		taskProps["ManagedPolicyArns"] = managed
	}
	b.add(task, s.Path, Resource{Type: "AWS::IAM::Role", Properties: taskProps})
	b.add(exec, s.Path, Resource{Type: "AWS::IAM::Role", Properties: Props{
		"Path":                     path,
		"AssumeRolePolicyDocument": ecsTrust(nil),
		"Policies": []any{Props{
			"PolicyName":     policyName + "-execution",
			"PolicyDocument": Props{"Version": "2012-10-17", "Statement": b.ecsExecutionPolicy(s)},
		}},
		"Tags": b.tags(b.resourceName(s.Name+"-execution"), s.Name),
	}})
	// The ARNs are spelled out rather than read with Fn::GetAtt, so that
	// they can be resolved from the stack's resources (see apply.Outputs).
	arn := func(role string) any {
		return Join("", []any{"arn:" + partition(b.r.Name) + ":iam::" + b.f.AccountID + ":role" + path, Ref(role)})
	}
	b.output(ServiceOutput(s.Name, OutputTaskRole), s.Path, "ARN of the task role of service "+s.Name, arn(task))
	b.output(ServiceOutput(s.Name, OutputExecutionRole), s.Path, "ARN of the task execution role of service "+s.Name, arn(exec))
}

// orbitManagedPolicies are the ARNs of the orbit's managed policies the
// manifest gives service s. Their names are fixed
// (elevator.OrbitPolicyName), so no region needs the first region's
// outputs.
func (b *appBuilder) orbitManagedPolicies(s *elevator.Service) []any {
	var managed []any
	for _, p := range s.OrbitPolicies {
		if !p.IsManaged() {
			continue // a statement of the role's own policy (accountsStatement)
		}
		managed = append(managed, Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:policy"+elevator.OrbitPath(b.o.Name)+elevator.OrbitPolicyName(b.o.Name, p)))
	}
	return managed
}

// ecsExecutionPolicy is what ECS does for an ECS service's tasks: pull
// the image when it is in ECR (the service's own repository in the
// region, or the one its image names), write the containers' output to
// the service's log group, and read exactly the app's secrets (the
// database's master secret with them) to put them in the containers'
// environment. Nothing else: the only "*" is ecr:GetAuthorizationToken,
// which takes no resource.
func (b *appBuilder) ecsExecutionPolicy(s *elevator.Service) []any {
	e := s.Runtime.ECS
	statements := ecrPullStatements(b.o.Name, b.a.Name, s.Name, e.Image, e.Repository != nil)
	statements = append(statements, Props{
		"Sid":      "OwnLogs",
		"Effect":   "Allow",
		"Action":   []any{"logs:CreateLogStream", "logs:PutLogEvents"},
		"Resource": regionARN("logs", "log-group:"+LogGroupName(b.o.Name, b.a.Name, s.Name)+":*"),
	})
	parameters, secrets := b.secretResources()
	if len(parameters) > 0 {
		statements = append(statements, Props{
			"Sid":      "SecretParameters",
			"Effect":   "Allow",
			"Action":   "ssm:GetParameters",
			"Resource": parameters,
		})
	}
	if len(secrets) > 0 {
		statements = append(statements, Props{
			"Sid":      "Secrets",
			"Effect":   "Allow",
			"Action":   "secretsmanager:GetSecretValue",
			"Resource": secrets,
		})
	}
	return statements
}

// OwnRepository is the settings of service s's own ECR repository
// (elevator.AppRepositoryName), a Docker or an ECS service's, or nil when
// it runs from an image named in its manifest (or has no image).
func OwnRepository(s *elevator.Service) *elevator.Repository {
	switch {
	case s.Runtime.Docker != nil:
		return s.Runtime.Docker.Repository
	case s.Runtime.ECS != nil:
		return s.Runtime.ECS.Repository
	}
	return nil
}

// checkRuntimeSwitch reports service s when the app's stack runs it on
// instances (it has the service's instance profile) and the manifest
// moves it to ECS, or the other way round (the stack has its task role).
// One update would delete the instance role and profile under the
// running groups, or the task roles under the running tasks, and replace
// the target group (its TargetType changes), leaving the load balancer
// an empty group until the next release.
func (b *appBuilder) checkRuntimeSwitch(s *elevator.Service) {
	svc := b.svcID[s.Name]
	if svc == "" {
		return // reported by checkServiceNames
	}
	var from, to string
	switch {
	case s.Runtime.ECS != nil && b.f.InStack[idInstanceProf+svc]:
		from, to = "on instances", "to ECS (runtime.ecs)"
	case s.Runtime.ECS == nil && b.f.InStack[idTaskRole+svc]:
		from, to = "on ECS", "to instances"
	default:
		return
	}
	at := s.Path + ".runtime"
	if _, ok := b.a.Source.Positions[at]; !ok {
		at = s.Path
	}
	b.errorf(at, nil, "service %s runs %s in the app's stack, and the manifest moves it %s: one `app up` would take its roles from under what runs now and leave its load balancer an empty target group; "+
		"add the new runtime as a service of another name, deploy it and move the traffic to it, then remove service %s (docs/ecs.md, \"Moving a live service to ECS\")", s.Name, from, to, s.Name)
}
