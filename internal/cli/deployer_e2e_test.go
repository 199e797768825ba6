package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sqssdk "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// deployerApp is an app of one service without a load balancer: its
// instances are healthy once in service, which moto makes them at once.
const deployerApp = `name: %s
services:
  worker:
    runtime: {docker: {image: ghcr.io/acme/%s}}
`

// intake is an orbit of one region with apps released through deployers.
type intake struct {
	acct             *emulatortest.Account
	orbit, orbitFile string
	bucket           string
	queueURL         string
	bin              string
	templates        map[string]*domain.Release // a dry-run release per app
	flags            map[string][]string        // the flags that name each app
	store            *awsrelease.Store
}

var (
	deployerBinOnce sync.Once
	deployerBin     string
	deployerBinErr  error
)

// buildElevator builds the command once per test binary.
func buildElevator(t *testing.T) string {
	t.Helper()
	deployerBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "elevator-deployer-e2e")
		if err != nil {
			deployerBinErr = err
			return
		}
		deployerBin = filepath.Join(dir, "elevator")
		if out, err := exec.Command("go", "build", "-o", deployerBin, "../../cmd/elevator").CombinedOutput(); err != nil {
			deployerBinErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if deployerBinErr != nil {
		t.Fatal(deployerBinErr)
	}
	return deployerBin
}

// newIntake brings up an orbit and apps app00..app<n-1> in the test's own
// account, allows their images, and keeps a dry-run release of each.
//
// moto 5.2.5 ignores a bucket's NotificationConfiguration given through
// CloudFormation (moto/s3/models.py, create_from_cloudformation_json reads
// only BucketEncryption and Tags), and skips AWS::SQS::QueuePolicy: the
// test puts the notification with the S3 API, as the orbit stack does on
// AWS, so that the queue is exercised too. The deployers' listing of the
// submissions prefix (--reconcile) is the workaround where no
// notification comes.
func newIntake(t *testing.T, apps int) *intake {
	t.Helper()
	in := &intake{acct: inAccount(t), bin: buildElevator(t), templates: map[string]*domain.Release{}, flags: map[string][]string{}}
	in.orbitFile, in.orbit = manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", in.orbitFile))
	in.bucket = domain.StateBucketName(in.acct.ID, "us-east-1", in.orbit)
	cfg := in.acct.Config("us-east-1")
	ctx := context.Background()
	q, err := sqssdk.NewFromConfig(cfg).GetQueueUrl(ctx, &sqssdk.GetQueueUrlInput{QueueName: aws.String(domain.SubmissionsQueueName(in.orbit))})
	if err != nil {
		t.Fatalf("the orbit stack made no submissions queue: %v", err)
	}
	in.queueURL = aws.ToString(q.QueueUrl)
	_, err = s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(in.bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			Events:   []s3types.Event{"s3:ObjectCreated:*"},
			QueueArn: aws.String(fmt.Sprintf("arn:aws:sqs:us-east-1:%s:%s", in.acct.ID, domain.SubmissionsQueueName(in.orbit))),
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNamePrefix, Value: aws.String(domain.SubmissionsPrefix)}}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range apps {
		name := fmt.Sprintf("app%02d", i)
		appFile := filepath.Join(t.TempDir(), "app.yml")
		if err := os.WriteFile(appFile, []byte(fmt.Sprintf(deployerApp, name, name)), 0o644); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			flags := []string{"-f", appFile, "--orbit", in.orbit, "--orbit-file", in.orbitFile}
			for _, args := range [][]string{{"app", "up"}, {"image", "allow"}} {
				if r := elevator(t, "", append(args, flags...)...); r.code != 0 {
					t.Errorf("%s %s: exit %d\n%s", args, name, r.code, r.stderr)
					return
				}
			}
			r := elevator(t, "", append([]string{"deploy", "--dry-run", "--output", "json", "--version", "1.0.0"}, flags...)...)
			var rel domain.Release
			if err := json.Unmarshal([]byte(r.stdout), &rel); r.code != 0 || err != nil {
				t.Errorf("deploy --dry-run %s: exit %d (%v)\n%s", name, r.code, err, r.stderr)
				return
			}
			mu.Lock()
			in.templates[name] = &rel
			in.flags[name] = flags
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	b, err := awsrelease.New(awsrelease.Config{Orbit: in.orbit, AWS: []aws.Config{cfg}, Bucket: in.bucket})
	if err != nil {
		t.Fatal(err)
	}
	in.store = b.Store
	return in
}

