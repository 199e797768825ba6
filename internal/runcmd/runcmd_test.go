package runcmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

// fakeRunCommand is Run Command in memory, a fake behind Commands:
// moto's Run Command ends every invocation at once with Success and exit
// 0, and answers neither ListCommandInvocations, DescribeInstanceInformation,
// CancelCommand nor a failing command. Here each instance ends after its
// number of looks with its invocation; an instance without a plan never
// ends. Every instance is an Online managed node unless ping says
// otherwise ("" = not registered).
type fakeRunCommand struct {
	mu        sync.Mutex
	plans     map[string]plan // by instance
	ping      map[string]string
	sent      [][]string // the instances of each Send
	looks     map[string]int
	cancelled []string // "command: instance instance"
	sendErr   error
	sendErrAt map[int]error // by Send number (1, 2, ...)
	lookErrs  []error       // the first looks' errors, in turn
	lists     int           // Invocations calls
	// onLook is called at each look, before it is answered.
	onLook func(id string)
}

type plan struct {
	after int // looks before it ends
	inv   Invocation
}

func newFake(plans map[string]plan) *fakeRunCommand {
	return &fakeRunCommand{plans: plans, looks: map[string]int{}}
}

func (f *fakeRunCommand) Managed(_ context.Context, instances []string) (map[string]string, error) {
	out := map[string]string{}
	for _, i := range instances {
		s, ok := f.ping[i]
		if !ok {
			s = "Online"
		}
		if s != "" {
			out[i] = s
		}
	}
	return out, nil
}

func (f *fakeRunCommand) Send(_ context.Context, req Request, instances []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return "", f.sendErr
	}
	if err := f.sendErrAt[len(f.sent)+1]; err != nil {
		f.sent = append(f.sent, nil)
		return "", err
	}
	f.sent = append(f.sent, instances)
	return fmt.Sprintf("cmd-%d", len(f.sent)), nil
}

