package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

const iamFile = `path: /elevator-iam/
policies:
  - name: read-logs
    file: policies/read-logs.json
groups:
  - name: developers
    policies: [read-logs]
users:
  - name: alice
    groups: [developers]
roles:
  - name: ci
    trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
    inline:
      queue: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: [sqs:SendMessage], Resource: "*"}]}
`

const readLogs = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["logs:GetLogEvents", "logs:Describe*"], "Resource": "*"}
  ]
}
`

// iamFiles writes iam.yml and its policy file into a temp dir.
func iamFiles(t *testing.T, yml, policy string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policies", "read-logs.json"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "iam.yml")
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

type iamOutput struct {
	Changes []struct {
		Op, Kind, Name string
	} `json:"changes"`
	Unchanged int    `json:"unchanged"`
	Audit     string `json:"audit"`
	Applied   *struct {
		Done []struct{ Op, Kind, Name string } `json:"done"`
	} `json:"applied"`
}

func decodeIAM(t *testing.T, r result) iamOutput {
	t.Helper()
	var out iamOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	return out
}

// TestIAMApplyTwiceChangesNothingTheSecondTime: apply from a file (one
// policy in a JSON file next to it) creates five objects; the second
// apply makes no change, `plan --detailed-exitcode` exits 0, and a role
// outside the path, with its own policies, is as it was.
func TestIAMApplyTwiceChangesNothingTheSecondTime(t *testing.T) {
	acct := inAccount(t)
	ctx := context.Background()
	sdk := iamsdk.NewFromConfig(acct.Config("us-east-1"))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if _, err := sdk.CreateRole(ctx, &iamsdk.CreateRoleInput{RoleName: aws.String("outside"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	own, err := sdk.CreatePolicy(ctx, &iamsdk.CreatePolicyInput{PolicyName: aws.String("outside-policy"), PolicyDocument: aws.String(readLogs)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.AttachRolePolicy(ctx, &iamsdk.AttachRolePolicyInput{RoleName: aws.String("outside"), PolicyArn: own.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	file := iamFiles(t, iamFile, readLogs)

	plan := elevator(t, "", "iam", "plan", "-f", file, "--detailed-exitcode")
	if plan.code != 10 || !strings.Contains(plan.stdout, "4 to create, 0 to update, 0 to delete") || !strings.Contains(plan.stdout, "audit log: none") {
		t.Fatalf("plan: exit %d\n%s%s", plan.code, plan.stdout, plan.stderr)
	}
	first := elevator(t, "", "iam", "apply", "-f", file, "--yes", "-o", "json")
	mustSucceed(t, first)
	if out := decodeIAM(t, first); out.Applied == nil || len(out.Applied.Done) != 4 || out.Audit != "none" {
		t.Fatalf("first apply: %s", first.stdout)
	}
	second := elevator(t, "", "iam", "apply", "-f", file, "--yes", "-o", "json")
	mustSucceed(t, second)
	if out := decodeIAM(t, second); out.Applied == nil || len(out.Applied.Done) != 0 || len(out.Changes) != 0 || out.Unchanged != 4 {
		t.Fatalf("second apply changed something: %s", second.stdout)
	}
	mustSucceed(t, elevator(t, "", "iam", "plan", "-f", file, "--detailed-exitcode"))

	pol, err := sdk.GetPolicy(ctx, &iamsdk.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + acct.ID + ":policy/elevator-iam/read-logs")})
	if err != nil || aws.ToString(pol.Policy.DefaultVersionId) != "v1" {
		t.Errorf("read-logs: %v, %v; want one version", pol, err)
	}
	inline, err := sdk.GetRolePolicy(ctx, &iamsdk.GetRolePolicyInput{RoleName: aws.String("ci"), PolicyName: aws.String("queue")})
	if err != nil || !strings.Contains(aws.ToString(inline.PolicyDocument), "sqs") {
		t.Errorf("ci's inline policy: %v, %v", inline, err)
	}
	outside, err := sdk.GetRole(ctx, &iamsdk.GetRoleInput{RoleName: aws.String("outside")})
	if err != nil || !strings.Contains(aws.ToString(outside.Role.AssumeRolePolicyDocument), "lambda") {
		t.Errorf("the role outside the path: %v, %v", outside, err)
	}
	attached, err := sdk.ListAttachedRolePolicies(ctx, &iamsdk.ListAttachedRolePoliciesInput{RoleName: aws.String("outside")})
	if err != nil || len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyName) != "outside-policy" {
		t.Errorf("the role outside the path has policies %v, %v", attached, err)
	}
}

// TestIAMRefusesABadPolicyBeforeAnyChange: an unknown action, "*:*"
// without allow_admin and broken JSON in a policy file each exit 2 with
// the file:line:col of the problem, and nothing is created.
func TestIAMRefusesABadPolicyBeforeAnyChange(t *testing.T) {
	acct := inAccount(t)
	cases := []struct {
		name, yml, policy, want string
	}{
		{"an unknown action", strings.Replace(iamFile, "sqs:SendMessage", "sqs:SendMesage", 1), readLogs,
			`iam.yml:15:75: roles[0].inline.queue.Statement[0].Action[0]: "sqs:SendMesage": sqs has no action matching "SendMesage"`},
		{"everything without allow_admin", iamFile, strings.Replace(readLogs, `["logs:GetLogEvents", "logs:Describe*"]`, `"*:*"`, 1),
			`read-logs.json:4:35: Statement[0].Action: "*:*": allows every action on every resource; set allow_admin: true in the file to allow it`},
		{"broken JSON", iamFile, strings.Replace(readLogs, `"Resource": "*"}`, `"Resource": "*"`, 1),
			`read-logs.json:5:3: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping that began at line 4, column 5)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := iamFiles(t, c.yml, c.policy)
			for _, verb := range []string{"plan", "apply"} {
				r := elevator(t, "", "iam", verb, "-f", file, "--yes")
				if r.code != 2 || !strings.Contains(r.stderr, c.want) {
					t.Errorf("iam %s: exit %d; want 2 and %q in\n%s", verb, r.code, c.want, r.stderr)
				}
			}
		})
	}
	sdk := iamsdk.NewFromConfig(acct.Config("us-east-1"))
	roles, err := sdk.ListRoles(context.Background(), &iamsdk.ListRolesInput{PathPrefix: aws.String("/elevator-iam/")})
	if err != nil || len(roles.Roles) != 0 {
		t.Errorf("roles under the path after refused applies: %v, %v", roles, err)
	}
	pols, err := sdk.ListPolicies(context.Background(), &iamsdk.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal, PathPrefix: aws.String("/elevator-iam/")})
	if err != nil || len(pols.Policies) != 0 {
		t.Errorf("policies under the path after refused applies: %v, %v", pols, err)
	}
}

