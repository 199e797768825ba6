package cli_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// otherAccount is a second account in the package's emulator, with a role
// Elevator may assume from the test's own account (moto's AssumeRole does
// not read trust policies: the role is there as an account would have it).
// It returns the account's id and a config that reads it back.
func otherAccount(t *testing.T, from *emulatortest.Account) (id string, cfg aws.Config) {
	t.Helper()
	cfg = emulatortest.Config(t, "us-east-1")
	id = emulatortest.AccountID(cfg)
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, from.ID)
	if _, err := iamsdk.NewFromConfig(cfg).CreateRole(context.Background(), &iamsdk.CreateRoleInput{
		RoleName: aws.String("elevator"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	return id, cfg
}

// orbitIn reports whether account cfg has orbit name's stack in its
// region, and how many VPCs tagged with the orbit.
func orbitIn(t *testing.T, cfg aws.Config, name string) (stack bool, vpcs int) {
	t.Helper()
	ctx := context.Background()
	out, err := cfn.NewFromConfig(cfg).DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("elevator-orbit-" + name)})
	stack = err == nil && len(out.Stacks) == 1 && out.Stacks[0].StackStatus != "DELETE_COMPLETE"
	v, err := ec2sdk.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{name}}}})
	if err != nil {
		t.Fatalf("describe vpcs: %v", err)
	}
	return stack, len(v.Vpcs)
}

// An orbit in account B, used with account A's credentials, assumes its
// role and acts in B: the stack and VPC are in B, none in A.
func TestOrbitInAnotherAccountAssumesItsRole(t *testing.T) {
	a := inAccount(t)
	b, bcfg := otherAccount(t, a)
	file, name := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {cidr: 10.61.0.0/16}\n  eu-west-1: {cidr: 10.62.0.0/16}\nnetwork: {nat: none}\naccount:\n  id: %q\n  role: arn:aws:iam::%s:role/elevator\n", b, b))

	r := elevator(t, "", "orbit", "up", "-f", file)
	mustSucceed(t, r)
	if stack, vpcs := orbitIn(t, bcfg, name); !stack || vpcs != 1 {
		t.Errorf("account B (%s): stack %v, %d VPCs of the orbit; want the stack and 1 VPC", b, stack, vpcs)
	}
	if stack, vpcs := orbitIn(t, a.Config("us-east-1"), name); stack || vpcs != 0 {
		t.Errorf("account A (%s, the caller's): stack %v, %d VPCs of the orbit; want none", a.ID, stack, vpcs)
	}

	// The role is assumed once per command, before its first call in any
	// of the orbit's regions, and the account checked once.
	endpoint, assumes, identities, others := stsProxy(t, false)
	plan := run(t, endpoint, "", "orbit", "plan", "-f", file)
	mustSucceed(t, plan)
	t.Logf("figure: orbit plan of a two-region orbit through its role: %d AssumeRole, %d GetCallerIdentity, %d other calls", assumes.Load(), identities.Load(), others.Load())
	if assumes.Load() != 1 || identities.Load() != 2 || others.Load() == 0 {
		t.Errorf("orbit plan: %d AssumeRole and %d GetCallerIdentity calls; want 1 and 2 (the caller, then the role's session)", assumes.Load(), identities.Load())
	}

	// Read back through Elevator too: status in B, as B.
	st := elevator(t, "", "orbit", "status", "-f", file, "--output", "json")
	mustSucceed(t, st)
	if !strings.Contains(st.stdout, name) {
		t.Errorf("status:\n%s", st.stdout)
	}
}

