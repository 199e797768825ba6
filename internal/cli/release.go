package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/secretsmanager"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/lookup"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
	"github.com/spf13/cobra"
)

// releaseEnv is what every release command needs: the orbit, AWS, and the
// release engine on the orbit's state bucket and tables.
type releaseEnv struct {
	*globals
	orbitName, orbitFile string
	pollInterval         time.Duration
	lease                time.Duration
	cmd                  *cobra.Command

	orbit   *elevator.Orbit
	configs *awsConfigs
	// deployerURL is the deployer the command goes through ("": it runs
	// in this process); client calls it once connected.
	deployerURL string
	client      *api.Client
	// lookups says the command reads the orbit in AWS even through a
	// deployer (deploy builds the release document itself).
	lookups bool
	// inProcess keeps the command in this process whatever the deployer
	// (resume: the deployers resume their own releases).
	inProcess bool
	// submitted says the command submitted the release it follows to a
	// deployer (deploy, rollback), which then exits as a conflict when
	// the release was refused at Lock, as lockWatch makes it in process.
	submitted bool
	backend   *awsrelease.Backend
	engine    *release.Engine
	locks     *lockWatch
	caller    string
	last      elevator.ReleaseState // the state Observe printed last
	// orbitOutputs are the orbit stack's outputs read by open, by region.
	orbitOutputs map[string]map[string]string
	// apiOptions are added to every AWS config connect makes, before any
	// client is built from it (the deployer's metrics middleware).
	apiOptions []func(*middleware.Stack) error
	// asDeployer says the process is a deployer in the orbit's account,
	// with its own role (the orbit's own deployer, or another orbit's of
	// the same account): its configs check the account but assume no role
	// (orbits of other accounts' configs assume theirs).
	asDeployer bool
}

func (e *releaseEnv) addFlags(c *cobra.Command) {
	e.cmd = c
	c.Flags().StringVar(&e.orbitName, "orbit", "", "the orbit (required)")
	c.Flags().StringVar(&e.orbitFile, "orbit-file", "", "the orbit's manifest (default: orbits/NAME.yml, NAME.orbit.yml or orbit.yml)")
	c.Flags().DurationVar(&e.pollInterval, "poll-interval", 0, fmt.Sprintf("time between two looks at AWS while waiting, at least %s (default 5s, 100ms with --local)", minPollInterval))
	c.Flags().DurationVar(&e.lease, "lease", release.DefaultLease, fmt.Sprintf("how long the release lock outlives this process if it dies, %s to %s; it is renewed while it runs", minLease, maxLease))
}

// Bounds of the flags that say how a command waits (see README.md).
const (
	// minPollInterval keeps waits from turning into a busy loop of calls;
	// the local emulator's default is this.
	minPollInterval = 100 * time.Millisecond
	// minLease keeps the lock a lock: shorter, and a live engine's lease
	// could end during a few slow AWS calls, letting a second release in.
	minLease = 10 * time.Second
	// maxLease bounds how long a dead engine's lock blocks the app.
	maxLease = 24 * time.Hour
)

// checkPollInterval refuses a --poll-interval given below the minimum
// (including zero and negative ones); left out, it takes its default.
func checkPollInterval(c *cobra.Command, d time.Duration) error {
	if c.Flags().Changed("poll-interval") && d < minPollInterval {
		return elevator.Errorf(elevator.EINVALID, "--poll-interval %s: want at least %s", d, minPollInterval)
	}
	return nil
}

// validate checks the flags every release command takes and reads the
// orbit's manifest. It calls nothing.
func (e *releaseEnv) validate() error {
	if e.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required")
	}
	if e.region != "" {
		return elevator.Errorf(elevator.EINVALID, "--region: a release covers every region of its orbit; use --regions-in-sequence to go one region at a time")
	}
	if err := checkPollInterval(e.cmd, e.pollInterval); err != nil {
		return err
	}
	if e.lease < minLease || e.lease > maxLease {
		return elevator.Errorf(elevator.EINVALID, "--lease %s: want %s to %s", e.lease, minLease, maxLease)
	}
	file, err := findOrbitFile(e.orbitName, e.orbitFile)
	if err != nil {
		return err
	}
	if e.orbit, err = readOrbit(file, ""); err != nil {
		return err
	}
	if e.orbit.Name != e.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", e.orbitName, file, e.orbit.Name)
	}
	if !e.inProcess {
		if e.deployerURL, err = elevator.Deployer(e.globals.deployer, e.deployerEnv, e.orbit); err != nil {
			return err
		}
	}
	return nil
}

