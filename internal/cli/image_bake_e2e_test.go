package cli_test

// End-to-end tests of `elevator image bake` on moto. Moto launches the
// builder but cannot boot it, so it never runs the agent or the scripts:
// each test plays the builder by writing the elevator.BakeResult the
// agent would upload, once the builder instance appears (playBuilder).
// Everything else — the builder, its stop, the image, its tags, the
// builder's termination, the record — is moto's, read back with the SDK.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// bakeSetting is an orbit up on moto with what a bake needs, a base image
// registered in the account, and an image manifest beside its script.
type bakeSetting struct {
	acct             *emulatortest.Account
	orbit, orbitFile string
	dir, imageFile   string
	base, bucket     string
	ec2              *ec2sdk.Client
	s3               *s3.Client
}

func newBakeSetting(t *testing.T) *bakeSetting {
	t.Helper()
	s := &bakeSetting{acct: inAccount(t)}
	s.orbitFile, s.orbit = manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", s.orbitFile))
	s.prepare(t)
	return s
}

// prepare readies the setting's orbit, once up, for bakes.
func (s *bakeSetting) prepare(t testing.TB) {
	t.Helper()
	cfg := s.acct.Config("us-east-1")
	s.ec2, s.s3 = ec2sdk.NewFromConfig(cfg), s3.NewFromConfig(cfg)
	s.bucket = domain.StateBucketName(s.acct.ID, "us-east-1", s.orbit)
	ctx := context.Background()
	vpcs, err := s.ec2.DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{s.orbit}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("orbit VPC: %v %v", vpcs, err)
	}
	// An orbit stack without a bake security group and instance profile
	// (one brought up before they were part of it) gets them here, as
	// the stack makes them.
	groups, err := s.ec2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpcs.Vpcs[0].VpcId)}},
		{Name: aws.String("group-name"), Values: []string{domain.BakeSecurityGroupName(s.orbit)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.SecurityGroups) == 0 {
		if _, err := s.ec2.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String(domain.BakeSecurityGroupName(s.orbit)),
			Description: aws.String("bake builders"), VpcId: vpcs.Vpcs[0].VpcId}); err != nil {
			t.Fatal(err)
		}
	}
	profiles := iamsdk.NewFromConfig(cfg)
	if _, err := profiles.GetInstanceProfile(ctx, &iamsdk.GetInstanceProfileInput{InstanceProfileName: aws.String(domain.BakeInstanceProfileName(s.orbit))}); err != nil {
		if _, err := profiles.CreateInstanceProfile(ctx, &iamsdk.CreateInstanceProfileInput{
			InstanceProfileName: aws.String(domain.BakeInstanceProfileName(s.orbit)), Path: aws.String(domain.BakeIAMPath(s.orbit))}); err != nil {
			t.Fatal(err)
		}
	}
	s.base = registerImage(t, s.ec2, "debian-12-base")
	s.dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(s.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "scripts", "install.sh"), []byte("#!/bin/sh\napt-get install -y nginx\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.imageFile = s.write(t, "name: web\nbase: {id: "+s.base+"}\nscripts: [scripts/install.sh]\nvolume_size: 12\n")
}

