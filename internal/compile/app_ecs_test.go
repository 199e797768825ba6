package compile

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// ecsTestManifest is an app whose services become ECS services in
// ecsTestApp: web behind a public load balancer, and worker, with secrets
// from both stores, a database, Redis and a table.
const ecsTestManifest = `name: shop
env: {LOG_LEVEL: info}
secrets:
  STRIPE_KEY: {secretsmanager: shop/stripe}
  SIGNING_KEY: {ssm: /shop/signing-key}
services:
  web:
    runtime:
      docker:
        image: ghcr.io/acme/shop
        ports: ["8080:8080"]
    port: 8080
    load_balancer:
      type: public
      health_check: {path: /health}
  worker:
    runtime:
      docker:
        image: ghcr.io/acme/shop-worker
data:
  redis: {node_type: cache.t4g.small}
  database: {engine: postgres, class: db.t4g.medium, storage: 20}
  tables:
    carts:
      hash_key: {name: id, type: S}
`

// ecsTestApp is ecsTestManifest with web on Fargate from its own
// repository and worker on the orbit's EC2 capacity from a public image,
// built in Go, and the staging orbit with an ECS cluster and EC2 capacity.
func ecsTestApp(t *testing.T) (*elevator.App, *elevator.Orbit) {
	t.Helper()
	o := loadAppOrbit(t, "staging")
	o.ECS = &elevator.OrbitECS{EC2: &elevator.ECSCapacity{InstanceType: "m7g.large", Max: 4, TargetCapacity: 100, Path: "ecs.ec2"}, Path: "ecs"}
	a, err := manifest.ParseApp("app.yml", []byte(ecsTestManifest), o.Name)
	if err != nil {
		t.Fatal(err)
	}
	web, worker := a.Service("web"), a.Service("worker")
	web.Runtime = elevator.Runtime{ECS: &elevator.ECS{
		Repository: &elevator.Repository{KeepUntagged: 10, Path: "services.web.runtime.ecs.repository"},
		CPU:        512, Memory: 1024, Ports: []elevator.ECSPort{{Container: 8080, Protocol: "tcp"}},
		Env: map[string]string{"LOG_LEVEL": "debug", "PORT": "8080"}, Capacity: elevator.ECSFargate, Path: "services.web.runtime.ecs",
	}}
	worker.Runtime = elevator.Runtime{ECS: &elevator.ECS{
		Image: "public.ecr.aws/acme/shop-worker", CPU: 256, Memory: 512, Command: []string{"bin/worker"},
		Capacity: elevator.ECSEC2, Path: "services.worker.runtime.ecs",
	}}
	return a, o
}

func compileECSTestApp(t *testing.T, a *elevator.App, o *elevator.Orbit) Stack {
	t.Helper()
	stacks, err := AppStacks(a, o, orbitAppFacts(t, o, nil))
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return stacks[0]
}

// roleStatements returns a role's inline policy statements by Sid.
func roleStatements(t *testing.T, s Stack, id string) map[string]Props {
	t.Helper()
	r, ok := s.Template.Resources[id]
	if !ok || r.Type != "AWS::IAM::Role" {
		t.Fatalf("no role %s", id)
	}
	policies := r.Properties["Policies"].([]any)
	if len(policies) != 1 {
		t.Fatalf("role %s has %d inline policies, want 1", id, len(policies))
	}
	out := map[string]Props{}
	for _, st := range policies[0].(Props)["PolicyDocument"].(Props)["Statement"].([]any) {
		p := st.(Props)
		out[p["Sid"].(string)] = p
	}
	return out
}