// connect makes the command's first AWS calls: who the caller is, and
// where the orbit keeps its releases; then it wires the release engine.
// Through a deployer it only makes the deployer's client (and, for a
// command that looks the orbit up, asks who the caller is and where the
// orbit keeps its releases).
func (e *releaseEnv) connect(ctx context.Context) error {
	e.configs = orbitConfigs(e.globals, e.orbit)
	if e.asDeployer {
		e.configs.account = elevator.Account{ID: e.orbit.Account.Want(), Path: e.orbit.Account.Path}
	}
	e.configs.apiOptions = e.apiOptions
	var cfgs []aws.Config
	for _, r := range e.orbit.Regions {
		cfg, err := e.configs.For(ctx, r.Name)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, cfg)
	}
	if e.deployerURL != "" {
		if err := e.connectDeployer(ctx); err != nil || !e.lookups {
			return err
		}
	}
	id, err := sts.New(cfgs[0]).CallerIdentity(ctx)
	if err != nil {
		return err
	}
	e.caller = id.ARN
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfgs[0])}).OrbitOutputs(ctx, e.orbit)
	if err != nil {
		return err
	}
	e.orbitOutputs = map[string]map[string]string{cfgs[0].Region: outputs}
	if e.remote() {
		return nil
	}
	if e.backend, err = awsrelease.New(awsrelease.Config{Orbit: e.orbit.Name, AWS: cfgs, Bucket: outputs[compile.StateBucketOutput], ECS: e.orbit.ECS != nil}); err != nil {
		return err
	}
	cfg := e.backend.EngineConfig(owner())
	e.locks = &lockWatch{Locker: cfg.Locker}
	cfg.Locker = e.locks
	cfg.Poll = e.pollInterval
	if cfg.Poll == 0 && e.configs.emulated() {
		cfg.Poll = 100 * time.Millisecond
	}
	cfg.Lease = e.lease
	cfg.Observe = e.observe
	cfg.Log = e.logger()
	e.engine, err = release.New(cfg)
	return err
}

// command makes the RunE of a release command: check everything it was
// given (the flags all release commands take, then its own with
// validate), and only then connect to AWS and execute. validate may be nil.
func (e *releaseEnv) command(validate func(args []string) error, execute func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return checkedRun(e.validate, validate, e.connect, execute)
}

// checkedRun makes a RunE that checks what a command was given (check,
// then validate when not nil) before it connects to AWS and executes.
func checkedRun(check func() error, validate func(args []string) error, connect func(context.Context) error,
	execute func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(); err != nil {
			return err
		}
		if validate != nil {
			if err := validate(args); err != nil {
				return err
			}
		}
		if err := connect(cmd.Context()); err != nil {
			return err
		}
		return execute(cmd.Context(), args)
	}
}

// lockWatch remembers whether the lock a release asked for was held by
// another release. A release refused at Lock for that reason changed
// nothing and may simply be tried again, so the command exits as a
// conflict (3), not as a failed release (6).
type lockWatch struct {
	release.Locker
	mu   sync.Mutex
	held *release.LockHeldError
}

// Acquire asks the locker, noting a lock held by another release.
func (l *lockWatch) Acquire(ctx context.Context, want release.Lock, now time.Time) (release.Lock, error) {
	prev, err := l.Locker.Acquire(ctx, want, now)
	var held *release.LockHeldError
	if errors.As(err, &held) && held.Lock.ReleaseID != want.ReleaseID {
		l.mu.Lock()
		l.held = held
		l.mu.Unlock()
	}
	return prev, err
}

