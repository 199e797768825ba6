package compile

import (
	"slices"

	elevator "github.com/elevatorhq/elevator"
)

// Services a deployer's role passes the roles of ECS tasks to and makes
// the service-linked roles of.
const (
	ecsTasksPrincipal = "ecs-tasks.amazonaws.com"
	ecsPrincipal      = "ecs.amazonaws.com"
	ecsScalingService = "ecs.application-autoscaling.amazonaws.com"
)

// ecsDeployerStatements are what a service given the orbit policy
// deployer adds to its role's own inline policy when the orbit has ECS
// services (its manifest's ecs section): the release engine's calls on
// the ECS services of releases, in the orbit's cluster
// (elevator.ECSClusterName) of every region, and on their Application
// Auto Scaling targets. The orbit's deployer managed policy, which holds
// the rest, is at IAM's size limit (TestOrbitPoliciesFitIAMsLimit), and
// the orbit's home template near CloudFormation's, so, like
// accountsStatement, these are compiled into the app stack.
//
// Each statement names the narrowest resource AWS takes for its actions
// (the Service Authorization Reference):
//   - ECSServices: the services of the orbit's cluster,
//     service/elevator-<orbit>/*, for creating, changing, describing,
//     tagging and deleting them;
//   - ECSTasks: ecs:DescribeTasks on the tasks of the orbit's cluster;
//   - ECSListInCluster: ecs:ListTasks and ecs:ListServices name no
//     service of the release's, so "*" with an ecs:cluster condition, the
//     orbit's cluster;
//   - ECSRegisterTaskDefinitions: ecs:RegisterTaskDefinition takes no
//     resource, so "*", only for a task definition tagged with the orbit
//     (elevator:orbit, as the engine tags it);
//   - ECSTaskDefinitions: deleting and tagging the revisions of the
//     releases' families, <app>-<orbit>-<service>-<release>;
//   - ECSReadTaskDefinitions: ecs:DescribeTaskDefinition,
//     ListTaskDefinitions, ListTaskDefinitionFamilies and
//     DeregisterTaskDefinition, which take no resource: "*";
//   - PassTaskRoles: iam:PassRole on the orbit's roles (the apps' task and
//     execution roles are under /elevator/<orbit>/<app>/<service>/), only
//     to ECS tasks;
//   - ServiceScaling: Application Auto Scaling's writes on scalable
//     targets of the account: a scalable target's ARN ends in an id AWS
//     picks, not in the service's name, so nothing narrower names the
//     orbit's; and ServiceScalingReads, its reads, which take no resource;
//   - ECSServiceLinkedRoles: iam:CreateServiceLinkedRole, only for the
//     service-linked roles of ECS and of Application Auto Scaling for ECS,
//     which the first service or scalable target of an account needs;
//   - SecretARNs: secretsmanager:DescribeSecret, a secret's metadata (never
//     its value), on the account's secrets: compiling a release finds the
//     full ARN of each secret an app names (internal/lookup), and which
//     secrets the orbit's apps name this stack does not know.
//
// The alarms of the services' step policies and target tracking are named
// after their groups, which the deployer policy's GroupAlarms covers.
func ecsDeployerStatements(o *elevator.Orbit, s *elevator.Service) []any {
	if o.ECS == nil || !slices.Contains(s.OrbitPolicies, elevator.OrbitPolicyDeployer) {
		return nil
	}
	cluster := elevator.ECSClusterName(o.Name)
	ecs := func(resource string) any {
		return Sub("arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:" + resource)
	}
	orbitTag := Props{"StringEquals": Props{"aws:RequestTag/" + elevator.TagOrbit: o.Name}}
	iam := func(resource string) any { return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role" + resource) }
	return []any{
		Props{"Sid": "ECSServices", "Effect": "Allow",
			"Action": []any{"ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices",
				"ecs:TagResource", "ecs:UntagResource"},
			"Resource": ecs("service/" + cluster + "/*")},
		Props{"Sid": "ECSTasks", "Effect": "Allow", "Action": "ecs:DescribeTasks", "Resource": ecs("task/" + cluster + "/*")},
		Props{"Sid": "ECSListInCluster", "Effect": "Allow", "Action": []any{"ecs:ListTasks", "ecs:ListServices"}, "Resource": "*",
			"Condition": Props{"ArnLike": Props{"ecs:cluster": ecs("cluster/" + cluster)}}},
		Props{"Sid": "ECSRegisterTaskDefinitions", "Effect": "Allow", "Action": "ecs:RegisterTaskDefinition", "Resource": "*",
			"Condition": orbitTag},
		Props{"Sid": "ECSTaskDefinitions", "Effect": "Allow",
			"Action":   []any{"ecs:DeleteTaskDefinitions", "ecs:TagResource", "ecs:UntagResource"},
			"Resource": ecs("task-definition/*-" + o.Name + "-*:*")},
		Props{"Sid": "ECSReadTaskDefinitions", "Effect": "Allow",
			"Action": []any{"ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:ListTaskDefinitionFamilies",
				"ecs:DeregisterTaskDefinition"},
			"Resource": "*"},
		Props{"Sid": "PassTaskRoles", "Effect": "Allow", "Action": "iam:PassRole",
			"Resource":  iam(elevator.OrbitPath(o.Name) + "*"),
			"Condition": Props{"StringEquals": Props{"iam:PassedToService": ecsTasksPrincipal}}},
		Props{"Sid": "ServiceScaling", "Effect": "Allow",
			"Action": []any{"application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
				"application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
				"application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction"},
			"Resource": Sub("arn:${AWS::Partition}:application-autoscaling:*:${AWS::AccountId}:scalable-target/*")},
		Props{"Sid": "ServiceScalingReads", "Effect": "Allow",
			"Action": []any{"application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
				"application-autoscaling:DescribeScheduledActions"},
			"Resource": "*"},
		Props{"Sid": "ECSServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
			"Resource": []any{
				iam("/aws-service-role/" + ecsPrincipal + "/AWSServiceRoleForECS"),
				iam("/aws-service-role/" + ecsScalingService + "/AWSServiceRoleForApplicationAutoScaling_ECSService"),
			},
			"Condition": Props{"StringEquals": Props{"iam:AWSServiceName": []any{ecsPrincipal, ecsScalingService}}}},
		Props{"Sid": "SecretARNs", "Effect": "Allow", "Action": "secretsmanager:DescribeSecret",
			"Resource": Sub("arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*")},
	}
}