func (f *fakeRunCommand) Invocations(_ context.Context, id string) ([]Invocation, error) {
	if f.onLook != nil {
		f.onLook(id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if len(f.lookErrs) > 0 {
		err := f.lookErrs[0]
		f.lookErrs = f.lookErrs[1:]
		return nil, err
	}
	var n int
	fmt.Sscanf(id, "cmd-%d", &n)
	var out []Invocation
	for _, instance := range f.sent[n-1] {
		f.looks[instance]++
		p, ok := f.plans[instance]
		if !ok || f.looks[instance] <= p.after {
			out = append(out, Invocation{Instance: instance, Status: "InProgress"})
			continue
		}
		inv := p.inv
		inv.Instance, inv.Done = instance, true
		out = append(out, inv)
	}
	return out, nil
}

func (f *fakeRunCommand) Cancel(_ context.Context, id string, instances []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id+": "+strings.Join(instances, " "))
	return nil
}

func (f *fakeRunCommand) lookCount(instance string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.looks[instance]
}

func ok(out string) Invocation { return Invocation{Status: "Success", Stdout: out} }

// clock is a fake clock whose Sleep moves it on (each region's poller
// moves it; the tests that read times run one region).
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func targetsIn(region string, ids ...string) []Target {
	var out []Target
	for _, id := range ids {
		out = append(out, Target{Region: region, Instance: id, AZ: region + "a"})
	}
	return out
}

func newRunner(regions map[string]Commands, c *clock) *Runner {
	return &Runner{Regions: regions, Poll: time.Second, MaxOutput: 4096, Grace: time.Minute, Now: c.now, Sleep: c.sleep}
}

func TestResultsArriveAsEachInstanceFinishesAndAFailureIsCounted(t *testing.T) {
	f := newFake(map[string]plan{
		"i-slow": {after: 3, inv: ok("slow done\n")},
		"i-fast": {after: 0, inv: ok("fast done\n")},
		"i-bad":  {after: 1, inv: Invocation{Status: "Failed", ExitCode: 2, Stderr: "no such file\n"}},
	})
	c := &clock{t: time.Unix(0, 0)}
	r := newRunner(map[string]Commands{"us-east-1": f}, c)
	var order []string
	var running []string
	r.Finished = func(res Result) { order = append(order, fmt.Sprintf("%s@%s", res.Instance, res.Duration)) }
	r.Running = func(region string, ids []string) { running = append(running, strings.Join(ids, " ")) }
	rep, err := r.Run(context.Background(), Shell("uptime", time.Minute), targetsIn("us-east-1", "i-slow", "i-fast", "i-bad"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"i-fast@0s", "i-bad@1s", "i-slow@3s"}; !slices.Equal(order, want) {
		t.Errorf("finished in the order %v, want %v (each as it ends)", order, want)
	}
	if want := []string{"i-slow i-fast i-bad", "i-slow i-bad", "i-slow", ""}; !slices.Equal(running, want) {
		t.Errorf("still running was reported as %v, want %v", running, want)
	}
	if rep.Failed != 1 || len(rep.Instances) != 3 {
		t.Fatalf("report: failed %d of %d", rep.Failed, len(rep.Instances))
	}
	// The report keeps the targets' order, whatever the finishing order.
	if got := []string{rep.Instances[0].Instance, rep.Instances[1].Instance, rep.Instances[2].Instance}; !slices.Equal(got, []string{"i-slow", "i-fast", "i-bad"}) {
		t.Errorf("report order %v", got)
	}
	bad := rep.Instances[2]
	if bad.OK() || bad.ExitCode != 2 || bad.Stderr != "no such file\n" || bad.CommandID != "cmd-1" {
		t.Errorf("failed instance's result: %+v", bad)
	}
	if len(f.sent) != 1 || len(f.sent[0]) != 3 {
		t.Errorf("sent %v, want one command to the 3 instances", f.sent)
	}
}

func TestASuccessWithANonZeroExitCodeIsAFailure(t *testing.T) {
	if (Result{Status: "Success", ExitCode: 1}).OK() || !(Result{Status: "Success"}).OK() || (Result{Status: "TimedOut"}).OK() {
		t.Error("OK must need Success and exit 0")
	}
}

func TestEachRegionGetsItsOwnCommandsInBatchesOfFifty(t *testing.T) {
	east, west := newFake(map[string]plan{}), newFake(map[string]plan{})
	var ids []string
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("i-%03d", i))
		east.plans[ids[i]] = plan{inv: ok("")}
	}
	west.plans["i-w"] = plan{inv: ok("")}
	c := &clock{t: time.Unix(0, 0)}
	rep, err := newRunner(map[string]Commands{"us-east-1": east, "eu-west-1": west}, c).Run(context.Background(), Shell("true", time.Minute),
		append(targetsIn("us-east-1", ids...), targetsIn("eu-west-1", "i-w")...))
	if err != nil || rep.Failed != 0 || len(rep.Instances) != 121 {
		t.Fatalf("Run = %v, %v", rep, err)
	}
	var sizes []int
	for _, s := range east.sent {
		sizes = append(sizes, len(s))
	}
	if !slices.Equal(sizes, []int{50, 50, 20}) || len(west.sent) != 1 || west.sent[0][0] != "i-w" {
		t.Errorf("us-east-1 sends %v, eu-west-1 sends %v", sizes, west.sent)
	}
}

func TestOutputIsCappedOnACharacterBoundary(t *testing.T) {
	long := strings.Repeat("é", 10) // 20 bytes
	f := newFake(map[string]plan{"i-1": {inv: Invocation{Status: "Success", Stdout: long, Stderr: "short", StderrCut: true}}})
	r := newRunner(map[string]Commands{"r": f}, &clock{})
	r.MaxOutput = 7
	rep, err := r.Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1"))
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Instances[0]
	if res.Stdout != strings.Repeat("é", 3) || !res.StdoutCut {
		t.Errorf("stdout %q cut=%v, want 3 é (6 bytes, not a broken 7th) and cut", res.Stdout, res.StdoutCut)
	}
	if res.Stderr != "short" || !res.StderrCut {
		t.Errorf("stderr %q cut=%v: Run Command's own cut must show", res.Stderr, res.StderrCut)
	}
}

