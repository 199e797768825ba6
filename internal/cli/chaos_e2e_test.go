package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/chaos"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// chaosApp has a group of 3 (web) and one of 4 (worker) in each region.
const chaosApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
    scaling: {min: 3, max: 3}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
    scaling: {min: 4, max: 4}
`

// chaosReleased brings up a one-region orbit and the app in the test's
// own account, releases it, and returns the account, the orbit and the
// flags that name the orbit.
func chaosReleased(t *testing.T, app string) (acct *emulatortest.Account, orbit string, flags []string) {
	t.Helper()
	acct = inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	af := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, af...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, af...)...))
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, af...)...))
	return acct, orbit, []string{"--orbit", orbit, "--orbit-file", orbitFile}
}

// shopGroups returns the app's groups in us-east-1 by service.
func shopGroups(t *testing.T, acct *emulatortest.Account, orbit string) map[string]astypes.AutoScalingGroup {
	t.Helper()
	out, err := autoscaling.NewFromConfig(acct.Config("us-east-1")).DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{orbit}}, {Name: aws.String("tag:" + domain.TagApp), Values: []string{"shop"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	byService := map[string]astypes.AutoScalingGroup{}
	for _, g := range out.AutoScalingGroups {
		for _, tag := range g.Tags {
			if aws.ToString(tag.Key) == domain.TagService {
				byService[aws.ToString(tag.Value)] = g
			}
		}
	}
	return byService
}

func instanceIDs(g astypes.AutoScalingGroup) []string {
	var ids []string
	for _, i := range g.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	slices.Sort(ids)
	return ids
}

// liveInstances returns the ids, of those given, of instances EC2 has not
// terminated.
func liveInstances(t *testing.T, acct *emulatortest.Account, ids []string) []string {
	t.Helper()
	out, err := ec2sdk.NewFromConfig(acct.Config("us-east-1")).DescribeInstances(context.Background(), &ec2sdk.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if s := string(i.State.Name); s != "terminated" && s != "shutting-down" {
				live = append(live, aws.ToString(i.InstanceId))
			}
		}
	}
	slices.Sort(live)
	return live
}

// TestChaosTerminatesTheLevelAndEveryGroupKeepsItsRetainage releases an
// app with groups of 3 and 4 instances on moto and runs chaos at level 1
// with retainage 33: a dry run and an unconfirmed run terminate nothing;
// the run terminates 2 of web's 3 (keeping 1) and 2 of worker's 4
// (keeping 2), which their groups replace; the same seed chose them in
// the dry run; each is audited.
func TestChaosTerminatesTheLevelAndEveryGroupKeepsItsRetainage(t *testing.T) {
	acct, orbit, o := chaosReleased(t, chaosApp)
	before := shopGroups(t, acct, orbit)
	web, worker := instanceIDs(before["web"]), instanceIDs(before["worker"])
	if len(web) != 3 || len(worker) != 4 {
		t.Fatalf("released web %v and worker %v, want 3 and 4 instances", web, worker)
	}
	all := append(slices.Clone(web), worker...)
	args := append([]string{"chaos", "--level", "1", "--retainage", "33", "--seed", "7"}, o...)

	dry := elevator(t, "", append(args, "--dry-run", "-o", "json")...)
	mustSucceed(t, dry)
	var plan struct {
		DryRun bool       `json:"dry_run"`
		Plan   chaos.Plan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(dry.stdout), &plan); err != nil {
		t.Fatalf("%v\n%s", err, dry.stdout)
	}
	if !plan.DryRun || plan.Plan.Eligible != 7 || plan.Plan.Target != 7 || plan.Plan.Total != 4 || len(plan.Plan.Choices) != 2 {
		t.Fatalf("dry run plan: %+v", plan)
	}
	for _, c := range plan.Plan.Choices {
		if !strings.Contains(c.Why, "retainage 33%") {
			t.Errorf("group %s: the dry run does not say why it is limited: %q", c.Group.Name, c.Why)
		}
	}
	if live := liveInstances(t, acct, all); len(live) != 7 {
		t.Fatalf("after the dry run %d of 7 instances live", len(live))
	}
	text := elevator(t, "", append(args, "--dry-run")...)
	if text.code != 0 || !strings.Contains(text.stdout, "at most 2: retainage 33% of 3 keeps 1") || !strings.Contains(text.stdout, "dry run: nothing was terminated") {
		t.Errorf("dry run in text: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}

	no := elevator(t, "not-the-orbit\n", args...)
	if no.code != cli.ExitInterrupted || !strings.Contains(no.stderr, "Type the orbit's name to confirm") {
		t.Errorf("unconfirmed: exit %d\n%s", no.code, no.stderr)
	}
	if live := liveInstances(t, acct, all); len(live) != 7 {
		t.Fatalf("after an unconfirmed run %d of 7 instances live", len(live))
	}

	run := elevator(t, orbit+"\n", append(args, "-o", "json")...)
	mustSucceed(t, run)
	var done struct {
		DryRun     bool `json:"dry_run"`
		Terminated []struct{ Group, Instance, Error string }
	}
	if err := json.Unmarshal([]byte(run.stdout), &done); err != nil {
		t.Fatalf("%v\n%s", err, run.stdout)
	}
	var planned, terminated []string
	for _, c := range plan.Plan.Choices {
		for _, in := range c.Terminate {
			planned = append(planned, in.ID)
		}
	}
	for _, x := range done.Terminated {
		if x.Error != "" {
			t.Errorf("%s: %s", x.Instance, x.Error)
		}
		terminated = append(terminated, x.Instance)
	}
	slices.Sort(planned)
	slices.Sort(terminated)
	if done.DryRun || !slices.Equal(planned, terminated) {
		t.Errorf("terminated %v, the dry run with the same seed planned %v", terminated, planned)
	}
	// Read back: the terminated instances are gone in EC2, each group
	// kept its retainage of the instances it had, and replaced the rest.
	live := liveInstances(t, acct, all)
	if len(live) != 3 {
		t.Errorf("%d of the 7 instances live, want 3", len(live))
	}
	kept := func(ids []string) int {
		n := 0
		for _, id := range ids {
			if slices.Contains(live, id) {
				n++
			}
		}
		return n
	}
	if kept(web) != 1 || kept(worker) != 2 {
		t.Errorf("web kept %d of 3 (want 1), worker %d of 4 (want 2)", kept(web), kept(worker))
	}
	after := shopGroups(t, acct, orbit)
	if n, d := len(after["web"].Instances), aws.ToInt32(after["web"].DesiredCapacity); n != 3 || d != 3 {
		t.Errorf("web has %d instances, desired %d: want its 3 replaced", n, d)
	}
	if n, d := len(after["worker"].Instances), aws.ToInt32(after["worker"].DesiredCapacity); n != 4 || d != 4 {
		t.Errorf("worker has %d instances, desired %d: want its 4 replaced", n, d)
	}
	entries := auditOf(t, acct, orbit)
	if len(entries) != 1 || entries[0].Action != domain.AuditChaos || entries[0].App != "shop" || !strings.Contains(entries[0].Detail, "terminated 4: ") {
		t.Errorf("audit: %+v", entries)
	}
	for _, id := range terminated {
		if len(entries) == 1 && !strings.Contains(entries[0].Detail, id) {
			t.Errorf("the audit does not name %s: %s", id, entries[0].Detail)
		}
	}
	// The lock was given back: a release may run.
	lockIsFree(t, orbit, append([]string{"-f", "unused"}, o...))
}

// chaosBackend is the orbit's release backend, as the command finds it.
func chaosBackend(t *testing.T, acct *emulatortest.Account, orbit string) *awsrelease.Backend {
	t.Helper()
	cfg := acct.Config("us-east-1")
	b, err := awsrelease.New(awsrelease.Config{Orbit: orbit, AWS: []aws.Config{cfg}, Bucket: domain.StateBucketName(emulatortest.AccountID(cfg), "us-east-1", orbit)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// auditOf returns the chaos entries of the orbit's audit log.
func auditOf(t *testing.T, acct *emulatortest.Account, orbit string) []domain.AuditEntry {
	t.Helper()
	all, err := chaosBackend(t, acct, orbit).Store.AuditLog(context.Background(), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.AuditEntry
	for _, e := range all {
		if e.Action == domain.AuditChaos {
			out = append(out, e)
		}
	}
	return out
}

// TestChaosWaitsForTheAppsLockThenRefuses holds the app's lock as a
// release would, and runs chaos with --lock-wait 2s: it waits, refuses
// with exit 3 naming the release, and terminates nothing.
func TestChaosWaitsForTheAppsLockThenRefuses(t *testing.T) {
	acct, orbit, o := chaosReleased(t, chaosApp)
	all := append(instanceIDs(shopGroups(t, acct, orbit)["web"]), instanceIDs(shopGroups(t, acct, orbit)["worker"])...)
	now := time.Now()
	held := release.Lock{App: "shop", Orbit: orbit, ReleaseID: "20261130-040000-0badcafe", Owner: "engine-1", Holder: "arn:aws:iam::1:user/ada",
		Since: now, Expires: now.Add(10 * time.Minute)}
	if _, err := chaosBackend(t, acct, orbit).Locker.Acquire(context.Background(), held, now); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := elevator(t, "", append([]string{"chaos", "--level", "1", "--lock-wait", "2s", "--yes"}, o...)...)
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "locked by release 20261130-040000-0badcafe") || !strings.Contains(r.stderr, "waited 2s") {
		t.Errorf("chaos while a release holds the lock: exit %d\n%s", r.code, r.stderr)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Errorf("refused after %s, before --lock-wait 2s", waited)
	}
	if live := liveInstances(t, acct, all); len(live) != 7 {
		t.Errorf("%d of 7 instances live after a refused run", len(live))
	}
	if e := auditOf(t, acct, orbit); len(e) != 1 || e[0].Outcome != "refused" || !strings.Contains(e[0].Detail, "terminated nothing") {
		t.Errorf("a refused run is audited once, as refused, terminating nothing: %+v", e)
	}
	if l, err := chaosBackend(t, acct, orbit).Locker.Get(context.Background(), "shop", orbit); err != nil || l.ReleaseID != held.ReleaseID {
		t.Errorf("the release's lock is not as it was: %+v %v", l, err)
	}
}

// TestChaosLosesAZoneAndGivesItBack runs an outage of the zone the
// groups' instances are in (moto puts them all in a group's first
// subnet) for 3 seconds: during it the groups no longer launch there
// (read back from VPCZoneIdentifier, which moto keeps) and the record is
// in the state bucket; after it every group has its subnets back and the
// record is gone. Then `chaos restore` puts back the subnets of a record
// left by a run that crashed.
func TestChaosLosesAZoneAndGivesItBack(t *testing.T) {
	acct, orbit, o := chaosReleased(t, chaosApp)
	before := shopGroups(t, acct, orbit)
	webSubnets := aws.ToString(before["web"].VPCZoneIdentifier)
	zone := aws.ToString(before["web"].Instances[0].AvailabilityZone)
	if strings.Count(webSubnets, ",") < 1 {
		t.Fatalf("web launches into %q: want subnets in several zones", webSubnets)
	}

	bad := elevator(t, "", append([]string{"chaos", "--az", "us-east-1z", "--for", "1m", "--yes"}, o...)...)
	if bad.code != cli.ExitInvalid || !strings.Contains(bad.stderr, "--az us-east-1z: not a zone of us-east-1") {
		t.Errorf("unknown zone: exit %d\n%s", bad.code, bad.stderr)
	}

	dry := elevator(t, "", append([]string{"chaos", "--az", zone, "--for", "1m", "--dry-run"}, o...)...)
	if dry.code != 0 || !strings.Contains(dry.stdout, "without subnets") || aws.ToString(shopGroups(t, acct, orbit)["web"].VPCZoneIdentifier) != webSubnets {
		t.Errorf("dry run: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}

	done := make(chan result)
	go func() {
		done <- elevator(t, "", append([]string{"chaos", "--az", zone, "--for", "3s", "--yes", "-o", "json"}, o...)...)
	}()
	var during string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s := aws.ToString(shopGroups(t, acct, orbit)["web"].VPCZoneIdentifier); s != webSubnets {
			during = s
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	recorded := outageRecord(t, acct, orbit)
	r := <-done
	mustSucceed(t, r)
	if during == "" || strings.Count(during, ",") != strings.Count(webSubnets, ",")-1 {
		t.Errorf("during the outage web launched into %q, before into %q: want one subnet fewer", during, webSubnets)
	}
	if recorded == nil || recorded.Zone != zone || len(recorded.Groups) != 2 {
		t.Errorf("the record during the outage: %+v", recorded)
	}
	after := shopGroups(t, acct, orbit)
	if s := aws.ToString(after["web"].VPCZoneIdentifier); s != webSubnets {
		t.Errorf("after the outage web launches into %q, want %q back", s, webSubnets)
	}
	if rec := outageRecord(t, acct, orbit); rec != nil {
		t.Errorf("the record stays after the outage: %+v", rec)
	}
	var out struct {
		Terminated []struct{ Instance, AZ string }
		Restored   []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(out.Terminated) != 7 || len(out.Restored) != 2 {
		t.Errorf("terminated %d (want all 7, in %s), restored %v", len(out.Terminated), zone, out.Restored)
	}
	for _, x := range out.Terminated {
		if x.AZ != zone {
			t.Errorf("terminated %s in %s, not in the lost zone %s", x.Instance, x.AZ, zone)
		}
	}

	// Ctrl-C (the command's context cancelled) gives the zone back early.
	ctx, cancel := context.WithCancel(context.Background())
	interrupted := make(chan int)
	go func() {
		var stdout, stderr strings.Builder
		interrupted <- cli.Run(ctx, append([]string{"chaos", "--az", zone, "--for", "10m", "--yes", "--endpoint-url", emulatortest.Endpoint()}, o...), strings.NewReader(""), &stdout, &stderr)
	}()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if aws.ToString(shopGroups(t, acct, orbit)["web"].VPCZoneIdentifier) != webSubnets {
			break
		}
	}
	// The apps' locks are held for the whole outage: a release is refused.
	appFile := filepath.Join(filepath.Dir(o[3]), "app.yml")
	deploy := elevator(t, "", "deploy", "--version", "1.0.1", "-f", appFile, "--orbit", orbit, "--orbit-file", o[3])
	if deploy.code != cli.ExitConflict || !strings.Contains(deploy.stdout+deploy.stderr, "elevator chaos by ") {
		t.Errorf("a release during the outage: exit %d, want 3 naming the chaos run\n%s%s", deploy.code, deploy.stdout, deploy.stderr)
	}
	cancel()
	select {
	case code := <-interrupted:
		if code != cli.ExitInterrupted {
			t.Errorf("interrupted outage: exit %d, want %d", code, cli.ExitInterrupted)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an interrupted outage did not end within 30s")
	}
	if s := aws.ToString(shopGroups(t, acct, orbit)["web"].VPCZoneIdentifier); s != webSubnets || outageRecord(t, acct, orbit) != nil {
		t.Errorf("after Ctrl-C web launches into %q (want %q back), record %+v", s, webSubnets, outageRecord(t, acct, orbit))
	}

	// A lock lost during the outage (broken, as `elevator unlock` does)
	// gives the zone back early, and the run exits 3 saying so.
	lost := make(chan result)
	go func() {
		var stdout, stderr strings.Builder
		code := cli.Run(context.Background(), append([]string{"chaos", "--az", zone, "--for", "10m", "--yes", "--endpoint-url", emulatortest.Endpoint()}, o...), strings.NewReader(""), &stdout, &stderr)
		lost <- result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if aws.ToString(shopGroups(t, acct, orbit)["web"].VPCZoneIdentifier) != webSubnets {
			break
		}
	}
	if _, err := chaosBackend(t, acct, orbit).Locker.Break(context.Background(), "shop", orbit); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-lost:
		if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "lock lost; zone "+zone+" given back early") {
			t.Errorf("an outage whose lock was broken: exit %d, want %d\n%s", r.code, cli.ExitConflict, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an outage whose lock was broken did not end within 30s")
	}
	if s := aws.ToString(shopGroups(t, acct, orbit)["web"].VPCZoneIdentifier); s != webSubnets || outageRecord(t, acct, orbit) != nil {
		t.Errorf("after the lock was lost web launches into %q (want %q back), record %+v", s, webSubnets, outageRecord(t, acct, orbit))
	}

	// A run that crashed left its record and the groups without a subnet.
	after = shopGroups(t, acct, orbit)
	g := after["worker"]
	subnets := strings.Split(aws.ToString(g.VPCZoneIdentifier), ",")
	rec := chaos.Outage{Orbit: orbit, Region: "us-east-1", Zone: zone, By: "test", Start: time.Now(), Until: time.Now().Add(time.Minute),
		Groups: []chaos.OutageGroup{{Name: aws.ToString(g.AutoScalingGroupName), App: "shop", Subnets: subnets, Removed: subnets[:1]}}}
	body, _ := json.Marshal(rec)
	cfg := acct.Config("us-east-1")
	bucket := domain.StateBucketName(emulatortest.AccountID(cfg), "us-east-1", orbit)
	if _, err := s3sdk.NewFromConfig(cfg).PutObject(context.Background(), &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(domain.ChaosOutageKey), Body: strings.NewReader(string(body))}); err != nil {
		t.Fatal(err)
	}
	if _, err := autoscaling.NewFromConfig(cfg).UpdateAutoScalingGroup(context.Background(), &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: g.AutoScalingGroupName, VPCZoneIdentifier: aws.String(strings.Join(subnets[1:], ","))}); err != nil {
		t.Fatal(err)
	}
	again := elevator(t, "", append([]string{"chaos", "--az", zone, "--for", "1m", "--yes"}, o...)...)
	if again.code != cli.ExitConflict || !strings.Contains(again.stderr, "chaos restore --orbit "+orbit) {
		t.Errorf("a new outage while one is recorded: exit %d\n%s", again.code, again.stderr)
	}
	// While a chaos run holds the app's lock, restore refuses: that run
	// gives the zone back itself.
	now := time.Now()
	live := release.Lock{App: "shop", Orbit: orbit, ReleaseID: domain.ChaosRunPrefix + "20261130-050000-0a1b2c3d", Holder: "elevator chaos by test", Since: now, Expires: now.Add(2 * time.Minute)}
	live.Owner = live.ReleaseID
	if _, err := chaosBackend(t, acct, orbit).Locker.Acquire(context.Background(), live, now); err != nil {
		t.Fatal(err)
	}
	busy := elevator(t, "", append([]string{"chaos", "restore"}, o...)...)
	if busy.code != cli.ExitConflict || !strings.Contains(busy.stderr, "--force") || outageRecord(t, acct, orbit) == nil {
		t.Errorf("restore during a live chaos run: exit %d\n%s", busy.code, busy.stderr)
	}
	mustSucceed(t, elevator(t, "", append([]string{"chaos", "restore", "--force"}, o...)...))
	if s := aws.ToString(shopGroups(t, acct, orbit)["worker"].VPCZoneIdentifier); s != strings.Join(subnets, ",") {
		t.Errorf("after restore worker launches into %q, want %q", s, strings.Join(subnets, ","))
	}
	if rec := outageRecord(t, acct, orbit); rec != nil {
		t.Errorf("the record stays after restore: %+v", rec)
	}
}

// outageRecord reads the orbit's outage record, or nil when there is
// none; any other error fails the test.
func outageRecord(t *testing.T, acct *emulatortest.Account, orbit string) *chaos.Outage {
	t.Helper()
	cfg := acct.Config("us-east-1")
	out, err := s3sdk.NewFromConfig(cfg).GetObject(context.Background(), &s3sdk.GetObjectInput{
		Bucket: aws.String(domain.StateBucketName(emulatortest.AccountID(cfg), "us-east-1", orbit)), Key: aws.String(domain.ChaosOutageKey)})
	var missing *s3types.NoSuchKey
	if errors.As(err, &missing) {
		return nil
	}
	if err != nil {
		t.Fatalf("read the outage record: %v", err)
	}
	defer out.Body.Close()
	var o chaos.Outage
	if err := json.NewDecoder(out.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	return &o
}

// TestChaosRefusesBadFlagsBeforeAnyCall gives chaos bad flags: each exits
// 2 with the flag named; no AWS call is made (the endpoint is closed).
func TestChaosRefusesBadFlagsBeforeAnyCall(t *testing.T) {
	inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\n")
	o := []string{"--orbit", orbit, "--orbit-file", orbitFile, "--endpoint-url", "http://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--level is required"},
		{[]string{"--level", "0"}, "--level 0: want"},
		{[]string{"--level", "1.5"}, "--level 1.5: want"},
		{[]string{"--level", "0.1", "--retainage", "101"}, "--retainage 101: want"},
		{[]string{"--level", "0.1", "--retainage", "-1"}, "--retainage -1: want"},
		{[]string{"--level", "0.1", "--for", "10m"}, "--for 10m0s needs --az"},
		{[]string{"--az", "us-east-1a"}, "--az us-east-1a needs --for"},
		{[]string{"--az", "eu-west-9a", "--for", "1m"}, "a zone of eu-west-9, where orbit " + orbit + " is not"},
		{[]string{"--az", "east", "--for", "1m"}, `--az "east": want an availability zone`},
		{[]string{"--az", "us-east-1a", "--for", "1m", "--level", "0.5"}, "--level and --az"},
		{[]string{"--az", "us-east-1a", "--for", "0s"}, "--for 0s: want 1s to 24h"},
		{[]string{"--level", "0.1", "--app", "Shop"}, "--app"},
		{[]string{"--level", "0.1", "--lock-wait", "-1s"}, "--lock-wait -1s"},
		{[]string{"--level", "0.1", "--region", "eu-west-1"}, "--region eu-west-1: orbit " + orbit + " is not in that region"},
	} {
		r := elevator(t, "", append(append([]string{"chaos"}, c.args...), o...)...)
		if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, c.want) {
			t.Errorf("chaos %s: exit %d, want 2 and %q\n%s", strings.Join(c.args, " "), r.code, c.want, r.stderr)
		}
	}
}

// TestChaosSkipsAnAppThatOptsOut releases an app whose manifest says
// chaos: false: its groups carry the tag, and chaos, even at level 1
// with no retainage, terminates none of them and says why.
func TestChaosSkipsAnAppThatOptsOut(t *testing.T) {
	acct, orbit, o := chaosReleased(t, chaosApp+"chaos: false\n")
	groups := shopGroups(t, acct, orbit)
	all := append(instanceIDs(groups["web"]), instanceIDs(groups["worker"])...)
	for svc, g := range groups {
		tagged := slices.ContainsFunc(g.Tags, func(tag astypes.TagDescription) bool {
			return aws.ToString(tag.Key) == domain.TagChaos && aws.ToString(tag.Value) == domain.ChaosOptOut
		})
		if !tagged {
			t.Errorf("group of %s does not carry %s=%s", svc, domain.TagChaos, domain.ChaosOptOut)
		}
	}
	r := elevator(t, "", append([]string{"chaos", "--level", "1", "--retainage", "0", "--include-last", "--yes"}, o...)...)
	if r.code != 0 || strings.Count(r.stdout, "skipped: the app opts out (chaos: false in its manifest)") != 2 || !strings.Contains(r.stdout, "nothing to terminate") {
		t.Errorf("chaos of an app that opts out: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if live := liveInstances(t, acct, all); len(live) != 7 {
		t.Errorf("%d of 7 instances live", len(live))
	}
}

// TestChaosThenTestRunsTheIntegrationTestsOnceTheGroupsAreWhole releases
// an app with an integration test (a command, as the release engine runs
// it) that records the instances it is given and fails when a file
// exists: after chaos it runs against the replacements and passes; with
// the file it fails, and chaos exits 6. An app without integration tests
// is refused before anything is terminated.
func TestChaosThenTestRunsTheIntegrationTestsOnceTheGroupsAreWhole(t *testing.T) {
	dir := t.TempDir()
	seen, fail, secret := filepath.Join(dir, "instances"), filepath.Join(dir, "fail"), filepath.Join(dir, "secret")
	// A secret of the environment elevator runs in, which the test prints:
	// the output shown holds it redacted, as a release's record does.
	const token = "chaos-e2e-token-0f9a8b7c"
	t.Setenv("CHAOS_E2E_API_TOKEN", token)
	if err := os.WriteFile(secret, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	app := chaosApp + "tests:\n  integration:\n    - {name: recover, kind: command, command: [sh, -c, 'echo \"$ELEVATOR_PHASE $ELEVATOR_INSTANCES\" > " + seen + "; cat " + secret + "; test ! -e " + fail + "']}\n"
	acct, orbit, o := chaosReleased(t, app)
	args := append([]string{"chaos", "--level", "0.5", "--retainage", "0", "--yes", "--then-test", "-o", "json"}, o...)
	r := elevator(t, "", args...)
	mustSucceed(t, r)
	var out struct {
		Terminated []struct{ Instance string }
		Tests      []struct {
			Name   string
			Passed bool
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(out.Terminated) != 4 || len(out.Tests) != 1 || out.Tests[0].Name != "recover" || !out.Tests[0].Passed {
		t.Fatalf("chaos --then-test: %s", r.stdout)
	}
	if strings.Contains(r.stdout, token) || !strings.Contains(r.stdout, "recover") {
		t.Errorf("the test's output shows a secret value of the environment:\n%s", r.stdout)
	}
	got, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	groups := shopGroups(t, acct, orbit)
	now := append(instanceIDs(groups["web"]), instanceIDs(groups["worker"])...)
	slices.Sort(now)
	phase, ids, _ := strings.Cut(strings.TrimSpace(string(got)), " ")
	given := strings.Split(ids, ",")
	slices.Sort(given)
	if want := "integration " + strings.Join(now, ","); phase+" "+strings.Join(given, ",") != want {
		t.Errorf("the test was given %q, want the groups' instances now %q", got, want)
	}
	for _, x := range out.Terminated {
		if strings.Contains(string(got), x.Instance) {
			t.Errorf("the test was given %s, which chaos terminated", x.Instance)
		}
	}

	if err := os.WriteFile(fail, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	failed := elevator(t, "", args...)
	if failed.code != cli.ExitFailed || !strings.Contains(failed.stdout, `"passed": false`) {
		t.Errorf("a failing test after chaos: exit %d\n%s%s", failed.code, failed.stdout, failed.stderr)
	}
}

// TestChaosThenTestRefusesAnAppWithoutIntegrationTests: --then-test would
// prove nothing, so nothing is terminated.
func TestChaosThenTestRefusesAnAppWithoutIntegrationTests(t *testing.T) {
	acct, orbit, o := chaosReleased(t, chaosApp)
	groups := shopGroups(t, acct, orbit)
	all := append(instanceIDs(groups["web"]), instanceIDs(groups["worker"])...)
	r := elevator(t, "", append([]string{"chaos", "--level", "1", "--yes", "--then-test"}, o...)...)
	if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "has no integration tests") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if live := liveInstances(t, acct, all); len(live) != 7 {
		t.Errorf("%d of 7 instances live", len(live))
	}
}