// release makes a new release of app from its dry-run release.
func (in *intake) release(t *testing.T, app, version string) *domain.Release {
	t.Helper()
	rel := *in.templates[app]
	now := time.Now().UTC()
	id, err := domain.NewReleaseID(now, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel.ID, rel.Version, rel.CreatedAt = id, version, now.Truncate(time.Second)
	return &rel
}

// submit writes a release's submission as CI does.
func (in *intake) submit(t *testing.T, rel *domain.Release) {
	t.Helper()
	if err := deployer.PutSubmission(context.Background(), s3.New(in.acct.Config("us-east-1")), in.bucket, rel); err != nil {
		t.Fatal(err)
	}
}

// replica is a deployer process.
type replica struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start starts a deployer of the orbit talking to endpoint (the emulator,
// or a gate in front of it), with short leases and a listing every 2s.
func (in *intake) start(t *testing.T, endpoint string, extra ...string) *replica {
	t.Helper()
	args := append([]string{"deployer", "--orbit", in.orbit, "--orbit-file", in.orbitFile, "--endpoint-url", endpoint,
		"--poll-interval", "100ms", "--lease", "10s", "--reconcile", "2s", "--receive-wait", "1s", "--max-in-flight", "8", "--grace", "5s"}, extra...)
	r := &replica{cmd: exec.Command(in.bin, args...), out: &lockedBuffer{}, exited: make(chan error, 1)}
	r.cmd.Stderr = r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Signal(syscall.SIGKILL)
			<-r.exited
		}
		if t.Failed() {
			t.Logf("deployer %d:\n%s", r.cmd.Process.Pid, tail(r.out.String(), 60))
		}
	})
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// alive fails the test if the replica has exited.
func (r *replica) alive(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.exited:
		r.exited <- err
		t.Fatalf("deployer %d exited: %v\n%s", r.cmd.Process.Pid, err, tail(r.out.String(), 40))
	default:
	}
}

// logLine is a line of a deployer's JSON log.
type logLine struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Release  string    `json:"release"`
	App      string    `json:"app"`
	Orbit    string    `json:"orbit"`
	State    string    `json:"state"`
	Revision int64     `json:"revision"`
	Driver   string    `json:"driver"`
}

func (r *replica) lines(t *testing.T) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(r.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg != "" {
			out = append(out, l)
		}
	}
	return out
}

