package cli_test

// End-to-end tests: the elevator command line, run in-process, against a
// real moto server started for this package (emulatortest.Main). Results
// are checked with the AWS SDK's own clients, not by reading Elevator's
// output alone.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	// As domain: elevator names the command-line helper here.
	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/orbit/orbittest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// result is what one run of the command line gave.
type result struct {
	stdout, stderr string
	code           int
}

// accounts holds the access key ids inAccount handed out.
var accounts sync.Map

// inAccount gives the test an AWS account of its own in the package's
// emulator: the command line finds the account's keys in the environment
// (so the test must not be parallel), and the test reads what it made with
// the SDK through acct.Config. Tests never see each other's resources.
func inAccount(t *testing.T) (acct *emulatortest.Account) {
	t.Helper()
	acct = emulatortest.NewAccount(t)
	accounts.Store(acct.AccessKeyID, acct)
	t.Setenv("AWS_ACCESS_KEY_ID", acct.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", acct.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("CI", "true")
	t.Setenv(domain.DeployerEnv, "") // release commands run in process unless a test says otherwise
	orbittest.FakeAgent(t)
	return acct
}

// elevator runs the command line with stdin against the package's
// emulator, in the test's account (see inAccount). It only reads the
// environment, so a test may run several at once from goroutines.
func elevator(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	if _, ok := accounts.Load(os.Getenv("AWS_ACCESS_KEY_ID")); !ok {
		t.Error("elevator: the test has no account of its own: call inAccount first")
		return result{code: -1}
	}
	return run(t, emulatortest.Endpoint(), stdin, args...)
}

// run runs the command line with stdin, sending AWS calls to endpoint
// unless args name one.
func run(t *testing.T, endpoint, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if !slices.Contains(args, "--endpoint-url") {
		args = append(args, "--endpoint-url", endpoint)
	}
	if args[0] == "orbit" && !slices.Contains(args, "--poll-interval") {
		args = append(args, "--poll-interval", "100ms") // the emulator's stacks settle at once
	}
	code := cli.Run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

// manifest writes an orbit manifest with a fresh name into a temp dir.
func manifest(t *testing.T, body string) (path, name string) {
	t.Helper()
	name = fmt.Sprintf("e2e-%06x", rand.Uint32()&0xffffff)
	path = filepath.Join(t.TempDir(), "orbit.yml")
	if err := os.WriteFile(path, []byte("name: "+name+"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, name
}

func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestOrbitUpTwiceThenPlanChangesNothing(t *testing.T) {
	inAccount(t)
	file, name := manifest(t, "regions:\n  us-east-1: {cidr: 10.31.0.0/16}\n  us-west-2: {}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n")

	first := elevator(t, "", "orbit", "up", "-f", file)
	mustSucceed(t, first)
	if !strings.Contains(first.stdout, "orbit "+name+" is up in us-east-1, us-west-2") {
		t.Errorf("first up:\n%s", first.stdout)
	}
	if !strings.Contains(first.stderr, "CREATE_COMPLETE") {
		t.Errorf("first up showed no progress:\n%s", first.stderr)
	}

	second := elevator(t, "", "orbit", "up", "-f", file)
	mustSucceed(t, second)
	if !strings.Contains(second.stdout, "orbit "+name+" is up to date: no changes") {
		t.Errorf("second up:\n%s", second.stdout)
	}

	plan := elevator(t, "", "orbit", "plan", "-f", file, "--output", "json")
	mustSucceed(t, plan)
	var doc struct {
		Plans []struct {
			Region    string `json:"region"`
			NoChanges bool   `json:"no_changes"`
		} `json:"plans"`
	}
	if err := json.Unmarshal([]byte(plan.stdout), &doc); err != nil {
		t.Fatalf("plan --output json is not JSON: %v\n%s", err, plan.stdout)
	}
	if len(doc.Plans) != 2 || !doc.Plans[0].NoChanges || !doc.Plans[1].NoChanges {
		t.Errorf("plan after up: %+v", doc.Plans)
	}
}

func TestPlanOfANewOrbitListsItsResourcesAndLeavesNothing(t *testing.T) {
	acct := inAccount(t)
	file, name := manifest(t, "regions:\n  eu-west-1: {}\nnetwork: {nat: single}\n")
	plan := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, plan)
	for _, want := range []string{"eu-west-1  elevator-orbit-" + name + "  (new stack)", "+ Vpc", "AWS::EC2::NatGateway", "Plan: "} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	_, err := cfn.NewFromConfig(acct.Config("eu-west-1")).DescribeStacks(context.Background(), &cfn.DescribeStacksInput{StackName: aws.String("elevator-orbit-" + name)})
	if err == nil {
		t.Error("plan left a stack behind")
	}
}

// TestOrbitUpBuildsTheNetworkItDescribes checks, with the SDK's EC2, S3 and
// DynamoDB clients, that every region has one subnet per zone per tier with
// the right blocks and tags, the NAT gateways its mode asks for, and
// Elevator's bucket and tables.
func TestOrbitUpBuildsTheNetworkItDescribes(t *testing.T) {
	acct := inAccount(t)
	file, name := manifest(t, `regions:
  us-east-1:
    cidr: 10.41.0.0/16
  eu-west-1:
    cidr: 10.42.0.0/16
    azs: [eu-west-1a, eu-west-1b]
    nat: single
  us-west-2:
    cidr: 10.43.0.0/16
    nat: none
`)
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", file))

	tests := []struct {
		region string
		nats   int
		want   map[string]string // tier/az -> cidr (a sample, checked exactly)
		zones  int
	}{
		{"us-east-1", 6, map[string]string{ // 6 zones: each /18 tier cut in 8 /21s
			"public/us-east-1a": "10.41.0.0/21", "public/us-east-1f": "10.41.40.0/21",
			"private/us-east-1a": "10.41.64.0/21", "data/us-east-1c": "10.41.144.0/21",
		}, 6},
		{"eu-west-1", 1, map[string]string{ // 2 zones: each /18 tier cut in 4 /20s
			"public/eu-west-1a": "10.42.0.0/20", "public/eu-west-1b": "10.42.16.0/20",
			"private/eu-west-1a": "10.42.64.0/20", "private/eu-west-1b": "10.42.80.0/20",
			"data/eu-west-1a": "10.42.128.0/20", "data/eu-west-1b": "10.42.144.0/20",
		}, 2},
		{"us-west-2", 0, map[string]string{"data/us-west-2d": "10.43.176.0/20"}, 4},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			cfg := acct.Config(tt.region)
			ec2c := ec2sdk.NewFromConfig(cfg)
			vpcs, err := ec2c.DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{name}}}})
			if err != nil || len(vpcs.Vpcs) != 1 {
				t.Fatalf("vpcs tagged for %s: %v %v", name, vpcs, err)
			}
			vpcID := aws.ToString(vpcs.Vpcs[0].VpcId)
			subnets, err := ec2c.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range subnets.Subnets {
				tags := map[string]string{}
				for _, tg := range s.Tags {
					tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
				if tags[domain.TagOrbit] != name || tags[domain.TagRegion] != tt.region || tags[domain.TagManagedBy] != domain.ManagedBy {
					t.Errorf("subnet %s tags: %v", aws.ToString(s.SubnetId), tags)
				}
				key := tags[domain.TagTier] + "/" + aws.ToString(s.AvailabilityZone)
				if _, dup := got[key]; dup {
					t.Errorf("two subnets for %s", key)
				}
				got[key] = aws.ToString(s.CidrBlock)
			}
			if len(got) != 3*tt.zones {
				keys := make([]string, 0, len(got))
				for k := range got {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				t.Errorf("%d subnets, want 3 tiers x %d zones: %v", len(got), tt.zones, keys)
			}
			for k, cidr := range tt.want {
				if got[k] != cidr {
					t.Errorf("subnet %s = %q, want %s", k, got[k], cidr)
				}
			}
			nats, err := ec2c.DescribeNatGateways(ctx, &ec2sdk.DescribeNatGatewaysInput{Filter: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(nats.NatGateways) != tt.nats {
				t.Errorf("%d NAT gateways, want %d", len(nats.NatGateways), tt.nats)
			}
			// Image builders run in the bake group: in the orbit's VPC,
			// tagged with the orbit, with no way in.
			sgs, err := ec2c.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
				{Name: aws.String("group-name"), Values: []string{domain.BakeSecurityGroupName(name)}}}})
			if err != nil || len(sgs.SecurityGroups) != 1 {
				t.Fatalf("bake security group %s: %v %v", domain.BakeSecurityGroupName(name), sgs, err)
			}
			sg := sgs.SecurityGroups[0]
			sgTags := map[string]string{}
			for _, tg := range sg.Tags {
				sgTags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			if aws.ToString(sg.VpcId) != vpcID || len(sg.IpPermissions) != 0 || sgTags[domain.TagOrbit] != name {
				t.Errorf("bake security group: VPC %s (want %s), ingress %v (want none), tags %v", aws.ToString(sg.VpcId), vpcID, sg.IpPermissions, sgTags)
			}
			bucket := domain.StateBucketName(acct.ID, tt.region, name)
			if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
				t.Errorf("state bucket %s: %v", bucket, err)
			}
			ddb := dynamodb.NewFromConfig(cfg)
			for _, table := range []string{domain.UsersTableName(name), domain.ServicesTableName(name), domain.LocksTableName(name), domain.ReleasesTableName(name)} {
				if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
					t.Errorf("table %s: %v", table, err)
				}
			}
		})
	}

	// The builders' instance profile, made once (IAM is global) by the
	// home region's stack.
	profile, err := iamsdk.NewFromConfig(acct.Config("us-east-1")).GetInstanceProfile(ctx, &iamsdk.GetInstanceProfileInput{
		InstanceProfileName: aws.String(domain.BakeInstanceProfileName(name))})
	if err != nil {
		t.Fatalf("bake instance profile %s: %v", domain.BakeInstanceProfileName(name), err)
	}
	if p := profile.InstanceProfile; aws.ToString(p.Path) != domain.BakeIAMPath(name) || len(p.Roles) != 1 ||
		aws.ToString(p.Roles[0].RoleName) != domain.BakeInstanceProfileName(name) || aws.ToString(p.Roles[0].Path) != domain.BakeIAMPath(name) {
		t.Errorf("bake instance profile on %s with roles %v; want on %s with role %s", aws.ToString(p.Path), p.Roles, domain.BakeIAMPath(name), domain.BakeInstanceProfileName(name))
	}

	status := elevator(t, "", "orbit", "status", "-f", file, "--region", "eu-west-1")
	mustSucceed(t, status)
	for _, want := range []string{"eu-west-1  elevator-orbit-" + name, "private  eu-west-1b  10.42.80.0/20", "NAT gateways (1)"} {
		if !strings.Contains(status.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, status.stdout)
		}
	}
	outputs := elevator(t, "", "orbit", "outputs", "-f", file, "--output", "json")
	mustSucceed(t, outputs)
	var doc struct {
		Outputs map[string]map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(outputs.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if out := doc.Outputs["eu-west-1"]; !strings.HasPrefix(out["VpcId"], "vpc-") || out["VpcCidr"] != "10.42.0.0/16" ||
		len(strings.Split(out["PrivateSubnets"], ",")) != 2 || out["AvailabilityZones"] != "eu-west-1a,eu-west-1b" ||
		!strings.HasPrefix(out["PublicLoadBalancerSecurityGroup"], "sg-") || out["LocksTable"] != domain.LocksTableName(name) {
		t.Errorf("eu-west-1 outputs: %v", out)
	}
}

func stackExists(t *testing.T, acct *emulatortest.Account, region, stack string) bool {
	t.Helper()
	out, err := cfn.NewFromConfig(acct.Config(region)).DescribeStacks(context.Background(), &cfn.DescribeStacksInput{StackName: aws.String(stack)})
	return err == nil && len(out.Stacks) == 1 && out.Stacks[0].StackStatus != "DELETE_COMPLETE"
}

func TestOrbitDownRefusesAProtectedOrbit(t *testing.T) {
	acct := inAccount(t)
	file, name := manifest(t, "protect: true\nregions:\n  us-east-2: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", file))
	for _, args := range [][]string{{"orbit", "down", "-f", file}, {"orbit", "down", "-f", file, "--yes"}} {
		r := elevator(t, name+"\n", args...)
		if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "orbit "+name+" is protected (protect: true at "+file+":2:10)") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "Type the orbit's name") {
			t.Errorf("%v asked for a confirmation it would not act on", args)
		}
	}
	if !stackExists(t, acct, "us-east-2", "elevator-orbit-"+name) {
		t.Error("the protected orbit's stack is gone")
	}
}

