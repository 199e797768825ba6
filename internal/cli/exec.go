package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/runcmd"
	"github.com/spf13/cobra"
)

const (
	// execPoll is how often exec looks at the instances still running.
	execPoll = 2 * time.Second
	// execGrace is how long past delivery and --timeout exec still waits
	// for Run Command to end an invocation before cancelling it.
	execGrace = time.Minute
	// auditCommandMax is how much of the command an audit entry keeps.
	auditCommandMax = 200
)

// execOpts are `elevator exec`'s flags.
type execOpts struct {
	env              *orbitEnv
	app, service     string
	instances        string
	timeout          time.Duration
	maxOutput        string
	document         string
	parameters       []string
	poll             time.Duration
	cmd              *cobra.Command
	args             []string
	request          runcmd.Request
	count, outputCap int
}

// validate checks every flag and reads the orbit's manifest. It calls
// nothing, so bad input sends nothing.
func (o *execOpts) validate() error {
	if err := o.env.validate(); err != nil {
		return err
	}
	o.env.configs = orbitConfigs(o.env.globals, o.env.orbit)
	if err := checkAppService(o.app, o.service, true); err != nil {
		return err
	}
	if o.service == "" {
		return elevator.Errorf(elevator.EINVALID, "--service is required: a command runs on one service's instances")
	}
	if r := o.env.region; r != "" && o.env.orbit.Region(r) == nil {
		return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", r, o.env.orbit.Name, strings.Join(regionNames(o.env.orbit), ", "))
	}
	if o.env.globals.local {
		// moto answers SendCommand but has neither DescribeInstanceInformation
		// nor ListCommandInvocations: say so rather than fail on its 500s.
		return elevator.Errorf(elevator.EINVALID, "exec needs Systems Manager's Run Command, which the local emulator does not have (no DescribeInstanceInformation, no ListCommandInvocations); run it against AWS")
	}
	var err error
	if o.count, err = parseInstanceCount(o.instances); err != nil {
		return err
	}
	if o.timeout < time.Second || o.timeout > ssm.MaxTimeout {
		return elevator.Errorf(elevator.EINVALID, "--timeout %s: want 1s to 48h (Run Command's longest timeout), such as 10m", o.timeout)
	}
	if o.outputCap, err = runcmd.ParseSize("--max-output", o.maxOutput); err != nil {
		return err
	}
	if err := checkPollInterval(o.cmd, o.poll); err != nil {
		return err
	}
	if len(o.args) > 0 && o.cmd.ArgsLenAtDash() != 0 {
		return usageError{fmt.Errorf("give the command to run after --: elevator exec ... -- %s", strings.Join(o.args, " "))}
	}
	params, err := runcmd.ParseParameters(o.parameters)
	if err != nil {
		return err
	}
	switch {
	case o.document != "" && len(o.args) > 0:
		return elevator.Errorf(elevator.EINVALID, "--document %s and a command after -- both say what to run; give one", o.document)
	case o.document == "" && len(params) > 0:
		return elevator.Errorf(elevator.EINVALID, "--parameters are a document's: give --document NAME with them, or the command after --")
	case o.document != "":
		if err := checkDocumentName(o.document); err != nil {
			return err
		}
		o.request = runcmd.Request{Document: o.document, Parameters: params, Timeout: o.timeout}
	case len(o.args) == 0 || strings.TrimSpace(strings.Join(o.args, "")) == "":
		return elevator.Errorf(elevator.EINVALID, "nothing to run: give a command after -- (elevator exec ... -- uptime) or --document NAME")
	default:
		o.request = runcmd.Shell(runcmd.ShellLine(o.args), o.timeout)
	}
	o.request.Comment = truncate("elevator exec "+o.env.orbit.Name+" "+o.app+" "+o.service, 100)
	return nil
}

// parseInstanceCount reads --instances: all (0), or a positive count.
func parseInstanceCount(s string) (int, error) {
	if s == "all" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, elevator.Errorf(elevator.EINVALID, "--instances %q: want all, or how many instances to run on (1 or more)", s)
	}
	return n, nil
}

