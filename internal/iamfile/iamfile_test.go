package iamfile

// These tests run against a real moto server (emulatortest), each in an
// account of its own: IAM is global, and moto keeps paths.

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/iampolicy"
	"github.com/elevatorhq/elevator/internal/manifest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

const files = `path: /elevator-iam/
policies:
  - name: read-logs
    description: read the logs
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: [logs:Get*, logs:DescribeLogGroups]
          Resource: "*"
groups:
  - name: developers
    policies: [read-logs]
    inline:
      s3-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]}
users:
  - name: alice
    groups: [developers]
    inline:
      sqs: {Version: "2012-10-17", Statement: {Effect: Allow, Action: [sqs:SendMessage], Resource: "*"}}
  - name: bob
roles:
  - name: ci
    description: CI
    max_session: 4h
    policies: [read-logs]
    trust:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: ec2.amazonaws.com}
          Action: sts:AssumeRole
`

func parse(t testing.TB, yml string) *elevator.IAMFile {
	t.Helper()
	f, err := manifest.ParseIAM("iam.yml", []byte(yml), func(string) ([]byte, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// motoAccount is the adapter over moto, with fakes for what moto 5.2
// does not serve: ListServiceSpecificCredentials (the fake returns
// serviceCreds[user]), and ListEntitiesForPolicy's PolicyUsageFilter,
// which moto ignores, answering with the policy's attachments (the fake
// returns boundaries[arn]).
type motoAccount struct {
	*iam.Client
	serviceCreds map[string][]string
	boundaries   map[string][]string
}

func (m *motoAccount) PolicyBoundaryUsers(_ context.Context, arn string) ([]string, error) {
	return m.boundaries[arn], nil
}

func (m *motoAccount) ServiceCredentials(_ context.Context, user string) ([]string, error) {
	return m.serviceCreds[user], nil
}

func newAccount(cfg aws.Config) *motoAccount { return &motoAccount{Client: iam.New(cfg)} }

func plan(t *testing.T, acct Account, id string, f *elevator.IAMFile) *Plan {
	t.Helper()
	p, err := MakePlan(context.Background(), acct, Input{File: f, AccountID: id, Partition: "aws"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func apply(t *testing.T, acct Account, p *Plan) Result {
	t.Helper()
	r, err := Apply(context.Background(), acct, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const outsideTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func TestApplyTwiceChangesNothingTheSecondTimeAndLeavesWhatIsOutsideThePath(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	// A role outside the owned path, with an inline and an attached policy.
	if _, err := sdk.CreateRole(ctx, &iamsdk.CreateRoleInput{RoleName: aws.String("outside"), Path: aws.String("/"), AssumeRolePolicyDocument: aws.String(outsideTrust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.PutRolePolicy(ctx, &iamsdk.PutRolePolicyInput{RoleName: aws.String("outside"), PolicyName: aws.String("keep"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	outsidePolicy, err := sdk.CreatePolicy(ctx, &iamsdk.CreatePolicyInput{PolicyName: aws.String("outside-policy"), Path: aws.String("/"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.AttachRolePolicy(ctx, &iamsdk.AttachRolePolicyInput{RoleName: aws.String("outside"), PolicyArn: outsidePolicy.Policy.Arn}); err != nil {
		t.Fatal(err)
	}

	f := parse(t, files)
	first := plan(t, acct, id, f)
	if len(first.Changes) != 5 || len(first.Blockers) != 0 {
		t.Fatalf("first plan:\n%s", changes(first))
	}
	for _, c := range first.Changes {
		if c.Op != OpCreate {
			t.Errorf("first plan: %s; want only creations", c)
		}
	}
	r := apply(t, acct, first)
	if len(r.Done) != 5 {
		t.Errorf("done %v; want the 5 changes", r.Done)
	}

	second := plan(t, acct, id, f)
	if !second.Empty() || second.Unchanged != 5 {
		t.Fatalf("second plan has changes (unchanged %d):\n%s", second.Unchanged, changes(second))
	}
	if r := apply(t, acct, second); len(r.Done) != 0 {
		t.Errorf("second apply did %v", r.Done)
	}

	// Read back what apply made.
	role, err := sdk.GetRole(ctx, &iamsdk.GetRoleInput{RoleName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(role.Role.Path) != "/elevator-iam/" || aws.ToInt32(role.Role.MaxSessionDuration) != 4*3600 || aws.ToString(role.Role.Description) != "CI" {
		t.Errorf("role ci = path %s, max session %d, description %q", aws.ToString(role.Role.Path), aws.ToInt32(role.Role.MaxSessionDuration), aws.ToString(role.Role.Description))
	}
	groups, err := sdk.ListGroupsForUser(ctx, &iamsdk.ListGroupsForUserInput{UserName: aws.String("alice")})
	if err != nil || len(groups.Groups) != 1 || aws.ToString(groups.Groups[0].GroupName) != "developers" {
		t.Errorf("alice's groups = %v, %v", groups, err)
	}

	// The role outside the path is as it was.
	assertOutsideRole(t, sdk, aws.ToString(outsidePolicy.Policy.Arn))
}

func assertOutsideRole(t *testing.T, sdk *iamsdk.Client, policyARN string) {
	t.Helper()
	ctx := context.Background()
	got, err := sdk.GetRole(ctx, &iamsdk.GetRoleInput{RoleName: aws.String("outside")})
	if err != nil {
		t.Fatalf("role outside the path: %v", err)
	}
	trust, err := iampolicy.Decode(aws.ToString(got.Role.AssumeRolePolicyDocument))
	want, _ := iampolicy.Decode(outsideTrust)
	if err != nil || iampolicy.Canonical(trust) != iampolicy.Canonical(want) {
		t.Errorf("outside role's trust = %s", aws.ToString(got.Role.AssumeRolePolicyDocument))
	}
	inline, err := sdk.ListRolePolicies(ctx, &iamsdk.ListRolePoliciesInput{RoleName: aws.String("outside")})
	if err != nil || len(inline.PolicyNames) != 1 || inline.PolicyNames[0] != "keep" {
		t.Errorf("outside role's inline policies = %v, %v", inline, err)
	}
	attached, err := sdk.ListAttachedRolePolicies(ctx, &iamsdk.ListAttachedRolePoliciesInput{RoleName: aws.String("outside")})
	if err != nil || len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != policyARN {
		t.Errorf("outside role's attached policies = %v, %v", attached, err)
	}
}

func changes(p *Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		b.WriteString(c.String() + "\n")
	}
	for _, x := range p.Blockers {
		b.WriteString("blocker: " + x + "\n")
	}
	return b.String()
}

func TestPlanUpdatesAndDeletesWhatTheFilesNoLongerSay(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	apply(t, acct, plan(t, acct, id, parse(t, files)))

	// Six document changes: the policy reaches IAM's five versions and
	// the oldest goes.
	yml := files
	for n := range 6 {
		next := strings.Replace(yml, "logs:DescribeLogGroups", "logs:DescribeLogStreams", 1)
		if n%2 == 1 {
			next = strings.Replace(yml, "logs:DescribeLogStreams", "logs:DescribeLogGroups", 1)
		}
		yml = next
		p := plan(t, acct, id, parse(t, yml))
		if len(p.Changes) != 1 || p.Changes[0].Kind != elevator.IAMKindPolicy || p.Changes[0].Op != OpUpdate {
			t.Fatalf("plan after changing the document:\n%s", changes(p))
		}
		apply(t, acct, p)
	}
	arn := "arn:aws:iam::" + id + ":policy/elevator-iam/read-logs"
	if n, err := acct.PolicyVersions(ctx, arn); err != nil || n != 5 {
		t.Errorf("read-logs has %d versions (%v); want IAM's 5", n, err)
	}

	// Bob goes, alice leaves the group and loses her inline policy; the
	// role's trust and session change.
	smaller := strings.Replace(files, "  - name: bob\n", "", 1)
	smaller = strings.Replace(smaller, "    groups: [developers]\n    inline:\n      sqs: {Version: \"2012-10-17\", Statement: {Effect: Allow, Action: [sqs:SendMessage], Resource: \"*\"}}\n", "", 1)
	smaller = strings.Replace(smaller, "max_session: 4h", "max_session: 2h", 1)
	smaller = strings.Replace(smaller, "ec2.amazonaws.com", "ecs-tasks.amazonaws.com", 1)
	p := plan(t, acct, id, parse(t, smaller))
	got := changes(p)
	for _, want := range []string{
		"update user alice: delete inline policy sqs; leave group developers",
		"update role ci: max session 4h0m0s → 2h0m0s; trust policy",
		"delete user bob",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan:\n%s\nwant a line %q", got, want)
		}
	}
	apply(t, acct, p)
	if again := plan(t, acct, id, parse(t, smaller)); !again.Empty() {
		t.Errorf("plan after apply:\n%s", changes(again))
	}
	if _, err := sdk.GetUser(ctx, &iamsdk.GetUserInput{UserName: aws.String("bob")}); err == nil {
		t.Error("user bob is still there")
	}

	// An empty file deletes everything under the path.
	p = plan(t, acct, id, parse(t, "path: /elevator-iam/\n"))
	apply(t, acct, p)
	inv, err := acct.Owned(ctx, "/elevator-iam/")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(inv.Policies) + len(inv.Groups) + len(inv.Users) + len(inv.Roles); n != 0 {
		t.Errorf("left under the path after an empty file: %+v", inv)
	}
}

func TestPlanRefusesWhatItMustNotTouch(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	// ci exists outside the path; a user under the path has an access key;
	// a role under the path that the files do not name is in an instance
	// profile.
	if _, err := sdk.CreateRole(ctx, &iamsdk.CreateRoleInput{RoleName: aws.String("ci"), Path: aws.String("/"), AssumeRolePolicyDocument: aws.String(outsideTrust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String("carol"), Path: aws.String("/elevator-iam/")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.CreateAccessKey(ctx, &iamsdk.CreateAccessKeyInput{UserName: aws.String("carol")}); err != nil {
		t.Fatal(err)
	}
	p := plan(t, acct, id, parse(t, files))
	got := strings.Join(p.Blockers, "\n")
	for _, want := range []string{"role ci is in the files, but the account has a role of that name at path /", "user carol is to be deleted", "1 access key(s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("blockers:\n%s\nwant %q", got, want)
		}
	}
	_, err := Apply(ctx, acct, p, nil)
	if elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Fatalf("apply with blockers: %v; want ECONFLICT", err)
	}
	inv, err := acct.Owned(ctx, "/elevator-iam/")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Policies)+len(inv.Groups)+len(inv.Roles) != 0 || len(inv.Users) != 1 {
		t.Errorf("apply with blockers changed the account: %+v", inv)
	}
}

func TestDocumentsFromIAMCompareCanonically(t *testing.T) {
	// IAM returns documents URL-encoded, with its own key order, and a
	// single action as a string.
	mine := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": []any{"s3:GetObject"}, "Resource": "*",
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": true}}}}}
	theirs := url.PathEscape(`{"Statement":{"Resource":["*"],"Action":"s3:GetObject","Effect":"Allow","Condition":{"Bool":{"aws:SecureTransport":"true"}}},"Version":"2012-10-17"}`)
	got, err := iampolicy.Decode(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if iampolicy.Canonical(got) != iampolicy.Canonical(mine) {
		t.Errorf("canonical forms differ:\n%s\n%s", iampolicy.Canonical(got), iampolicy.Canonical(mine))
	}
	other := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}}}
	if iampolicy.Canonical(other) == iampolicy.Canonical(mine) {
		t.Error("an Allow and a Deny have the same canonical form")
	}

	// A trust policy from the files, numbers and a bare account id as
	// written, and as IAM returns it: a number as a JSON number, the
	// account as its root's ARN.
	f := parse(t, "path: /elevator-iam/\nroles:\n  - name: r\n    trust: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: sts:AssumeRole, Principal: {AWS: 111122223333}, Condition: {StringEquals: {aws:PrincipalAccount: 111122223333}, NumericLessThan: {aws:MultiFactorAuthAge: 3600}}}]}\n")
	trust := f.Roles[0].Trust
	fromIAM, err := iampolicy.Decode(url.PathEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"StringEquals":{"aws:PrincipalAccount":111122223333}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if iampolicy.Canonical(fromIAM) != iampolicy.Canonical(trust) {
		t.Errorf("canonical forms differ:\n%s\n%s", iampolicy.Canonical(fromIAM), iampolicy.Canonical(trust))
	}
}

func TestAUsersGroupOutsideThePathIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	f := parse(t, files)
	apply(t, acct, plan(t, acct, id, f))
	if _, err := sdk.CreateGroup(ctx, &iamsdk.CreateGroupInput{GroupName: aws.String("auditors"), Path: aws.String("/")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.AddUserToGroup(ctx, &iamsdk.AddUserToGroupInput{GroupName: aws.String("auditors"), UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if p := plan(t, acct, id, f); !p.Empty() {
		t.Errorf("a membership of a group outside the path shows in the plan:\n%s", changes(p))
	}
	groups, err := sdk.ListGroupsForUser(ctx, &iamsdk.ListGroupsForUserInput{UserName: aws.String("alice")})
	if err != nil || len(groups.Groups) != 2 {
		t.Errorf("alice's groups: %v, %v; want developers and auditors", groups, err)
	}
}

// failingAccount is a fault-injecting fake over the real adapter (moto
// cannot be made to fail one call): AddToGroup fails once.
type failingAccount struct {
	*motoAccount
	failed bool
}

func (f *failingAccount) AddToGroup(ctx context.Context, user, group string) error {
	if !f.failed {
		f.failed = true
		return elevator.Errorf(elevator.EAWS, "add user %s to group %s: injected failure", user, group)
	}
	return f.motoAccount.AddToGroup(ctx, user, group)
}

func TestApplyStopsAtAFailureAndTheNextApplyFinishes(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	acct := newAccount(cfg)
	f := parse(t, files)
	p := plan(t, acct, id, f)
	var calls []string
	r, err := Apply(ctx, &failingAccount{motoAccount: acct}, p, func(c Change, what string) { calls = append(calls, c.Name+": "+what) })
	if elevator.ErrorCode(err) != elevator.EAWS || r.Failed == nil || r.Failed.Name != "alice" {
		t.Fatalf("apply: %v, failed %+v; want alice's join to fail", err, r.Failed)
	}
	if last := calls[len(calls)-1]; last != "alice: join group developers" {
		t.Errorf("apply went on after the failure: last call %q", last)
	}
	for _, c := range r.Done {
		if c.Name == "alice" {
			t.Errorf("alice counted done: %v", r.Done)
		}
	}
	rest := plan(t, acct, id, f)
	// What was left: alice's group, and ci's policy, attached after it.
	if got := changes(rest); got != "update user alice: join group developers\nupdate role ci: attach arn:aws:iam::"+id+":policy/elevator-iam/read-logs\n" {
		t.Fatalf("plan after the failure:\n%s", changes(rest))
	}
	apply(t, acct, rest)
	if again := plan(t, acct, id, f); !again.Empty() {
		t.Errorf("plan after the second apply:\n%s", changes(again))
	}
}

func TestPlanRefusesToDeleteAUserHoldingCredentials(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	for _, u := range []string{"dave", "erin", "frank"} {
		if _, err := sdk.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String(u), Path: aws.String("/elevator-iam/")}); err != nil {
			t.Fatal(err)
		}
	}
	// dave has an MFA device and an SSH key (moto serves both); erin a
	// service-specific credential (from the fake: moto has none); frank
	// nothing, and a group outside the path.
	mfa, err := sdk.CreateVirtualMFADevice(ctx, &iamsdk.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("dave-phone")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.EnableMFADevice(ctx, &iamsdk.EnableMFADeviceInput{UserName: aws.String("dave"), SerialNumber: mfa.VirtualMFADevice.SerialNumber, AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.UploadSSHPublicKey(ctx, &iamsdk.UploadSSHPublicKeyInput{UserName: aws.String("dave"), SSHPublicKeyBody: aws.String(sshKey)}); err != nil {
		t.Fatal(err)
	}
	acct.serviceCreds = map[string][]string{"erin": {"service-specific credential ACCA0000000000000001 (codecommit.amazonaws.com)"}}
	if _, err := sdk.CreateGroup(ctx, &iamsdk.CreateGroupInput{GroupName: aws.String("auditors"), Path: aws.String("/")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.AddUserToGroup(ctx, &iamsdk.AddUserToGroupInput{GroupName: aws.String("auditors"), UserName: aws.String("frank")}); err != nil {
		t.Fatal(err)
	}
	p := plan(t, acct, id, parse(t, files))
	got := strings.Join(p.Blockers, "\n")
	for _, want := range []string{"user dave is to be deleted", "MFA device " + aws.ToString(mfa.VirtualMFADevice.SerialNumber), "SSH public key ", "user erin is to be deleted", "service-specific credential ACCA0000000000000001"} {
		if !strings.Contains(got, want) {
			t.Errorf("blockers:\n%s\nwant %q", got, want)
		}
	}
	if strings.Contains(got, "frank") {
		t.Errorf("frank holds nothing, yet:\n%s", got)
	}
	if !strings.Contains(changes(p), "delete user frank: leave group auditors (outside path)") {
		t.Errorf("plan:\n%s\nwant frank's deletion to say it leaves auditors, outside the path", changes(p))
	}
	if _, err := Apply(ctx, acct, p, nil); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Fatalf("apply: %v; want ECONFLICT", err)
	}
	for _, u := range []string{"dave", "erin", "frank"} {
		if _, err := sdk.GetUser(ctx, &iamsdk.GetUserInput{UserName: aws.String(u)}); err != nil {
			t.Errorf("user %s: %v; want it left as it was", u, err)
		}
	}
}

// sshKey is an SSH public key for moto to hold (not used to log in).
const sshKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA3ZfSe+mGPyqFqlzmsQxK9H0JSlzf5M2xWDL2kQ5bPzBJ6zTTr1z9yAwhOK7dFyGGsybXzu4UcEe5fzCRbhFvu5Jz+g2NLUH/XXJfnRBUK+RS3v2RkWQSfiE3xJAw+9eUdbp4LvUDeHbCVNkKy6s+gCaIuHnMRAHYYZbOvTj3nmhQsqA/YGiw1SLZp6J5BmJdOzi1uF7kaL5J1DHuqYDbIdAkdBPFx3hXy8PW7SJhNz3gYaUnLUOkLDAcKxB4HHNqw+kpvq/Rn0mOW9bq+5lBBYc4oTw0Cy9+S/Iq5KoEi5a+pKL9GhtAw3T2lsbOXdhbPjZRo2EZtwxrh elevator-test"

func TestANameInTheFilesInAnotherCaseIsTheAccountsOwn(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	// The account has Bob under the path; the files say bob. IAM takes
	// them for one user: neither created nor deleted, but refused.
	if _, err := sdk.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String("Bob"), Path: aws.String("/elevator-iam/")}); err != nil {
		t.Fatal(err)
	}
	p := plan(t, acct, id, parse(t, files))
	if got := strings.Join(p.Blockers, "\n"); !strings.Contains(got, "user bob is in the files, but the account has it as Bob") {
		t.Errorf("blockers:\n%s\nwant bob refused as the account's Bob", got)
	}
	for _, c := range p.Changes {
		if strings.EqualFold(c.Name, "bob") {
			t.Errorf("plan changes %s", c)
		}
	}
}

func TestPlanRefusesToDeleteAPolicyThatIsAPermissionsBoundary(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	id := emulatortest.AccountID(cfg)
	sdk := iamsdk.NewFromConfig(cfg)
	acct := newAccount(cfg)
	f := parse(t, files)
	apply(t, acct, plan(t, acct, id, f))
	// guard is under the path and not in the files: to be deleted. The
	// role ci, kept, has it as its boundary (from the fake: moto keeps
	// no boundary use).
	guard, err := sdk.CreatePolicy(ctx, &iamsdk.CreatePolicyInput{PolicyName: aws.String("guard"), Path: aws.String("/elevator-iam/"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(guard.Policy.Arn)
	acct.boundaries = map[string][]string{arn: {"role/ci"}}
	p := plan(t, acct, id, f)
	if got := strings.Join(p.Blockers, "\n"); !strings.Contains(got, "policy guard is to be deleted") || !strings.Contains(got, "permissions boundary of role/ci") {
		t.Errorf("blockers:\n%s\nwant guard refused as ci's boundary", got)
	}
	if _, err := Apply(ctx, acct, p, nil); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Fatalf("apply: %v; want ECONFLICT", err)
	}
	if _, err := sdk.GetPolicy(ctx, &iamsdk.GetPolicyInput{PolicyArn: &arn}); err != nil {
		t.Errorf("guard: %v; want it left", err)
	}
	// Once the boundary is gone, guard goes.
	acct.boundaries = nil
	apply(t, acct, plan(t, acct, id, f))
	if _, err := sdk.GetPolicy(ctx, &iamsdk.GetPolicyInput{PolicyArn: &arn}); err == nil {
		t.Error("guard is still there")
	}
}
