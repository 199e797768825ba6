package compile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// TestInstanceRoleGrantsOnlyNamedResources compiles services of several
// shapes and reads each one's instance role: every action is spelled out,
// every statement names its resources but for the actions documented in
// docs/instance-role.md (and policy's comment) as taking none, and the
// agent gets exactly what it needs: its builds, the app's stack, the SSH
// tables, Session Manager, and ECR pulls only for an image in ECR.
func TestInstanceRoleGrantsOnlyNamedResources(t *testing.T) {
	withoutResource := map[string]bool{"ecr:GetAuthorizationToken": true, "cloudwatch:PutMetricData": true}
	for _, a := range append(slices.Clone(SessionManagerActions), RunCommandActions...) {
		withoutResource[a.(string)] = true
	}
	shapes := []struct {
		name, yml string
		ecr       string // the repository ARN the role may pull from, or ""
	}{
		{"docker from ECR", `name: shop
services:
  web:
    runtime: {docker: {image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/shop}}
`, "arn:aws:ecr:us-east-1:123456789012:repository/acme/shop"},
		{"docker from ECR in China", `name: shop
services:
  web:
    runtime: {docker: {image: 123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/shop}}
`, "arn:aws-cn:ecr:cn-north-1:123456789012:repository/shop"},
		{"docker from its own repository, beside another service's", `name: shop
services:
  web:
    runtime: {docker: {}}
  worker:
    runtime: {docker: {repository: {keep_untagged: 2}}}
`, "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/staging/shop/web"},
		{"docker from ghcr with secrets, a database, tables and a custom metric", `name: shop
secrets:
  SIGNING_KEY: {ssm: /shop/signing-key}
  STRIPE_KEY: {secretsmanager: shop/stripe}
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
    alarms:
      - {metric: custom, namespace: Shop, name: QueueDepth, statistic: Maximum, comparison: ">", threshold: 100, severity: warning}
data:
  database: {engine: postgres, class: db.t4g.micro, storage: 20}
  tables:
    orders:
      hash_key: {name: id, type: S}
`, ""},
		{"units without data", `name: shop
services:
  web:
    runtime:
      units:
        web.service: |
          [Service]
          ExecStart=/opt/shop/web
`, ""},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			for _, s := range mustCompileManifest(t, sh.yml, loadAppOrbit(t, "staging"), nil) {
				role, ok := s.Template.Resources["RoleWeb"]
				if !ok {
					t.Fatalf("no RoleWeb in %s", s.Region)
				}
				doc := role.Properties["Policies"].([]any)[0].(Props)["PolicyDocument"].(Props)
				sids := map[string]Props{}
				for _, st := range doc["Statement"].([]any) {
					st := st.(Props)
					sid, _ := st["Sid"].(string)
					sids[sid] = st
					actions := list(st["Action"])
					resources := list(st["Resource"])
					for _, a := range actions {
						if strings.Contains(a, "*") {
							t.Errorf("%s: statement %s allows the actions %s", s.Region, sid, a)
						}
					}
					if !slices.Contains(resources, "*") {
						continue
					}
					for _, a := range actions {
						if !withoutResource[a] {
							t.Errorf("%s: statement %s allows %s on every resource", s.Region, sid, a)
						}
					}
					if slices.Contains(actions, "cloudwatch:PutMetricData") && st["Condition"] == nil {
						t.Errorf("%s: statement %s puts metrics in any namespace", s.Region, sid)
					}
				}
				for _, sid := range []string{"AgentBuilds", "AppStack", "SSHAccess", "SessionManager", "RunCommand", "OwnLogs"} {
					if _, ok := sids[sid]; !ok {
						t.Errorf("%s: no statement %s", s.Region, sid)
					}
				}
				// An SSM agent that cannot use ssmmessages takes Run
				// Command's commands over ec2messages (AmazonSSMManagedInstanceCore's six).
				if got := fmt.Sprint(sids["RunCommand"]["Action"]); got != "[ec2messages:AcknowledgeMessage ec2messages:DeleteMessage ec2messages:FailMessage ec2messages:GetEndpoint ec2messages:GetMessages ec2messages:SendReply]" {
					t.Errorf("%s: RunCommand allows %s", s.Region, got)
				}
				if want := "arn:${AWS::Partition}:s3:::${StateBucket}/agent/*"; fmt.Sprint(sids["AgentBuilds"]["Resource"]) != fmt.Sprint(Sub(want)) {
					t.Errorf("%s: the agent's builds are %v, want %s", s.Region, sids["AgentBuilds"]["Resource"], want)
				}
				if want := "stack/elevator-app-staging-shop/*"; !strings.Contains(fmt.Sprint(sids["AppStack"]["Resource"]), want) {
					t.Errorf("%s: the app stack is %v, want %s", s.Region, sids["AppStack"]["Resource"], want)
				}
				if got := fmt.Sprint(sids["SSHAccess"]["Resource"]); !strings.Contains(got, "table/staging-users") || !strings.Contains(got, "table/staging-services") {
					t.Errorf("%s: the SSH tables are %s", s.Region, got)
				}
				_, login := sids["ECRLogin"]
				pull, pulls := sids["ECRPull"]
				if login != (sh.ecr != "") || pulls != (sh.ecr != "") {
					t.Errorf("%s: ECR login %v, pull %v; want both %v", s.Region, login, pulls, sh.ecr != "")
				}
				if r, ok := pull["Resource"].(Props); ok {
					pull["Resource"] = r["Fn::Sub"] // the own repository, in the stack's region and account
				}
				if pulls && pull["Resource"] != sh.ecr {
					t.Errorf("%s: pulls from %v, want %s", s.Region, pull["Resource"], sh.ecr)
				}
			}
		})
	}
}

