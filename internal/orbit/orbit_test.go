package orbit

// These tests run the orbit service against a real moto server, each in an
// account of its own (emulatortest.Config).

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/aws/route53"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/progress"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// service returns a Service whose regions all call one fresh account,
// with fake agent builds (fakeAgent).
func service(t *testing.T) (*Service, func(region string) aws.Config) {
	fakeAgent(t)
	account := emulatortest.Config(t, "us-east-1")
	cfgFor := func(region string) aws.Config {
		cfg := account.Copy()
		cfg.Region = region
		return cfg
	}
	return &Service{
		Clients: func(region string) (Clients, error) {
			cfg := cfgFor(region)
			return Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), Parameters: ssm.New(cfg), Objects: s3.New(cfg)}, nil
		},
		Zones:    route53.New(account),
		Progress: progress.Discard(),
		Poller:   apply.Poller{Clock: elevator.SystemClock{}, Interval: 0, Timeout: 0},
	}, cfgFor
}

func parse(t *testing.T, src string) *elevator.Orbit {
	t.Helper()
	o, err := manifest.ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAnAllocatedVPCBlockAvoidsTheRegionsVPCsAndStaysPut(t *testing.T) {
	svc, cfgFor := service(t)
	ctx := context.Background()
	// Another team's VPC holds the first /16 of the orbit's space.
	if _, err := ec2sdk.NewFromConfig(cfgFor("eu-west-1")).CreateVpc(ctx, &ec2sdk.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	o := parse(t, "name: alloc\nregions:\n  eu-west-1: {}\nnetwork: {nat: none}\n")
	facts, err := svc.Facts(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	f := facts["eu-west-1"]
	if len(f.AZs) != 3 || f.CurrentCIDR.IsValid() {
		t.Errorf("facts before up: %+v", f)
	}
	if _, err := svc.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Status(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].VPC == nil || st[0].VPC.CIDR != netip.MustParsePrefix("10.1.0.0/16") {
		t.Fatalf("orbit VPC: %+v, want 10.1.0.0/16 (10.0.0.0/16 is taken)", st[0].VPC)
	}
	facts, err = svc.Facts(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	f = facts["eu-west-1"]
	if f.CurrentCIDR != netip.MustParsePrefix("10.1.0.0/16") || strings.Join(f.CurrentAZs, ",") != "eu-west-1a,eu-west-1b,eu-west-1c" {
		t.Errorf("facts after up: current %v zones %v", f.CurrentCIDR, f.CurrentAZs)
	}
	for _, v := range f.OtherVPCs {
		if v == f.CurrentCIDR {
			t.Errorf("the orbit's own VPC counted as another's: %v", f.OtherVPCs)
		}
	}
	res, err := svc.Up(ctx, o)
	if err != nil || !res.Plans[0].NoChanges {
		t.Errorf("second up: %+v %v", res, err)
	}
}

func TestAMissingImageOrZoneIsReportedAtItsField(t *testing.T) {
	svc, _ := service(t)
	ctx := context.Background()
	o := parse(t, `name: img
regions:
  us-east-1: {}
bastion:
  allowed_cidrs: [203.0.113.0/24]
  ami: {name: "no-such-image-*"}
`)
	_, err := svc.Plan(ctx, o)
	if err == nil || !strings.Contains(err.Error(), `orbit.yml:6:8: bastion.ami: no image named "no-such-image-*" in us-east-1`) {
		t.Errorf("got %v", err)
	}
	o = parse(t, "name: dns\ndomain: nowhere.example.com\nregions:\n  us-east-1: {}\n")
	_, err = svc.Plan(ctx, o)
	if err == nil || !strings.Contains(err.Error(), `orbit.yml:2:9: domain: "nowhere.example.com": no public hosted zone nowhere.example.com`) {
		t.Errorf("got %v", err)
	}
}

func TestTheDefaultBastionImageComesFromSSM(t *testing.T) {
	svc, _ := service(t)
	o := parse(t, "name: ssm\nregions:\n  us-east-1: {}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n  ami: {ssm: /aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2}\n")
	facts, err := svc.Facts(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if ami := facts["us-east-1"].BastionAMI; !strings.HasPrefix(ami, "ami-") {
		t.Errorf("bastion image %q", ami)
	}
}

// TestDownEmptiesTheStateBucket: CloudFormation cannot delete a bucket
// that holds objects, and releases leave records and an audit log there.
func TestUpRecordsTheOrbitsSettingsInItsHomeRegion(t *testing.T) {
	svc, cfgFor := service(t)
	ctx := context.Background()
	o := parse(t, "name: ruled\nregions:\n  eu-north-1: {}\n  eu-west-3: {}\nnetwork: {nat: none}\n"+
		"access:\n  - {role: approver, principals: [\"arn:aws:iam::123456789012:role/ops\"], apps: [shop]}\npipelines:\n  self_approval: true\n")
	// An Identity Center role on its path, and one only named like it.
	cfg := cfgFor("us-east-1")
	svc.Roles = iam.New(cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	for name, path := range map[string]string{"AWSReservedSSO_Approver_0123456789abcdef": elevator.IdentityCenterRolePath, "AWSReservedSSO_Forged_0123": "/"} {
		if _, err := iamsdk.NewFromConfig(cfg).CreateRole(ctx, &iamsdk.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	out, err := svc.Outputs(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := s3.New(cfgFor("eu-north-1")).Get(ctx, out["eu-north-1"]["StateBucket"], elevator.OrbitSettingsKey)
	if err != nil {
		t.Fatalf("the settings in the home region: %v", err)
	}
	settings, err := elevator.ParseOrbitSettings("ruled", body)
	if err != nil {
		t.Fatal(err)
	}
	d := settings.Deployed()
	if !d.SelfApproval || d.RoleOf("arn:aws:sts::123456789012:assumed-role/ops/bob", "shop") != elevator.RoleApprover || d.RoleOf("arn:aws:sts::123456789012:assumed-role/ops/bob", "cart") != "" {
		t.Errorf("settings %s: want self-approval and ops an approver of shop only", body)
	}
	if want := "arn:aws:iam::" + emulatortest.AccountID(cfg) + ":role/AWSReservedSSO_Approver_0123456789abcdef"; len(d.IdentityCenterRoles) != 1 || d.IdentityCenterRoles[0] != want {
		t.Errorf("Identity Center roles %v, want only %s (the one on %s)", d.IdentityCenterRoles, want, elevator.IdentityCenterRolePath)
	}
	if _, _, err := s3.New(cfgFor("eu-west-3")).Get(ctx, out["eu-west-3"]["StateBucket"], elevator.OrbitSettingsKey); !errors.Is(err, s3.ErrNotFound) {
		t.Errorf("settings in the second region: %v, want none (decisions read the home region)", err)
	}
}

func TestDownEmptiesTheStateBucket(t *testing.T) {
	svc, cfgFor := service(t)
	ctx := context.Background()
	o := parse(t, "name: empty\nregions:\n  sa-east-1: {}\nnetwork: {nat: none}\n")
	if _, err := svc.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	out, err := svc.Outputs(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	bucket := out["sa-east-1"]["StateBucket"]
	objects := s3.New(cfgFor("sa-east-1"))
	if _, err := objects.Put(ctx, bucket, "releases/r1/release.json", "application/json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// moto cannot delete the VPC's route tables, so Down ends in a
	// DependencyViolation there (see docs/emulator.md); the bucket is
	// emptied before that. Any other error is a failure.
	if _, err := svc.Down(ctx, o); err != nil && !strings.Contains(err.Error(), "DependencyViolation") {
		t.Fatalf("Down: %v", err)
	}
	// moto deletes a stack's bucket only when it holds no object (else it
	// keeps it, as AWS would fail), so a bucket gone was emptied.
	left, err := objects.List(ctx, bucket, "")
	switch {
	case errors.Is(err, s3.ErrNotFound):
	case err != nil:
		t.Fatalf("list the state bucket: %v", err)
	case len(left) > 0:
		t.Errorf("objects left in the state bucket: %v", left)
	}
}