func TestInterruptingLooksOnceMoreThenCancelsWhereItStillRuns(t *testing.T) {
	east := newFake(map[string]plan{"i-1": {inv: ok("done")}})
	west := newFake(map[string]plan{"i-3": {after: 2, inv: ok("just ended")}}) // i-2 never ends
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	west.onLook = func(string) {
		if west.lookCount("i-2") == 2 {
			for east.lookCount("i-1") == 0 { // the regions' pollers run at once: let east's end first
				time.Sleep(time.Millisecond)
			}
			cancel() // Ctrl-C while i-2 and i-3 still run; i-3 ends by the last look
		}
	}
	rep, err := newRunner(map[string]Commands{"east": east, "west": west}, &clock{}).Run(ctx, Shell("sleep 600", time.Hour), append(targetsIn("east", "i-1"), targetsIn("west", "i-2", "i-3")...))
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED || !strings.Contains(err.Error(), "interrupted; cancelled 1 commands") {
		t.Fatalf("err = %v, want interrupted, one command cancelled", err)
	}
	if len(east.cancelled) != 0 || !slices.Equal(west.cancelled, []string{"cmd-1: i-2"}) {
		t.Errorf("cancelled east %v west %v, want only west's command, on the instance still running", east.cancelled, west.cancelled)
	}
	got := []string{}
	for _, r := range rep.Instances {
		got = append(got, r.Instance+" "+r.Status)
	}
	if !slices.Equal(got, []string{"i-1 Success", "i-2 Cancelled", "i-3 Success"}) || rep.Failed != 1 || !strings.Contains(rep.Instances[1].Detail, "interrupted; the command was cancelled on it") {
		t.Errorf("report after the interruption: %v %+v", got, rep.Instances)
	}
}

func TestAShellCommandRunCommandNeverEndsIsCancelledOnceAfterTheWait(t *testing.T) {
	f := newFake(nil) // i-1 and i-2 stay InProgress
	c := &clock{t: time.Unix(0, 0)}
	rep, err := newRunner(map[string]Commands{"r": f}, c).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1", "i-2"))
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Instances[0]
	// Delivery (60s, at least 30s) + timeout (60s) + grace (60s); one
	// CancelCommand for the command, naming its instances.
	if res.Status != StatusNoAnswer || res.Duration != 3*time.Minute || rep.Failed != 2 || !slices.Equal(f.cancelled, []string{"cmd-1: i-1 i-2"}) ||
		!strings.Contains(res.Detail, "last status InProgress); cancelled") {
		t.Errorf("result %+v, cancelled %v", res, f.cancelled)
	}
}

func TestADocumentPastTheWaitIsNotCancelled(t *testing.T) {
	f := newFake(nil)
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{t: time.Unix(0, 0)}).Run(context.Background(),
		Request{Document: "AWS-RunPatchBaseline", Parameters: map[string][]string{"Operation": {"Install"}}, Timeout: time.Minute}, targetsIn("r", "i-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res := rep.Instances[0]; res.Status != StatusNoAnswer || len(f.cancelled) != 0 || !strings.Contains(res.Detail, "was not cancelled and may still run") {
		t.Errorf("result %+v, cancelled %v: a document's run is bounded by the document, not cancelled", res, f.cancelled)
	}
}

func TestASendRefusedEverywhereIsTheRunsError(t *testing.T) {
	f := newFake(nil)
	f.sendErr = elevator.Errorf(elevator.ENOTFOUND, "SSM document Nope not found")
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(context.Background(), Request{Document: "Nope"}, targetsIn("r", "i-1"))
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || len(rep.Instances) != 1 || rep.Instances[0].Status != StatusNotSent {
		t.Errorf("Run = %+v, %v", rep, err)
	}
}

func TestABatchRunCommandRefusesDoesNotStopTheOthers(t *testing.T) {
	f := newFake(map[string]plan{})
	var ids []string
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("i-%03d", i))
		f.plans[ids[i]] = plan{inv: ok("")}
	}
	// The first batch is refused, as SendCommand refuses a whole batch
	// with InvalidInstanceId for one instance it does not manage.
	f.sendErrAt = map[int]error{1: elevator.Errorf(elevator.EAWS, "send command: InvalidInstanceId")}
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", ids...))
	if err != nil {
		t.Fatalf("Run: %v (a refused batch is its instances' result, not the run's error)", err)
	}
	if rep.Failed != 50 || rep.Instances[0].Status != StatusNotSent || !strings.Contains(rep.Instances[0].Detail, "InvalidInstanceId") || rep.Instances[50].Status != "Success" || len(f.sent) != 3 {
		t.Errorf("failed %d, first %+v, 51st %+v, sends %d", rep.Failed, rep.Instances[0], rep.Instances[50], len(f.sent))
	}
}

