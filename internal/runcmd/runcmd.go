// Package runcmd runs a command on a service's instances with Run Command,
// in every region of an orbit at once, and reports each instance's result
// as it finishes: how it ended, what it exited with, what it printed
// (capped). It speaks to Run Command through Commands, one per region;
// the AWS one wraps internal/aws/ssm.
package runcmd

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

// MaxPerSend is the most instances one SendCommand names.
const MaxPerSend = 50

// Statuses of an instance's result that Run Command does not give.
const (
	StatusNotSent   = "NotSent"   // Run Command refused the command for this instance's batch
	StatusNoAnswer  = "NoAnswer"  // Run Command did not end it before the wait was over; it was cancelled
	StatusCancelled = "Cancelled" // the run was interrupted and the command cancelled
)

// Target is an instance to run on.
type Target struct {
	Region   string `json:"region"`
	Instance string `json:"instance"`
	AZ       string `json:"az,omitempty"`
}

// Request is what runs: a document with its parameters. Timeout bounds
// how long Run Command may take to deliver it and, for the shell
// document, how long it runs (executionTimeout).
type Request struct {
	Command    string              `json:"command,omitempty"` // the shell line, for elevator.ShellDocument
	Document   string              `json:"document"`
	Parameters map[string][]string `json:"parameters,omitempty"`
	Timeout    time.Duration       `json:"-"`
	// Comment is shown with the command in Run Command's history.
	Comment string `json:"-"`
}

// Shell is the request that runs line with elevator.ShellDocument for at most
// timeout.
func Shell(line string, timeout time.Duration) Request {
	secs := max(int(timeout/time.Second), 1)
	return Request{Command: line, Document: elevator.ShellDocument, Timeout: timeout,
		Parameters: map[string][]string{"commands": {line}, "executionTimeout": {strconv.Itoa(secs)}}}
}

// Invocation is how a command stands on one instance (see Commands).
type Invocation struct {
	Done                 bool
	Status, Detail       string
	ExitCode             int
	Stdout, Stderr       string
	StdoutCut, StderrCut bool
	Start, End           time.Time
}

// Commands is Run Command in one region.
type Commands interface {
	// Send sends req to instances (at most MaxPerSend) and returns the
	// command's id.
	Send(ctx context.Context, req Request, instances []string) (string, error)
	// Invocation says how command id stands on instance; an invocation
	// Run Command does not know yet is not Done.
	Invocation(ctx context.Context, id, instance string) (Invocation, error)
	// Cancel stops command id wherever it still runs.
	Cancel(ctx context.Context, id string) error
}

// Result is how the command ended on one instance. Stdout and Stderr are
// capped; StdoutCut and StderrCut say something was cut (by the cap, or
// by Run Command, which keeps 24,000 characters of each).
type Result struct {
	Target
	CommandID string        `json:"command_id,omitempty"`
	Status    string        `json:"status"`
	Detail    string        `json:"status_details,omitempty"`
	ExitCode  int           `json:"exit_code"`
	Duration  time.Duration `json:"-"`
	Seconds   float64       `json:"duration_seconds"`
	Stdout    string        `json:"stdout"`
	Stderr    string        `json:"stderr"`
	StdoutCut bool          `json:"stdout_cut,omitempty"`
	StderrCut bool          `json:"stderr_cut,omitempty"`
}

// OK reports whether the command succeeded on the instance.
func (r Result) OK() bool { return r.Status == "Success" && r.ExitCode == 0 }

// Report is the whole run: the request, every instance's result (in
// region, zone and instance order) and how many failed.
type Report struct {
	Request
	Instances []Result `json:"instances"`
	Failed    int      `json:"failed"`
}