func TestOrbitDownAsksBeforeDeleting(t *testing.T) {
	acct := inAccount(t)
	file, name := manifest(t, "regions:\n  ca-central-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", file))
	stack := "elevator-orbit-" + name

	no := elevator(t, "no\n", "orbit", "down", "-f", file)
	if no.code != cli.ExitInterrupted || !strings.Contains(no.stderr, "Type the orbit's name to confirm") || !strings.Contains(no.stderr, "not confirmed: nothing was deleted") {
		t.Errorf("answer no: exit %d, stderr:\n%s", no.code, no.stderr)
	}
	if !stackExists(t, acct, "ca-central-1", stack) {
		t.Fatal("the stack went without confirmation")
	}
	silent := elevator(t, "", "orbit", "down", "-f", file)
	if silent.code != cli.ExitInterrupted || !stackExists(t, acct, "ca-central-1", stack) {
		t.Errorf("no answer at all: exit %d, stack kept: %v", silent.code, stackExists(t, acct, "ca-central-1", stack))
	}

	yes := elevator(t, name+"\n", "orbit", "down", "-f", file)
	// moto cannot delete a VPC stack's route tables: DeleteStack answers
	// DependencyViolation (exit 4) yet drops the stack. That the deletion
	// completes on AWS is tested with a fake CloudFormation in
	// internal/apply (TestDeleteFollowsTheStackUntilItIsGone).
	if yes.code != 0 && !strings.Contains(yes.stderr, "DependencyViolation") {
		t.Errorf("answer with the name: exit %d, stderr:\n%s", yes.code, yes.stderr)
	}
	if stackExists(t, acct, "ca-central-1", stack) {
		t.Error("the stack is still there after confirming")
	}
}

