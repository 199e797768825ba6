// Package runcmd runs a command on a service's instances with Run Command,
// in every region of an orbit at once, and reports each instance's result
// as it finishes: how it ended, what it exited with, what it printed
// (capped). It speaks to Run Command through Commands, one per region;
// the AWS one wraps internal/aws/ssm.
package runcmd

import (
	"cmp"
	"context"
	"errors"
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
	StatusNotManaged = "NotManaged" // not a managed node online in Systems Manager: nothing was sent to it
	StatusNotSent    = "NotSent"    // Run Command refused the command for this instance's batch
	StatusNoAnswer   = "NoAnswer"   // the runner stopped waiting before Run Command ended it (see the result's Detail)
	StatusCancelled  = "Cancelled"  // the run was interrupted and the command cancelled
)

// Target is an instance to run on.
type Target struct {
	Region   string `json:"region"`
	Instance string `json:"instance"`
	AZ       string `json:"az,omitempty"`
}

// Request is what runs: a document with its parameters. Timeout bounds
// how long Run Command may take to deliver it and, for the shell
// document, how long it runs (executionTimeout); any other document's
// own timeouts bound how long it runs, and the runner waits for it for
// the delivery, Timeout and the grace, then stops waiting without
// cancelling it.
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

// shell reports whether the request runs the shell document, whose run
// the runner bounds and so may cancel when it is over.
func (req Request) shell() bool { return req.Document == elevator.ShellDocument }

// Invocation is how a command stands on one instance (see Commands).
type Invocation struct {
	Instance             string
	Done                 bool
	Status, Detail       string
	ExitCode             int
	Stdout, Stderr       string
	StdoutCut, StderrCut bool
	Start, End           time.Time
}

// Commands is Run Command in one region.
type Commands interface {
	// Managed returns the Systems Manager ping status (Online, ...) of
	// those of instances registered as managed nodes.
	Managed(ctx context.Context, instances []string) (map[string]string, error)
	// Send sends req to instances (at most MaxPerSend) and returns the
	// command's id.
	Send(ctx context.Context, req Request, instances []string) (string, error)
	// Invocations says how command id stands on each instance Run
	// Command has an invocation for; an instance it does not name is not
	// known yet, so not Done.
	Invocations(ctx context.Context, id string) ([]Invocation, error)
	// Cancel stops command id on instances.
	Cancel(ctx context.Context, id string, instances []string) error
}

// Permanent marks err, from Commands, as one asking again will not
// change (access denied, say): the runner stops waiting rather than
// looking again.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
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
	// Poll is the time between two looks at the instances still running
	// (doubled after each failed look, up to MaxBackoff).
	Poll time.Duration
	// MaxOutput caps each of an instance's output streams, in bytes.
	MaxOutput int
	// Grace is how long past delivery and the timeout the runner still
	// waits for Run Command to end an invocation.
	Grace time.Duration
	// Finished is called with each instance's result as it finishes, and
	// Running with the instances still running in a region (in target
	// order) whenever their number changes, down to none; both from the
	// goroutine that called Run.
	Finished func(Result)
	Running  func(region string, running []string)
	// Now and Sleep are the clock (time.Now and a timer by default).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

const (
	// MaxBackoff is the longest wait between two looks after failed ones.
	MaxBackoff = 30 * time.Second
	// callTimeout bounds a call made after an interruption (a last
	// look, a cancel) and a send, which finishes even when interrupted
	// so that the command it creates is known and can be cancelled.
	callTimeout = 30 * time.Second
)

// pending is an instance whose command has not ended yet.
type pending struct {
	Target
	id         string
	sentAt     time.Time
	waitEnd    time.Time
	lastStatus string
}

// event is what a region's poller tells Run: a result, the instances
// still running, or that it is done (with why it stopped early, and the
// commands it cancelled).
type event struct {
	region    string
	result    *Result
	running   []string
	isRunning bool
	done      bool
	err       error
	cancelled int
	notCancel []string
}