// Runner runs requests. Regions maps each region to its Run Command.
type Runner struct {
	Regions map[string]Commands
	// Poll is the time between two looks at the instances still running.
	Poll time.Duration
	// MaxOutput caps each of an instance's output streams, in bytes.
	MaxOutput int
	// Grace is how long past delivery and the timeout the runner still
	// waits for Run Command to end an invocation before cancelling it.
	Grace time.Duration
	// Finished is called with each instance's result as it finishes, and
	// Running with the instances still running in a region (in target
	// order) whenever their number changes; both from the goroutine that
	// called Run.
	Finished func(Result)
	Running  func(region string, running []string)
	// Now and Sleep are the clock (time.Now and a timer by default).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// pending is an instance whose command has not ended yet.
type pending struct {
	Target
	cmds    Commands
	id      string
	sentAt  time.Time
	waitEnd time.Time
}

// Run sends req to every target (in batches of MaxPerSend per region),
// then polls each until it finishes. It returns the report, whose Failed
// counts the instances where the command did not succeed. When ctx ends
// first, it cancels the command where it still runs and returns the
// report so far with an EINTERRUPTED error; a failure to send before
// anything was sent, or to read an invocation, is returned with the
// report so far (the commands sent are cancelled).
func (r *Runner) Run(ctx context.Context, req Request, targets []Target) (*Report, error) {
	now, sleep := r.clock()
	rep := &Report{Request: req}
	var waiting []*pending
	var sent []sentCommand
	finish := func(res Result) {
		rep.Instances = append(rep.Instances, res)
		if !res.OK() {
			rep.Failed++
		}
		if r.Finished != nil {
			r.Finished(res)
		}
	}
	delivery := max(req.Timeout, 30*time.Second)
	for _, batch := range batches(targets) {
		cmds := r.Regions[batch[0].Region]
		if cmds == nil {
			return rep, elevator.Errorf(elevator.EINTERNAL, "no Run Command for region %s", batch[0].Region)
		}
		ids := make([]string, len(batch))
		for i, t := range batch {
			ids[i] = t.Instance
		}
		id, err := cmds.Send(ctx, req, ids)
		if err != nil {
			if len(sent) == 0 || ctx.Err() != nil {
				err = r.stop(ctx, sent, err)
				r.abandon(rep, waiting, finish, ctx.Err() != nil)
				sortResults(rep.Instances, targets)
				return rep, err
			}
			for _, t := range batch {
				finish(Result{Target: t, Status: StatusNotSent, Detail: err.Error(), ExitCode: -1})
			}
			continue
		}
		sent = append(sent, sentCommand{batch[0].Region, cmds, id})
		at := now()
		for _, t := range batch {
			waiting = append(waiting, &pending{Target: t, cmds: cmds, id: id, sentAt: at, waitEnd: at.Add(delivery + req.Timeout + r.Grace)})
		}
	}
	r.running(waiting, nil)
	for len(waiting) > 0 {
		before := slices.Clone(waiting)
		var still []*pending
		for i, p := range waiting {
			inv, err := p.cmds.Invocation(ctx, p.id, p.Instance)
			if err != nil {
				err = r.stop(ctx, sent, err)
				r.abandon(rep, append(still, waiting[i:]...), finish, ctx.Err() != nil)
				sortResults(rep.Instances, targets)
				return rep, err
			}
			t := now()
			switch {
			case inv.Done:
				finish(r.result(p, inv, t))
			case !t.Before(p.waitEnd):
				_ = p.cmds.Cancel(context.WithoutCancel(ctx), p.id)
				finish(Result{Target: p.Target, CommandID: p.id, Status: StatusNoAnswer, ExitCode: -1, Duration: t.Sub(p.sentAt), Seconds: t.Sub(p.sentAt).Seconds(),
					Detail: fmt.Sprintf("Run Command had not ended it %s after it was sent (last status %s); cancelled", t.Sub(p.sentAt).Round(time.Second), inv.Status)})
			default:
				still = append(still, p)
			}
		}
		waiting = still
		r.running(waiting, before)
		if len(waiting) == 0 {
			break
		}
		if err := sleep(ctx, r.Poll); err != nil {
			err = r.stop(ctx, sent, err)
			r.abandon(rep, waiting, finish, true)
			sortResults(rep.Instances, targets)
			return rep, err
		}
	}
	sortResults(rep.Instances, targets)
	return rep, nil
}

// sentCommand is a command sent to a batch of a region's instances.
type sentCommand struct {
	region string
	cmds   Commands
	id     string
}

// stop cancels every command sent, and says why the run stopped: the
// user interrupted it, or err.
func (r *Runner) stop(ctx context.Context, sent []sentCommand, err error) error {
	var failed []string
	for _, s := range sent {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if cerr := s.cmds.Cancel(cctx, s.id); cerr != nil {
			failed = append(failed, fmt.Sprintf("%s in %s: %v", s.id, s.region, cerr))
		}
		cancel()
	}
	note := ""
	if len(sent) > 0 {
		note = fmt.Sprintf("; cancelled %d commands", len(sent)-len(failed))
		if len(failed) > 0 {
			note += "; could not cancel " + strings.Join(failed, ", ")
		}
	}
	if ctx.Err() != nil {
		return elevator.Errorf(elevator.EINTERRUPTED, "interrupted%s", note)
	}
	if note != "" {
		return fmt.Errorf("%w%s", err, note)
	}
	return err
}

// abandon gives the instances still waiting a result when the run stops.
func (r *Runner) abandon(rep *Report, waiting []*pending, finish func(Result), interrupted bool) {
	status := StatusCancelled
	if !interrupted {
		status = StatusNoAnswer
	}
	for _, p := range waiting {
		finish(Result{Target: p.Target, CommandID: p.id, Status: status, ExitCode: -1})
	}
}

// result is an ended invocation's result, its output capped.
func (r *Runner) result(p *pending, inv Invocation, seen time.Time) Result {
	res := Result{Target: p.Target, CommandID: p.id, Status: inv.Status, Detail: inv.Detail, ExitCode: inv.ExitCode}
	res.Duration = seen.Sub(p.sentAt)
	if !inv.Start.IsZero() && !inv.End.Before(inv.Start) {
		res.Duration = inv.End.Sub(inv.Start)
	}
	res.Seconds = res.Duration.Round(time.Millisecond).Seconds()
	var cut bool
	res.Stdout, cut = Cap(inv.Stdout, r.MaxOutput)
	res.StdoutCut = cut || inv.StdoutCut
	res.Stderr, cut = Cap(inv.Stderr, r.MaxOutput)
	res.StderrCut = cut || inv.StderrCut
	return res
}

// running reports the regions whose count of instances still running
// changed from before to now (all of now's when before is nil).
func (r *Runner) running(now, before []*pending) {
	if r.Running == nil {
		return
	}
	ids := func(ps []*pending) map[string][]string {
		m := map[string][]string{}
		for _, p := range ps {
			m[p.Region] = append(m[p.Region], p.Instance)
		}
		return m
	}
	n, b := ids(now), ids(before)
	regions := make([]string, 0, len(b)+len(n))
	for reg := range b {
		regions = append(regions, reg)
	}
	for reg := range n {
		regions = append(regions, reg)
	}
	slices.Sort(regions)
	for _, reg := range slices.Compact(regions) {
		if before == nil || len(n[reg]) != len(b[reg]) {
			r.Running(reg, n[reg])
		}
	}
}

func (r *Runner) clock() (func() time.Time, func(context.Context, time.Duration) error) {
	now, sleep := r.Now, r.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	return now, sleep
}

// batches splits targets into per-region groups of at most MaxPerSend.
func batches(targets []Target) [][]Target {
	var out [][]Target
	byRegion := map[string][]Target{}
	var regions []string
	for _, t := range targets {
		if _, ok := byRegion[t.Region]; !ok {
			regions = append(regions, t.Region)
		}
		byRegion[t.Region] = append(byRegion[t.Region], t)
	}
	for _, reg := range regions {
		for ts := range slices.Chunk(byRegion[reg], MaxPerSend) {
			out = append(out, ts)
		}
	}
	return out
}

// sortResults puts results in the targets' order.
func sortResults(rs []Result, targets []Target) {
	at := map[Target]int{}
	for i, t := range targets {
		at[t] = i
	}
	slices.SortStableFunc(rs, func(a, b Result) int { return cmp.Compare(at[a.Target], at[b.Target]) })
}

// Cap returns s cut to at most n bytes (on a character boundary) and
// whether it cut anything; n <= 0 keeps nothing.
func Cap(s string, n int) (string, bool) {
	n = max(n, 0)
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// Pick returns n of targets (all of them when n is 0 or more than there
// are), spread over regions, then zones: within a region, targets are
// taken one per zone in turn (zones and instances in name order), and the
// regions (in the order regions lists them) take turns. The choice
// depends only on the targets; it is returned in region, zone and
// instance order.
func Pick(targets []Target, regions []string, n int) []Target {
	sorted := slices.Clone(targets)
	slices.SortFunc(sorted, func(a, b Target) int {
		return cmp.Or(cmp.Compare(regionIndex(regions, a.Region), regionIndex(regions, b.Region)), strings.Compare(a.Region, b.Region),
			strings.Compare(a.AZ, b.AZ), strings.Compare(a.Instance, b.Instance))
	})
	if n <= 0 || n >= len(sorted) {
		return sorted
	}
	// Each region's targets in the order it gives them: one per zone in turn.
	var order []string
	turns := map[string][]Target{}
	byZone := map[[2]string][]Target{}
	zones := map[string][][2]string{}
	for _, t := range sorted {
		z := [2]string{t.Region, t.AZ}
		if _, ok := byZone[z]; !ok {
			zones[t.Region] = append(zones[t.Region], z)
		}
		if !slices.Contains(order, t.Region) {
			order = append(order, t.Region)
		}
		byZone[z] = append(byZone[z], t)
	}
	for _, r := range order {
		for round := 0; len(turns[r]) < countIn(sorted, r); round++ {
			for _, z := range zones[r] {
				if round < len(byZone[z]) {
					turns[r] = append(turns[r], byZone[z][round])
				}
			}
		}
	}
	var out []Target
	for i := 0; len(out) < n; i++ {
		for _, r := range order {
			if i < len(turns[r]) && len(out) < n {
				out = append(out, turns[r][i])
			}
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return cmp.Compare(slices.Index(sorted, a), slices.Index(sorted, b)) })
	return out
}

func countIn(ts []Target, region string) int {
	n := 0
	for _, t := range ts {
		if t.Region == region {
			n++
		}
	}
	return n
}

func regionIndex(regions []string, r string) int {
	if i := slices.Index(regions, r); i >= 0 {
		return i
	}
	return len(regions)
}

// parameterName is the form of a document parameter's name.
var parameterName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// ParseParameters reads --parameters NAME=VALUE flags. A name given
// again adds a value to its list (--parameters commands=a --parameters
// commands=b is commands: [a, b]); a value is taken as it is, commas
// included. It returns an EINVALID error naming the bad flag.
func ParseParameters(kvs []string) (map[string][]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	for _, kv := range kvs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, elevator.Errorf(elevator.EINVALID, "--parameters %q: want NAME=VALUE, such as commands=uptime", kv)
		}
		if !parameterName.MatchString(name) {
			return nil, elevator.Errorf(elevator.EINVALID, "--parameters %q: the name %q is not a document parameter's name (letters, digits, _ . -, at most 128)", kv, name)
		}
		out[name] = append(out[name], value)
	}
	return out, nil
}

// ShellLine is the shell line that runs args: one argument is taken as a
// line as it is (so `-- 'cd /srv && ls'` works); several are quoted for
// the shell where they need it and joined with spaces.
func ShellLine(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

// shellSafe are the characters an argument may have and need no quotes.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sizeUnits are the units ParseSize reads.
var sizeUnits = map[string]int{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20}

// sizePattern is a size: a whole number and an optional unit.
var sizePattern = regexp.MustCompile(`^([0-9]{1,9})\s*(B|KiB|MiB)?$`)

// ParseSize reads a byte count such as 4096, 4KiB or 1MiB. It returns an
// EINVALID error for anything else, and for more than 1 MiB.
func ParseSize(flag, s string) (int, error) {
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, elevator.Errorf(elevator.EINVALID, "%s %q: want a size in bytes, such as 4096, 4KiB or 1MiB", flag, s)
	}
	n, _ := strconv.Atoi(m[1]) // nine digits at most: it fits
	if n > (1<<20)/sizeUnits[m[2]] {
		return 0, elevator.Errorf(elevator.EINVALID, "%s %s: want at most 1MiB (Run Command keeps 24,000 characters of each stream)", flag, s)
	}
	return n * sizeUnits[m[2]], nil
}