// write writes an image manifest into the setting's directory.
func (s *bakeSetting) write(t testing.TB, body string) string {
	t.Helper()
	file := filepath.Join(s.dir, "image.yml")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// registerImage registers an image from a snapshot, as a base image a
// team bakes from.
func registerImage(t testing.TB, sdk *ec2sdk.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	vol, err := sdk.CreateVolume(ctx, &ec2sdk.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := sdk.CreateSnapshot(ctx, &ec2sdk.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	img, err := sdk.RegisterImage(ctx, &ec2sdk.RegisterImageInput{Name: aws.String(name), RootDeviceName: aws.String("/dev/xvda"),
		Architecture: ec2types.ArchitectureValuesX8664, VirtualizationType: aws.String("hvm"),
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsBlockDevice{SnapshotId: snap.SnapshotId}}}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(img.ImageId)
}

// playBuilder stands in for the agent on every builder that appears:
// moto cannot boot an instance, so it writes the result the agent would
// upload once its scripts ran. It stops when the test ends.
func (s *bakeSetting) playBuilder(t testing.TB, result domain.BakeResult) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		reported := map[string]bool{}
		for ctx.Err() == nil {
			for _, i := range s.builders(t, "pending", "running") {
				id := tag(i.Tags, domain.TagBakeBuilder)
				if reported[id] {
					continue
				}
				body, _ := json.Marshal(result)
				if _, err := s.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(domain.BakeResultKey(id)), Body: bytes.NewReader(body)}); err == nil {
					reported[id] = true
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

// builders returns the bake builders in the given states (all when none).
func (s *bakeSetting) builders(t testing.TB, states ...string) []ec2types.Instance {
	in := &ec2sdk.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{domain.TagBakeBuilder}}}}
	if len(states) > 0 {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("instance-state-name"), Values: states})
	}
	out, err := s.ec2.DescribeInstances(context.Background(), in)
	if err != nil {
		t.Errorf("describe builders: %v", err)
		return nil
	}
	var is []ec2types.Instance
	for _, r := range out.Reservations {
		is = append(is, r.Instances...)
	}
	return is
}