// A wrong account is refused before any change, exit 2: behind a proxy
// that counts the calls (stsProxy), no call but STS's goes out.
func TestOrbitWithCredentialsForAnotherAccountIsRefused(t *testing.T) {
	a := inAccount(t)
	wrongCfg := emulatortest.Config(t, "us-east-1")
	wrong := emulatortest.AccountID(wrongCfg)
	file, name := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {cidr: 10.62.0.0/16}\nnetwork: {nat: none}\naccount: {id: %q}\n", wrong))
	endpoint, _, identities, others := stsProxy(t, false)
	for _, args := range [][]string{
		{"orbit", "up", "-f", file},
		{"orbit", "plan", "-f", file},
		{"orbit", "up", "-f", file, "--output", "json"},
	} {
		r := run(t, endpoint, "", args...)
		t.Logf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
		if r.code != cli.ExitInvalid {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, cli.ExitInvalid, r.stdout, r.stderr)
		}
		want := fmt.Sprintf("orbit %s lives in %s, your credentials are for %s", name, wrong, a.ID)
		out := r.stderr // --output json: the error is the answer, on stdout
		if slices.Contains(args, "json") {
			out = r.stdout
			if !strings.Contains(out, `"code": "invalid"`) && !strings.Contains(out, `"code":"invalid"`) {
				t.Errorf("%v: stdout\n%s\nwant the error as JSON with code invalid", args, out)
			}
		}
		if !strings.Contains(out, want) {
			t.Errorf("%v: output\n%s\nwant %q", args, out, want)
		}
	}
	if n := others.Load(); n != 0 || identities.Load() == 0 {
		t.Errorf("%d calls besides STS's went out (and %d GetCallerIdentity); want none but the account checks", n, identities.Load())
	}
	for _, cfg := range []aws.Config{a.Config("us-east-1"), wrongCfg} {
		if stack, vpcs := orbitIn(t, cfg, name); stack || vpcs != 0 {
			t.Errorf("account %s: stack %v, %d VPCs of the orbit; want nothing made", emulatortest.AccountID(cfg), stack, vpcs)
		}
	}
}

// stsProxy is a proxy in front of the emulator that counts STS's
// AssumeRole and GetCallerIdentity calls and the calls to other services;
// with deny, it is a fault-injecting proxy that refuses every AssumeRole
// as AWS does when the role's trust policy does not allow the caller
// (moto never refuses one).
func stsProxy(t *testing.T, deny bool) (endpoint string, assumes, identities, others *atomic.Int32) {
	t.Helper()
	target, err := url.Parse(emulatortest.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	assumes, identities, others = &atomic.Int32{}, &atomic.Int32{}, &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		form, _ := url.ParseQuery(string(body))
		switch form.Get("Action") {
		case "AssumeRole":
			assumes.Add(1)
			if deny {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>`+
					`<Message>User is not authorized to perform: sts:AssumeRole on resource</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
				return
			}
		case "GetCallerIdentity":
			identities.Add(1)
		default:
			others.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, assumes, identities, others
}

// A role that refuses the caller: a clear error naming the role and the
// caller, and no call but STS's.
func TestOrbitWhoseRoleRefusesTheCaller(t *testing.T) {
	a := inAccount(t)
	b, bcfg := otherAccount(t, a)
	role := "arn:aws:iam::" + b + ":role/elevator"
	file, name := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {cidr: 10.63.0.0/16}\nnetwork: {nat: none}\naccount: {id: %q, role: %q}\n", b, role))
	endpoint, _, _, others := stsProxy(t, true)
	r := run(t, endpoint, "", "orbit", "up", "-f", file)
	t.Logf("orbit up: exit %d, stderr:\n%s", r.code, r.stderr)
	if r.code != cli.ExitAWS {
		t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, cli.ExitAWS, r.stderr)
	}
	for _, want := range []string{"orbit " + name + ": ", "arn:aws:iam::" + a.ID + ":user/", "may not assume role " + role, "trust policy", "AccessDenied"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr\n%s\nwant %q", r.stderr, want)
		}
	}
	if n := others.Load(); n != 0 {
		t.Errorf("%d calls besides STS's went through", n)
	}
	if stack, vpcs := orbitIn(t, bcfg, name); stack || vpcs != 0 {
		t.Errorf("account B: stack %v, %d VPCs; want nothing made", stack, vpcs)
	}
}

// Bad account sections: file:line:col, exit 2, nothing made.
func TestOrbitBadAccountSection(t *testing.T) {
	a := inAccount(t)
	for _, tt := range []struct{ section, want string }{
		{"account: {id: \"1234\"}\n", `orbit.yml:5:15: account.id: "1234": `},
		{"account: {id: \"111122223333\", role: \"arn:aws:iam::444455556666:role/elevator\"}\n", `orbit.yml:5:37: account.role: "arn:aws:iam::444455556666:role/elevator": is a role of account 444455556666, not of account.id 111122223333`},
		{"account: {role: \"arn:aws:iam::111122223333:role/e\", external_id: \"no spaces\"}\n", `orbit.yml:5:66: account.external_id: "no spaces": `},
	} {
		file, name := manifest(t, "regions:\n  us-east-1: {cidr: 10.64.0.0/16}\nnetwork: {nat: none}\n"+tt.section)
		for _, verb := range []string{"validate", "up"} {
			r := elevator(t, "", "orbit", verb, "-f", file)
			if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("%s with %s: exit %d, stderr:\n%s\nwant exit %d and %q", verb, strings.TrimSpace(tt.section), r.code, r.stderr, cli.ExitInvalid, tt.want)
			}
		}
		if stack, vpcs := orbitIn(t, a.Config("us-east-1"), name); stack || vpcs != 0 {
			t.Errorf("stack %v, %d VPCs; want nothing made", stack, vpcs)
		}
	}
}