func TestAnInvalidManifestExitsTwoWithPositions(t *testing.T) {
	inAccount(t)
	path := filepath.Join(t.TempDir(), "orbit.yml")
	os.WriteFile(path, []byte("name: x\nregions:\n  us-east-1: {cidr: 10.0.0.1/16}\n  moon-1: {}\n"), 0o644)

	text := elevator(t, "", "orbit", "plan", "-f", path)
	if text.code != cli.ExitInvalid {
		t.Errorf("exit %d, want %d", text.code, cli.ExitInvalid)
	}
	for _, want := range []string{path + ":3:21: regions.us-east-1.cidr: \"10.0.0.1/16\": has host bits set; did you mean 10.0.0.0/16?", path + ":4:3: regions.moon-1"} {
		if !strings.Contains(text.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, text.stderr)
		}
	}

	js := elevator(t, "", "orbit", "plan", "-f", path, "-o", "json")
	var doc struct {
		Error struct {
			Code   string `json:"code"`
			Fields []struct {
				Line, Column int
				Path         string
			} `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatalf("json error output: %v\n%s", err, js.stdout)
	}
	if js.code != cli.ExitInvalid || doc.Error.Code != "invalid" || len(doc.Error.Fields) != 2 || doc.Error.Fields[0].Line != 3 || doc.Error.Fields[0].Column != 21 {
		t.Errorf("exit %d, error %+v", js.code, doc.Error)
	}
}

func TestUsageErrorsAreInvalidInput(t *testing.T) {
	inAccount(t)
	for _, args := range [][]string{{"orbit", "up", "--no-such-flag"}, {"orbit", "up", "extra"}, {"version", "-o", "yaml"}, {"schema", "release"}, {"schema"}, {"release", "status"}, {"no-such-command"}} {
		if r := elevator(t, "", args...); r.code != cli.ExitInvalid {
			t.Errorf("%v: exit %d, want %d; stderr %s", args, r.code, cli.ExitInvalid, r.stderr)
		}
	}
}

func TestSchemaPrintsTheCommittedSchemas(t *testing.T) {
	inAccount(t)
	for _, name := range []string{"orbit", "app"} {
		r := elevator(t, "", "schema", name)
		mustSucceed(t, r)
		committed, err := os.ReadFile("../../schemas/" + name + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(committed) {
			t.Errorf("`elevator schema %s` differs from schemas/%s.schema.json", name, name)
		}
	}
}

func TestNoCredentialsSaysHowToGetSome(t *testing.T) {
	file, _ := manifest(t, "regions:\n  us-east-1: {}\n")
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none")} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"orbit", "plan", "-f", file}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitInvalid || !strings.Contains(stderr.String(), "no usable AWS credentials") || !strings.Contains(stderr.String(), "elevator local up") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

// TestALocalEmulatorThatDoesNotAnswerIsToldFromOneThatIsNotRunning pauses a
// real moto_server with SIGSTOP, as a laptop's sleep or a debugger would.
func TestALocalEmulatorThatDoesNotAnswerIsToldFromOneThatIsNotRunning(t *testing.T) {
	t.Setenv("ELEVATOR_STATE_DIR", t.TempDir())
	path, err := emulator.FindMotoServer()
	if err != nil {
		t.Fatal(err)
	}
	s, err := emulator.Start(context.Background(), emulator.Options{Path: path, Detach: true, LogFile: filepath.Join(t.TempDir(), "moto.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(s.PID, syscall.SIGCONT)
		_ = s.Stop(context.Background())
	})
	if err := emulator.SaveState(s.State()); err != nil {
		t.Fatal(err)
	}
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\n")
	list := []string{"release", "list", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--local"}
	if err := syscall.Kill(s.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), list, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitAWS || !strings.Contains(stderr.String(), "does not answer at "+s.Endpoint) {
		t.Errorf("paused: exit %d, stderr %q; want exit 4 saying it does not answer at %s", code, stderr.String(), s.Endpoint)
	}
	if err := syscall.Kill(s.PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	code = cli.Run(context.Background(), list, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitNotFound || !strings.Contains(stderr.String(), "not running; start it with: elevator local up") {
		t.Errorf("stopped: exit %d, stderr %q; want exit 5 saying it is not running", code, stderr.String())
	}
}