// baked returns the account's images of line web.
func (s *bakeSetting) baked(t *testing.T) []ec2types.Image {
	t.Helper()
	out, err := s.ec2.DescribeImages(context.Background(), &ec2sdk.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + domain.TagImageBakeID), Values: []string{"*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Images
}

func tag(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func (s *bakeSetting) bake(t *testing.T, extra ...string) result {
	t.Helper()
	args := append([]string{"image", "bake", "-f", s.imageFile, "--orbit", s.orbit, "--orbit-file", s.orbitFile, "--poll-interval", "100ms"}, extra...)
	return elevator(t, "", args...)
}

func TestABakeFromARegisteredBaseMakesATaggedImageAndTerminatesItsBuilder(t *testing.T) {
	s := newBakeSetting(t)
	s.playBuilder(t, domain.BakeResult{OK: true})
	r := s.bake(t, "--version", "1.0.0", "--output", "json")
	mustSucceed(t, r)
	var out struct {
		ID, State, Image, Name, Region string
		Tags                           map[string]string
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if out.State != "Succeeded" || out.Name != "web-1.0.0" || out.Region != "us-east-1" {
		t.Errorf("result %+v", out)
	}
	imgs := s.baked(t)
	if len(imgs) != 1 || aws.ToString(imgs[0].ImageId) != out.Image {
		t.Fatalf("images baked: %v, want only %s", imgs, out.Image)
	}
	img := imgs[0]
	want := map[string]string{domain.TagImage: "web", domain.TagImagePhase: "base", domain.TagImageSource: s.base, domain.TagImageVersion: "1.0.0",
		domain.TagImageStage: "untested", domain.TagImageBakeID: out.ID, domain.TagOrbit: s.orbit}
	for k, v := range want {
		if got := tag(img.Tags, k); got != v {
			t.Errorf("image tag %s = %q, want %q", k, got, v)
		}
	}
	if _, err := time.Parse(time.RFC3339, tag(img.Tags, domain.TagImageBuilt)); err != nil {
		t.Errorf("built tag: %v", err)
	}
	if aws.ToString(img.Name) != "web-1.0.0" {
		t.Errorf("image name %s", aws.ToString(img.Name))
	}
	all := s.builders(t)
	if len(all) != 1 {
		t.Fatalf("%d builders, want 1", len(all))
	}
	b := all[0]
	if st := b.State.Name; st != ec2types.InstanceStateNameTerminated && st != ec2types.InstanceStateNameShuttingDown {
		t.Errorf("builder %s is %s, want terminated", aws.ToString(b.InstanceId), st)
	}
	if aws.ToString(b.ImageId) != s.base || tag(b.Tags, domain.TagOrbit) != s.orbit {
		t.Errorf("builder from %s tagged %v", aws.ToString(b.ImageId), b.Tags)
	}
	// The bake's record and the audit log say how it ended.
	rec, err := s.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(domain.BakeRecordKey(out.ID))})
	if err != nil {
		t.Fatal(err)
	}
	var stored struct{ State string }
	if err := json.NewDecoder(rec.Body).Decode(&stored); err != nil || stored.State != "Succeeded" {
		t.Errorf("stored record state %q (%v)", stored.State, err)
	}
	audit := elevator(t, "", "release", "audit", "--orbit", s.orbit, "--orbit-file", s.orbitFile, "--output", "json")
	mustSucceed(t, audit)
	if !strings.Contains(audit.stdout, domain.AuditImageBake) || !strings.Contains(audit.stdout, out.Image) {
		t.Errorf("no %s entry in the audit log:\n%s", domain.AuditImageBake, audit.stdout)
	}

	again := s.bake(t, "--version", "1.0.0")
	if again.code != cli.ExitConflict || !strings.Contains(again.stderr, "exists already") {
		t.Errorf("a second bake of 1.0.0: exit %d\n%s", again.code, again.stderr)
	}
	if n := len(s.builders(t)); n != 1 {
		t.Errorf("the refused bake launched a builder: %d builders", n)
	}
}

func TestABakeWhoseScriptFailsLeavesNoBuilderNoImageAndShowsTheOutput(t *testing.T) {
	s := newBakeSetting(t)
	s.playBuilder(t, domain.BakeResult{Script: "scripts/install.sh", ExitCode: 100, Output: "E: Unable to locate package nginxx"})
	r := s.bake(t)
	if r.code != cli.ExitFailed {
		t.Fatalf("exit %d, want %d\n%s", r.code, cli.ExitFailed, r.stderr)
	}
	for _, want := range []string{"script scripts/install.sh exited 100", "E: Unable to locate package nginxx"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	if live := s.builders(t, "pending", "running", "stopping", "stopped"); len(live) != 0 {
		t.Errorf("builders left: %d", len(live))
	}
	if n := len(s.builders(t)); n != 1 {
		t.Errorf("%d builders launched, want 1", n)
	}
	if imgs := s.baked(t); len(imgs) != 0 {
		t.Errorf("images left: %d", len(imgs))
	}
}

func TestBadImageManifestsAreRefusedWithPositionsAndLaunchNothing(t *testing.T) {
	s := newBakeSetting(t)
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"an unknown base", "name: web\nbase: {id: ami-0000000000000dead}\n", cli.ExitNotFound, "image.yml:2:7: base: no such base image"},
		{"an unknown base parameter", "name: web\nbase: {ssm: /elevator/images/none}\n", cli.ExitNotFound, "image.yml:2:7: base: no such base image"},
		{"a missing script file", "name: web\nbase: {id: " + s.base + "}\nscripts: [scripts/missing.sh]\n", cli.ExitInvalid, `image.yml:3:11: scripts[0]: "scripts/missing.sh": no such file`},
		{"a bad volume size", "name: web\nbase: {id: " + s.base + "}\nvolume_size: 2\n", cli.ExitInvalid, "image.yml:3:14: volume_size: 2: must be at least 8"},
		{"a stage the orbit does not have", "name: web\nbase: {image: base, stage: approved}\n", cli.ExitInvalid, `image.yml:2:28: base.stage: "approved": orbit ` + s.orbit + " has no image stage approved"},
		{"a tier the orbit does not have", "name: web\nbase: {id: " + s.base + "}\ntier: maintenance\n", cli.ExitInvalid, `image.yml:3:7: tier: "maintenance": orbit ` + s.orbit + " has no tier maintenance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := s.write(t, tc.body)
			r := s.bake(t)
			if r.code != tc.code || !strings.Contains(r.stderr, file+":"+strings.SplitN(tc.want, ":", 2)[1]) {
				t.Errorf("exit %d, want %d with %s\n%s", r.code, tc.code, tc.want, r.stderr)
			}
			if n := len(s.builders(t)); n != 0 {
				t.Errorf("%d builders launched", n)
			}
		})
	}
}