// A pipeline across two accounts: its first orbit is in the caller's
// account, its second in account B through B's role. Each orbit acts
// through its own configs: the second stage's release and the app's
// groups are in B, none in A.
func TestAPipelineReleasesIntoAnOrbitOfAnotherAccount(t *testing.T) {
	a := inAccount(t)
	b, bcfg := otherAccount(t, a)
	firstFile, first := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	secondFile, second := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {}\nnetwork: {nat: none}\naccount:\n  id: %q\n  role: arn:aws:iam::%s:role/elevator\n", b, b))
	appFile := filepath.Join(t.TempDir(), "app.yml")
	body := releaseApp + fmt.Sprintf("pipeline:\n  stages:\n    - orbit: %s\n    - orbit: %s\n      auto: true\n", first, second)
	if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]string{{first, firstFile}, {second, secondFile}} {
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", o[1]))
		flags := []string{"-f", appFile, "--orbit", o[0], "--orbit-file", o[1]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	r := elevator(t, "", "pipeline", "start", "--version", "1.0.0", "--poll-interval", "100ms", "-f", appFile,
		"--orbit-file", firstFile, "--orbit-file", secondFile, "--output", "json")
	e := execution(t, r)
	if e.states() != "Succeeded Succeeded Succeeded" || e.Stages[1].Releases[second] == "" {
		t.Fatalf("pipeline: %s %+v\nstderr:\n%s", e.states(), e.Stages, r.stderr)
	}
	groupsOf := func(cfg aws.Config, orbit string) int {
		out, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
			Filters: []astypes.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{orbit}}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.AutoScalingGroups)
	}
	if n := groupsOf(bcfg, second); n == 0 {
		t.Errorf("account B has no groups of orbit %s: the second stage did not release there", second)
	}
	if n := groupsOf(a.Config("us-east-1"), second); n != 0 {
		t.Errorf("account A has %d groups of orbit %s, which lives in B", n, second)
	}
	if n := groupsOf(a.Config("us-east-1"), first); n == 0 {
		t.Errorf("account A has no groups of orbit %s: the first stage did not release there", first)
	}
}