// Run checks which targets are managed nodes online, sends req to those
// (in batches of MaxPerSend per region), then polls each region's
// commands, one poller per region, until every instance finishes. It
// returns the report, whose Failed counts the instances where the
// command did not succeed. A batch Run Command refuses is NotSent and
// the others go on. When ctx ends first, each region looks once more,
// cancels its commands where they still run and the report so far is
// returned with an EINTERRUPTED error. A region whose results cannot be
// read (a permanent error: access denied) stops waiting without
// cancelling anything, and the error is returned with the report.
func (r *Runner) Run(ctx context.Context, req Request, targets []Target) (*Report, error) {
	rep := &Report{Request: req}
	byRegion := map[string][]Target{}
	var regions []string
	for _, t := range targets {
		if _, ok := byRegion[t.Region]; !ok {
			regions = append(regions, t.Region)
		}
		byRegion[t.Region] = append(byRegion[t.Region], t)
	}
	events := make(chan event)
	for _, reg := range regions {
		go r.region(ctx, req, reg, byRegion[reg], events)
	}
	var errs, notCancelled []string
	var firstErr error
	cancelled := 0
	for left := len(regions); left > 0; {
		ev := <-events
		switch {
		case ev.result != nil:
			rep.Instances = append(rep.Instances, *ev.result)
			if !ev.result.OK() {
				rep.Failed++
			}
			if r.Finished != nil {
				r.Finished(*ev.result)
			}
		case ev.isRunning:
			if r.Running != nil {
				r.Running(ev.region, ev.running)
			}
		case ev.done:
			left--
			cancelled += ev.cancelled
			notCancelled = append(notCancelled, ev.notCancel...)
			if ev.err != nil {
				firstErr = cmp.Or(firstErr, ev.err)
				errs = append(errs, ev.err.Error())
			}
		}
	}
	sortResults(rep.Instances, targets)
	if ctx.Err() != nil {
		note := ""
		if cancelled > 0 {
			note = fmt.Sprintf("; cancelled %d commands", cancelled)
		}
		if len(notCancelled) > 0 {
			note += "; could not cancel " + strings.Join(notCancelled, ", ")
		}
		return rep, elevator.Errorf(elevator.EINTERRUPTED, "interrupted%s", note)
	}
	switch len(errs) {
	case 0:
		return rep, nil
	case 1:
		return rep, firstErr
	}
	return rep, fmt.Errorf("%w (and in other regions: %s)", firstErr, strings.Join(errs[1:], "; "))
}

// regionRun is one region's part of a run.
type regionRun struct {
	r       *Runner
	req     Request
	region  string
	cmds    Commands
	out     chan<- event
	now     func() time.Time
	waiting []*pending
}

func (g *regionRun) finish(res Result) { g.out <- event{region: g.region, result: &res} }

func (g *regionRun) running() {
	ids := make([]string, len(g.waiting))
	for i, p := range g.waiting {
		ids[i] = p.Instance
	}
	g.out <- event{region: g.region, running: ids, isRunning: true}
}

