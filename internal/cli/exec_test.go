package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/runcmd"
)

// scriptedRunCommand is a fake behind runcmd.Commands, the interface the
// SSM adapter is wired to: moto's Run Command ends every invocation at
// once with Success and exit 0, and lacks ListCommandInvocations and
// DescribeInstanceInformation, so a failing, slow or cancelled instance
// is shown here. Each instance ends after its number of looks. It
// records what it was sent and what it cancelled.
type scriptedRunCommand struct {
	mu        sync.Mutex
	ends      map[string]int // instance -> looks before it ends
	results   map[string]runcmd.Invocation
	looks     map[string]int
	sent      []string // "document: instance instance"
	sentIDs   [][]string
	cancelled []string // "command: instance instance"
	onLook    func()
}

func (s *scriptedRunCommand) Managed(_ context.Context, instances []string) (map[string]string, error) {
	out := map[string]string{}
	for _, i := range instances {
		out[i] = "Online"
	}
	return out, nil
}

func (s *scriptedRunCommand) Send(_ context.Context, req runcmd.Request, instances []string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, req.Document+": "+strings.Join(instances, " "))
	s.sentIDs = append(s.sentIDs, instances)
	return fmt.Sprintf("cmd-%d", len(s.sent)), nil
}

func (s *scriptedRunCommand) Invocations(_ context.Context, id string) ([]runcmd.Invocation, error) {
	if s.onLook != nil {
		s.onLook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	fmt.Sscanf(id, "cmd-%d", &n)
	var out []runcmd.Invocation
	for _, instance := range s.sentIDs[n-1] {
		s.looks[instance]++
		after, ok := s.ends[instance]
		if !ok || s.looks[instance] <= after {
			out = append(out, runcmd.Invocation{Instance: instance, Status: "InProgress"})
			continue
		}
		inv := s.results[instance]
		inv.Instance, inv.Done = instance, true
		out = append(out, inv)
	}
	return out, nil
}

func (s *scriptedRunCommand) Cancel(_ context.Context, id string, instances []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = append(s.cancelled, id+": "+strings.Join(instances, " "))
	return nil
}

func (s *scriptedRunCommand) lookCount(instance string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.looks[instance]
}

// execWorld is world()'s orbit with service web of release 2 also in
// eu-west-1 (two InService instances in two zones of us-east-1, one in
// eu-west-1), and a Run Command per region where i-0000000b is slow,
// i-0000000d fails and i-0000000e succeeds at once.
func execWorld(t *testing.T, json bool) (*execRun, *bytes.Buffer, *bytes.Buffer, *[]elevator.AuditEntry, map[string]*scriptedRunCommand) {
	t.Helper()
	w := world()
	w.records[1].Regions = append(w.records[1].Regions, elevator.ReleaseRegionRecord{Region: "eu-west-1", Services: []elevator.ReleaseServiceRecord{{Service: "web", Group: "web-2-eu"}}})
	w.groups["web-2"] = autoscaling.Group{Name: "web-2", Instances: []autoscaling.Instance{
		{ID: "i-0000000a", AZ: "us-east-1a", LifecycleState: autoscaling.Pending},
		{ID: "i-0000000b", AZ: "us-east-1a", LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy},
		{ID: "i-0000000d", AZ: "us-east-1b", LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy},
	}}
	w.groups["web-2-eu"] = autoscaling.Group{Name: "web-2-eu", Instances: []autoscaling.Instance{{ID: "i-0000000e", AZ: "eu-west-1a", LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy}}}
	east := &scriptedRunCommand{looks: map[string]int{},
		ends: map[string]int{"i-0000000b": 3, "i-0000000d": 1},
		results: map[string]runcmd.Invocation{
			"i-0000000b": {Status: "Success", Stdout: "slow " + strings.Repeat("x", 100) + "\n"},
			"i-0000000d": {Status: "Failed", ExitCode: 3, Stdout: "checking\n", Stderr: "disk full\n"},
		}}
	west := &scriptedRunCommand{looks: map[string]int{}, ends: map[string]int{"i-0000000e": 0}, results: map[string]runcmd.Invocation{"i-0000000e": {Status: "Success", Stdout: "up 3 days\n"}}}
	var stdout, stderr bytes.Buffer
	output := "text"
	if json {
		output = "json"
	}
	g := &globals{stdout: &stdout, stderr: &stderr, output: output}
	var audits []elevator.AuditEntry
	x := &execRun{g: g, orbit: "prod", app: "shop", service: "web",
		lookup: execLookup{orbit: "prod", app: "shop", service: "web", regions: []string{"us-east-1", "eu-west-1"}, releases: w,
			groups: func(context.Context, string) (groupReader, error) { return w, nil }},
		runner:   &runcmd.Runner{Regions: map[string]runcmd.Commands{"us-east-1": east, "eu-west-1": west}, Poll: time.Millisecond, MaxOutput: 40, Grace: time.Minute},
		progress: progress.Plain(&stderr), by: "arn:aws:iam::111122223333:user/alice", now: func() time.Time { return time.Unix(1e9, 0) },
		audit: func(_ context.Context, e elevator.AuditEntry) error { audits = append(audits, e); return nil },
	}
	return x, &stdout, &stderr, &audits, map[string]*scriptedRunCommand{"us-east-1": east, "eu-west-1": west}
}

func TestExecStreamsEachInstanceAndFailsWhenOneFailed(t *testing.T) {
	x, stdout, stderr, audits, _ := execWorld(t, false)
	err := x.run(context.Background(), runcmd.Shell("df -h /", time.Minute))
	if ExitCode(err) != ExitFailed || !strings.Contains(err.Error(), "the command failed on 1 of 3 instances: i-0000000d (Failed, exit 3)") {
		t.Fatalf("err = %v (exit %d), want exit %d naming the failed instance", err, ExitCode(err), ExitFailed)
	}
	out := stdout.String()
	// Results come in the order the instances finish: the slow one last.
	order := []string{"eu-west-1 i-0000000e (eu-west-1a): Success, exit 0", "us-east-1 i-0000000d (us-east-1b): Failed, exit 3", "us-east-1 i-0000000b (us-east-1a): Success, exit 0"}
	at := -1
	for _, line := range order {
		i := strings.Index(out, line)
		if i <= at {
			t.Fatalf("%q is missing or out of finishing order in\n%s", line, out)
		}
		at = i
	}
	for _, want := range []string{"  checking\n  stderr: disk full\n", "  up 3 days\n", "  slow " + strings.Repeat("x", 35) + "\n  … cut (output capped at 40 bytes)\n",
		"shop web (release 2): 2 of 3 instances succeeded, 1 failed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "i-0000000a") {
		t.Errorf("the Pending instance was run on:\n%s", out)
	}
	// Progress on stderr: the instances still running, per region.
	for _, want := range []string{"running \"df -h /\" on 3 instances of shop web (release 2)", "us-east-1      2 still running: i-0000000b i-0000000d", "us-east-1      1 still running: i-0000000b"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if len(*audits) != 2 || (*audits)[0].Outcome != "started" || (*audits)[0].Detail != "service web: AWS-RunShellScript on 3 instances: df -h /" {
		t.Fatalf("audit entries: %+v, want the start, then the outcome", *audits)
	}
	a := (*audits)[1]
	if a.Action != elevator.AuditExec || a.App != "shop" || a.Orbit != "prod" || a.ReleaseID != "2" || a.Outcome != "failed" || a.By != "arn:aws:iam::111122223333:user/alice" ||
		a.Detail != "service web: AWS-RunShellScript on 3 instances, 1 failed: df -h /" {
		t.Errorf("audit entry %+v", a)
	}
}

func TestExecJSONIsTheWholeReportAtTheEnd(t *testing.T) {
	x, stdout, _, _, _ := execWorld(t, true)
	err := x.run(context.Background(), runcmd.Shell("df -h /", time.Minute))
	if ExitCode(err) != ExitFailed {
		t.Fatalf("exit %d (%v)", ExitCode(err), err)
	}
	var rep struct {
		Release, Document, Command string
		Failed                     int
		Instances                  []struct {
			Region, Instance, AZ, Status, Stdout, Stderr string
			ExitCode                                     int  `json:"exit_code"`
			StdoutCut                                    bool `json:"stdout_cut"`
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.Release != "2" || rep.Document != "AWS-RunShellScript" || rep.Command != "df -h /" || rep.Failed != 1 || len(rep.Instances) != 3 {
		t.Fatalf("report %+v", rep)
	}
	got := strings.Join([]string{rep.Instances[0].Instance, rep.Instances[1].Instance, rep.Instances[2].Instance}, " ")
	if got != "i-0000000b i-0000000d i-0000000e" {
		t.Errorf("instances in %s, want region, zone and id order", got)
	}
	if d := rep.Instances[1]; d.Status != "Failed" || d.ExitCode != 3 || d.Stderr != "disk full\n" || d.AZ != "us-east-1b" {
		t.Errorf("failed instance %+v", d)
	}
	if !rep.Instances[0].StdoutCut || len(rep.Instances[0].Stdout) != 40 {
		t.Errorf("slow instance's stdout %q not capped at 40", rep.Instances[0].Stdout)
	}
}

func TestExecOnSomeInstancesSpreadsThemOverZonesAndRegions(t *testing.T) {
	x, stdout, _, _, _ := execWorld(t, false)
	x.count = 2
	_ = x.run(context.Background(), runcmd.Shell("true", time.Minute))
	// One of us-east-1a, then eu-west-1a: us-east-1b is the third zone.
	if out := stdout.String(); !strings.Contains(out, "i-0000000b") || !strings.Contains(out, "i-0000000e") || strings.Contains(out, "i-0000000d") || !strings.Contains(out, "2 of 2 instances succeeded") {
		t.Errorf("--instances 2:\n%s", out)
	}
}

func TestExecInterruptedCancelsAndIsAudited(t *testing.T) {
	x, stdout, _, audits, cmds := execWorld(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	east := cmds["us-east-1"]
	east.ends["i-0000000b"] = 100 // still running when interrupted
	east.onLook = func() {
		if east.lookCount("i-0000000b") == 2 {
			cancel()
		}
	}
	err := x.run(ctx, runcmd.Shell("sleep 600", time.Hour))
	if ExitCode(err) != ExitInterrupted {
		t.Fatalf("exit %d (%v), want %d", ExitCode(err), err, ExitInterrupted)
	}
	// Only where it still runs: i-0000000d (us-east-1) and i-0000000e
	// (eu-west-1) ended before the interruption.
	if !slices.Equal(east.cancelled, []string{"cmd-1: i-0000000b"}) || len(cmds["eu-west-1"].cancelled) != 0 {
		t.Errorf("CancelCommand calls: us-east-1 %v, eu-west-1 %v", east.cancelled, cmds["eu-west-1"].cancelled)
	}
	if !strings.Contains(stdout.String(), "i-0000000b (us-east-1a): Cancelled, exit -1") {
		t.Errorf("the cancelled instance is not reported:\n%s", stdout)
	}
	if len(*audits) != 2 || (*audits)[1].Outcome != "interrupted" {
		t.Errorf("audit %+v", *audits)
	}
}

func TestExecFindsNothingToRunOn(t *testing.T) {
	for _, tc := range []struct {
		name, service string
		regions       []string
		code, message string
	}{
		{"a service the release does not run is bad input", "api", []string{"us-east-1"}, elevator.EINVALID, "--service api: the current release of shop in orbit prod (2) runs no such service (its services: web)"},
		{"a service without InService instances in the region is not found", "web", []string{"eu-west-1"}, elevator.ENOTFOUND, "eu-west-1: group web-2-eu has 0 InService of 1 (i-0000000e Pending/)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, _, _, audits, cmds := execWorld(t, false)
			w := x.lookup.releases.(*fakeWorld)
			w.groups["web-2-eu"] = autoscaling.Group{Name: "web-2-eu", Instances: []autoscaling.Instance{{ID: "i-0000000e", LifecycleState: autoscaling.Pending}}}
			x.lookup.service, x.lookup.regions = tc.service, tc.regions
			err := x.run(context.Background(), runcmd.Shell("true", time.Minute))
			if elevator.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("err = %v, want %s with %q", err, tc.code, tc.message)
			}
			if len(*audits) != 0 || len(cmds["us-east-1"].looks)+len(cmds["eu-west-1"].looks) != 0 {
				t.Errorf("something ran: audits %v", *audits)
			}
		})
	}
}

func TestExecSendsNothingWhenTheStartCannotBeAudited(t *testing.T) {
	x, _, _, _, cmds := execWorld(t, false)
	x.audit = func(context.Context, elevator.AuditEntry) error { return errors.New("s3 PutObject: AccessDenied") }
	err := x.run(context.Background(), runcmd.Shell("reboot", time.Minute))
	if err == nil || !strings.Contains(err.Error(), "write the audit entry before sending the command (nothing was sent)") {
		t.Fatalf("err = %v", err)
	}
	if n := len(cmds["us-east-1"].sent) + len(cmds["eu-west-1"].sent); n != 0 {
		t.Errorf("%d commands sent though the run could not be audited", n)
	}
}

func TestExecSendsTheRequestAndShowsOutputWithoutControlCharacters(t *testing.T) {
	x, stdout, stderr, _, cmds := execWorld(t, false)
	cmds["eu-west-1"].results["i-0000000e"] = runcmd.Invocation{Status: "Success", Stdout: "\x1b]0;owned\x07\x1b[2Jclean\tline\r\n"}
	_ = x.run(context.Background(), runcmd.Shell("uptime", time.Minute))
	if !slices.Equal(cmds["us-east-1"].sent, []string{"AWS-RunShellScript: i-0000000b i-0000000d"}) || !slices.Equal(cmds["eu-west-1"].sent, []string{"AWS-RunShellScript: i-0000000e"}) {
		t.Errorf("sent us-east-1 %v, eu-west-1 %v", cmds["us-east-1"].sent, cmds["eu-west-1"].sent)
	}
	if out := stdout.String(); !strings.Contains(out, "  ]0;owned[2Jclean\tline\n") || strings.ContainsAny(out, "\x1b\x07\r") {
		t.Errorf("control characters reach the terminal:\n%q", out)
	}
	// A region whose instances all ended says so.
	if !strings.Contains(stderr.String(), "eu-west-1      none still running") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestExecStopsReadingOnlyOnFailuresAskingAgainWillNotChange(t *testing.T) {
	denied := elevator.Errorf(elevator.EAWS, "list invocations: %w: %w", awserr.ErrAccessDenied, errors.New("AccessDeniedException"))
	throttled := elevator.Errorf(elevator.EAWS, "list invocations: %w: %w", awserr.ErrThrottled, errors.New("ThrottlingException"))
	server := elevator.Errorf(elevator.EAWS, "list invocations: StatusCode: 500")
	// Wrapped as permanent, the runner stops waiting (without cancelling);
	// otherwise it looks again at the next poll.
	if !runcmd.IsPermanent(permanentRead(denied)) || runcmd.IsPermanent(permanentRead(throttled)) || runcmd.IsPermanent(permanentRead(server)) {
		t.Error("access denied must stop the reads; throttling and a 500 must not")
	}
}