func TestECSExecutionRolePullsLogsAndReadsExactlyTheAppsSecrets(t *testing.T) {
	a, o := ecsTestApp(t)
	s := compileECSTestApp(t, a, o)
	secrets := []any{
		Sub("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:shop/stripe-??????"),
		Ref("DatabaseSecret"),
	}
	parameters := []any{Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/shop/signing-key")}
	logs := func(svc string) Props {
		return Props{"Sid": "OwnLogs", "Effect": "Allow", "Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"},
			"Resource": Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/elevator/staging/shop/" + svc + ":*")}
	}
	common := map[string]Props{
		"SecretParameters": {"Sid": "SecretParameters", "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameters},
		"Secrets":          {"Sid": "Secrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secrets},
	}
	tests := []struct {
		name, role string
		want       map[string]Props
	}{
		{
			name: "a service from its own repository pulls from exactly that repository of the region",
			role: "ExecutionRoleWeb",
			want: map[string]Props{
				"ECRLogin": {"Sid": "ECRLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
				"ECRPull": {"Sid": "ECRPull", "Effect": "Allow", "Action": ecrPullActions,
					"Resource": Sub("arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/staging/shop/web")},
				"OwnLogs": logs("web"),
			},
		},
		{
			name: "a service from an image outside ECR pulls nothing from ECR",
			role: "ExecutionRoleWorker",
			want: map[string]Props{"OwnLogs": logs("worker")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range common {
				tt.want[k] = v
			}
			got := roleStatements(t, s, tt.role)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("statements of %s\n got %v\nwant %v", tt.role, got, tt.want)
			}
			trust := s.Template.Resources[tt.role].Properties["AssumeRolePolicyDocument"]
			if want := ecsTrust(nil); !reflect.DeepEqual(trust, want) {
				t.Errorf("trust of %s\n got %v\nwant %v", tt.role, trust, want)
			}
		})
	}
}

func TestECSTaskRoleIsTheInstanceRoleWithoutWhatOnlyAnInstanceNeeds(t *testing.T) {
	a, o := ecsTestApp(t)
	a.Service("web").OrbitPolicies = []elevator.OrbitPolicy{elevator.OrbitPolicyDeployer}
	s := compileECSTestApp(t, a, o)

	// The same service on an instance, for comparison.
	asg := *a
	asg.Services = append([]elevator.Service(nil), a.Services...)
	asg.Services[0].Runtime = elevator.Runtime{Docker: &elevator.Docker{Repository: &elevator.Repository{KeepUntagged: 10}, Ports: []string{"8080:8080"}}}
	instance := roleStatements(t, compileECSTestApp(t, &asg, o), "RoleWeb")

	got := roleStatements(t, s, "TaskRoleWeb")
	// With the deployer policy in an orbit with ECS, the release engine's
	// ECS statements (TestDeployerRoleReleasesTheOrbitsECSServices) too.
	wantSids := []string{"OwnStateObjects", "ListOwnStateObjects", "AppSettings", "AppTables",
		"ECSServices", "ECSTasks", "ECSListInCluster", "ECSRegisterTaskDefinitions", "ECSTaskDefinitions",
		"ECSReadTaskDefinitions", "PassTaskRoles", "ServiceScaling", "ServiceScalingReads", "ECSServiceLinkedRoles", "SecretARNs"}
	if len(got) != len(wantSids)+1 {
		t.Errorf("task role statements %v, want exactly %v and ECSExec", sids(got), wantSids)
	}
	// ECS Exec's channels, which only a task opens as its role.
	wantExec := []any{"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"}
	if exec, ok := got["ECSExec"]; !ok || !reflect.DeepEqual(exec["Action"], wantExec) || exec["Resource"] != "*" {
		t.Errorf("task role statement ECSExec %v, want %v on *", got["ECSExec"], wantExec)
	}
	for _, sid := range wantSids {
		if !reflect.DeepEqual(got[sid], instance[sid]) {
			t.Errorf("task role statement %s\n got %v\nwant the instance role's %v", sid, got[sid], instance[sid])
		}
	}
	for _, sid := range []string{"SessionManager", "RunCommand", "AgentBuilds", "AppStack", "SSHAccess", "ECRPull", "OwnLogs", "Secrets"} {
		if _, ok := instance[sid]; !ok {
			t.Errorf("the instance role has no %s: the comparison is stale", sid)
		}
	}

	r := s.Template.Resources["TaskRoleWeb"]
	wantTrust := ecsTrust(Props{"StringEquals": Props{"aws:SourceAccount": Ref("AWS::AccountId")}})
	if !reflect.DeepEqual(r.Properties["AssumeRolePolicyDocument"], wantTrust) {
		t.Errorf("task role trust\n got %v\nwant %v", r.Properties["AssumeRolePolicyDocument"], wantTrust)
	}
	wantManaged := []any{Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/elevator/staging/elevator-staging-deployer")}
	if managed := r.Properties["ManagedPolicyArns"]; !reflect.DeepEqual(managed, wantManaged) {
		t.Errorf("task role managed policies\n got %v\nwant the orbit's deployer policy %v", managed, wantManaged)
	}
	for _, id := range []string{"TaskRoleWeb", "ExecutionRoleWeb", "TaskRoleWorker", "ExecutionRoleWorker"} {
		if p := s.Template.Resources[id].Properties["Path"]; p != elevator.IAMPath("staging", "shop", strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(id), "taskrole"), "executionrole")) {
			t.Errorf("%s path %v", id, p)
		}
	}
}

// sids are the Sids of statements by Sid.
func sids(m map[string]Props) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestECSServiceResourcesAndOutputs(t *testing.T) {
	a, o := ecsTestApp(t)
	s := compileECSTestApp(t, a, o)
	for id, r := range s.Template.Resources {
		if r.Type == "AWS::IAM::InstanceProfile" || strings.HasPrefix(id, "Role") {
			t.Errorf("an ECS app has %s (%s)", id, r.Type)
		}
	}
	tg := s.Template.Resources["TargetGroupWeb"]
	if tg.Properties["TargetType"] != "ip" || tg.Properties["HealthCheckPath"] != "/health" || tg.Properties["Port"] != 8080 {
		t.Errorf("web's target group: %v", tg.Properties)
	}
	if lg := s.Template.Resources["LogGroupWorker"]; lg.Properties["RetentionInDays"] != logRetentionDays || lg.Properties["LogGroupName"] != "/elevator/staging/shop/worker" {
		t.Errorf("worker's log group: %v", lg.Properties)
	}
	if _, ok := s.Template.Resources[RepositoryResource("web")]; !ok {
		t.Errorf("web runs from its own repository and the stack makes none")
	}
	refs := map[string]string{}
	for id := range s.Template.Resources {
		refs[id] = "id-of-" + id
	}
	for _, svc := range []string{"web", "worker"} {
		for _, what := range []string{OutputTaskRole, OutputExecutionRole, OutputLogGroup, "SecurityGroup"} {
			if _, ok := s.Template.Outputs[ServiceOutput(svc, what)]; !ok {
				t.Errorf("no output %s", ServiceOutput(svc, what))
			}
		}
		for _, what := range []string{"Role", "InstanceProfile", "InstanceProfileArn"} {
			if _, ok := s.Template.Outputs[ServiceOutput(svc, what)]; ok {
				t.Errorf("an ECS service has output %s", ServiceOutput(svc, what))
			}
		}
		arn, ok := resolveOutput(s.Template.Outputs[ServiceOutput(svc, OutputTaskRole)].Value, refs)
		if want := "arn:aws:iam::" + testAccount + ":role" + elevator.IAMPath("staging", "shop", svc) + "id-of-TaskRole" + camel(svc); !ok || arn != want {
			t.Errorf("%s's task role ARN %s, want %s", svc, arn, want)
		}
	}
	if _, ok := s.Template.Outputs["WebTargetGroup"]; !ok {
		t.Errorf("no output WebTargetGroup")
	}
}

func TestECSServiceNeedsTheOrbitsCluster(t *testing.T) {
	tests := []struct {
		name  string
		orbit func(*elevator.OrbitECS) *elevator.OrbitECS
		want  []string // in the error, in order
	}{
		{
			name:  "an orbit without ecs",
			orbit: func(*elevator.OrbitECS) *elevator.OrbitECS { return nil },
			want:  []string{"services.web.runtime.ecs", "service web runs on ECS, but orbit staging has no ECS cluster; add an ecs section to the orbit's manifest"},
		},
		{
			name:  "capacity ec2 in an orbit without ecs.ec2",
			orbit: func(e *elevator.OrbitECS) *elevator.OrbitECS { e.EC2 = nil; return e },
			want:  []string{"services.worker.runtime.ecs", "orbit staging's cluster has no EC2 capacity; add ecs.ec2 to the orbit's manifest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, o := ecsTestApp(t)
			o.ECS = tt.orbit(o.ECS)
			_, err := AppStacks(a, o, orbitAppFacts(t, o, nil))
			if elevator.ErrorCode(err) != elevator.EINVALID {
				t.Fatalf("error %v (%s), want EINVALID", err, elevator.ErrorCode(err))
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error does not say %q (after %d):\n%s", w, at, msg)
				}
				at += i + len(w)
			}
		})
	}
}

// TestECSRolesGrantOnlyNamedResources checks every statement of the ECS
// services' roles, in the unit test's app and in the containers golden
// case: no action has a wildcard, and only the actions that take no
// resource are on "*" (the task role has no such statement unless the
// service has custom alarms; then a namespace condition limits it).
func TestECSRolesGrantOnlyNamedResources(t *testing.T) {
	withoutResource := map[string]bool{"ecr:GetAuthorizationToken": true, "cloudwatch:PutMetricData": true,
		"ssmmessages:CreateControlChannel": true, "ssmmessages:CreateDataChannel": true,
		"ssmmessages:OpenControlChannel": true, "ssmmessages:OpenDataChannel": true}
	a, o := ecsTestApp(t)
	a.Service("worker").Runtime.ECS.Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/worker"
	a.Service("worker").Alarms = []elevator.Alarm{{Metric: elevator.MetricCustom, Namespace: "Shop", MetricName: "QueueDepth", Statistic: "Maximum", Comparison: ">", Threshold: 100, Period: 60 * time.Second, Evaluations: 1, Severity: elevator.SeverityWarning}}
	stacks := []Stack{compileECSTestApp(t, a, o)}
	for _, c := range compileAppCases(t) {
		if c.name == "containers" {
			stacks = append(stacks, c.stacks...)
		}
	}
	if len(stacks) != 2 {
		t.Fatalf("%d stacks, want the unit test's and the containers golden case's", len(stacks))
	}
	roles := 0
	for _, s := range stacks {
		for id, r := range s.Template.Resources {
			if r.Type != "AWS::IAM::Role" {
				continue
			}
			roles++
			for _, st := range r.Properties["Policies"].([]any)[0].(Props)["PolicyDocument"].(Props)["Statement"].([]any) {
				st := st.(Props)
				actions, resources := list(st["Action"]), list(st["Resource"])
				for _, act := range actions {
					if strings.Contains(act, "*") {
						t.Errorf("%s: statement %s allows the actions %s", id, st["Sid"], act)
					}
					if slices.Contains(resources, "*") && !withoutResource[act] {
						t.Errorf("%s: statement %s allows %s on every resource", id, st["Sid"], act)
					}
					if act == "cloudwatch:PutMetricData" && st["Condition"] == nil {
						t.Errorf("%s: statement %s puts metrics in any namespace", id, st["Sid"])
					}
				}
			}
		}
	}
	if roles != 8 {
		t.Errorf("%d roles checked, want 2 services x 2 roles x 2 stacks", roles)
	}
	got := roleStatements(t, stacks[0], "ExecutionRoleWorker")["ECRPull"]["Resource"]
	if want := "arn:aws:ecr:us-east-1:123456789012:repository/acme/worker"; got != want {
		t.Errorf("worker pulls from %v, want the repository its image names, %s", got, want)
	}
	if _, ok := roleStatements(t, stacks[0], "TaskRoleWorker")["CustomMetrics"]; !ok {
		t.Errorf("worker's task role cannot put its custom alarm's metric")
	}
}

// TestAServiceDoesNotMoveBetweenInstancesAndECSInOneUpdate: compiled
// over its own earlier stack (the facts' InStack), a service that ran on
// instances and now says runtime.ecs is refused at its runtime, naming
// the two steps, and so is one that ran on ECS and now runs on instances;
// a stack that runs each service as the manifest says is not refused.
func TestAServiceDoesNotMoveBetweenInstancesAndECSInOneUpdate(t *testing.T) {
	a, o := ecsTestApp(t)
	asg := *a
	asg.Services = append([]elevator.Service(nil), a.Services...)
	asg.Services[0].Runtime = elevator.Runtime{Docker: &elevator.Docker{Image: "ghcr.io/acme/web", Ports: []string{"8080:8080"}}}

	over := func(earlier *elevator.App) map[string]AppFacts {
		facts := orbitAppFacts(t, o, nil)
		for _, s := range compileStacks(t, earlier, o) {
			f := facts[s.Region]
			f.InStack = map[string]bool{}
			for id := range s.Template.Resources {
				f.InStack[id] = true
			}
			facts[s.Region] = f
		}
		return facts
	}
	tests := []struct {
		name       string
		earlier, a *elevator.App
		want       string
	}{
		{"instances to ECS", &asg, a, "service web runs on instances in the app's stack, and the manifest moves it to ECS (runtime.ecs)"},
		{"ECS to instances", a, &asg, "service web runs on ECS in the app's stack, and the manifest moves it to instances"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AppStacks(tt.a, o, over(tt.earlier))
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "services.web") ||
				!strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "add the new runtime as a service of another name") {
				t.Errorf("error %v (%s), want EINVALID at services.web saying %q and the two steps", err, elevator.ErrorCode(err), tt.want)
			}
			if strings.Contains(err.Error(), "service worker") {
				t.Errorf("worker, which stays on ECS, is refused: %v", err)
			}
		})
	}
	for name, same := range map[string]*elevator.App{"web on ECS": a, "web on instances": &asg} {
		if _, err := AppStacks(same, o, over(same)); err != nil {
			t.Errorf("%s over its own stack: %v", name, err)
		}
	}
}

func compileStacks(t *testing.T, a *elevator.App, o *elevator.Orbit) []Stack {
	t.Helper()
	stacks, err := AppStacks(a, o, orbitAppFacts(t, o, nil))
	if err != nil {
		t.Fatalf("compile %s: %v", a.Name, err)
	}
	return stacks
}