func TestInstancesNotOnlineInSystemsManagerAreNotSentTo(t *testing.T) {
	f := newFake(map[string]plan{"i-1": {inv: ok("")}})
	f.ping = map[string]string{"i-2": "", "i-3": "ConnectionLost"}
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1", "i-2", "i-3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 1 || !slices.Equal(f.sent[0], []string{"i-1"}) {
		t.Errorf("sent %v, want only the Online i-1", f.sent)
	}
	if r := rep.Instances[1]; r.Status != StatusNotManaged || !strings.Contains(r.Detail, "not registered with Systems Manager") {
		t.Errorf("unregistered: %+v", r)
	}
	if r := rep.Instances[2]; r.Status != StatusNotManaged || !strings.Contains(r.Detail, "ConnectionLost") || rep.Failed != 2 {
		t.Errorf("connection lost: %+v (failed %d)", r, rep.Failed)
	}
}

func TestAThrottledLookIsTriedAgainLaterWithBackoff(t *testing.T) {
	f := newFake(map[string]plan{"i-1": {inv: ok("fine\n")}, "i-2": {inv: ok("fine\n")}})
	throttled := elevator.Errorf(elevator.EAWS, "list invocations: ThrottlingException: Rate exceeded")
	f.lookErrs = []error{throttled, throttled, throttled}
	c := &clock{t: time.Unix(0, 0)}
	rep, err := newRunner(map[string]Commands{"r": f}, c).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1", "i-2"))
	if err != nil || rep.Failed != 0 || len(f.cancelled) != 0 {
		t.Fatalf("Run = %+v, %v, cancelled %v: a throttled look must only be tried again", rep, err, f.cancelled)
	}
	if want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}; !slices.Equal(c.sleeps, want) {
		t.Errorf("waits between looks %v, want %v (doubled after each failed look)", c.sleeps, want)
	}
}

func TestADeniedLookStopsWaitingWithoutCancelling(t *testing.T) {
	f := newFake(nil)
	f.lookErrs = []error{Permanent(errDenied)}
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1", "i-2"))
	if !errors.Is(err, errDenied) || !strings.Contains(err.Error(), "without cancelling") || len(f.cancelled) != 0 || len(rep.Instances) != 2 || rep.Failed != 2 {
		t.Fatalf("Run = %+v, %v; cancelled %v", rep, err, f.cancelled)
	}
	if r := rep.Instances[0]; r.Status != StatusNoAnswer || !strings.Contains(r.Detail, "the command was not cancelled and may still run") {
		t.Errorf("result %+v", r)
	}
}

var errDenied = errors.New("access denied")

func TestPickSpreadsOverRegionsAndZonesTheSameWayEveryTime(t *testing.T) {
	targets := []Target{
		{"us-east-1", "i-e3", "us-east-1a"}, {"us-east-1", "i-e1", "us-east-1a"}, {"us-east-1", "i-e2", "us-east-1b"},
		{"eu-west-1", "i-w1", "eu-west-1a"}, {"eu-west-1", "i-w2", "eu-west-1a"},
	}
	regions := []string{"us-east-1", "eu-west-1"}
	for _, tc := range []struct {
		name string
		n    int
		want []string
	}{
		{"all, in region, zone and id order", 0, []string{"i-e1", "i-e3", "i-e2", "i-w1", "i-w2"}},
		{"regions take turns, each one zone after another", 3, []string{"i-e1", "i-e2", "i-w1"}},
		{"one per region, then each region's next zone", 4, []string{"i-e1", "i-e2", "i-w1", "i-w2"}},
		{"more than there are is all", 9, []string{"i-e1", "i-e3", "i-e2", "i-w1", "i-w2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 {
				shuffled := slices.Clone(targets)
				slices.Reverse(shuffled)
				var got []string
				for _, p := range Pick(shuffled, regions, tc.n) {
					got = append(got, p.Instance)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("Pick(%d) = %v, want %v", tc.n, got, tc.want)
				}
				targets = shuffled
			}
		})
	}
}