// refused reports whether rec ended FailureClean right from Lock because
// another release held the lock.
func (l *lockWatch) refused(rec *elevator.ReleaseRecord) bool {
	if l == nil || rec.State != elevator.StateFailureClean || len(rec.Path) < 2 || rec.Path[len(rec.Path)-2] != elevator.StateLock {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held != nil
}

// owner names this process in locks and records: host, pid and a random
// part, so that two engines never share a name.
func owner() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// observe prints a line each time a release enters a state: the progress
// of `deploy`, `resume`, `rollback` and `watch`.
func (e *releaseEnv) observe(rec elevator.ReleaseRecord) {
	if rec.State == e.last {
		return
	}
	e.last = rec.State
	line := fmt.Sprintf("%s release %s  %s", time.Now().UTC().Format(time.RFC3339), rec.ID, rec.State)
	var health []string
	for _, r := range rec.Regions {
		for _, s := range r.Services {
			if s.Group != "" {
				what := "healthy"
				if s.Cluster != "" {
					what = "tasks healthy"
				}
				health = append(health, fmt.Sprintf("%s/%s %d/%d %s", r.Region, s.Service, s.Health.Healthy, s.Health.Needed, what))
			}
		}
	}
	if len(health) > 0 && (rec.State == elevator.StateCheckHealthy || rec.State == elevator.StateCutOver) {
		line += "  (" + strings.Join(health, ", ") + ")"
	}
	fmt.Fprintln(e.stderr, line)
}

// run writes a release down and drives it to an end state. The checksum
// passed to Run is the one of the document this process built, so a
// document changed in the bucket in between fails Validate.
func (e *releaseEnv) run(ctx context.Context, rel *elevator.Release) error {
	rec, err := e.engine.Start(ctx, rel)
	if err != nil {
		return err
	}
	return e.finish(rec)
}

// finish prints a record and turns a failed release into its exit code.
func (e *releaseEnv) finish(rec *elevator.ReleaseRecord) error {
	if e.json() {
		if err := e.printJSON(rec); err != nil {
			return err
		}
	} else {
		printRecord(e.stdout, rec)
	}
	var err error
	switch {
	case e.locks.refused(rec), e.submitted && rec.State == elevator.StateFailureClean && rec.Failure == elevator.FailureLocked:
		err = elevator.Errorf(elevator.ECONFLICT, "release %s refused, nothing changed: %s", rec.ID, rec.Error)
	case rec.State == elevator.StateFailureClean:
		err = elevator.Errorf(elevator.EFAILED, "release %s ended FailureClean: %s", rec.ID, rec.Error)
	case rec.State == elevator.StateFailureDirty:
		err = elevator.Errorf(elevator.EDIRTY, "release %s ended FailureDirty: left behind %s", rec.ID, strings.Join(rec.Leftovers, ", "))
	}
	if err != nil && e.json() {
		return reported{err} // the record printed is the JSON answer
	}
	return err
}

func newDeployCmd(g *globals) *cobra.Command {
	e := &releaseEnv{globals: g, lookups: true}
	var file, version string
	var dryRun, sequential, wait bool
	var a *elevator.App
	var agent *orbit.AgentFiles
	c := &cobra.Command{
		Use:   "deploy",
		Short: "Release a version of an app into an orbit: new Auto Scaling Groups (or ECS services), healthy, then the old ones retired",
		Long: `Build a release of the app (its manifest, the version, its infrastructure in
the orbit), write it down with its checksum, and drive it through the release
engine: lock, validate resources, deploy new Auto Scaling Groups (a new ECS
service for a service on ECS, docs/ecs.md), wait until they are healthy
behind their load balancers, cut over, retire the old groups. Every release
ends Success, FailureClean (exit 6) or FailureDirty (exit 7); a release
refused because another release of the app holds the lock changes nothing
and exits 3. If this command dies, 'elevator release
resume ID' continues.

The instances run the Elevator agent: before the release starts, deploy
stores its builds (bin/agent, built by scripts/setup, or $ELEVATOR_AGENT_DIR)
in each region's state bucket when they are not there yet.`,
		Args: noArgs,
	}
	c.RunE = e.command(func([]string) error {
		if err := elevator.CheckVersion(version); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--version: %w", err)
		}
		var err error
		if a, err = readApp(file, e.orbitName); err != nil {
			return err
		}
		// The release's user data names the agent's builds.
		agent, err = orbit.ReadAgent()
		return err
	}, func(ctx context.Context, _ []string) error {
		facts, err := lookup.ReleaseFacts(ctx, a, e.orbit, e.lookupClients(ctx))
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		id, err := elevator.NewReleaseID(now, nil)
		if err != nil {
			return err
		}
		rel, err := compile.ReleaseDocument(compile.ReleaseRequest{App: a, Orbit: e.orbit, Version: version, ID: id, CreatedAt: now, CreatedBy: e.caller, Sequential: sequential, Agent: agent.Builds}, facts)
		if err != nil {
			return err
		}
		if dryRun {
			est, costErr := e.releaseCost(ctx, rel)
			if e.json() {
				return e.printJSON(struct {
					*elevator.Release
					Cost any `json:"cost"`
				}{rel, costJSON(est, costErr)})
			}
			printRelease(e.stdout, rel)
			e.printCost(est, costErr)
			return nil
		}
		if e.remote() {
			// The deployer's instances need the agent's builds as much;
			// a submitter may not be allowed to store them, in which
			// case the deployer's own role must have.
			if err := e.publishAgent(ctx, facts, agent); err != nil {
				fmt.Fprintf(e.stderr, "could not make sure the Elevator agent is in the state bucket (%v); the deployer's release needs it there\n", err)
			}
			return e.submit(ctx, rel, wait)
		}
		if err := e.publishAgent(ctx, facts, agent); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "release %s of %s %s into orbit %s (resume it with: elevator release resume %s --orbit %s)\n", rel.ID, a.Name, version, e.orbit.Name, rel.ID, e.orbit.Name)
		return e.run(ctx, rel)
	})
	c.Flags().StringVarP(&file, "file", "f", "app.yml", "the app manifest")
	c.Flags().StringVar(&version, "version", "", "the version to release, an OCI image tag such as 1.4.2 (required)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the release and the resources it resolved; change nothing")
	addPriceLookupFlag(c, g)
	c.Flags().BoolVar(&sequential, "regions-in-sequence", false, "release one region at a time, in the orbit's order")
	c.Flags().BoolVar(&wait, "wait", false, "through a deployer, follow the release until it ends (without one, deploy always does)")
	e.addFlags(c)
	return c
}