// region runs req on a region's targets and reports on out, ending with
// a done event.
func (r *Runner) region(ctx context.Context, req Request, region string, targets []Target, out chan<- event) {
	now, sleep := r.clock()
	g := &regionRun{r: r, req: req, region: region, cmds: r.Regions[region], out: out, now: now}
	done := event{region: region, done: true}
	defer func() { out <- done }()
	if g.cmds == nil {
		for _, t := range targets {
			g.finish(Result{Target: t, Status: StatusNotSent, ExitCode: -1, Detail: "no Run Command for region " + region})
		}
		done.err = elevator.Errorf(elevator.EINTERNAL, "no Run Command for region %s", region)
		return
	}
	sendable, err := g.managed(ctx, targets)
	if err != nil {
		done.err = err
		return
	}
	var sendErr error
	sent := 0
	for batch := range slices.Chunk(sendable, MaxPerSend) {
		if ctx.Err() != nil {
			for _, t := range batch {
				g.finish(Result{Target: t, Status: StatusCancelled, ExitCode: -1, Detail: "interrupted before it was sent"})
			}
			continue
		}
		ids := make([]string, len(batch))
		for i, t := range batch {
			ids[i] = t.Instance
		}
		// A send runs to its end even when interrupted, so that the
		// command it creates is known, and cancelled below.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		id, err := g.cmds.Send(sctx, req, ids)
		cancel()
		if err != nil {
			sendErr = cmp.Or(sendErr, err)
			for _, t := range batch {
				g.finish(Result{Target: t, Status: StatusNotSent, Detail: err.Error(), ExitCode: -1})
			}
			continue
		}
		sent++
		at := now()
		waitEnd := at.Add(max(req.Timeout, 30*time.Second) + req.Timeout + r.Grace)
		for _, t := range batch {
			g.waiting = append(g.waiting, &pending{Target: t, id: id, sentAt: at, waitEnd: waitEnd})
		}
	}
	if sent == 0 && sendErr != nil {
		done.err = sendErr
		return
	}
	g.running()
	failures := 0
	var lastErr error
	for len(g.waiting) > 0 {
		if ctx.Err() != nil {
			done.cancelled, done.notCancel = g.interrupted(ctx)
			return
		}
		before := len(g.waiting)
		err := g.look(ctx)
		switch {
		case ctx.Err() != nil:
			continue
		case err != nil && IsPermanent(err):
			for _, p := range g.waiting {
				g.finish(g.noAnswer(p, fmt.Sprintf("could not read its result (%v); stopped waiting, the command was not cancelled and may still run", err)))
			}
			g.waiting = nil
			done.err = fmt.Errorf("%w; stopped waiting in %s without cancelling the commands", err, region)
		case err != nil:
			failures++
			lastErr = err
		default:
			failures = 0
		}
		g.expire(ctx, lastErr)
		if len(g.waiting) != before {
			g.running()
		}
		if len(g.waiting) == 0 {
			break
		}
		wait := r.Poll
		for i := 0; i < failures && wait < MaxBackoff; i++ {
			wait *= 2
		}
		_ = sleep(ctx, min(wait, max(MaxBackoff, r.Poll))) // an interruption is seen at the loop's top
	}
}

