package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// userKeys makes an IAM user in the test's account and returns its access
// keys: commands run with them are called by arn:aws:iam::ACCOUNT:user/NAME
// (moto answers GetCallerIdentity by the signing key, as AWS does).
func userKeys(t *testing.T, acct *emulatortest.Account, name string) (id, secret string) {
	t.Helper()
	api := iam.NewFromConfig(acct.Config("us-east-1"))
	ctx := context.Background()
	if _, err := api.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	key, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	accounts.Store(aws.ToString(key.AccessKey.AccessKeyId), acct) // the same account, for elevator()
	return aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)
}

// as runs the command line with the keys of another user of the account.
func as(t *testing.T, keys [2]string, args ...string) result {
	t.Helper()
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	os.Setenv("AWS_ACCESS_KEY_ID", keys[0])
	os.Setenv("AWS_SECRET_ACCESS_KEY", keys[1])
	defer func() { os.Setenv("AWS_ACCESS_KEY_ID", id); os.Setenv("AWS_SECRET_ACCESS_KEY", secret) }()
	return elevator(t, "", args...)
}

type executionOut struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Stages []struct {
		Name       string            `json:"name"`
		State      string            `json:"state"`
		WaitingFor []string          `json:"waiting_for"`
		Until      time.Time         `json:"until"`
		Releases   map[string]string `json:"releases"`
		Approval   *struct {
			By string `json:"by"`
		} `json:"approval"`
		Review []struct {
			ChangeSetID string                  `json:"change_set_id"`
			Changes     []domain.ResourceChange `json:"changes"`
		} `json:"review"`
		Updates map[string]string `json:"updates"`
	} `json:"stages"`
	Reviews map[string]string `json:"reviews"`
}

func execution(t *testing.T, r result) executionOut {
	t.Helper()
	mustSucceed(t, r)
	var e executionOut
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
		t.Fatalf("pipeline output: %v\n%s", err, r.stdout)
	}
	return e
}

func (e executionOut) states() string {
	var s []string
	for _, st := range e.Stages {
		s = append(s, st.State)
	}
	return e.State + " " + strings.Join(s, " ")
}