// waitEnded waits until every release has ended, and returns the records.
func (in *intake) waitEnded(t *testing.T, ids []string, within time.Duration, replicas ...*replica) map[string]*domain.ReleaseRecord {
	t.Helper()
	deadline := time.Now().Add(within)
	recs := map[string]*domain.ReleaseRecord{}
	for {
		for _, id := range ids {
			if recs[id] != nil {
				continue
			}
			if rec, err := in.store.Record(context.Background(), id); err == nil && rec.State.Ended() {
				recs[id] = rec
			}
		}
		if len(recs) == len(ids) {
			return recs
		}
		for _, r := range replicas {
			r.alive(t)
		}
		if time.Now().After(deadline) {
			var left []string
			for _, id := range ids {
				if recs[id] == nil {
					rec, err := in.store.Record(context.Background(), id)
					if err != nil {
						left = append(left, id+": "+err.Error())
					} else {
						left = append(left, fmt.Sprintf("%s: %s (%s)", id, rec.State, rec.Owner))
					}
				}
			}
			t.Fatalf("%d of %d releases ended within %s; not: %v", len(recs), len(ids), within, left)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// drivers checks, from the deployers' logs of every record write, that
// each release had one driver at a time: no revision written twice, and
// the driver changes only where the record notes a takeover. It returns
// how many drivers each release had.
func drivers(t *testing.T, recs map[string]*domain.ReleaseRecord, replicas ...*replica) map[string]int {
	t.Helper()
	counts, _ := checkDrivers(t, recs, nil, replicas...)
	return counts
}

// checkDrivers is drivers, where killedAt says when a driver (a record
// owner) was killed with SIGKILL, if it was. A change of driver from a
// killed one is one at a time when the new driver's first write comes
// after the kill; other changes must be noted takeovers, as in drivers.
// In any case a driver that was replaced never writes again. A killed
// driver may have died between a record's write and its log line, so its
// last write may be missing from the logs. It also returns, for each
// change from a killed driver, how long after the kill the new driver
// wrote first.
func checkDrivers(t *testing.T, recs map[string]*domain.ReleaseRecord, killedAt func(driver string) (time.Time, bool), replicas ...*replica) (map[string]int, []time.Duration) {
	t.Helper()
	if killedAt == nil {
		killedAt = func(string) (time.Time, bool) { return time.Time{}, false }
	}
	byRelease := map[string][]logLine{}
	for _, r := range replicas {
		for _, l := range r.lines(t) {
			if l.Msg == "release record" {
				byRelease[l.Release] = append(byRelease[l.Release], l)
			}
		}
	}
	out := map[string]int{}
	var resumed []time.Duration
	for id, rec := range recs {
		ls := byRelease[id]
		sort.Slice(ls, func(i, j int) bool { return ls[i].Revision < ls[j].Revision })
		takeovers := 0
		for _, n := range rec.Notes {
			if strings.Contains(n, "took over from engine") {
				takeovers++
			}
		}
		changes, seen := 0, map[string]bool{}
		for i, l := range ls {
			if i > 0 && ls[i-1].Revision == l.Revision {
				t.Errorf("release %s: revision %d written by %s and %s", id, l.Revision, ls[i-1].Driver, l.Driver)
			}
			if i > 0 && ls[i-1].Driver != l.Driver {
				if seen[l.Driver] {
					t.Errorf("release %s: %s wrote revision %d after %s had replaced it", id, l.Driver, l.Revision, ls[i-1].Driver)
				}
				if at, ok := killedAt(ls[i-1].Driver); ok {
					if !l.Time.After(at) {
						t.Errorf("release %s: %s wrote revision %d at %s, before %s was killed at %s", id, l.Driver, l.Revision, l.Time.Format(time.RFC3339Nano), ls[i-1].Driver, at.Format(time.RFC3339Nano))
					}
					resumed = append(resumed, l.Time.Sub(at))
				} else {
					changes++
				}
			}
			seen[l.Driver] = true
		}
		if changes > takeovers {
			t.Errorf("release %s: the driver changed %d times, but its record notes %d takeovers: %v", id, changes, takeovers, rec.Notes)
		}
		if _, dead := killedAt(rec.Owner); len(ls) > 0 && ls[len(ls)-1].Revision != rec.Revision && !dead {
			t.Errorf("release %s: last logged revision %d, record at %d", id, ls[len(ls)-1].Revision, rec.Revision)
		}
		out[id] = len(seen)
	}
	return out, resumed
}

// leftovers returns the orbit's groups and launch templates, found with
// the SDK by tag, by app.
func (in *intake) leftovers(t *testing.T) (groups, templates map[string][]string) {
	t.Helper()
	cfg := in.acct.Config("us-east-1")
	ctx := context.Background()
	groups, templates = map[string][]string{}, map[string][]string{}
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(autoscaling.NewFromConfig(cfg), &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{in.orbit}}}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range out.AutoScalingGroups {
			app := ""
			for _, tag := range g.Tags {
				if aws.ToString(tag.Key) == domain.TagApp {
					app = aws.ToString(tag.Value)
				}
			}
			groups[app] = append(groups[app], aws.ToString(g.AutoScalingGroupName))
		}
	}
	lt, err := ec2.NewFromConfig(cfg).DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{in.orbit}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lt.LaunchTemplates {
		app := ""
		for _, tag := range l.Tags {
			if aws.ToString(tag.Key) == domain.TagApp {
				app = aws.ToString(tag.Value)
			}
		}
		templates[app] = append(templates[app], aws.ToString(l.LaunchTemplateName))
	}
	return groups, templates
}

// TestTwoDeployersDriveFiftyReleasesOfTenApps submits 50 releases of 10
// apps at once through the bucket to two deployer processes: every one
// ends Success, each had one driver at a time, both deployers drove some,
// and each app is left with the group of its last release.
func TestTwoDeployersDriveFiftyReleasesOfTenApps(t *testing.T) {
	const apps, perApp = 10, 5
	in := newIntake(t, apps)
	a, b := in.start(t, emulatortest.Endpoint()), in.start(t, emulatortest.Endpoint())
	var ids []string
	var rels []*domain.Release
	for v := 1; v <= perApp; v++ {
		for i := range apps {
			rels = append(rels, in.release(t, fmt.Sprintf("app%02d", i), fmt.Sprintf("1.0.%d", v)))
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, rel := range rels {
		ids = append(ids, rel.ID)
		wg.Add(1)
		go func() { defer wg.Done(); in.submit(t, rel) }()
	}
	wg.Wait()
	recs := in.waitEnded(t, ids, 8*time.Minute, a, b)
	took := time.Since(start)
	t.Logf("%d releases of %d apps through 2 deployers in %s: %.1f releases a minute", len(ids), apps, took.Round(time.Millisecond), float64(len(ids))/took.Minutes())
	for id, rec := range recs {
		if rec.State != domain.StateSuccess {
			t.Errorf("release %s of %s ended %s: %s", id, rec.App, rec.State, rec.Error)
		}
	}
	listed := 0
	for _, r := range []*replica{a, b} {
		for _, l := range r.lines(t) {
			if l.Msg == "submission found by listing" {
				listed++
			}
		}
	}
	t.Logf("%d of %d submissions found by listing the prefix, the rest by the queue", listed, len(ids))
	counts := drivers(t, recs, a, b)
	by := map[string]int{}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("release %s had %d drivers, want 1 (no deployer died)", id, n)
		}
		by[recs[id].Owner]++
	}
	if len(by) != 2 {
		t.Errorf("drivers %v: want both deployers to drive releases", by)
	}
	groups, templates := in.leftovers(t)
	for i := range apps {
		app := fmt.Sprintf("app%02d", i)
		if len(groups[app]) != 1 || len(templates[app]) != 1 {
			t.Errorf("%s: groups %v, launch templates %v; want those of its last release only", app, groups[app], templates[app])
		}
	}
	for _, r := range []*replica{a, b} {
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-r.exited:
			if err != nil {
				t.Errorf("deployer exited %v on SIGTERM", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("deployer did not stop within 30s of SIGTERM")
		}
	}
}

// TestAKilledDeployersReleaseIsFinishedByAnother kills -9 the deployer
// driving a release as the release enters CheckHealthy: another deployer
// resumes it once the lease ends and finishes it, and neither an Auto
// Scaling group nor a launch template is left over.
func TestAKilledDeployersReleaseIsFinishedByAnother(t *testing.T) {
	in := newIntake(t, 1)
	first := in.release(t, "app00", "1.0.0")
	gate := newGate(t, enteringCheckHealthy)
	a := in.start(t, gate.URL)
	in.submit(t, first)
	select {
	case <-gate.held:
	case err := <-a.exited:
		t.Fatalf("deployer exited (%v) before the release entered CheckHealthy:\n%s", err, a.out.String())
	case <-time.After(time.Minute):
		t.Fatalf("the release never entered CheckHealthy:\n%s", tail(a.out.String(), 40))
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	a.exited <- nil
	gate.open()
	killed := time.Now()
	b := in.start(t, emulatortest.Endpoint())
	recs := in.waitEnded(t, []string{first.ID}, 2*time.Minute, b)
	rec := recs[first.ID]
	t.Logf("resumed and ended %s after the kill", time.Since(killed).Round(time.Millisecond))
	if rec.State != domain.StateSuccess {
		t.Fatalf("release ended %s: %s", rec.State, rec.Error)
	}
	if n := drivers(t, recs, a, b)[first.ID]; n != 2 {
		t.Errorf("release had %d drivers, want the killed deployer and the other", n)
	}
	groups, templates := in.leftovers(t)
	if len(groups["app00"]) != 1 || len(templates["app00"]) != 1 {
		t.Errorf("groups %v, launch templates %v; want the release's one of each", groups, templates)
	}
}

// TestADuplicateSubmissionRunsOnceAndAMalformedOneIsRejected delivers one
// submission twice (written twice, and its notification sent again after
// the release ended), and submits malformed documents: the release runs
// once and stays Success, each malformed submission is audited as
// rejected and moved aside, and the deployers keep working.
func TestADuplicateSubmissionRunsOnceAndAMalformedOneIsRejected(t *testing.T) {
	in := newIntake(t, 1)
	a, b := in.start(t, emulatortest.Endpoint()), in.start(t, emulatortest.Endpoint())
	ctx := context.Background()
	objects := s3.New(in.acct.Config("us-east-1"))

	rel := in.release(t, "app00", "1.0.0")
	in.submit(t, rel)
	in.submit(t, rel)
	rec := in.waitEnded(t, []string{rel.ID}, time.Minute, a, b)[rel.ID]
	if rec.State != domain.StateSuccess {
		t.Fatalf("release ended %s: %s", rec.State, rec.Error)
	}
	var notice bytes.Buffer
	fmt.Fprintf(&notice, `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`, in.bucket, domain.SubmissionKey(rel.ID))
	q := sqssdk.NewFromConfig(in.acct.Config("us-east-1"))
	if _, err := q.SendMessage(ctx, &sqssdk.SendMessageInput{QueueUrl: aws.String(in.queueURL), MessageBody: aws.String(notice.String())}); err != nil {
		t.Fatal(err)
	}

	bad := map[string]func(doc []byte) ([]byte, string){
		"bad JSON":          func([]byte) ([]byte, string) { b := []byte(`{"id": "not json`); return b, domain.ChecksumOf(b) },
		"checksum mismatch": func(doc []byte) ([]byte, string) { return doc, domain.ChecksumOf([]byte("something else")) },
		"fails Check":       nil, // made below: it must carry the id of its key
	}
	badIDs := map[string]string{}
	for name, mk := range bad {
		r := in.release(t, "app00", "2.0.0")
		doc, _ := r.Canonical()
		var body []byte
		var sum string
		if mk != nil {
			body, sum = mk(doc)
		} else {
			r2 := *rel
			r2.ID, r2.Services = r.ID, nil
			body, _ = r2.Canonical()
			sum = domain.ChecksumOf(body)
		}
		if _, err := objects.PutWithMetadata(ctx, in.bucket, domain.SubmissionKey(r.ID), "application/json", body, map[string]string{domain.SubmissionChecksumMeta: sum}); err != nil {
			t.Fatal(err)
		}
		badIDs[r.ID] = name
	}
	after := in.release(t, "app00", "3.0.0")
	in.submit(t, after)
	if got := in.waitEnded(t, []string{after.ID}, time.Minute, a, b)[after.ID]; got.State != domain.StateSuccess {
		t.Errorf("the release after the malformed ones ended %s: %s", got.State, got.Error)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, err := in.store.AuditLog(ctx, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		rejected := map[string]string{}
		for _, e := range entries {
			if strings.HasPrefix(e.Outcome, "rejected: ") {
				rejected[e.ReleaseID] = e.Outcome
			}
		}
		missing := 0
		for id := range badIDs {
			if rejected[id] == "" {
				missing++
			}
		}
		if missing == 0 {
			for id, name := range badIDs {
				t.Logf("%s: %s", name, rejected[id])
				_, meta, err := objects.GetWithMetadata(ctx, in.bucket, domain.RejectedKey(id))
				if err != nil {
					t.Errorf("%s: not moved aside under %s: %v", name, domain.RejectedPrefix, err)
				} else if meta[domain.RejectedReasonMeta] == "" || !strings.Contains(rejected[id], meta[domain.RejectedReasonMeta][:min(20, len(meta[domain.RejectedReasonMeta]))]) {
					t.Errorf("%s: moved aside with reason %q, the audit log says %q", name, meta[domain.RejectedReasonMeta], rejected[id])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d malformed submissions not audited as rejected: %v", missing, rejected)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The malformed submissions' messages go to the dead-letter queue
	// after their retries (elevator.SubmissionsMaxReceives receives).
	dlq, err := q.GetQueueUrl(ctx, &sqssdk.GetQueueUrlInput{QueueName: aws.String(domain.SubmissionsDLQName(in.orbit))})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(90 * time.Second); ; {
		attrs, err := q.GetQueueAttributes(ctx, &sqssdk.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		if n >= len(bad) {
			t.Logf("%d messages in the dead-letter queue", n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages in the dead-letter queue, want the %d malformed submissions'", n, len(bad))
		}
		time.Sleep(time.Second)
	}

	// The duplicate notification was dropped: the release ran once.
	time.Sleep(3 * time.Second)
	again, err := in.store.Record(ctx, rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision != rec.Revision || again.State != domain.StateSuccess {
		t.Errorf("the duplicate moved the release on: revision %d -> %d, state %s", rec.Revision, again.Revision, again.State)
	}
	validates := 0
	for _, s := range again.Path {
		if s == domain.StateValidate {
			validates++
		}
	}
	if validates != 1 {
		t.Errorf("path %v: the release ran %d times", again.Path, validates)
	}
	if ok, _ := objects.Exists(ctx, in.bucket, domain.SubmissionKey(rel.ID)); ok {
		t.Errorf("the submission of an ended release is still there")
	}
	a.alive(t)
	b.alive(t)
}

// TestASIGTERMedDeployerHandsItsReleaseOver stops the deployer driving a
// release with SIGTERM while the release's step is in flight: it finishes
// the step, ends its lease, exits 0, and another deployer finishes the
// release without waiting for the lease to run out.
func TestASIGTERMedDeployerHandsItsReleaseOver(t *testing.T) {
	in := newIntake(t, 1)
	rel := in.release(t, "app00", "1.0.0")
	gate := newGate(t, enteringCheckHealthy)
	a := in.start(t, gate.URL)
	in.submit(t, rel)
	select {
	case <-gate.held:
	case <-time.After(time.Minute):
		t.Fatalf("the release never entered CheckHealthy:\n%s", tail(a.out.String(), 40))
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	gate.open() // the step in flight finishes
	select {
	case err := <-a.exited:
		a.exited <- err
		if err != nil {
			t.Fatalf("deployer exited %v on SIGTERM:\n%s", err, tail(a.out.String(), 40))
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("deployer did not stop within 20s of SIGTERM:\n%s", tail(a.out.String(), 40))
	}
	if !strings.Contains(a.out.String(), "lease ended for another replica") {
		t.Errorf("the stopped deployer did not end its lease:\n%s", tail(a.out.String(), 30))
	}
	stopped := time.Now()
	b := in.start(t, emulatortest.Endpoint())
	rec := in.waitEnded(t, []string{rel.ID}, time.Minute, b)[rel.ID]
	took := time.Since(stopped)
	t.Logf("taken over and ended %s after the first deployer stopped", took.Round(time.Millisecond))
	if rec.State != domain.StateSuccess {
		t.Fatalf("release ended %s: %s", rec.State, rec.Error)
	}
	if took >= 10*time.Second {
		t.Errorf("the release ended %s after the stop: the lease (10s) was waited for", took)
	}
	if n := drivers(t, map[string]*domain.ReleaseRecord{rel.ID: rec}, a, b)[rel.ID]; n != 2 {
		t.Errorf("release had %d drivers, want the stopped deployer and the other", n)
	}
}