// managed reports the targets that are not managed nodes online, and
// returns the others.
func (g *regionRun) managed(ctx context.Context, targets []Target) ([]Target, error) {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.Instance
	}
	ping, err := g.cmds.Managed(ctx, ids)
	if err != nil {
		status, detail := StatusNotSent, "could not check it is a managed node: "+err.Error()
		if ctx.Err() != nil {
			status, detail = StatusCancelled, "interrupted before it was sent"
		}
		for _, t := range targets {
			g.finish(Result{Target: t, Status: status, ExitCode: -1, Detail: detail})
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	var ok []Target
	for _, t := range targets {
		switch s := ping[t.Instance]; s {
		case "Online":
			ok = append(ok, t)
		case "":
			g.finish(Result{Target: t, Status: StatusNotManaged, ExitCode: -1, Detail: "not registered with Systems Manager (is its SSM agent running, may its role reach Systems Manager?); nothing sent"})
		default:
			g.finish(Result{Target: t, Status: StatusNotManaged, ExitCode: -1, Detail: "its SSM agent is " + s + ", not Online; nothing sent"})
		}
	}
	return ok, nil
}

// look reads each command still running once and finishes the
// instances it ended. It goes on past a command that cannot be read,
// and returns the first error.
func (g *regionRun) look(ctx context.Context) error {
	var firstErr error
	for _, id := range g.commands() {
		invs, err := g.cmds.Invocations(ctx, id)
		if err != nil {
			if IsPermanent(err) || ctx.Err() != nil {
				return err
			}
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		g.take(id, invs)
	}
	return firstErr
}

// take finishes the instances of command id that invs says ended.
func (g *regionRun) take(id string, invs []Invocation) {
	byInstance := map[string]Invocation{}
	for _, inv := range invs {
		byInstance[inv.Instance] = inv
	}
	t := g.now()
	var still []*pending
	for _, p := range g.waiting {
		if inv, ok := byInstance[p.Instance]; ok && p.id == id && inv.Done {
			g.finish(g.r.result(p, inv, t))
			continue
		}
		if p.id == id {
			p.lastStatus = cmp.Or(byInstance[p.Instance].Status, p.lastStatus)
		}
		still = append(still, p)
	}
	g.waiting = still
}

// commands returns the ids of the commands still running, in the order
// they were sent.
func (g *regionRun) commands() []string {
	var ids []string
	for _, p := range g.waiting {
		if !slices.Contains(ids, p.id) {
			ids = append(ids, p.id)
		}
	}
	return ids
}

// expire stops waiting for the instances past their wait: the shell
// document's command is cancelled on them (one CancelCommand per
// command, naming them), another document's is left to run (its own
// timeouts bound it).
func (g *regionRun) expire(ctx context.Context, lastErr error) {
	t := g.now()
	over := map[string][]*pending{}
	var still []*pending
	for _, p := range g.waiting {
		if t.Before(p.waitEnd) {
			still = append(still, p)
		} else {
			over[p.id] = append(over[p.id], p)
		}
	}
	if len(over) == 0 {
		return
	}
	g.waiting = still
	for id, ps := range over {
		note := "stopped waiting; a document's own timeouts bound it, so it was not cancelled and may still run"
		if g.req.shell() {
			ids := make([]string, len(ps))
			for i, p := range ps {
				ids[i] = p.Instance
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
			err := g.cmds.Cancel(cctx, id, ids)
			cancel()
			note = "cancelled"
			if err != nil {
				note = "could not cancel it: " + err.Error()
			}
		}
		for _, p := range ps {
			why := fmt.Sprintf("Run Command had not ended it %s after it was sent (last status %s)", t.Sub(p.sentAt).Round(time.Second), cmp.Or(p.lastStatus, "unknown"))
			if lastErr != nil {
				why += fmt.Sprintf("; the last look failed: %v", lastErr)
			}
			g.finish(g.noAnswer(p, why+"; "+note))
		}
	}
}

func (g *regionRun) noAnswer(p *pending, detail string) Result {
	d := g.now().Sub(p.sentAt)
	return Result{Target: p.Target, CommandID: p.id, Status: StatusNoAnswer, ExitCode: -1, Duration: d, Seconds: d.Round(time.Millisecond).Seconds(), Detail: detail}
}

// interrupted looks once more at the commands still running (so that
// an instance that ended is reported as it ended), cancels them on the
// instances where they still run, and reports those instances
// Cancelled. It returns how many commands it cancelled and the ones it
// could not.
func (g *regionRun) interrupted(ctx context.Context) (int, []string) {
	after := context.WithoutCancel(ctx)
	for _, id := range g.commands() {
		lctx, cancel := context.WithTimeout(after, callTimeout)
		invs, err := g.cmds.Invocations(lctx, id)
		cancel()
		if err == nil {
			g.take(id, invs)
		}
	}
	cancelled := 0
	var failed []string
	for _, id := range g.commands() {
		var ps []*pending
		for _, p := range g.waiting {
			if p.id == id {
				ps = append(ps, p)
			}
		}
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.Instance
		}
		cctx, cancel := context.WithTimeout(after, callTimeout)
		err := g.cmds.Cancel(cctx, id, ids)
		cancel()
		detail := "interrupted; the command was cancelled on it"
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s in %s: %v", id, g.region, err))
			detail = "interrupted; could not cancel the command: " + err.Error()
		} else {
			cancelled++
		}
		t := g.now()
		for _, p := range ps {
			d := t.Sub(p.sentAt)
			g.finish(Result{Target: p.Target, CommandID: p.id, Status: StatusCancelled, ExitCode: -1, Duration: d, Seconds: d.Round(time.Millisecond).Seconds(), Detail: detail})
		}
	}
	g.waiting = nil
	return cancelled, failed
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

func (r *Runner) clock() (func() time.Time, func(context.Context, time.Duration) error) {
	now, sleep := r.Now, r.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = elevator.Sleep
	}
	return now, sleep
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