// lookupClients reads the orbit and the app in one region of the orbit,
// for lookup.ReleaseFacts.
func (e *releaseEnv) lookupClients(ctx context.Context) func(region string) (lookup.Clients, error) {
	return func(region string) (lookup.Clients, error) {
		cfg, err := e.configs.For(ctx, region)
		if err != nil {
			return lookup.Clients{}, err
		}
		return lookup.Clients{Stacks: cloudformation.New(cfg), Images: elevator.ImageSources{Images: ec2.New(cfg), Parameters: ssm.New(cfg)},
			Secrets: secretsmanager.New(cfg), OrbitOutputs: e.orbitOutputs[region]}, nil
	}
}

// publishAgent makes sure the agent's builds the release names are in the
// state bucket of every region before the release starts, so that its
// instances find them; once they are, it only asks.
func (e *releaseEnv) publishAgent(ctx context.Context, facts map[string]compile.ReleaseFacts, agent *orbit.AgentFiles) error {
	return apply.Parallel(len(e.orbit.Regions), func(i int) error {
		region := e.orbit.Regions[i].Name
		bucket := facts[region].Orbit[compile.StateBucketOutput]
		if bucket == "" {
			return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no state bucket in %s; run `elevator orbit up`", e.orbit.Name, region)
		}
		cfg, err := e.configs.For(ctx, region)
		if err != nil {
			return err
		}
		stored, err := orbit.PublishAgent(ctx, s3.New(cfg), bucket, agent)
		for _, key := range stored {
			fmt.Fprintf(e.stderr, "%s  stored the Elevator agent at s3://%s/%s\n", region, bucket, key)
		}
		return err
	})
}

// checkApp refuses a missing --app.
func checkApp(app string) error {
	if app == "" {
		return elevator.Errorf(elevator.EINVALID, "--app is required")
	}
	return nil
}

