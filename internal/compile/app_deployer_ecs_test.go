package compile

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// TestDeployerRoleReleasesTheOrbitsECSServices checks, statement by
// statement, what the role of a service given the orbit policy deployer
// may do to release ECS services in an orbit with ECS: exactly these
// actions on these resources. Without the orbit's ecs section, or
// without the deployer policy, the role has none of them.
func TestDeployerRoleReleasesTheOrbitsECSServices(t *testing.T) {
	a, o := ecsTestApp(t)
	a.Service("web").OrbitPolicies = []elevator.OrbitPolicy{elevator.OrbitPolicyDeployer}
	got := roleStatements(t, compileECSTestApp(t, a, o), "TaskRoleWeb")

	arn := func(s string) any { return Sub(s) }
	want := map[string]Props{
		"ECSServices": {"Sid": "ECSServices", "Effect": "Allow",
			"Action":   []any{"ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:TagResource", "ecs:UntagResource"},
			"Resource": arn("arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:service/elevator-staging/*")},
		"ECSTasks": {"Sid": "ECSTasks", "Effect": "Allow", "Action": "ecs:DescribeTasks",
			"Resource": arn("arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:task/elevator-staging/*")},
		"ECSListInCluster": {"Sid": "ECSListInCluster", "Effect": "Allow", "Action": []any{"ecs:ListTasks", "ecs:ListServices"}, "Resource": "*",
			"Condition": Props{"ArnLike": Props{"ecs:cluster": arn("arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:cluster/elevator-staging")}}},
		"ECSRegisterTaskDefinitions": {"Sid": "ECSRegisterTaskDefinitions", "Effect": "Allow", "Action": "ecs:RegisterTaskDefinition", "Resource": "*",
			"Condition": Props{"StringEquals": Props{"aws:RequestTag/" + elevator.TagOrbit: "staging"}}},
		"ECSTaskDefinitions": {"Sid": "ECSTaskDefinitions", "Effect": "Allow",
			"Action":   []any{"ecs:DeleteTaskDefinitions", "ecs:TagResource", "ecs:UntagResource"},
			"Resource": arn("arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:task-definition/*-staging-*:*")},
		"ECSReadTaskDefinitions": {"Sid": "ECSReadTaskDefinitions", "Effect": "Allow",
			"Action":   []any{"ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:ListTaskDefinitionFamilies", "ecs:DeregisterTaskDefinition"},
			"Resource": "*"},
		"PassTaskRoles": {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": "iam:PassRole",
			"Resource":  arn("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/elevator/staging/*"),
			"Condition": Props{"StringEquals": Props{"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
		"ServiceScaling": {"Sid": "ServiceScaling", "Effect": "Allow",
			"Action": []any{"application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
				"application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
				"application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction"},
			"Resource": arn("arn:${AWS::Partition}:application-autoscaling:*:${AWS::AccountId}:scalable-target/*")},
		"ServiceScalingReads": {"Sid": "ServiceScalingReads", "Effect": "Allow",
			"Action":   []any{"application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:DescribeScheduledActions"},
			"Resource": "*"},
		"ECSServiceLinkedRoles": {"Sid": "ECSServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
			"Resource": []any{
				arn("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
				arn("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"),
			},
			"Condition": Props{"StringEquals": Props{"iam:AWSServiceName": []any{"ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com"}}}},
		"SecretARNs": {"Sid": "SecretARNs", "Effect": "Allow", "Action": "secretsmanager:DescribeSecret",
			"Resource": arn("arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*")},
	}
	for sid, w := range want {
		if !reflect.DeepEqual(got[sid], w) {
			t.Errorf("statement %s\n got %v\nwant %v", sid, got[sid], w)
		}
	}

	// IAM takes 10,240 characters of inline policies per role; the
	// role's whole policy, its Subs as long as the longest partition and
	// a long orbit name make them, stays well under it.
	doc, err := json.Marshal(roleStatements(t, compileECSTestApp(t, a, o), "TaskRoleWeb"))
	if err != nil {
		t.Fatal(err)
	}
	size := len(strings.NewReplacer("${AWS::Partition}", "aws-us-gov", "${AWS::AccountId}", "123456789012", "${AWS::Region}", "ap-southeast-2", "staging", strings.Repeat("o", 20)).Replace(string(doc)))
	t.Logf("the deployer task role's policy: %d characters of 10240", size)
	if size > 8000 {
		t.Errorf("the deployer task role's policy is %d characters, too near IAM's 10,240", size)
	}

	for name, change := range map[string]func(*elevator.App, *elevator.Orbit){
		"an orbit without ecs":           func(_ *elevator.App, o *elevator.Orbit) { o.ECS = nil },
		"a service without the deployer": func(a *elevator.App, _ *elevator.Orbit) { a.Service("web").OrbitPolicies = nil },
	} {
		a, o := ecsTestApp(t)
		a.Service("web").OrbitPolicies = []elevator.OrbitPolicy{elevator.OrbitPolicyDeployer}
		a.Service("web").Runtime = elevator.Runtime{Docker: &elevator.Docker{Image: "ghcr.io/acme/web", Ports: []string{"8080:8080"}}}
		a.Service("worker").Runtime = elevator.Runtime{Docker: &elevator.Docker{Image: "ghcr.io/acme/worker"}}
		change(a, o)
		for sid := range roleStatements(t, compileECSTestApp(t, a, o), "RoleWeb") {
			if _, ecs := want[sid]; ecs {
				t.Errorf("%s: the role has %s", name, sid)
			}
		}
	}
	a, o = ecsTestApp(t)
	a.Service("web").OrbitPolicies = []elevator.OrbitPolicy{elevator.OrbitPolicyDeployer}
	if st := roleStatements(t, compileECSTestApp(t, a, o), "TaskRoleWorker"); slices.ContainsFunc(sids(st), func(sid string) bool { _, ok := want[sid]; return ok }) {
		t.Errorf("worker, without the deployer policy, has ECS release statements: %v", sids(st))
	}
}