// TestIAMKeysListsAndDeactivatesAndAuditsInTheOrbit: in an orbit that is
// up, apply --orbit writes an audit entry; keys lists alice's two keys
// (made with the SDK: Elevator never makes them), --deactivate turns one
// off (read back), the other stays active, and the deactivation is
// audited.
func TestIAMKeysListsAndDeactivatesAndAuditsInTheOrbit(t *testing.T) {
	acct := inAccount(t)
	ctx := context.Background()
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	started := time.Now().Add(-time.Minute)
	file := iamFiles(t, iamFile, readLogs)
	mustSucceed(t, elevator(t, "", "iam", "apply", "-f", file, "--orbit", orbit, "--orbit-file", orbitFile, "--yes"))

	sdk := iamsdk.NewFromConfig(acct.Config("us-east-1"))
	var ids []string
	for range 2 {
		k, err := sdk.CreateAccessKey(ctx, &iamsdk.CreateAccessKeyInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(k.AccessKey.AccessKeyId))
	}
	list := elevator(t, "", "iam", "keys", "-f", file, "-o", "json")
	mustSucceed(t, list)
	var out struct {
		Keys []struct {
			User, ID, Status string
			Deactivated      bool
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &out); err != nil || len(out.Keys) != 2 || out.Keys[0].User != "alice" || out.Keys[0].Status != "Active" {
		t.Fatalf("keys: %v\n%s", err, list.stdout)
	}
	if r := elevator(t, "", "iam", "keys", "-f", file, "--deactivate", "not-a-key"); r.code != 2 {
		t.Errorf("--deactivate not-a-key: exit %d; want 2\n%s", r.code, r.stderr)
	}
	// A well-formed id that is no key of the files' users: refused, and
	// the other key named with it is left active.
	if r := elevator(t, "", "iam", "keys", "-f", file, "--deactivate", ids[1]+",AKIAIOSFODNN7EXAMPLE"); r.code != 2 || !strings.Contains(r.stderr, "AKIAIOSFODNN7EXAMPLE: not a key of a user of the files") {
		t.Errorf("--deactivate of a key of no user of the files: exit %d; want 2\n%s", r.code, r.stderr)
	}
	// keys reads no policy: one the plan would refuse does not stand in
	// the way.
	broken := iamFiles(t, iamFile, strings.Replace(readLogs, "logs:GetLogEvents", "logs:Nope", 1))
	if r := elevator(t, "", "iam", "plan", "-f", broken); r.code != 2 {
		t.Errorf("plan with an unknown action: exit %d; want 2\n%s", r.code, r.stderr)
	}
	if r := elevator(t, "", "iam", "keys", "-f", broken); r.code != 0 || !strings.Contains(r.stdout, ids[0]) {
		t.Errorf("keys with a policy plan refuses: exit %d; want alice's keys\n%s%s", r.code, r.stdout, r.stderr)
	}
	off := elevator(t, "", "iam", "keys", "-f", file, "--orbit", orbit, "--orbit-file", orbitFile, "--deactivate", ids[0])
	mustSucceed(t, off)
	if !strings.Contains(off.stdout, ids[0]) || !strings.Contains(off.stdout, "deactivated now") {
		t.Errorf("keys --deactivate:\n%s", off.stdout)
	}
	got, err := sdk.ListAccessKeys(ctx, &iamsdk.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(got.AccessKeyMetadata) != 2 {
		t.Fatalf("alice's keys: %v, %v", got, err)
	}
	for _, k := range got.AccessKeyMetadata {
		want := iamtypes.StatusTypeActive
		if aws.ToString(k.AccessKeyId) == ids[0] {
			want = iamtypes.StatusTypeInactive
		}
		if k.Status != want {
			t.Errorf("key %s is %s; want %s", aws.ToString(k.AccessKeyId), k.Status, want)
		}
	}

	backend, err := awsrelease.New(awsrelease.Config{Orbit: orbit, AWS: []aws.Config{acct.Config("us-east-1")}, Bucket: domain.StateBucketName(acct.ID, "us-east-1", orbit)})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := backend.Store.AuditLog(ctx, started)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range entries {
		seen[e.Action] = e.Detail
	}
	if d := seen[domain.AuditIAMApply]; !strings.Contains(d, "create role ci") {
		t.Errorf("audit of apply: %q", d)
	}
	if d := seen[domain.AuditIAMKeys]; !strings.Contains(d, ids[0]) || strings.Contains(d, ids[1]) {
		t.Errorf("audit of keys: %q", d)
	}

	// Bad flags change nothing; --deactivate-older takes every active key
	// older than --older-than (0d: all of them).
	for _, args := range [][]string{{"--deactivate-older"}, {"--older-than", "ninety days"}, {"--deactivate-older", "--older-than", "1d", "--deactivate", ids[1]}} {
		if r := elevator(t, "", append([]string{"iam", "keys", "-f", file}, args...)...); r.code != 2 {
			t.Errorf("keys %v: exit %d; want 2\n%s", args, r.code, r.stderr)
		}
	}
	mustSucceed(t, elevator(t, "", "iam", "keys", "-f", file, "--older-than", "0d", "--deactivate-older"))
	got, err = sdk.ListAccessKeys(ctx, &iamsdk.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range got.AccessKeyMetadata {
		if k.Status != iamtypes.StatusTypeInactive {
			t.Errorf("after --deactivate-older, key %s is %s", aws.ToString(k.AccessKeyId), k.Status)
		}
	}
}

func TestSchemaIAMPrintsTheCommittedSchema(t *testing.T) {
	inAccount(t)
	r := elevator(t, "", "schema", "iam")
	mustSucceed(t, r)
	committed, err := os.ReadFile("../../schemas/iam.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(committed) {
		t.Error("`elevator schema iam` differs from schemas/iam.schema.json")
	}
}

func TestIAMBadFlagsAreInvalidInput(t *testing.T) {
	inAccount(t)
	file := iamFiles(t, iamFile, readLogs)
	for _, args := range [][]string{
		{"iam", "plan"},
		{"iam", "plan", "-f", filepath.Join(t.TempDir(), "missing.yml")},
		{"iam", "apply", "-f", file, "--orbit", "nowhere", "--orbit-file", filepath.Join(t.TempDir(), "none.yml")},
		{"iam", "keys", "-f", file, "--deactivate", "short"},
		{"iam", "plan", "-f", file, "extra"},
	} {
		if r := elevator(t, "", args...); r.code != 2 {
			t.Errorf("%v: exit %d; want 2\n%s", args, r.code, r.stderr)
		}
	}
}
