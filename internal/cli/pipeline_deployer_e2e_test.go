package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// watchLine is a line of `pipeline watch --output json`.
type watchLine struct {
	Pipeline   string            `json:"pipeline"`
	Stage      string            `json:"stage"`
	From       string            `json:"from"`
	To         string            `json:"to"`
	WaitingFor []string          `json:"waiting_for"`
	Releases   map[string]string `json:"releases"`
	State      string            `json:"state"`
}

func watchLines(t *testing.T, r result) []watchLine {
	t.Helper()
	var out []watchLine
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var l watchLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("pipeline watch --output json printed a line that is no JSON object: %v\n%s", err, r.stdout)
		}
		out = append(out, l)
	}
	return out
}

// moves lists a watch's lines as "stage from>to" (and the execution's end
// as "pipeline STATE").
func moves(lines []watchLine) string {
	var s []string
	for _, l := range lines {
		if l.Stage == "" {
			s = append(s, "pipeline "+l.State)
			continue
		}
		w := ""
		if len(l.WaitingFor) > 0 {
			w = "(" + strings.SplitN(l.WaitingFor[0], ":", 2)[0] + ")"
		}
		s = append(s, l.Stage+" "+l.From+">"+l.To+w)
	}
	return strings.Join(s, ", ")
}

// freeAddr is an address on the loopback that nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pipelineDeployer starts `elevator deployer` for an orbit as its own
// process, listening on addr and driving pipeline executions every
// second, its AWS calls to endpoint, and returns its URL; the test kills
// it (by its pid) when it ends.
func pipelineDeployer(t *testing.T, orbitName, orbitFile, addr, endpoint string) (string, *replica) {
	t.Helper()
	args := []string{"deployer", "--orbit", orbitName, "--orbit-file", orbitFile, "--endpoint-url", endpoint,
		"--poll-interval", "100ms", "--lease", "10s", "--reconcile", "1s", "--receive-wait", "1s", "--pipeline-every", "1s", "--grace", "5s", "--listen", addr}
	r := &replica{cmd: exec.Command(buildElevator(t), args...), out: &lockedBuffer{}, exited: make(chan error, 1)}
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
			t.Logf("deployer %d of %s:\n%s", r.cmd.Process.Pid, orbitName, tail(r.out.String(), 60))
		}
	})
	return "http://" + addr, r
}

// drove reports whether a deployer's log shows release id ending in
// Success under its hand.
func (r *replica) drove(t *testing.T, id string) bool {
	for _, l := range r.lines(t) {
		if l.Msg == "release record" && l.Release == id && l.State == string(domain.StateSuccess) {
			return true
		}
	}
	return false
}