func TestParseParameters(t *testing.T) {
	got, err := ParseParameters([]string{"Operation=Scan", "commands=echo a,b", "commands=echo c", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["commands"], []string{"echo a,b", "echo c"}) || !slices.Equal(got["Operation"], []string{"Scan"}) || !slices.Equal(got["empty"], []string{""}) {
		t.Errorf("ParseParameters = %v", got)
	}
	for _, bad := range []string{"novalue", "=x", "bad name=x", strings.Repeat("k", 129) + "=x"} {
		if _, err := ParseParameters([]string{bad}); elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "--parameters") {
			t.Errorf("ParseParameters(%q) = %v, want an invalid --parameters error", bad, err)
		}
	}
}

func TestShellLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cd /srv && ls"}, "cd /srv && ls"},
		{[]string{"journalctl", "-u", "elevator-web", "-n", "50"}, "journalctl -u elevator-web -n 50"},
		{[]string{"sh", "-c", "echo $HOME; it's"}, `sh -c 'echo $HOME; it'\''s'`},
		{[]string{"echo", ""}, "echo ''"},
	} {
		if got := ShellLine(tc.args); got != tc.want {
			t.Errorf("ShellLine(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"4096": 4096, "4KiB": 4096, "1MiB": 1 << 20, "10B": 10, "0": 0} {
		if got, err := ParseSize("--max-output", in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "4k", "-1", "2MiB", "1.5KiB", "999999999KiB"} {
		if _, err := ParseSize("--max-output", bad); elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("ParseSize(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func FuzzParseParameters(f *testing.F) {
	for _, s := range []string{"a=b", "=", "k=v=w", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseParameters([]string{s})
		if err != nil {
			if elevator.ErrorCode(err) != elevator.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		name, value, _ := strings.Cut(s, "=")
		if !slices.Equal(got[name], []string{value}) {
			t.Fatalf("ParseParameters(%q) = %v", s, got)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4KiB", "1MiB", "12", "9KiB "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize("--max-output", s)
		if err != nil && elevator.ErrorCode(err) != elevator.EINVALID {
			t.Fatalf("error %v is not EINVALID", err)
		}
		if err == nil && (n < 0 || n > 1<<20) {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}

// TestCtrlCDuringASendLetsItFinishThenCancelsTheCommand: interrupted
// while the first SendCommand is on its way, the send still finishes
// (its context ignores the interruption), so the command it created is
// known and cancelled; the second batch is never sent.
func TestCtrlCDuringASendLetsItFinishThenCancelsTheCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &interruptedSend{fakeRunCommand: newFake(nil), cancel: cancel}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("i-%02d", i))
	}
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(ctx, Shell("x", time.Minute), targetsIn("r", ids...))
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED || !slices.Equal(f.cancelled, []string{"cmd-1: " + strings.Join(ids[:50], " ")}) || len(f.sent) != 1 {
		t.Fatalf("err %v, cancelled %v, sends %d", err, f.cancelled, len(f.sent))
	}
	if len(rep.Instances) != 60 || rep.Failed != 60 || rep.Instances[0].Status != StatusCancelled || rep.Instances[0].CommandID != "cmd-1" ||
		rep.Instances[59].Detail != "interrupted before it was sent" {
		t.Errorf("report: %d instances, %d failed: %+v", len(rep.Instances), rep.Failed, rep.Instances[0])
	}
}

// interruptedSend is a Run Command interrupted (Ctrl-C) during its first
// Send, which fails if its context ends.
type interruptedSend struct {
	*fakeRunCommand
	cancel context.CancelFunc
}

func (f *interruptedSend) Send(ctx context.Context, req Request, instances []string) (string, error) {
	f.cancel()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return f.fakeRunCommand.Send(ctx, req, instances)
}

func FuzzCap(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got, cut := Cap(s, n)
		if !strings.HasPrefix(s, got) || cut != (got != s) || (cut && len(got) > max(n, 0)) {
			t.Fatalf("Cap(%q, %d) = %q, %v", s, n, got, cut)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Cap(%q, %d) = %q broke a character", s, n, got)
		}
	})
}