// TestAThreeStagePipelineThroughTheCommandLine promotes a version through
// three orbits on the emulator: the first stage releases, the second waits
// for an approval (the process ends: waiting holds none), a deployer and
// the starter are refused, an approval of change sets that changed since
// they were shown is refused, and `pipeline resume` in a new process
// releases the second stage once it is approved; the third is outside its
// window and `pipeline status` says until when.
func TestAThreeStagePipelineThroughTheCommandLine(t *testing.T) {
	acct := inAccount(t)
	bob := [2]string{}
	bob[0], bob[1] = userKeys(t, acct, "bob")
	carol := [2]string{}
	carol[0], carol[1] = userKeys(t, acct, "carol")
	starter := fmt.Sprintf("arn:aws:iam::%s:user/elevator-test", acct.ID)
	access := fmt.Sprintf("access:\n  - {role: approver, principals: [\"arn:aws:iam::%[1]s:user/bob\"]}\n  - {role: deployer, principals: [\"arn:aws:iam::%[1]s:user/carol\", %[2]q]}\n", acct.ID, starter)
	setup := time.Now()
	var orbitFiles, names []string
	for range 3 {
		f, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n"+access)
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", f))
		orbitFiles, names = append(orbitFiles, f), append(names, name)
	}
	// A window that is not open today (UTC) and opens more than --max-wait
	// from now, even when the test runs across midnight: the whole of the
	// day after tomorrow.
	tomorrow := time.Now().UTC().AddDate(0, 0, 2)
	window := tomorrow.Weekday().String()[:3] + " 00:00-24:00 UTC"
	appFile := filepath.Join(t.TempDir(), "app.yml")
	// web lets in the services of app billing, whose api is up in every
	// orbit (its security group is all web's stack needs of it).
	for _, name := range names {
		peerGroup(t, acct, name, "api")
	}
	// tables are the app's data tables: adding one is the change to its
	// infrastructure a stage reviews (moto loses a target group that a
	// change set modifies, so the change is an added table).
	writeApp := func(tables ...string) {
		body := strings.Replace(releaseApp, "    scaling: {min: 1, max: 2}\n", "    scaling: {min: 1, max: 2}\n    firewall: [{port: 8080, from: {app: billing}}]\n", 1)
		if len(tables) > 0 {
			body += "data:\n  tables:\n"
			for _, t := range tables {
				body += "    " + t + ": {hash_key: {name: id, type: S}}\n"
			}
		}
		body += fmt.Sprintf(`pipeline:
  stages:
    - orbit: %s
    - orbit: %s
      auto: true
      approval: {roles: [approver]}
    - orbit: %s
      auto: true
      windows: [%s]
`, names[0], names[1], names[2], window)
		if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeApp()
	for i, name := range names {
		flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFiles[i]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	// The version to promote needs a new table: every stage's review has
	// a change set.
	writeApp("orders")
	tableIn := func(table, orbitName string) bool {
		_, err := dynamodb.NewFromConfig(acct.Config("us-east-1")).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("shop-" + table + "-" + orbitName)})
		return err == nil
	}
	messages := subscribe(t, acct, names[1], orbitFiles[1])
	pflags := []string{"-f", appFile, "--orbit-file", orbitFiles[0], "--orbit-file", orbitFiles[1], "--orbit-file", orbitFiles[2], "--output", "json"}
	pipeline := func(keys [2]string, args ...string) result {
		return as(t, keys, append(append([]string{"pipeline"}, args...), pflags...)...)
	}
	me := [2]string{acct.AccessKeyID, acct.SecretAccessKey}

	t.Logf("figure: 3 orbits and the app up in %s", time.Since(setup).Round(time.Millisecond))
	started := time.Now()
	e := execution(t, pipeline(me, "start", "--version", "1.4.2"))
	t.Logf("figure: pipeline start (stage 1 released, stage 2 reviewed and parked) in %s", time.Since(started).Round(time.Millisecond))
	if got := e.states(); got != "Running Succeeded Waiting Pending" || e.Stages[0].Releases[names[0]] == "" {
		t.Fatalf("after start: %s, releases %v", got, e.Stages[0].Releases)
	}
	if w := e.Stages[1].WaitingFor; len(w) != 1 || w[0] != domain.WaitApproval || e.Reviews[names[1]] == "" {
		t.Fatalf("stage 2 waits for %v, reviews %v", w, e.Reviews)
	}
	// Stage 1, without an approval, executed its change set before its
	// release; stage 2 shows a real change set, the table added.
	if id := e.Stages[0].Review[0].ChangeSetID; id == "" || e.Stages[0].Updates[id] != domain.UpdateDone || !tableIn("orders", names[0]) {
		t.Fatalf("stage 1 review %+v, updates %v: its change set did not run", e.Stages[0].Review, e.Stages[0].Updates)
	}
	firstSet := e.Stages[1].Review[0].ChangeSetID
	if !strings.HasPrefix(firstSet, "arn:aws:cloudformation:us-east-1:"+acct.ID+":changeSet/") || tableIn("orders", names[1]) {
		t.Fatalf("stage 2's review %+v: want a change set, and nothing changed yet", e.Stages[1].Review)
	}
	if r := as(t, me, "pipeline", "status", e.ID, "-f", appFile, "--orbit-file", orbitFiles[0], "--orbit-file", orbitFiles[1], "--orbit-file", orbitFiles[2]); !strings.Contains(r.stdout, "+  TableOrders  AWS::DynamoDB::Table  STATEFUL") || !strings.Contains(r.stdout, "change set "+firstSet) {
		t.Errorf("status does not show the diff:\n%s%s", r.stdout, r.stderr)
	}
	shown := e.Reviews[names[1]]
	// A resume with nothing changed reviews again, and keeps the change set.
	if again := execution(t, pipeline(me, "resume", e.ID)); again.Reviews[names[1]] != shown || again.Stages[1].Review[0].ChangeSetID != firstSet {
		t.Fatalf("a resume with nothing changed: review %s (was %s), change set %s (was %s)", again.Reviews[names[1]], shown, again.Stages[1].Review[0].ChangeSetID, firstSet)
	}
	approve := func(keys [2]string, review string) result {
		return pipeline(keys, "approve", e.ID, "--stage", names[1], "--review", review, "--reason", "ship it")
	}
	if r := approve(carol, shown); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, "needs one of the roles approver in orbit "+names[1]) {
		t.Fatalf("a deployer approving: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := approve(me, shown); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, "someone else must approve") {
		t.Fatalf("the starter approving: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A copy of the orbit's manifest that allows self-approval changes
	// nothing: decisions read the orbit as `orbit up` applied it.
	doctored := filepath.Join(t.TempDir(), "orbit.yml")
	body, err := os.ReadFile(orbitFiles[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doctored, append(body, "pipelines:\n  self_approval: true\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := as(t, me, "pipeline", "approve", e.ID, "--stage", names[1], "--review", shown, "--reason", "mine", "-f", appFile,
		"--orbit-file", orbitFiles[0], "--orbit-file", doctored, "--orbit-file", orbitFiles[2]); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, "orbit "+names[1]+" does not allow self-approval") {
		t.Fatalf("the starter approving with a manifest that allows it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The app's infrastructure in the second orbit changes after the
	// approver looked — billing's jobs service comes up there, so web's
	// firewall now names its security group too: the resumed execution
	// computes the stage's review again, and an approval of what was
	// shown before is refused. A new app.yml (another table) changes
	// nothing: the execution ships the manifest it started with, and says
	// so.
	writeApp("orders", "audit")
	peerGroup(t, acct, names[1], "jobs")
	r := pipeline(me, "resume", e.ID)
	if !strings.Contains(r.stderr, "differs from the app manifest pipeline "+e.ID+" started with") {
		t.Errorf("the resume did not warn that app.yml changed:\n%s", r.stderr)
	}
	e = execution(t, r)
	approved := e.Stages[1].Review[0].ChangeSetID
	if got := e.states(); got != "Running Succeeded Waiting Pending" || e.Reviews[names[1]] == shown || approved == firstSet || approved == "" {
		t.Fatalf("after the change: %s, review %s (was %s), change set %s (was %s)", got, e.Reviews[names[1]], shown, approved, firstSet)
	}
	if r := approve(bob, shown); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, "changed since they were shown") {
		t.Fatalf("approving a stale review: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The superseded change set was deleted: nobody can run it by hand.
	upFlags := []string{"-f", appFile, "--orbit", names[1], "--orbit-file", orbitFiles[1]}
	if r := elevator(t, "", append([]string{"app", "up", "--change-set", firstSet}, upFlags...)...); r.code != cli.ExitConflict || !strings.Contains(r.stdout+r.stderr, "no longer exists") {
		t.Fatalf("app up --change-set of the superseded change set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustSucceed(t, approve(bob, e.Reviews[names[1]]))

	resumed := time.Now()
	e = execution(t, pipeline(me, "resume", e.ID))
	t.Logf("figure: pipeline resume (stage 2 re-reviewed and released, stage 3 parked) in %s", time.Since(resumed).Round(time.Millisecond))
	if got := e.states(); got != "Running Succeeded Succeeded Waiting" || e.Stages[1].Releases[names[1]] == "" || e.Stages[1].Approval == nil ||
		e.Stages[1].Approval.By != fmt.Sprintf("arn:aws:iam::%s:user/bob", acct.ID) {
		t.Fatalf("after the approval: %s, %+v", got, e.Stages[1])
	}
	// What ran is the approved change set, of the manifest the execution
	// started with: its table is there, the one app.yml added since is not.
	if e.Stages[1].Updates[approved] != domain.UpdateDone || !tableIn("orders", names[1]) || tableIn("audit", names[1]) {
		t.Fatalf("stage 2 updates %v: the approved change set %s did not run", e.Stages[1].Updates, approved)
	}
	want := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 0, 0, 0, 0, time.UTC)
	if p := e.Stages[2]; len(p.WaitingFor) != 1 || p.WaitingFor[0] != domain.WaitWindow || !p.Until.Equal(want) {
		t.Fatalf("stage 3 waits for %v until %s, want the window until %s", p.WaitingFor, p.Until, want)
	}
	status := as(t, me, "pipeline", "status", e.ID, "-f", appFile, "--orbit-file", orbitFiles[0], "--orbit-file", orbitFiles[1], "--orbit-file", orbitFiles[2])
	mustSucceed(t, status)
	if !strings.Contains(status.stdout, "waiting for window until "+want.Format(time.RFC3339)) {
		t.Errorf("status does not say until when:\n%s", status.stdout)
	}
	list := execution(t, pipeline(me, "status", e.ID))
	if list.ID != e.ID {
		t.Errorf("status --output json: %+v", list)
	}
	// Only an admin of the orbit may release outside the window; none of
	// the callers here is one.
	if r := pipeline(bob, "override", e.ID, "--stage", names[2], "--reason", "hotfix"); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, "needs the admin role in orbit "+names[2]) {
		t.Errorf("an approver overriding the window: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The second stage's orbit was told twice that it waits for an
	// approval (the review changed in between), then that it started.
	got := messages()
	if n := strings.Count(got, `approval_needed`); n != 2 || !strings.Contains(got, `stage_started`) || !strings.Contains(got, e.ID) {
		t.Errorf("orbit %s's info topic got %d approval_needed notices:\n%s", names[1], n, got)
	}
}

// subscribe subscribes a new SQS queue to an orbit's info topic and
// returns a function that reads what reached the queue, every body
// joined.
func subscribe(t *testing.T, acct *emulatortest.Account, orbitName, orbitFile string) func() string {
	t.Helper()
	ctx := context.Background()
	cfg := acct.Config("us-east-1")
	r := elevator(t, "", "orbit", "outputs", "-f", orbitFile, "--output", "json")
	mustSucceed(t, r)
	var out struct {
		Outputs map[string]map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("orbit outputs: %v\n%s", err, r.stdout)
	}
	topic := out.Outputs["us-east-1"]["InfoTopic"]
	if topic == "" {
		t.Fatalf("orbit outputs have no InfoTopic:\n%s", r.stdout)
	}
	q := sqs.NewFromConfig(cfg)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(orbitName + "-notices")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}); err != nil {
		t.Fatalf("subscribe to %q: %v", topic, err)
	}
	return func() string {
		var all []string
		for {
			out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				return strings.Join(all, "\n")
			}
			for _, m := range out.Messages {
				all = append(all, aws.ToString(m.Body))
				if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: created.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestPipelineCommandsCheckTheirInputFirst: bad input is refused before
// any AWS call (the endpoint fails the test on any request), with exit 2
// and what is wrong.
func TestPipelineCommandsCheckTheirInputFirst(t *testing.T) {
	endpoint := offline(t)
	dir := t.TempDir()
	noPipeline := filepath.Join(dir, "app.yml")
	if err := os.WriteFile(noPipeline, []byte(releaseApp), 0o644); err != nil {
		t.Fatal(err)
	}
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\n")
	withPipeline := filepath.Join(dir, "pipeline.yml")
	if err := os.WriteFile(withPipeline, []byte(releaseApp+"pipeline:\n  stages:\n    - orbit: "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(dir, "elsewhere.yml")
	if err := os.WriteFile(elsewhere, []byte(releaseApp+"pipeline:\n  stages:\n    - orbit: "+name+"\n    - {orbit: elsewhere, approval: {roles: [approver]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badWindow := filepath.Join(dir, "window.yml")
	if err := os.WriteFile(badWindow, []byte(releaseApp+"pipeline:\n  stages:\n    - {orbit: "+name+", windows: [Mon-Fri 09:00-17:00 Mars/Olympus]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	with := func(args ...string) []string { return append(args, "-f", withPipeline, "--orbit-file", orbitFile) }
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"an app without a pipeline", []string{"pipeline", "start", "-f", noPipeline, "--version", "1"}, "has no pipeline section"},
		{"an orbit no manifest describes", []string{"pipeline", "list", "-f", elsewhere, "--orbit-file", orbitFile},
			"elsewhere.yml:14:15: pipeline.stages[1].orbit: \"elsewhere\": no such orbit; the orbits given are " + name},
		{"an unknown time zone", []string{"pipeline", "status", "X", "-f", badWindow, "--orbit-file", orbitFile},
			"window.yml:13:37: pipeline.stages[0].windows[0]: \"Mon-Fri 09:00-17:00 Mars/Olympus\": time zone \"Mars/Olympus\": not an IANA time zone"},
		{"a bad version", with("pipeline", "start", "--version", "a b"), "--version"},
		{"a lease too short", with("pipeline", "start", "--version", "1", "--lease", "1s"), "--lease 1s: want 10s to 24h0m0s"},
		{"a poll interval too short", with("pipeline", "resume", "X", "--poll-interval", "1ms"), "--poll-interval 1ms: want at least 100ms"},
		{"a negative wait", with("pipeline", "resume", "X", "--max-wait", "-1s"), "--max-wait -1s"},
		{"a list of nothing", with("pipeline", "list", "--limit", "0"), "--limit 0: want 1 or more"},
		{"a watch too eager", with("pipeline", "watch", "X", "--watch-interval", "1ms"), "--watch-interval 1ms: want at least 100ms"},
		{"following what this command runs", with("pipeline", "start", "--version", "1", "--watch", "--in-process"), "--watch follows an execution a deployer drives"},
		{"following with no deployer", with("pipeline", "start", "--version", "1", "--watch"), "--watch: orbit " + name + " has no deployer"},
		{"a deployer that is no URL", with("pipeline", "start", "--version", "1", "--deployer", "ftp://x"), "want the URL of the deployer"},
		{"one region", with("pipeline", "list", "--region", "us-east-1"), "a pipeline covers every region"},
		{"an approval without its review", with("pipeline", "approve", "X", "--stage", name, "--reason", "ok"), "--review is required"},
		{"an approval without a stage", with("pipeline", "approve", "X", "--review", "abc", "--reason", "ok"), "--stage is required"},
		{"a rejection without a reason", with("pipeline", "reject", "X", "--stage", name), "reason"},
		{"an override without a reason", with("pipeline", "override", "X", "--stage", name), "reason"},
		{"a cancel without a reason", with("pipeline", "cancel", "X"), "reason"},
		{"a status without an execution", with("pipeline", "status"), "accepts 1 arg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, endpoint, "", c.args...)
			if r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, c.says) {
				t.Errorf("exit %d, want %d saying %q\n%s%s", r.code, cli.ExitInvalid, c.says, r.stdout, r.stderr)
			}
		})
	}
}

// TestAPipelineKilledMidReleaseIsResumed runs `pipeline start` as its own
// process and SIGKILLs it once the first stage's release has stored
// CheckHealthy (the proxy holds that answer back); `pipeline resume` from
// another process is refused while the dead process's 10 s lease lasts,
// then finishes the release and the pipeline without starting a second
// release.
func TestAPipelineKilledMidReleaseIsResumed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "elevator")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/elevator").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
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
	cmd := exec.Command(bin, "pipeline", "start", "--version", "1.0.0", "-f", appFile, "--orbit-file", orbitFile,
		"--poll-interval", "100ms", "--lease", "10s", "--endpoint-url", gate.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-gate.held:
	case err := <-exited:
		t.Fatalf("pipeline start ended (%v) before the request held back:\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	m := regexp.MustCompile(`pipeline ([0-9]{8}-[0-9]{6}(?:[0-9]{3})?-[0-9a-f]{8}) of shop`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("never saw the execution id:\n%s", stderr.String())
	}
	id := m[1]
	resume := []string{"pipeline", "resume", id, "-f", appFile, "--orbit-file", orbitFile, "--poll-interval", "100ms", "--lease", "10s", "--output", "json"}
	r := elevator(t, "", resume...)
	if r.code != cli.ExitConflict || !strings.Contains(r.stdout+r.stderr, "another process drives this pipeline execution") {
		t.Fatalf("resume inside the dead process's lease: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	time.Sleep(10 * time.Second)
	e := execution(t, elevator(t, "", resume...))
	if got := e.states(); got != "Succeeded Succeeded" {
		t.Fatalf("after the resume: %s", got)
	}
	rel := e.Stages[0].Releases[name]
	if !strings.Contains(stderr.String(), "release "+rel) {
		t.Errorf("the resume finished release %s, not the one the killed process started:\n%s", rel, stderr.String())
	}
	list := elevator(t, "", "release", "list", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--output", "json")
	mustSucceed(t, list)
	if n := strings.Count(list.stdout, `"id"`); n != 1 {
		t.Errorf("%d releases of shop, want 1:\n%s", n, list.stdout)
	}
}

// TestARollbackPinsTheOrbitAgainstAPipeline: after `elevator rollback` in
// an orbit, a pipeline waits before releasing into it; a deployer may not
// clear the pin, an approver may, and the pipeline then releases.
func TestARollbackPinsTheOrbitAgainstAPipeline(t *testing.T) {
	acct := inAccount(t)
	bob := [2]string{}
	bob[0], bob[1] = userKeys(t, acct, "bob")
	carol := [2]string{}
	carol[0], carol[1] = userKeys(t, acct, "carol")
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n"+fmt.Sprintf(
		"access:\n  - {role: approver, principals: [\"arn:aws:iam::%[1]s:user/bob\"]}\n  - {role: deployer, principals: [\"arn:aws:iam::%[1]s:user/carol\"]}\n", acct.ID))
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	appFile := filepath.Join(t.TempDir(), "app.yml")
	if err := os.WriteFile(appFile, []byte(releaseApp+"pipeline:\n  stages:\n    - orbit: "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	for _, v := range []string{"1.0.0", "2.0.0"} {
		mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", v, "--poll-interval", "100ms"}, flags...)...))
	}
	// The rollback follows the release before it at once: release ids
	// order releases to the millisecond, so it is the newest.
	mustSucceed(t, elevator(t, "", "rollback", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--poll-interval", "100ms"))

	pflags := []string{"-f", appFile, "--orbit-file", orbitFile, "--output", "json"}
	me := [2]string{acct.AccessKeyID, acct.SecretAccessKey}
	e := execution(t, as(t, me, append([]string{"pipeline", "start", "--version", "3.0.0"}, pflags...)...))
	if st := e.Stages[0]; e.State != "Running" || st.State != "Waiting" || len(st.WaitingFor) != 1 || st.WaitingFor[0] != domain.WaitUnpin || len(st.Releases) != 0 {
		t.Fatalf("a pipeline into a rolled-back orbit: %s %+v", e.states(), st)
	}
	status := as(t, me, "pipeline", "status", e.ID, "-f", appFile, "--orbit-file", orbitFile)
	mustSucceed(t, status)
	if !strings.Contains(status.stdout, "pinned: "+name+": release ") || !strings.Contains(status.stdout, "rolled shop back to the content of") {
		t.Errorf("status does not say why the stage waits:\n%s", status.stdout)
	}
	unpin := func(keys [2]string) result {
		return as(t, keys, append([]string{"pipeline", "unpin", e.ID, "--stage", name, "--reason", "3.0.0 fixes it"}, pflags...)...)
	}
	if r := unpin(carol); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, "needs the approver role in orbit "+name) {
		t.Fatalf("a deployer unpinning: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustSucceed(t, unpin(bob))
	e = execution(t, as(t, me, append([]string{"pipeline", "resume", e.ID, "--poll-interval", "100ms"}, pflags...)...))
	if e.states() != "Succeeded Succeeded" || e.Stages[0].Releases[name] == "" {
		t.Fatalf("after the unpin: %s %+v", e.states(), e.Stages[0])
	}
}

// TestTheSafeChangesPolicyApprovesAnAddedTableButNotARemovedOne runs a
// two-stage pipeline whose second stage may be approved by policy: a
// version that adds a table is approved by "policy" and runs its change
// set; one that removes a table waits for a person, and its review says
// that data may be lost.
func TestTheSafeChangesPolicyApprovesAnAddedTableButNotARemovedOne(t *testing.T) {
	acct := inAccount(t)
	starter := fmt.Sprintf("arn:aws:iam::%s:user/elevator-test", acct.ID)
	access := fmt.Sprintf("access:\n  - {role: approver, principals: [\"arn:aws:iam::%[1]s:user/bob\"]}\n  - {role: deployer, principals: [%[2]q]}\n", acct.ID, starter)
	var orbitFiles, names []string
	for range 2 {
		f, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n"+access)
		mustSucceed(t, elevator(t, "", "orbit", "up", "-f", f))
		orbitFiles, names = append(orbitFiles, f), append(names, name)
	}
	appFile := filepath.Join(t.TempDir(), "app.yml")
	writeApp := func(tables ...string) {
		body := releaseApp + "data:\n  tables:\n"
		for _, tb := range tables {
			body += "    " + tb + ": {hash_key: {name: id, type: S}}\n"
		}
		body += fmt.Sprintf("pipeline:\n  stages:\n    - orbit: %s\n    - orbit: %s\n      auto: true\n      approval: {roles: [approver], auto: safe-changes}\n", names[0], names[1])
		if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeApp("orders")
	for i, name := range names {
		flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFiles[i]}
		mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
		mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	}
	pflags := []string{"-f", appFile, "--orbit-file", orbitFiles[0], "--orbit-file", orbitFiles[1]}
	tableIn := func(table, orbitName string) bool {
		_, err := dynamodb.NewFromConfig(acct.Config("us-east-1")).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("shop-" + table + "-" + orbitName)})
		return err == nil
	}

	writeApp("orders", "audit")
	e := execution(t, elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.0", "--output", "json"}, pflags...)...))
	if got := e.states(); got != "Succeeded Succeeded Succeeded" || e.Stages[1].Approval == nil || e.Stages[1].Approval.By != domain.PolicyApprover || !tableIn("audit", names[1]) {
		t.Fatalf("a version adding a table: %s, approval %+v", got, e.Stages[1].Approval)
	}

	writeApp("audit")
	e = execution(t, elevator(t, "", append([]string{"pipeline", "start", "--version", "1.0.1", "--output", "json"}, pflags...)...))
	if got := e.states(); got != "Running Succeeded Waiting" || e.Stages[1].Approval != nil || !tableIn("orders", names[1]) {
		t.Fatalf("a version removing a table: %s, approval %+v", got, e.Stages[1].Approval)
	}
	status := elevator(t, "", append([]string{"pipeline", "status", e.ID}, pflags...)...)
	mustSucceed(t, status)
	if !strings.Contains(status.stdout, "-  TableOrders  AWS::DynamoDB::Table  STATEFUL: data may be lost") ||
		!strings.Contains(status.stdout, "not approved by policy safe-changes, data may be lost: remove TableOrders in us-east-1") {
		t.Errorf("status does not warn of the table removed:\n%s", status.stdout)
	}
}

// peerGroup makes the security group of service of app billing in orbit,
// tagged as Elevator tags a service's group: what an app whose firewall
// lets billing in finds of it.
func peerGroup(t *testing.T, acct *emulatortest.Account, orbit, service string) {
	t.Helper()
	_, err := ec2.NewFromConfig(acct.Config("us-east-1")).CreateSecurityGroup(context.Background(), &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("billing-" + service + "-" + orbit), Description: aws.String("billing " + service),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{
			{Key: aws.String(domain.TagOrbit), Value: aws.String(orbit)}, {Key: aws.String(domain.TagApp), Value: aws.String("billing")},
			{Key: aws.String(domain.TagService), Value: aws.String(service)}, {Key: aws.String(domain.TagManagedBy), Value: aws.String(domain.ManagedBy)}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
}