// TestADeployerReleasesIntoAnOrbitOfAnotherAccount: the first orbit's
// deployer (its own process, with account A's credentials) drives a
// pipeline whose second orbit lives in account B: it assumes B's role to
// submit the stage's release there, and B's deployer (with B's own
// credentials, assuming no role in its own orbit) runs it in B.
func TestADeployerReleasesIntoAnOrbitOfAnotherAccount(t *testing.T) {
	a := inAccount(t)
	b, bcfg := otherAccount(t, a)
	ctx := context.Background()
	api := iamsdk.NewFromConfig(bcfg)
	if _, err := api.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String("deployer")}); err != nil {
		t.Fatal(err)
	}
	key, err := api.CreateAccessKey(ctx, &iamsdk.CreateAccessKeyInput{UserName: aws.String("deployer")})
	if err != nil {
		t.Fatal(err)
	}
	firstAddr, secondAddr := freeAddr(t), freeAddr(t)
	first, firstName := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	// The first orbit's deployer releases into the second for a starter
	// who may deploy there: the starter's own ARN, in account A.
	starter := fmt.Sprintf("access:\n  - {role: deployer, principals: [\"arn:aws:iam::%s:user/elevator-test\"], apps: [shop]}\n", a.ID)
	second, secondName := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {}\nnetwork: {nat: none}\ndeployer: http://%s\naccount:\n  id: %q\n  role: arn:aws:iam::%s:role/elevator\n", secondAddr, b, b)+starter)
	appFile := filepath.Join(t.TempDir(), "app.yml")
	body := releaseApp + fmt.Sprintf("pipeline:\n  stages:\n    - orbit: %s\n    - {orbit: %s, auto: true}\n", firstName, secondName)
	if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]string{{first, firstName}, {second, secondName}} {
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", o[0]))
		flags := []string{"-f", appFile, "--orbit", o[1], "--orbit-file", o[0]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	url, dep := pipelineDeployer(t, firstName, first, firstAddr, emulatortest.Endpoint())
	// B's deployer runs with B's credentials, as it would in B.
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	os.Setenv("AWS_ACCESS_KEY_ID", aws.ToString(key.AccessKey.AccessKeyId))
	os.Setenv("AWS_SECRET_ACCESS_KEY", aws.ToString(key.AccessKey.SecretAccessKey))
	_, dep2 := pipelineDeployer(t, secondName, second, secondAddr, emulatortest.Endpoint())
	os.Setenv("AWS_ACCESS_KEY_ID", id)
	os.Setenv("AWS_SECRET_ACCESS_KEY", secret)

	pflags := []string{"-f", appFile, "--orbit-file", first, "--orbit-file", second, "--output", "json"}
	r := elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.0", "--deployer", url, "--watch", "--watch-interval", "200ms"}, pflags...)...)
	mustSucceed(t, r)
	lines := watchLines(t, r)
	if len(lines) == 0 {
		t.Fatalf("pipeline start --watch printed no change:\n%s%s", r.stdout, r.stderr)
	}
	exec := lines[0].Pipeline
	w := elevator(t, "", append([]string{"pipeline", "watch", exec, "--watch-interval", "200ms"}, pflags...)...)
	mustSucceed(t, w)
	e := execution(t, elevator(t, "", append([]string{"pipeline", "status", exec}, pflags...)...))
	rel, rel2 := e.Stages[0].Releases[firstName], e.Stages[1].Releases[secondName]
	if got := e.states(); got != "Succeeded Succeeded Succeeded" || rel == "" || rel2 == "" {
		t.Fatalf("after the deployers: %s %+v\nwatch: %s", got, e.Stages, moves(watchLines(t, w)))
	}
	if !dep.drove(t, rel) || !dep2.drove(t, rel2) {
		t.Errorf("the first orbit's deployer drove %s: %v; the second's (in B) drove %s: %v", rel, dep.drove(t, rel), rel2, dep2.drove(t, rel2))
	}
	// The second stage's release was submitted into B's state bucket, and
	// its record is in B's releases table: nothing of orbit B is in A.
	if stack, vpcs := orbitIn(t, a.Config("us-east-1"), secondName); stack || vpcs != 0 {
		t.Errorf("account A holds orbit %s's stack %v or %d VPCs", secondName, stack, vpcs)
	}
	out, err := dynamodb.NewFromConfig(bcfg).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(domain.ReleasesTableName(secondName))})
	if err != nil {
		t.Fatalf("B's releases table: %v", err)
	}
	found := false
	for _, item := range out.Items {
		for _, v := range item {
			if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok && strings.Contains(s.Value, rel2) {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("B's releases table (%d items) has no record of %s", len(out.Items), rel2)
	}
	dep.alive(t)
	dep2.alive(t)
}

// TestADeployerReachesAnOrbitOfItsOwnAccountWithItsOwnRole: the second
// orbit of a pipeline lives in the deployer's own account and its account
// section names a role there (for people and CI). The first orbit's
// deployer reaches it with its own role and assumes none: it runs behind
// a fault-injecting proxy (stsProxy with deny) that refuses every
// AssumeRole, as the role's trust policy would refuse the deployer, and
// the pipeline still goes through.
func TestADeployerReachesAnOrbitOfItsOwnAccountWithItsOwnRole(t *testing.T) {
	a := inAccount(t)
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, a.ID)
	if _, err := iamsdk.NewFromConfig(a.Config("us-east-1")).CreateRole(context.Background(), &iamsdk.CreateRoleInput{
		RoleName: aws.String("people"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	firstAddr, secondAddr := freeAddr(t), freeAddr(t)
	first, firstName := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	starter := fmt.Sprintf("access:\n  - {role: deployer, principals: [\"arn:aws:iam::%s:user/elevator-test\"], apps: [shop]}\n", a.ID)
	second, secondName := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {}\nnetwork: {nat: none}\ndeployer: http://%s\naccount:\n  id: %q\n  role: arn:aws:iam::%s:role/people\n", secondAddr, a.ID, a.ID)+starter)
	appFile := filepath.Join(t.TempDir(), "app.yml")
	body := releaseApp + fmt.Sprintf("pipeline:\n  stages:\n    - orbit: %s\n    - {orbit: %s, auto: true}\n", firstName, secondName)
	if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]string{{first, firstName}, {second, secondName}} {
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", o[0]))
		flags := []string{"-f", appFile, "--orbit", o[1], "--orbit-file", o[0]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	endpoint, assumes, _, _ := stsProxy(t, true)
	url, dep := pipelineDeployer(t, firstName, first, firstAddr, endpoint)
	_, dep2 := pipelineDeployer(t, secondName, second, secondAddr, endpoint)

	pflags := []string{"-f", appFile, "--orbit-file", first, "--orbit-file", second, "--output", "json"}
	r := elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.0", "--deployer", url, "--watch", "--watch-interval", "200ms"}, pflags...)...)
	mustSucceed(t, r)
	lines := watchLines(t, r)
	if len(lines) == 0 {
		t.Fatalf("pipeline start --watch printed no change:\n%s%s", r.stdout, r.stderr)
	}
	exec := lines[0].Pipeline
	w := elevator(t, "", append([]string{"pipeline", "watch", exec, "--watch-interval", "200ms"}, pflags...)...)
	mustSucceed(t, w)
	e := execution(t, elevator(t, "", append([]string{"pipeline", "status", exec}, pflags...)...))
	rel2 := e.Stages[1].Releases[secondName]
	if got := e.states(); got != "Succeeded Succeeded Succeeded" || rel2 == "" {
		t.Fatalf("after the deployers: %s %+v\nwatch: %s", got, e.Stages, moves(watchLines(t, w)))
	}
	if !dep2.drove(t, rel2) {
		t.Errorf("the second orbit's deployer did not drive %s", rel2)
	}
	if n := assumes.Load(); n != 0 {
		t.Errorf("the deployers asked for %d AssumeRole; want none in their own account", n)
	}
	dep.alive(t)
	dep2.alive(t)
}

// TestAPipelineFromAnotherAccountFindsAnOrbitOfTheCallersOwn: the first
// stage's orbit lives in account B (through its role), the second has no
// account section (the caller's credentials, account A). A decision in
// the second orbit (an approval) reads its settings as deployed from its
// state bucket in A, where it is, not in the account of the first orbit's
// role session.
func TestAPipelineFromAnotherAccountFindsAnOrbitOfTheCallersOwn(t *testing.T) {
	a := inAccount(t)
	b, _ := otherAccount(t, a)
	firstFile, first := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {}\nnetwork: {nat: none}\naccount:\n  id: %q\n  role: arn:aws:iam::%s:role/elevator\n", b, b))
	// The pipeline's caller is the first orbit's: the role's session in B.
	caller := "arn:aws:sts::" + b + ":assumed-role/elevator/elevator-test"
	secondFile, second := manifest(t, fmt.Sprintf("regions:\n  us-east-1: {}\nnetwork: {nat: none}\npipelines:\n  self_approval: true\naccess:\n  - {role: approver, principals: [%q]}\n", caller))
	appFile := filepath.Join(t.TempDir(), "app.yml")
	body := releaseApp + fmt.Sprintf("pipeline:\n  stages:\n    - orbit: %s\n    - orbit: %s\n      auto: true\n      approval: {roles: [approver]}\n", first, second)
	if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]string{{first, firstFile}, {second, secondFile}} {
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", o[1]))
		flags := []string{"-f", appFile, "--orbit", o[0], "--orbit-file", o[1]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	pflags := []string{"-f", appFile, "--orbit-file", firstFile, "--orbit-file", secondFile, "--output", "json"}
	e := execution(t, elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.0", "--poll-interval", "100ms"}, pflags...)...))
	if w := e.Stages[1].WaitingFor; len(w) != 1 || w[0] != domain.WaitApproval || e.Reviews[second] == "" {
		t.Fatalf("stage 2 waits for %v, reviews %v", w, e.Reviews)
	}
	r := elevator(t, "", append([]string{"pipeline", "approve", e.ID, "--stage", second, "--review", e.Reviews[second], "--reason", "ok"}, pflags...)...)
	t.Logf("approve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	if r.code != 0 {
		t.Errorf("the approval of stage %s: exit %d; want it approved with the settings orbit up recorded in account A:\n%s%s", second, r.code, r.stdout, r.stderr)
	}
}
