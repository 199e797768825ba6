package runcmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

// fakeRunCommand is Run Command in memory, a fake behind Commands:
// moto's Run Command ends every invocation at once with Success and exit
// 0, and answers neither CancelCommand nor a failing command. Here each
// instance ends after its number of looks with its invocation; an
// instance without a plan never ends.
type fakeRunCommand struct {
	plans     map[string]plan // by instance
	sent      [][]string      // the instances of each Send
	looks     map[string]int
	cancelled []string
	sendErr   error
	// onLook is called at each look, before it is answered.
	onLook func(instance string)
}

type plan struct {
	after int // looks before it ends
	inv   Invocation
}

func newFake(plans map[string]plan) *fakeRunCommand {
	return &fakeRunCommand{plans: plans, looks: map[string]int{}}
}

func (f *fakeRunCommand) Send(_ context.Context, req Request, instances []string) (string, error) {
	if f.sendErr != nil {
		return "", f.sendErr
	}
	f.sent = append(f.sent, instances)
	return fmt.Sprintf("cmd-%d", len(f.sent)), nil
}

func (f *fakeRunCommand) Invocation(_ context.Context, id, instance string) (Invocation, error) {
	if f.onLook != nil {
		f.onLook(instance)
	}
	f.looks[instance]++
	p, ok := f.plans[instance]
	if !ok || f.looks[instance] <= p.after {
		return Invocation{Status: "InProgress"}, nil
	}
	inv := p.inv
	inv.Done = true
	return inv, nil
}

func (f *fakeRunCommand) Cancel(_ context.Context, id string) error {
	f.cancelled = append(f.cancelled, id)
	return nil
}

func ok(out string) Invocation { return Invocation{Status: "Success", Stdout: out} }

// clock is a fake clock whose Sleep moves it on.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.t = c.t.Add(d)
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

func TestInterruptingCancelsEveryCommandSent(t *testing.T) {
	east, west := newFake(map[string]plan{"i-1": {inv: ok("done")}}), newFake(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	west.onLook = func(string) {
		if west.looks["i-2"] == 2 {
			cancel() // Ctrl-C while i-2 still runs
		}
	}
	rep, err := newRunner(map[string]Commands{"east": east, "west": west}, &clock{}).Run(ctx, Shell("sleep 600", time.Hour), append(targetsIn("east", "i-1"), targetsIn("west", "i-2")...))
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED {
		t.Fatalf("err = %v, want interrupted", err)
	}
	if !slices.Equal(east.cancelled, []string{"cmd-1"}) || !slices.Equal(west.cancelled, []string{"cmd-1"}) {
		t.Errorf("cancelled east %v west %v, want each region's command", east.cancelled, west.cancelled)
	}
	if len(rep.Instances) != 2 || rep.Instances[0].Status != "Success" || rep.Instances[1].Status != StatusCancelled || rep.Failed != 1 {
		t.Errorf("report after the interruption: %+v", rep.Instances)
	}
}

func TestAnInstanceRunCommandNeverEndsIsCancelledAfterTheWait(t *testing.T) {
	f := newFake(nil) // i-1 stays InProgress
	c := &clock{t: time.Unix(0, 0)}
	rep, err := newRunner(map[string]Commands{"r": f}, c).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1"))
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Instances[0]
	// Delivery (60s, at least 30s) + timeout (60s) + grace (60s).
	if res.Status != StatusNoAnswer || res.Duration != 3*time.Minute || rep.Failed != 1 || !slices.Equal(f.cancelled, []string{"cmd-1"}) {
		t.Errorf("result %+v, cancelled %v", res, f.cancelled)
	}
}

func TestASendRefusedBeforeAnythingWasSentIsTheRunsError(t *testing.T) {
	f := newFake(nil)
	f.sendErr = elevator.Errorf(elevator.ENOTFOUND, "SSM document Nope not found")
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(context.Background(), Request{Document: "Nope"}, targetsIn("r", "i-1"))
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || len(rep.Instances) != 0 {
		t.Errorf("Run = %+v, %v", rep, err)
	}
}

func TestAnInvocationThatCannotBeReadStopsTheRunAndCancels(t *testing.T) {
	f := &failingLook{fakeRunCommand: newFake(nil)}
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(context.Background(), Shell("x", time.Minute), targetsIn("r", "i-1", "i-2"))
	if !errors.Is(err, errDenied) || !slices.Equal(f.cancelled, []string{"cmd-1"}) || len(rep.Instances) != 2 || rep.Failed != 2 {
		t.Errorf("Run = %+v, %v; cancelled %v", rep, err, f.cancelled)
	}
}

var errDenied = errors.New("access denied")

type failingLook struct{ *fakeRunCommand }

func (f *failingLook) Invocation(context.Context, string, string) (Invocation, error) {
	return Invocation{}, errDenied
}

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

// interruptedSend is a Run Command whose second Send is interrupted.
type interruptedSend struct {
	*fakeRunCommand
	cancel context.CancelFunc
}

func (f *interruptedSend) Send(ctx context.Context, req Request, instances []string) (string, error) {
	if len(f.sent) == 1 {
		f.cancel()
		return "", ctx.Err()
	}
	return f.fakeRunCommand.Send(ctx, req, instances)
}

func TestInterruptedWhileSendingCancelsWhatWasSentAndReportsIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &interruptedSend{fakeRunCommand: newFake(nil), cancel: cancel}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("i-%02d", i))
	}
	rep, err := newRunner(map[string]Commands{"r": f}, &clock{}).Run(ctx, Shell("x", time.Minute), targetsIn("r", ids...))
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED || !slices.Equal(f.cancelled, []string{"cmd-1"}) {
		t.Fatalf("err %v, cancelled %v", err, f.cancelled)
	}
	// The first 50 were sent, and are reported cancelled; the other 10 never were.
	if len(rep.Instances) != 50 || rep.Failed != 50 || rep.Instances[0].Status != StatusCancelled {
		t.Errorf("report: %d instances, %d failed", len(rep.Instances), rep.Failed)
	}
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