// TestAServiceRoleGetsOnlyTheOrbitPoliciesItNames compiles services with
// and without orbit_policies: a role holds the managed policies its
// service names, each the orbit's own (its fixed name under the orbit's
// path, in the stack's account and partition), and no other; a role
// whose service names none holds none.
func TestAServiceRoleGetsOnlyTheOrbitPoliciesItNames(t *testing.T) {
	o := loadAppOrbit(t, "staging")
	tests := []struct {
		name, policies string
		want           []string
	}{
		{"no orbit policies", "", nil},
		{"the deployer policy", "    orbit_policies: [deployer]\n",
			[]string{"arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/elevator/staging/elevator-staging-deployer"}},
		{"both", "    orbit_policies: [submitter, deployer]\n",
			[]string{"arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/elevator/staging/elevator-staging-submitter",
				"arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/elevator/staging/elevator-staging-deployer"}},
		{"a deployer serving other accounts", "    orbit_policies: [deployer, accounts]\n",
			[]string{"arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/elevator/staging/elevator-staging-deployer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := "name: shop\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop}}\n" + tt.policies +
				"  worker:\n    runtime: {docker: {image: ghcr.io/acme/worker}}\n"
			for _, s := range mustCompileManifest(t, yml, o, nil) {
				var got []string
				if arns, ok := s.Template.Resources["RoleWeb"].Properties["ManagedPolicyArns"].([]any); ok {
					for _, a := range arns {
						got = append(got, a.(Props)["Fn::Sub"].(string))
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("%s: web's managed policies %q, want %q", s.Region, got, tt.want)
				}
				if arns := s.Template.Resources["RoleWorker"].Properties["ManagedPolicyArns"]; arns != nil {
					t.Errorf("%s: worker, which names none, holds %v", s.Region, arns)
				}
				// The names are the ones the orbit stack gives its policies.
				for _, a := range got {
					name := a[strings.LastIndex(a, "/")+1:]
					if !slices.ContainsFunc(elevator.OrbitPolicies, func(p elevator.OrbitPolicy) bool { return p.IsManaged() && name == elevator.OrbitPolicyName(o.Name, p) }) {
						t.Errorf("%s: %s is not a policy of orbit %s", s.Region, a, o.Name)
					}
				}
			}
		})
	}
	rf := map[string]RegionFacts{}
	for _, r := range o.Regions {
		rf[r.Name] = RegionFacts{AZs: zones(r.Name, 3), BastionAMI: "ami-0123456789abcdef0", HostedZoneID: "Z0123456789ABCDEFGHIJ", Agent: fakeAgentBuilds()}
	}
	stacks, err := OrbitStacks(o, rf)
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range map[string]elevator.OrbitPolicy{idDeployerPolicy: elevator.OrbitPolicyDeployer, idSubmitterPolicy: elevator.OrbitPolicySubmitter} {
		props := stacks[0].Template.Resources[id].Properties
		if props["Path"] != elevator.OrbitPath(o.Name) || props["ManagedPolicyName"] != elevator.OrbitPolicyName(o.Name, p) {
			t.Errorf("orbit policy %s is %v under %v", id, props["ManagedPolicyName"], props["Path"])
		}
	}
}