// checkReason refuses a missing or blank --reason: it is audited.
func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return elevator.Errorf(elevator.EINVALID, "--reason is required: say why (it is audited)")
	}
	return nil
}

func newReleaseCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "release", Short: "List, show, follow and resume releases, and read the audit log"}
	list := &releaseEnv{globals: g}
	var app string
	var limit int
	listCmd := &cobra.Command{Use: "list", Short: "List an app's releases in an orbit, newest first", Args: noArgs}
	listCmd.RunE = list.command(func([]string) error {
		if err := checkApp(app); err != nil {
			return err
		}
		if limit < 1 {
			return elevator.Errorf(elevator.EINVALID, "--limit %d: want 1 or more", limit)
		}
		return nil
	}, func(ctx context.Context, _ []string) error {
		var recs []*elevator.ReleaseRecord
		var err error
		if list.remote() {
			recs, err = list.releases(ctx, app, limit)
		} else {
			recs, err = list.backend.Store.Releases(ctx, app, limit)
		}
		if err != nil {
			return err
		}
		if g.json() {
			return g.printJSON(recs)
		}
		printReleases(g.stdout, recs)
		return nil
	})
	listCmd.Flags().StringVar(&app, "app", "", "the app (required)")
	listCmd.Flags().IntVar(&limit, "limit", 20, "how many releases at most (1 or more)")
	list.addFlags(listCmd)

	byID := func(use, short string, run func(e *releaseEnv, ctx context.Context, id string) error, aliases ...string) *cobra.Command {
		// resume runs here; retry-tests writes its request to the orbit's
		// state, which the engine running the release reads, wherever it runs.
		e := &releaseEnv{globals: g, inProcess: use == "resume" || use == "retry-tests"}
		c := &cobra.Command{Use: use + " ID", Short: short, Args: exactArgs(1), Aliases: aliases}
		c.RunE = e.command(func(args []string) error {
			return elevator.CheckReleaseID(args[0])
		}, func(ctx context.Context, args []string) error {
			return run(e, ctx, args[0])
		})
		e.addFlags(c)
		return c
	}
	status := byID("status", "Show a release's record: state, path, health per region and service", func(e *releaseEnv, ctx context.Context, id string) error {
		if e.remote() {
			rec, err := e.client.Get(ctx, id)
			if err != nil {
				return e.deployerError(err)
			}
			return e.finish(rec)
		}
		rec, err := e.engine.Status(ctx, id)
		if err != nil {
			return err
		}
		return e.finish(rec)
	}, "show")
	watch := byID("watch", "Follow a release until it ends", func(e *releaseEnv, ctx context.Context, id string) error {
		if e.remote() {
			return e.follow(ctx, id)
		}
		for {
			rec, err := e.engine.Status(ctx, id)
			if err != nil {
				return err
			}
			e.observe(*rec)
			if rec.State.Ended() {
				return e.finish(rec)
			}
			select {
			case <-ctx.Done():
				return elevator.Errorf(elevator.EINTERRUPTED, "stopped watching release %s (it goes on)", id)
			case <-time.After(max(e.pollInterval, time.Second)):
			}
		}
	})
	resume := byID("resume", "Continue a release whose engine stopped, in this process even when the orbit has a deployer (safe to run twice: the lease decides)", func(e *releaseEnv, ctx context.Context, id string) error {
		for said := false; ; said = true {
			rec, err := e.engine.Resume(ctx, id, e.caller)
			if !errors.Is(err, release.ErrRunning) {
				if err != nil {
					return err
				}
				return e.finish(rec)
			}
			// Another engine holds the release: it may be alive and
			// about to finish, or dead, in which case its lease ends.
			if !said {
				fmt.Fprintf(e.stderr, "%v; waiting for it to end\n", err)
			}
			select {
			case <-ctx.Done():
				return elevator.Errorf(elevator.EINTERRUPTED, "stopped waiting to resume release %s", id)
			case <-time.After(time.Second):
			}
		}
	})
	retryTests := byID("retry-tests", "Run a release's failed tests again while it waits for a retry (tests.retry_window), without aborting it", func(e *releaseEnv, ctx context.Context, id string) error {
		round, err := e.engine.RetryTests(ctx, id, e.caller)
		if err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(map[string]any{"release": id, "round": round})
		}
		fmt.Fprintf(e.stdout, "release %s: its failed tests run again (round %d) at the engine's next look\n", id, round)
		return nil
	})
	audit := &releaseEnv{globals: g}
	var since time.Duration
	auditCmd := &cobra.Command{Use: "audit", Short: "Show who released, halted, resumed, unlocked or rolled back what, and how it ended", Args: noArgs}
	auditCmd.RunE = audit.command(func([]string) error {
		if since <= 0 {
			return elevator.Errorf(elevator.EINVALID, "--since %s: want a positive duration, such as 24h", since)
		}
		return nil
	}, func(ctx context.Context, _ []string) error {
		var entries []elevator.AuditEntry
		var err error
		if audit.remote() {
			entries, err = audit.client.Audit(ctx, "", since)
			err = audit.deployerError(err)
		} else {
			entries, err = audit.backend.Store.AuditLog(ctx, time.Now().Add(-since))
		}
		if err != nil {
			return err
		}
		if g.json() {
			return g.printJSON(entries)
		}
		printAudit(g.stdout, entries)
		return nil
	})
	auditCmd.Flags().DurationVar(&since, "since", 7*24*time.Hour, "how far back (a positive duration)")
	audit.addFlags(auditCmd)
	cmd.AddCommand(listCmd, status, watch, resume, retryTests, auditCmd)
	return cmd
}