// bakeProcess runs `image bake` as its own process with no one playing
// the builder, and returns once the builder is running.
type bakeProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan error
}

func startBakeProcess(t *testing.T, s *bakeSetting) *bakeProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "elevator")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/elevator").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := &bakeProcess{exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, "image", "bake", "-f", s.imageFile, "--orbit", s.orbit, "--orbit-file", s.orbitFile, "--poll-interval", "100ms",
		"--endpoint-url", emulatortest.Endpoint())
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for len(s.builders(t, "pending", "running")) == 0 {
		select {
		case err := <-p.exited:
			t.Fatalf("image bake ended (%v) before its builder ran:\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			t.Fatalf("no builder after 60s:\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// TestCtrlCDuringABakeTerminatesItsBuilder interrupts `image bake` (as
// Ctrl-C does: SIGINT) while its builder runs: it terminates the builder
// before it exits 130.
func TestCtrlCDuringABakeTerminatesItsBuilder(t *testing.T) {
	s := newBakeSetting(t)
	p := startBakeProcess(t, s)
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if code := p.cmd.ProcessState.ExitCode(); code != cli.ExitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, cli.ExitInterrupted, p.stderr.String())
	}
	if live := s.builders(t, "pending", "running", "stopping", "stopped"); len(live) != 0 {
		t.Errorf("builders left after Ctrl-C: %d\n%s", len(live), p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "its builder is terminated") {
		t.Errorf("stderr:\n%s", p.stderr.String())
	}
}

// TestAKilledBakeIsResumedAndLeavesNoBuilder SIGKILLs `image bake` once
// its builder is running, and checks that `image bake --resume` ends the
// bake and terminates the builder.
func TestAKilledBakeIsResumedAndLeavesNoBuilder(t *testing.T) {
	s := newBakeSetting(t)
	p := startBakeProcess(t, s)
	cmd, exited, stderr := p.cmd, p.exited, &p.stderr
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	m := regexp.MustCompile(`bake ([0-9]{8}-[0-9]{9}-[0-9a-f]{8}) of web`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("never saw the bake id:\n%s", stderr.String())
	}
	live := s.builders(t, "pending", "running")
	if len(live) != 1 {
		t.Fatalf("%d builders running after the kill, want the orphan", len(live))
	}
	// The builder runs in the orbit's bake group. (moto does not report
	// the instance profile a builder was launched with; the engine's
	// tests check the launch asks for it.)
	if g := live[0].SecurityGroups; len(g) != 1 || aws.ToString(g[0].GroupName) != domain.BakeSecurityGroupName(s.orbit) {
		t.Errorf("builder's security groups %+v", g)
	}
	s.playBuilder(t, domain.BakeResult{Script: "scripts/install.sh", ExitCode: 1, Output: "killed"})
	r := elevator(t, "", "image", "bake", "--resume", m[1], "--orbit", s.orbit, "--orbit-file", s.orbitFile, "--poll-interval", "100ms")
	if r.code != cli.ExitFailed || !strings.Contains(r.stderr, "resuming bake "+m[1]) {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	if live := s.builders(t, "pending", "running", "stopping", "stopped"); len(live) != 0 {
		t.Errorf("builders left after the resume: %d", len(live))
	}
	again := elevator(t, "", "image", "bake", "--resume", "-f", s.imageFile, "--orbit", s.orbit, "--orbit-file", s.orbitFile)
	if again.code != cli.ExitNotFound || !strings.Contains(again.stderr, "no unfinished bake of line web") {
		t.Errorf("--resume with nothing to resume: exit %d\n%s", again.code, again.stderr)
	}
}