// list is an IAM statement's Action or Resource as a list; a resource
// that is not a string (a Sub, a Ref) is written with %v.
func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, fmt.Sprint(e))
			}
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// TestOwnRepositoriesAreMadeOnceAndKeptAfter compiles an app whose
// services run from their own repositories: the stack makes each one
// (scan on push, immutable tags, its lifecycle policy, kept when the
// stack goes) and outputs its URI; a repository an earlier stack kept is
// not made again, which CloudFormation would refuse, but still output.
func TestOwnRepositoriesAreMadeOnceAndKeptAfter(t *testing.T) {
	const yml = `name: shop
services:
  web:
    runtime: {docker: {}}
  worker:
    runtime: {docker: {repository: {keep_untagged: 2}}}
  cron:
    runtime: {docker: {image: ghcr.io/acme/cron}}
`
	o := loadAppOrbit(t, "staging")
	a, err := manifest.ParseApp("app.yml", []byte(yml), o.Name)
	if err != nil {
		t.Fatal(err)
	}
	facts := orbitAppFacts(t, o, nil)
	for region, f := range facts {
		f.KeptRepositories = map[string]bool{"staging/shop/worker": true}
		facts[region] = f
	}
	stacks, err := AppStacks(a, o, facts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stacks {
		repo, ok := s.Template.Resources["RepositoryWeb"]
		if !ok {
			t.Fatalf("%s: no RepositoryWeb", s.Region)
		}
		p := repo.Properties
		if repo.DeletionPolicy != "Retain" || repo.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s: web's repository is deleted with the stack (%s, %s)", s.Region, repo.DeletionPolicy, repo.UpdateReplacePolicy)
		}
		if p["RepositoryName"] != "staging/shop/web" || p["ImageTagMutability"] != "IMMUTABLE" || fmt.Sprint(p["ImageScanningConfiguration"]) != fmt.Sprint(Props{"ScanOnPush": true}) {
			t.Errorf("%s: web's repository is %v", s.Region, p)
		}
		if got := fmt.Sprint(p["LifecyclePolicy"]); !strings.Contains(got, `"countNumber":10`) || !strings.Contains(got, `"tagStatus":"untagged"`) {
			t.Errorf("%s: web's lifecycle policy is %s, want the newest %d untagged kept", s.Region, got, elevator.DefaultKeepUntagged)
		}
		for _, id := range []string{"RepositoryWorker", "RepositoryCron"} {
			if _, ok := s.Template.Resources[id]; ok {
				t.Errorf("%s: the stack makes %s", s.Region, id)
			}
		}
		want := "123456789012.dkr.ecr." + s.Region + ".amazonaws.com/staging/shop/worker"
		if got := s.Template.Outputs["WorkerRepository"].Value; got != want {
			t.Errorf("%s: the kept repository's output is %v, want %s", s.Region, got, want)
		}
		if _, ok := s.Template.Outputs["CronRepository"]; ok {
			t.Errorf("%s: cron, whose image is elsewhere, has a repository output", s.Region)
		}
	}
}

// TestADeployerServingOtherAccountsMayAssumeOnlyTheirAccountsRoles
// compiles a service given [deployer, accounts] and evaluates its role's
// inline policy (with the evaluation of builders_test.go, Statement by
// Statement, identity policy without Principal) for sts:AssumeRole on
// roles: those under elevator.AccountsRolePath of any account are allowed;
// an orbit's own roles (/elevator/<orbit>/), a role at the root path or
// of another path are not; and a service without the policy may assume
// none. The orbit stack has no accounts policy (its home template is near
// its size limit).
func TestADeployerServingOtherAccountsMayAssumeOnlyTheirAccountsRoles(t *testing.T) {
	o := loadAppOrbit(t, "staging")
	yml := "name: shop\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop}}\n    orbit_policies: [deployer, accounts]\n" +
		"  worker:\n    runtime: {docker: {image: ghcr.io/acme/worker}}\n"
	assume := func(t *testing.T, role Resource, arn string) bool {
		allowed := false
		for _, p := range role.Properties["Policies"].([]any) {
			for _, st := range p.(Props)["PolicyDocument"].(Props)["Statement"].([]any) {
				st := st.(Props)
				if st["Condition"] != nil || !anyMatch(evalStrings(t, st["Action"]), "sts:AssumeRole") || !anyMatch(evalStrings(t, st["Resource"]), arn) {
					continue
				}
				if st["Effect"] == "Deny" {
					return false
				}
				allowed = allowed || st["Effect"] == "Allow"
			}
		}
		return allowed
	}
	for _, s := range mustCompileManifest(t, yml, o, nil) {
		web, worker := s.Template.Resources["RoleWeb"], s.Template.Resources["RoleWorker"]
		for arn, want := range map[string]bool{
			"arn:aws:iam::222222222222:role" + elevator.AccountsRolePath + "staging-deployer": true,
			"arn:aws:iam::" + evalAccount + ":role" + elevator.AccountsRolePath + "x":         true,
			"arn:aws:iam::222222222222:role/elevator/production/shop-web":                     false,
			"arn:aws:iam::222222222222:role/OrganizationAccountAccessRole":                    false,
			"arn:aws:iam::222222222222:role/admin/elevator-accounts/x":                        false,
		} {
			if got := assume(t, web, arn); got != want {
				t.Errorf("%s: web (accounts) may assume %s: %v, want %v", s.Region, arn, got, want)
			}
			if assume(t, worker, arn) {
				t.Errorf("%s: worker, without accounts, may assume %s", s.Region, arn)
			}
		}
	}
	stacks, err := OrbitStacks(o, factsFor("accounts", o))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stacks {
		for id, r := range s.Template.Resources {
			if r.Type == "AWS::IAM::ManagedPolicy" && strings.Contains(fmt.Sprint(r.Properties["ManagedPolicyName"]), string(elevator.OrbitPolicyAccounts)) {
				t.Errorf("%s: the orbit stack has an accounts policy %s", s.Region, id)
			}
		}
	}
}