// appCommand makes a release command about an app in an orbit. validate
// checks the command's own flags (it may be nil); it runs before any call.
func appCommand(g *globals, use, short string, flags func(c *cobra.Command), validate func() error, run func(e *releaseEnv, ctx context.Context, app string) error) *cobra.Command {
	e := &releaseEnv{globals: g}
	var app string
	c := &cobra.Command{Use: use, Short: short, Args: noArgs}
	c.RunE = e.command(func([]string) error {
		if err := checkApp(app); err != nil {
			return err
		}
		if validate != nil {
			return validate()
		}
		return nil
	}, func(ctx context.Context, _ []string) error {
		return run(e, ctx, app)
	})
	c.Flags().StringVar(&app, "app", "", "the app (required)")
	e.addFlags(c)
	if flags != nil {
		flags(c)
	}
	return c
}

func newHaltCmd(g *globals) *cobra.Command {
	var reason string
	return appCommand(g, "halt", "Stop the release of an app under way in an orbit; it rolls back and ends FailureClean", func(c *cobra.Command) {
		c.Flags().StringVar(&reason, "reason", "", "why (required; it is audited)")
	}, func() error { return checkReason(reason) }, func(e *releaseEnv, ctx context.Context, app string) error {
		var id string
		var err error
		if e.remote() {
			if id, err = e.current(ctx, app); err == nil {
				err = e.deployerError(e.client.Halt(ctx, id, reason))
			}
		} else {
			id, err = e.engine.HaltCurrent(ctx, app, e.orbit.Name, e.caller, reason)
		}
		if err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(map[string]string{"halted": id, "reason": reason})
		}
		fmt.Fprintf(e.stdout, "release %s of %s in orbit %s halted: %s\n", id, app, e.orbit.Name, reason)
		return nil
	})
}

func newUnlockCmd(g *globals) *cobra.Command {
	var reason string
	return appCommand(g, "unlock", "Break the release lock of an app in an orbit, whoever holds it (audited)", func(c *cobra.Command) {
		c.Flags().StringVar(&reason, "reason", "", "why (required; it is audited)")
	}, func() error { return checkReason(reason) }, func(e *releaseEnv, ctx context.Context, app string) error {
		var lock release.Lock
		var err error
		if e.remote() {
			lock, err = e.client.Unlock(ctx, app, reason)
			err = e.deployerError(err)
		} else {
			lock, err = e.engine.Unlock(ctx, app, e.orbit.Name, e.caller, reason)
		}
		if err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(lock)
		}
		fmt.Fprintf(e.stdout, "lock of %s in orbit %s broken (it was held by release %s of %s since %s)\n", app, e.orbit.Name, lock.ReleaseID, lock.Holder, lock.Since.Format(time.RFC3339))
		return nil
	})
}