// checkDocumentName checks --document: an SSM document's name (3 to 128
// of letters, digits, _ - .) or ARN.
func checkDocumentName(name string) error {
	if strings.HasPrefix(name, "arn:") {
		return nil
	}
	ok := len(name) >= 3 && len(name) <= 128
	for _, r := range name {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	}
	if !ok {
		return elevator.Errorf(elevator.EINVALID, "--document %q: want an SSM document's name (3 to 128 letters, digits, _ - .), such as AWS-RunShellScript, or its ARN", name)
	}
	return nil
}

// execLookup finds the InService instances of a service in the app's
// current release, in each of the regions.
type execLookup struct {
	orbit, app, service string
	regions             []string
	releases            releaseLister
	groups              func(ctx context.Context, region string) (groupReader, error)
}

// targets returns the current release's id and its instances of the
// service. A service the release runs nowhere is EINVALID; a service
// without InService instances in the regions is ENOTFOUND, with what was
// found.
func (l execLookup) targets(ctx context.Context) (string, []runcmd.Target, error) {
	cur, err := currentRelease(ctx, l.releases, l.app, l.orbit, "run a command on")
	if err != nil {
		return "", nil, err
	}
	if err := refuseECS(cur, l.regions, l.app, l.service, "exec"); err != nil {
		return "", nil, err
	}
	var targets []runcmd.Target
	var found, all []string
	for _, region := range l.regions {
		group, services := serviceGroup(cur, region, l.service)
		all = append(all, services...)
		if group == "" {
			found = append(found, fmt.Sprintf("%s: no group of %s", region, l.service))
			continue
		}
		groups, err := l.groups(ctx, region)
		if err != nil {
			return "", nil, err
		}
		g, err := groups.Group(ctx, group)
		if elevator.ErrorCode(err) == elevator.ENOTFOUND {
			found = append(found, fmt.Sprintf("%s: group %s is gone", region, group))
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("group of service %s of release %s: %w", l.service, cur.ID, err)
		}
		in := g.InService()
		for _, i := range in {
			targets = append(targets, runcmd.Target{Region: region, Instance: i.ID, AZ: i.AZ})
		}
		found = append(found, fmt.Sprintf("%s: group %s has %d InService of %d (%s)", region, group, len(in), len(g.Instances), orNone(describeInstances(g.Instances))))
	}
	if len(targets) > 0 {
		return cur.ID, targets, nil
	}
	if !runsService(cur, l.service) {
		return "", nil, elevator.Errorf(elevator.EINVALID, "--service %s: the current release of %s in orbit %s (%s) runs no such service (its services: %s)", l.service, l.app, l.orbit, cur.ID, orNone(uniq(all)))
	}
	return "", nil, elevator.Errorf(elevator.ENOTFOUND, "service %s of %s's current release %s has no InService, healthy instance to run on: %s", l.service, l.app, cur.ID, strings.Join(found, "; "))
}