// TestADeployerDrivesAPipelineThroughItsApproval: three orbits; the first
// two have a deployer each (their own processes), the third none.
// `pipeline start --watch` with the first orbit's deployer writes the
// execution and follows it; that deployer runs it to the first stage's
// approval, where the watch returns, and
// after `pipeline approve` — no process of the user's running — releases
// the stage, then submits the second stage's release to the second
// orbit's deployer, which runs it; `pipeline watch` follows it all. The
// third orbit has no deployer to take its release: the stage waits for
// access, and `pipeline resume` from "a machine with access" (this
// process) finishes it.
func TestADeployerDrivesAPipelineThroughItsApproval(t *testing.T) {
	acct := inAccount(t)
	bob := [2]string{}
	bob[0], bob[1] = userKeys(t, acct, "bob")
	me := [2]string{acct.AccessKeyID, acct.SecretAccessKey}
	access := fmt.Sprintf("access:\n  - {role: approver, principals: [\"arn:aws:iam::%s:user/bob\"]}\n", acct.ID)
	firstAddr, secondAddr := freeAddr(t), freeAddr(t)
	first, firstName := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n"+access)
	// The first orbit's deployer releases into the second for the
	// starter only if they may deploy the app there.
	starter := fmt.Sprintf("access:\n  - {role: deployer, principals: [\"arn:aws:iam::%s:user/elevator-test\"], apps: [shop]}\n", acct.ID)
	second, secondName := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\ndeployer: http://"+secondAddr+"\n"+starter)
	third, thirdName := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(t.TempDir(), "app.yml")
	body := releaseApp + fmt.Sprintf("pipeline:\n  stages:\n    - orbit: %s\n      approval: {roles: [approver]}\n    - {orbit: %s, auto: true}\n    - {orbit: %s, auto: true}\n",
		firstName, secondName, thirdName)
	if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range [][2]string{{first, firstName}, {second, secondName}, {third, thirdName}} {
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", o[0]))
		flags := []string{"-f", appFile, "--orbit", o[1], "--orbit-file", o[0]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	url, dep := pipelineDeployer(t, firstName, first, firstAddr, emulatortest.Endpoint())
	notifySubmissions(t, acct, secondName) // the second orbit's deployer hears of the submission at once
	_, dep2 := pipelineDeployer(t, secondName, second, secondAddr, emulatortest.Endpoint())
	pflags := []string{"-f", appFile, "--orbit-file", first, "--orbit-file", second, "--orbit-file", third, "--output", "json"}
	pipeline := func(keys [2]string, args ...string) result {
		return as(t, keys, append(append([]string{"pipeline"}, args...), pflags...)...)
	}

	// start leaves the execution to the deployer and, with --watch,
	// follows it: the deployer takes it to the approval, and the watch
	// returns there.
	r := pipeline(me, "start", "--version", "2.0.0", "--deployer", url, "--watch", "--watch-interval", "200ms")
	mustSucceed(t, r)
	lines := watchLines(t, r)
	if len(lines) == 0 || !strings.Contains(r.stderr, "the deployer of orbit "+firstName) {
		t.Fatalf("pipeline start --watch with a deployer printed no change:\n%s%s", r.stdout, r.stderr)
	}
	e := execution(t, pipeline(me, "status", lines[0].Pipeline))
	if got := moves(lines); !strings.HasSuffix(got, ">Waiting(approval)") || !strings.Contains(got, firstName+" ") || e.states() != "Running Waiting Pending Pending" {
		t.Fatalf("start --watch until the approval: %s; the execution is %s", got, e.states())
	}
	// Parked, the execution costs the deployer one Query of the index
	// and one GetItem of its record a round (--pipeline-every 1s), and no
	// write: nothing changed, so it is not run again.
	before := awsCalls(t, url)
	time.Sleep(3 * time.Second)
	after := awsCalls(t, url)
	query, get, put := after["DynamoDB Query"]-before["DynamoDB Query"], after["DynamoDB GetItem"]-before["DynamoDB GetItem"], after["DynamoDB PutItem"]-before["DynamoDB PutItem"]
	t.Logf("figure: a parked execution, 3s of an idle deployer (--pipeline-every 1s): %.0f Query, %.0f GetItem, %.0f PutItem", query, get, put)
	if query == 0 || put != 0 {
		t.Errorf("while the execution was parked the deployer made %.0f Query and %.0f PutItem calls; want its listing and no write", query, put)
	}
	e = execution(t, pipeline(me, "status", e.ID))
	review := e.Reviews[firstName]
	if review == "" {
		t.Fatalf("the deployer computed no review: %+v", e)
	}
	mustSucceed(t, pipeline(bob, "approve", e.ID, "--stage", firstName, "--review", review, "--reason", "ship it"))
	approved := time.Now()

	// No process of the user's runs: the deployer sees the approval and
	// releases the stage, then the second orbit's deployer releases the
	// second; watch follows until the third stage waits for a driver that
	// may release into its orbit.
	w := pipeline(me, "watch", e.ID, "--watch-interval", "200ms")
	mustSucceed(t, w)
	lines = watchLines(t, w)
	got := moves(lines)
	// watch reads the record every 200ms: it sees the states the record
	// was in then (a quick bake may pass between two reads).
	var released, succeeded, succeeded2, blocked bool
	for _, l := range lines {
		released = released || (l.Stage == firstName && l.From == "Waiting" && l.To == "Releasing")
		succeeded = succeeded || (l.Stage == firstName && l.To == "Succeeded" && l.Releases[firstName] != "")
		succeeded2 = succeeded2 || (l.Stage == secondName && l.To == "Succeeded" && l.Releases[secondName] != "")
		blocked = blocked || (l.Stage == thirdName && l.To == "Waiting" && len(l.WaitingFor) == 1 && strings.HasPrefix(l.WaitingFor[0], domain.WaitAccess+":"))
	}
	if !released || !succeeded || !succeeded2 || !blocked {
		t.Errorf("watch after the approval: first stage released %v and succeeded %v, second succeeded %v, third waits for access %v: %s",
			released, succeeded, succeeded2, blocked, got)
	}
	for _, l := range strings.Split(dep.out.String(), "\n") {
		var m struct {
			Time     time.Time `json:"time"`
			Msg      string    `json:"msg"`
			From, To string
		}
		if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "pipeline stage moved" && m.From == "Waiting" && m.To == "Releasing" {
			t.Logf("figure: approval to the deployer releasing the stage: %s (--pipeline-every 1s)", m.Time.Sub(approved).Round(time.Millisecond))
			break
		}
	}
	e = execution(t, pipeline(me, "status", e.ID))
	rel, rel2 := e.Stages[0].Releases[firstName], e.Stages[1].Releases[secondName]
	if got := e.states(); got != "Running Succeeded Succeeded Waiting" || rel == "" || rel2 == "" {
		t.Fatalf("after the deployers: %s %+v", got, e.Stages)
	}
	if w := e.Stages[2].WaitingFor; len(w) != 1 || !strings.HasPrefix(w[0], domain.WaitAccess+": orbit "+thirdName+": orbit "+thirdName+" has no deployer") {
		t.Errorf("the third stage waits for %q", w)
	}
	// Each orbit's deployer drove its orbit's release.
	if !dep.drove(t, rel) || !dep2.drove(t, rel2) {
		t.Errorf("the first orbit's deployer drove %s: %v; the second's drove %s: %v", rel, dep.drove(t, rel), rel2, dep2.drove(t, rel2))
	}

	// A machine with access to the third orbit goes on.
	e = execution(t, pipeline(me, "resume", e.ID, "--poll-interval", "100ms"))
	if got := e.states(); got != "Succeeded Succeeded Succeeded Succeeded" || e.Stages[2].Releases[thirdName] == "" {
		t.Fatalf("after the resume: %s", got)
	}
	dep.alive(t)
	dep2.alive(t)
}

// TestAKilledDeployersPipelineIsFinishedByAnother: a deployer drives a
// one-stage pipeline and is SIGKILLed while the stage's release is in
// CheckHealthy (a proxy in front of the emulator holds that answer back);
// another deployer of the orbit, once the dead one's 10s leases have
// ended, finishes the release and the execution, with the one release the
// dead deployer started.
func TestAKilledDeployersPipelineIsFinishedByAnother(t *testing.T) {
	inAccount(t)
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	appFile := filepath.Join(t.TempDir(), "app.yml")
	if err := os.WriteFile(appFile, []byte(releaseApp+"pipeline:\n  stages:\n    - orbit: "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

	gate := newGate(t, enteringCheckHealthy)
	url, a := pipelineDeployer(t, name, orbitFile, freeAddr(t), gate.URL)
	pflags := []string{"-f", appFile, "--orbit-file", orbitFile, "--output", "json"}
	e := execution(t, elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.0", "--deployer", url}, pflags...)...))
	select {
	case <-gate.held:
	case err := <-a.exited:
		t.Fatalf("the deployer exited (%v) before the release entered CheckHealthy", err)
	case <-time.After(time.Minute):
		t.Fatal("the stage's release never entered CheckHealthy")
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	a.exited <- nil
	gate.open()
	killed := time.Now()
	_, b := pipelineDeployer(t, name, orbitFile, freeAddr(t), emulatortest.Endpoint())
	if err := pollUntil(2*time.Minute, func() error {
		b.alive(t)
		e = execution(t, elevator(t, "", append([]string{"pipeline", "status", e.ID}, pflags...)...))
		if e.State == "Running" {
			return fmt.Errorf("pipeline %s", e.states())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: the other deployer finished the pipeline %s after the kill (leases of 10s)", time.Since(killed).Round(time.Millisecond))
	rel := e.Stages[0].Releases[name]
	if got := e.states(); got != "Succeeded Succeeded" || rel == "" {
		t.Fatalf("after the other deployer: %s", got)
	}
	list := elevator(t, "", "release", "list", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--output", "json")
	mustSucceed(t, list)
	var recs []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &recs); err != nil || len(recs) != 1 || recs[0].ID != rel || recs[0].State != string(domain.StateSuccess) {
		t.Errorf("releases of shop: %+v (%v); want the one the killed deployer started, %s, ended Success", recs, err, rel)
	}
	if !b.drove(t, rel) {
		t.Errorf("the other deployer's log has no record of release %s ending in Success", rel)
	}
}

// TestASIGTERMedDeployerHandsItsPipelineOver: a deployer driving a
// one-stage pipeline gets SIGTERM while the stage's release is in
// CheckHealthy (a proxy holds that answer back until the signal is
// sent); it gives the execution's lease up as it stops (the record names
// no owner once it has exited), and another deployer finishes the
// execution without waiting for the lease to end.
func TestASIGTERMedDeployerHandsItsPipelineOver(t *testing.T) {
	inAccount(t)
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	appFile := filepath.Join(t.TempDir(), "app.yml")
	if err := os.WriteFile(appFile, []byte(releaseApp+"pipeline:\n  stages:\n    - orbit: "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

	gate := newGate(t, enteringCheckHealthy)
	url, a := pipelineDeployer(t, name, orbitFile, freeAddr(t), gate.URL)
	pflags := []string{"-f", appFile, "--orbit-file", orbitFile, "--output", "json"}
	e := execution(t, elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.0", "--deployer", url}, pflags...)...))
	select {
	case <-gate.held:
	case err := <-a.exited:
		t.Fatalf("the deployer exited (%v) before the release entered CheckHealthy", err)
	case <-time.After(time.Minute):
		t.Fatal("the stage's release never entered CheckHealthy")
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed := time.Now()
	gate.open()
	select {
	case err := <-a.exited:
		a.exited <- err
		if err != nil {
			t.Fatalf("the deployer exited with %v on SIGTERM", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the deployer did not stop on SIGTERM")
	}
	status := elevator(t, "", append([]string{"pipeline", "status", e.ID}, pflags...)...)
	mustSucceed(t, status)
	var lease struct {
		State string `json:"state"`
		Owner string `json:"owner"`
	}
	if err := json.Unmarshal([]byte(status.stdout), &lease); err != nil {
		t.Fatal(err)
	}
	if lease.State == "Running" && lease.Owner != "" {
		t.Fatalf("after SIGTERM the execution is still leased to %s", lease.Owner)
	}
	_, b := pipelineDeployer(t, name, orbitFile, freeAddr(t), emulatortest.Endpoint())
	if err := pollUntil(2*time.Minute, func() error {
		b.alive(t)
		e = execution(t, elevator(t, "", append([]string{"pipeline", "status", e.ID}, pflags...)...))
		if e.State == "Running" {
			return fmt.Errorf("pipeline %s", e.states())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range b.lines(t) {
		if l.Msg == "pipeline driven" {
			// The release itself waits for the other deployer's listing
			// of submissions, which leaves a submission younger than the
			// queue's visibility (10s) to the queue (moto sends no
			// notification here).
			t.Logf("figure: the other deployer drove the execution %s after the SIGTERM (leases of 10s); the pipeline ended %s after it",
				l.Time.Sub(termed).Round(time.Millisecond), time.Since(termed).Round(time.Millisecond))
			break
		}
	}
	if got := e.states(); got != "Succeeded Succeeded" {
		t.Fatalf("after the other deployer: %s", got)
	}
}

// TestAResumeShipsTheManifestTheExecutionStartedWith: the execution pins
// the app manifest at `pipeline start`; app.yml changes while the stage
// waits for its approval; `pipeline resume` warns that the file differs
// and releases what the execution started with.
func TestAResumeShipsTheManifestTheExecutionStartedWith(t *testing.T) {
	acct := inAccount(t)
	bob := [2]string{}
	bob[0], bob[1] = userKeys(t, acct, "bob")
	me := [2]string{acct.AccessKeyID, acct.SecretAccessKey}
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n"+
		fmt.Sprintf("access:\n  - {role: approver, principals: [\"arn:aws:iam::%s:user/bob\"]}\n", acct.ID))
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	appFile := filepath.Join(t.TempDir(), "app.yml")
	write := func(max int) {
		body := strings.Replace(releaseApp, "scaling: {min: 1, max: 2}", fmt.Sprintf("scaling: {min: 1, max: %d}", max), 1) +
			"pipeline:\n  stages:\n    - orbit: " + name + "\n      approval: {roles: [approver]}\n"
		if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(2)
	flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	pflags := []string{"-f", appFile, "--orbit-file", orbitFile, "--output", "json", "--poll-interval", "100ms"}

	e := execution(t, as(t, me, append([]string{"pipeline", "start", "--version", "1.0.0"}, pflags...)...))
	if got := e.states(); got != "Running Waiting" {
		t.Fatalf("after start: %s", got)
	}
	write(3) // a later commit: what a resume must not ship
	mustSucceed(t, as(t, bob, "pipeline", "approve", e.ID, "--stage", name, "--review", e.Reviews[name], "--reason", "ok", "-f", appFile, "--orbit-file", orbitFile))
	r := as(t, me, append([]string{"pipeline", "resume", e.ID}, pflags...)...)
	e = execution(t, r)
	if got := e.states(); got != "Succeeded Succeeded" {
		t.Fatalf("after the resume: %s\n%s", got, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: "+appFile+" differs from the app manifest pipeline "+e.ID+" started with") {
		t.Errorf("the resume did not warn that app.yml changed:\n%s", r.stderr)
	}
	b, err := awsrelease.New(awsrelease.Config{Orbit: name, AWS: []aws.Config{acct.Config("us-east-1")}, Bucket: domain.StateBucketName(acct.ID, "us-east-1", name)})
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := b.Store.Release(context.Background(), e.Stages[0].Releases[name])
	if err != nil {
		t.Fatal(err)
	}
	rel, err := domain.ParseRelease(doc)
	if err != nil {
		t.Fatal(err)
	}
	var web *domain.ReleaseService
	for i := range rel.Services {
		if rel.Services[i].Name == "web" {
			web = &rel.Services[i]
		}
	}
	if web == nil || web.Capacity.Max != 2 {
		t.Errorf("the release ships web as %+v; want max 2, from the app.yml the execution started with (the resume's says 3)", web)
	}
}

// awsCalls reads the deployer's /metrics: the AWS calls it made, by
// "service operation".
func awsCalls(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	re := regexp.MustCompile(`^elevator_aws_calls_total\{operation="([^"]+)",service="([^"]+)"\} ([0-9.e+]+)$`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[3], 64)
			out[m[2]+" "+m[1]] = n
		}
	}
	return out
}

// notifySubmissions puts the state bucket's notification of submissions
// to the orbit's queue, as the orbit stack does on AWS: moto ignores the
// one given through CloudFormation (see newIntake).
func notifySubmissions(t *testing.T, acct *emulatortest.Account, orbit string) {
	t.Helper()
	cfg := acct.Config("us-east-1")
	_, err := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutBucketNotificationConfiguration(context.Background(), &s3sdk.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(domain.StateBucketName(acct.ID, "us-east-1", orbit)),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			Events:   []s3types.Event{"s3:ObjectCreated:*"},
			QueueArn: aws.String(fmt.Sprintf("arn:aws:sqs:us-east-1:%s:%s", acct.ID, domain.SubmissionsQueueName(orbit))),
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNamePrefix, Value: aws.String(domain.SubmissionsPrefix)}}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
}