func newRollbackCmd(g *globals) *cobra.Command {
	var to string
	var wait bool
	return appCommand(g, "rollback", "Release an earlier successful release's content again (default: the one before the current)", func(c *cobra.Command) {
		c.Flags().StringVar(&to, "to", "", "the release to go back to")
		c.Flags().BoolVar(&wait, "wait", false, "through a deployer, follow the release until it ends (without one, rollback always does)")
	}, func() error {
		if to == "" {
			return nil
		}
		if err := elevator.CheckReleaseID(to); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--to: %w", err)
		}
		return nil
	}, func(e *releaseEnv, ctx context.Context, app string) error {
		// A release at its gates (smoke tests, integration tests, bake)
		// is rolled back at once: halted, it puts its old groups back.
		if to == "" {
			id, err := e.rollBackInGates(ctx, app)
			if err != nil || id != "" {
				return err
			}
		}
		if e.remote() {
			// The deployer finds the release to go back to when --to
			// is not given, and checks it is one of app's.
			rel, err := e.client.Rollback(ctx, app, to)
			if err != nil {
				return e.deployerError(err)
			}
			return e.rolledBack(ctx, rel, app, wait)
		}
		if to == "" {
			recs, err := e.backend.Store.Releases(ctx, app, 50)
			if err != nil {
				return err
			}
			if to = previousSuccess(recs); to == "" {
				return elevator.Errorf(elevator.ENOTFOUND, "app %s has no earlier successful release in orbit %s to roll back to", app, e.orbit.Name)
			}
		}
		if target, err := e.engine.Status(ctx, to); err != nil {
			return err
		} else if target.App != app {
			return elevator.Errorf(elevator.EINVALID, "--to %s is a release of app %s, not of %s", to, target.App, app)
		}
		rel, err := e.engine.Rollback(ctx, to, e.caller)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "release %s rolls %s back to release %s\n", rel.ID, app, to)
		return e.run(ctx, rel)
	})
}

// readApp reads an app manifest merged for orbit.
func readApp(file, orbit string) (*elevator.App, error) {
	data, err := manifest.ReadFile(file)
	if err != nil {
		if elevator.ErrorCode(err) == elevator.EINVALID {
			return nil, err
		}
		if os.IsNotExist(err) {
			return nil, elevator.Errorf(elevator.EINVALID, "app manifest %s not found; pass -f FILE", file)
		}
		return nil, elevator.Errorf(elevator.EINVALID, "read app manifest: %w", err)
	}
	return manifest.ParseApp(file, data, orbit)
}

// previousSuccess is the id of the successful release before the current
// one among an app's records, newest first, or "" when there is none: what
// a rollback goes back to by default.
func previousSuccess(recs []*elevator.ReleaseRecord) string {
	successes := 0
	for _, r := range recs {
		if r.State == elevator.StateSuccess {
			if successes++; successes == 2 {
				return r.ID
			}
		}
	}
	return ""
}

// rollBackInGates halts the release of app at its gates, if there is one,
// and says so; it returns its id, or "".
func (e *releaseEnv) rollBackInGates(ctx context.Context, app string) (string, error) {
	reason := "rollback during the release's gates"
	var id string
	var err error
	if e.remote() {
		cur, cerr := e.current(ctx, app)
		if cerr != nil {
			return "", nil // nothing running: roll back to an earlier release
		}
		rec, gerr := e.client.Get(ctx, cur)
		if gerr != nil || !release.InGates(rec.State) {
			return "", nil
		}
		id, err = cur, e.deployerError(e.client.Halt(ctx, cur, reason))
	} else {
		id, err = e.engine.RollBackInGates(ctx, app, e.orbit.Name, e.caller, reason)
	}
	if err != nil || id == "" {
		return "", err
	}
	if e.json() {
		return id, e.printJSON(map[string]string{"rolled_back": id, "how": "halted at its gates; its old groups go back at once"})
	}
	fmt.Fprintf(e.stdout, "release %s of %s in orbit %s was at its gates: halted; its old groups go back into their target groups at its next look\n", id, app, e.orbit.Name)
	return id, nil
}