func runsService(rec *elevator.ReleaseRecord, service string) bool {
	for _, r := range rec.Regions {
		for _, s := range r.Services {
			if s.Service == service {
				return true
			}
		}
	}
	return false
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// execRun runs a request on a service's instances and says how it went.
type execRun struct {
	g                   *globals
	orbit, app, service string
	count               int
	lookup              execLookup
	runner              *runcmd.Runner
	progress            *progress.Printer
	// audit writes the run's entry to the orbit's audit log, as by.
	audit func(context.Context, elevator.AuditEntry) error
	by    string
	now   func() time.Time
}

// execReport is `elevator exec`'s answer.
type execReport struct {
	Orbit   string `json:"orbit"`
	App     string `json:"app"`
	Service string `json:"service"`
	Release string `json:"release"`
	*runcmd.Report
}

// run finds the instances, runs req on them, prints each result as it
// finishes (or the whole report with --output json), and audits the run
// (an entry before anything is sent, none sent when it cannot be written,
// and one with the outcome).
// It returns an EFAILED error when the command did not succeed on every
// instance, EINTERRUPTED when interrupted (the command is cancelled).
func (x *execRun) run(ctx context.Context, req runcmd.Request) error {
	release, targets, err := x.lookup.targets(ctx)
	if err != nil {
		return err
	}
	targets = runcmd.Pick(targets, x.lookup.regions, x.count)
	what := req.Document
	if req.Command != "" {
		what = strconv.Quote(truncate(req.Command, 80))
	}
	x.progress.Note(targets[0].Region, fmt.Sprintf("running %s on %d instances of %s %s (release %s)", what, len(targets), x.app, x.service, release))
	what = fmt.Sprintf("service %s: %s on %d instances", x.service, req.Document, len(targets))
	command := ""
	if req.Command != "" {
		command = ": " + truncate(req.Command, auditCommandMax)
	} else if len(req.Parameters) > 0 {
		command = ": " + truncate(fmt.Sprint(req.Parameters), auditCommandMax)
	}
	// The run is in the audit log before anything is sent: a run that
	// cannot be audited is not run.
	if err := x.writeAudit(ctx, elevator.AuditEntry{At: x.now(), By: x.by, Action: elevator.AuditExec, App: x.app, Orbit: x.orbit,
		ReleaseID: release, Outcome: "started", Detail: what + command}); err != nil {
		return fmt.Errorf("write the audit entry before sending the command (nothing was sent): %w", err)
	}
	multiRegion := len(x.lookup.regions) > 1
	x.runner.Finished = func(r runcmd.Result) {
		if !x.g.json() {
			x.progress.Done()
			printExecResult(x.g.stdout, r, x.runner.MaxOutput, multiRegion)
		}
	}
	x.runner.Running = func(region string, ids []string) {
		if len(ids) == 0 {
			x.progress.Note(region, "none still running")
			return
		}
		x.progress.Note(region, fmt.Sprintf("%d still running: %s", len(ids), strings.Join(firstOf(ids, 5), " ")))
	}
	rep, runErr := x.runner.Run(ctx, req, targets)
	x.progress.Done()
	out := execReport{Orbit: x.orbit, App: x.app, Service: x.service, Release: release, Report: rep}
	outcome := "succeeded"
	switch {
	case elevator.ErrorCode(runErr) == elevator.EINTERRUPTED:
		outcome = "interrupted"
	case runErr != nil:
		outcome = "error"
	case rep.Failed > 0:
		outcome = "failed"
	}
	auditErr := x.writeAudit(context.WithoutCancel(ctx), elevator.AuditEntry{At: x.now(), By: x.by, Action: elevator.AuditExec, App: x.app, Orbit: x.orbit,
		ReleaseID: release, Outcome: outcome, Detail: fmt.Sprintf("%s, %d failed%s", what, rep.Failed, command)})
	if x.g.json() {
		if err := x.g.printJSON(out); err != nil {
			return err
		}
	} else {
		printExecSummary(x.g.stdout, out, len(targets))
	}
	err = runErr
	if err == nil && rep.Failed > 0 {
		var failed []string
		for _, r := range rep.Instances {
			if !r.OK() {
				failed = append(failed, fmt.Sprintf("%s (%s, exit %d)", r.Instance, r.Status, r.ExitCode))
			}
		}
		err = elevator.Errorf(elevator.EFAILED, "the command failed on %d of %d instances: %s", rep.Failed, len(rep.Instances), strings.Join(failed, ", "))
	}
	if auditErr != nil {
		auditErr = fmt.Errorf("write the audit entry: %w", auditErr)
		if err == nil {
			return auditErr
		}
		err = fmt.Errorf("%w; and %v", err, auditErr)
	}
	if err != nil && x.g.json() {
		return reported{err} // the report printed is the JSON answer
	}
	return err
}

// writeAudit writes e to the orbit's audit log, in auditTimeout at most.
func (x *execRun) writeAudit(ctx context.Context, e elevator.AuditEntry) error {
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	return x.audit(ctx, e)
}

// printExecResult prints one instance's result: a line saying how it
// ended, then its output, indented.
func printExecResult(w io.Writer, r runcmd.Result, capped int, region bool) {
	where := r.Instance
	if r.AZ != "" {
		where += " (" + r.AZ + ")"
	}
	if region {
		where = r.Region + " " + where
	}
	line := fmt.Sprintf("%s: %s, exit %d, %s", where, r.Status, r.ExitCode, r.Duration.Round(100*time.Millisecond))
	if r.Detail != "" && r.Detail != r.Status {
		line += " — " + r.Detail
	}
	fmt.Fprintln(w, line)
	stream := func(prefix, s string, cut bool) {
		s = strings.TrimRight(printable(s), "\n")
		if s != "" {
			for _, l := range strings.Split(s, "\n") {
				fmt.Fprintf(w, "  %s%s\n", prefix, l)
			}
		}
		if cut {
			fmt.Fprintf(w, "  %s… cut (output capped at %d bytes)\n", prefix, capped)
		}
	}
	stream("", r.Stdout, r.StdoutCut)
	stream("stderr: ", r.Stderr, r.StderrCut)
}

// printable returns s without the control characters an instance's
// output could use to move the terminal's cursor or change its colours:
// all but tab and newline (a carriage return too, so a progress bar's
// last state is what shows).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

// printExecSummary says how many instances succeeded and failed.
func printExecSummary(w io.Writer, out execReport, sent int) {
	fmt.Fprintf(w, "%s %s (release %s): %d of %d instances succeeded, %d failed\n", out.App, out.Service, out.Release, len(out.Instances)-out.Failed, sent, out.Failed)
}

// firstOf returns the first n of ss, then "and N more" when there are more.
func firstOf(ss []string, n int) []string {
	if len(ss) <= n {
		return ss
	}
	return append(slices.Clone(ss[:n]), fmt.Sprintf("and %d more", len(ss)-n))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut, _ := runcmd.Cap(s, n-len("…"))
	return cut + "…"
}

// ssmCommands is Run Command in one region, for the runner.
type ssmCommands struct{ c *ssm.Client }

func (s ssmCommands) Managed(ctx context.Context, instances []string) (map[string]string, error) {
	return s.c.ManagedNodes(ctx, instances)
}

func (s ssmCommands) Send(ctx context.Context, req runcmd.Request, instances []string) (string, error) {
	return s.c.Send(ctx, ssm.Command{Document: req.Document, Parameters: req.Parameters, Instances: instances, Delivery: req.Timeout, Comment: req.Comment})
}

func (s ssmCommands) Invocations(ctx context.Context, id string) ([]runcmd.Invocation, error) {
	invs, err := s.c.Invocations(ctx, id)
	if err != nil {
		return nil, permanentRead(err)
	}
	out := make([]runcmd.Invocation, len(invs))
	for i, inv := range invs {
		out[i] = runcmd.Invocation{Instance: inv.Instance, Done: inv.Done, Status: inv.Status, Detail: inv.StatusDetails, ExitCode: inv.ResponseCode,
			Stdout: inv.Stdout, Stderr: inv.Stderr, StdoutCut: inv.StdoutCut, StderrCut: inv.StderrCut, Start: inv.Start, End: inv.End}
	}
	return out, nil
}

func (s ssmCommands) Cancel(ctx context.Context, id string, instances []string) error {
	return s.c.CancelCommand(ctx, id, instances...)
}

// permanentRead marks a failure to read a command's invocations that
// asking again will not change: access denied, bad credentials, a
// command or request Run Command refuses. Throttling, 5xx and network
// failures are looked at again at the next poll.
func permanentRead(err error) error {
	if errors.Is(err, awserr.ErrAccessDenied) || errors.Is(err, awserr.ErrCredentials) || elevator.ErrorCode(err) == elevator.EINVALID || elevator.ErrorCode(err) == elevator.ENOTFOUND ||
		awserr.Code(err) == "InvalidCommandId" {
		return runcmd.Permanent(err)
	}
	return err
}

func newExecCmd(g *globals) *cobra.Command {
	o := &execOpts{env: &orbitEnv{globals: g, allRegions: true}}
	c := &cobra.Command{
		Use:   "exec (-- COMMAND... | --document NAME [--parameters K=V]...)",
		Short: "Run a command on a service's instances with SSM Run Command, and show each instance's result",
		Long: `Run a shell command (AWS-RunShellScript) or any SSM document on the InService
instances of the service in the app's current release (its last successful
one), in every region of the orbit or --region. Each instance's result is
printed as it finishes: how it ended, its exit code, how long it ran and
what it printed (each stream capped at --max-output); instances still
running are shown on stderr. --instances N runs on N of them, spread over
regions and zones, always the same ones for the same instances.

With one argument after --, it is the shell line as it is ('cd /srv && ls');
with several, they are quoted for the shell and joined. --parameters K=V
gives a document's parameter; give K again for a list of values.

The exit status is 0 when the command succeeded everywhere, 6 when it failed,
timed out or could not be delivered on any instance, 130 when interrupted
(the command is cancelled where it still runs). A --document's run is
bounded by the document's own timeouts: exec waits for it for --timeout
(twice, with delivery) and a minute, then stops waiting without cancelling
it. Each run is written to the orbit's audit log when it starts and when it
ends. The instances need a running SSM agent registered with Systems
Manager (Online); the instance role Elevator compiles lets it take commands
(ssmmessages and ec2messages). A document that calls AWS from the instance
needs those grants in the role too. See docs/operations.md.

A service that runs on ECS has tasks, not instances: exec refuses it (exit
2) and says how to reach a task with ECS Exec (aws ecs execute-command).`,
		Example: `  elevator exec --orbit production --app shop --service web -- uptime
  elevator exec --orbit production --app shop --service web --instances 2 -- 'journalctl -u elevator-web -n 20'
  elevator exec --orbit production --app shop --service worker --document AWS-RunShellScript --parameters commands='df -h /' --parameters executionTimeout=60`,
		Args: cobra.ArbitraryArgs,
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		o.cmd, o.args = cmd, args
		if err := o.validate(); err != nil {
			return err
		}
		return o.execute(cmd.Context())
	}
	o.env.addFlags(c)
	f := c.Flags()
	f.StringVar(&o.app, "app", "", "the app (required)")
	f.StringVar(&o.service, "service", "", "the service whose instances run the command (required)")
	f.StringVar(&o.instances, "instances", "all", "how many of the service's instances: all, or a count")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long the command may wait to be delivered and run on an instance (1s to 48h; a --document's own timeouts bound its run, exec waits as long)")
	f.StringVar(&o.maxOutput, "max-output", "4KiB", "the most of each instance's stdout and stderr to show, such as 4096, 4KiB, 1MiB")
	f.StringVar(&o.document, "document", "", "run this SSM document instead of a shell command")
	f.StringArrayVar(&o.parameters, "parameters", nil, "a parameter of --document, NAME=VALUE (repeat it; the same NAME again adds a value)")
	f.DurationVar(&o.poll, "poll-interval", execPoll, "time between two looks at the instances still running")
	_ = f.MarkHidden("poll-interval")
	return c
}

// execute looks up where the orbit keeps its releases and audit, and
// runs the request.
func (o *execOpts) execute(ctx context.Context) error {
	e, g := o.env, o.env.globals
	home, err := e.configs.For(ctx, e.orbit.Regions[0].Name)
	if err != nil {
		return err
	}
	backend, err := homeBackend(ctx, home, e.orbit)
	if err != nil {
		return err
	}
	id, err := sts.New(home).CallerIdentity(ctx)
	if err != nil {
		return err
	}
	regions := regionNames(e.orbit)
	if g.region != "" {
		regions = []string{g.region}
	}
	runner := &runcmd.Runner{Regions: map[string]runcmd.Commands{}, Poll: o.poll, MaxOutput: o.outputCap, Grace: execGrace}
	for _, r := range regions {
		cfg, err := e.configs.For(ctx, r)
		if err != nil {
			return err
		}
		runner.Regions[r] = ssmCommands{ssm.New(cfg)}
	}
	x := &execRun{g: g, orbit: e.orbit.Name, app: o.app, service: o.service, count: o.count, runner: runner, progress: progress.New(g.stderr),
		audit: backend.Store.Audit, by: id.ARN, now: time.Now,
		lookup: execLookup{orbit: e.orbit.Name, app: o.app, service: o.service, regions: regions, releases: backend.Store,
			groups: func(ctx context.Context, region string) (groupReader, error) {
				cfg, err := e.configs.For(ctx, region)
				if err != nil {
					return nil, err
				}
				return autoscaling.New(cfg), nil
			}}}
	err = x.run(ctx, o.request)
	if errors.Is(err, context.Canceled) && elevator.ErrorCode(err) == "" {
		return elevator.Errorf(elevator.EINTERRUPTED, "interrupted: %w", err)
	}
	return err
}
