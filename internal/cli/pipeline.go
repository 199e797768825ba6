package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sns"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/lookup"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/pipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/awspipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/stagerelease"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
	"github.com/spf13/cobra"
)

// pipelineEnv is what every pipeline command needs: the app with its
// pipeline, the manifests of the pipeline's orbits, the caller, and the
// store of executions in the first stage's orbit.
type pipelineEnv struct {
	*globals
	file         string
	orbitFiles   []string
	pollInterval time.Duration
	maxWait      time.Duration
	lease        time.Duration

	app    *elevator.App
	orbits map[string]*elevator.Orbit
	caller string
	store  *awspipeline.Store
	// claims binds the release tokens of the execution's stages, in the
	// first stage's orbit's state bucket (see splitTokenStore).
	claims tokenClaims
	// orbitFileOf is the manifest file of each orbit, by name; sources
	// are what the execution being driven pinned.
	orbitFileOf map[string]string
	sources     *elevator.PipelineSources
	// releases are the release commands' environments, by orbit, made
	// when a stage first releases into the orbit.
	mu       sync.Mutex
	releases map[string]*releaseEnv
}

func (p *pipelineEnv) addFlags(c *cobra.Command) {
	c.Flags().StringVarP(&p.file, "file", "f", "app.yml", "the app manifest, with its pipeline section")
	c.Flags().StringArrayVar(&p.orbitFiles, "orbit-file", nil, "an orbit manifest of the pipeline (repeat it; default for each orbit: orbits/NAME.yml, NAME.orbit.yml or orbit.yml)")
}

// validate reads the app and the orbits of its pipeline and checks one
// against the others. It calls nothing.
func (p *pipelineEnv) validate() error {
	if p.region != "" {
		return elevator.Errorf(elevator.EINVALID, "--region: a pipeline covers every region of its orbits")
	}
	var err error
	if p.app, err = readApp(p.file, ""); err != nil {
		return err
	}
	if p.app.Pipeline == nil {
		return elevator.Errorf(elevator.EINVALID, "%s has no pipeline section; see docs/pipelines.md", p.file)
	}
	p.orbits = map[string]*elevator.Orbit{}
	p.orbitFileOf = map[string]string{}
	for _, f := range p.orbitFiles {
		o, err := readOrbit(f, "")
		if err != nil {
			return err
		}
		p.orbitFileOf[o.Name] = f
		p.orbits[o.Name] = o
	}
	for _, s := range p.app.Pipeline.Stages {
		for _, name := range s.Orbits {
			if _, ok := p.orbits[name]; ok {
				continue
			}
			f, err := findOrbitFile(name, "")
			if err != nil {
				continue // CheckPipeline says where the orbit is named, and which are known
			}
			o, err := readOrbit(f, "")
			if err != nil {
				return err
			}
			if o.Name != name {
				return elevator.Errorf(elevator.EINVALID, "stage %s names orbit %s, but %s describes orbit %s; pass --orbit-file", s.Name, name, f, o.Name)
			}
			p.orbits[name] = o
			p.orbitFileOf[name] = f
		}
	}
	return manifest.CheckPipeline(p.app, p.orbits)
}

// connect asks who the caller is and opens the store of executions: the
// releases table of the first stage's orbit, in its home region.
func (p *pipelineEnv) connect(ctx context.Context) error {
	first := p.orbits[p.app.Pipeline.Stages[0].Orbits[0]]
	configs := orbitConfigs(p.globals, first)
	var cfgs []aws.Config
	for _, r := range first.Regions {
		cfg, err := configs.For(ctx, r.Name)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, cfg)
	}
	id, err := sts.New(cfgs[0]).CallerIdentity(ctx)
	if err != nil {
		return err
	}
	p.caller = id.ARN
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfgs[0])}).OrbitOutputs(ctx, first)
	if err != nil {
		return err
	}
	backend, err := awsrelease.New(awsrelease.Config{Orbit: first.Name, AWS: cfgs, Bucket: outputs[compile.StateBucketOutput], ECS: first.ECS != nil})
	if err != nil {
		return err
	}
	p.store = awspipeline.New(elevator.ReleasesTableName(first.Name), dynamodb.New(cfgs[0]), backend.Store).
		WithSources(s3.New(cfgs[0]), outputs[compile.StateBucketOutput])
	p.claims = backend.Store
	return nil
}

func (p *pipelineEnv) command(validate func(args []string) error, execute func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return checkedRun(p.validate, validate, p.connect, execute)
}

// release returns the release environment of an orbit, connected.
func (p *pipelineEnv) release(ctx context.Context, orbitName string) (*releaseEnv, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.releases[orbitName]; ok {
		return e, nil
	}
	e := &releaseEnv{globals: p.globals, orbitName: orbitName, orbit: p.orbits[orbitName], pollInterval: p.pollInterval,
		lease: p.lease, lookups: true, inProcess: true}
	if err := e.connect(ctx); err != nil {
		return nil, err
	}
	if p.releases == nil {
		p.releases = map[string]*releaseEnv{}
	}
	p.releases[orbitName] = e
	return e, nil
}

// executor is the pipeline engine on this process: releases run in it,
// as `deploy` runs them.
func (p *pipelineEnv) executor() *pipeline.Executor {
	return &pipeline.Executor{App: p.app, Store: p.store, Releaser: cliReleaser{p}, Reviewer: cliReviewer(p), Pins: cliPins{p}, Notifier: cliNotifier{p}, Images: cliImages{p}, Owner: owner(),
		Lease: p.lease, MaxWait: p.maxWait, Poll: p.pollInterval, Log: p.logger(),
		Progress: func(e *elevator.PipelineExecution, stage string, from, to elevator.StageState) {
			fmt.Fprintf(p.stderr, "%s pipeline %s  stage %s  %s\n", time.Now().UTC().Format(time.RFC3339), e.ID, stage, to)
		}}
}

func (p *pipelineEnv) decider() *pipeline.Decider {
	return &pipeline.Decider{Store: p.store, Orbits: &deployedOrbits{p: p}, Now: time.Now}
}

// cliReleaser runs a stage's releases in this process: it builds and
// submits the release as `deploy` does, and Status drives it to its end.
type cliReleaser struct{ p *pipelineEnv }

// Start submits the release once per token (see startOnce).
func (r cliReleaser) Start(ctx context.Context, orbitName, version, token string) (string, error) {
	e, err := r.p.release(ctx, orbitName)
	if err != nil {
		return "", err
	}
	a, err := r.p.stageApp(orbitName)
	if err != nil {
		return "", err
	}
	agent, err := orbit.ReadAgent()
	if err != nil {
		return "", err
	}
	facts, err := lookup.ReleaseFacts(ctx, a, e.orbit, e.lookupClients(ctx))
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	fresh, err := elevator.NewReleaseID(now, nil)
	if err != nil {
		return "", err
	}
	return startOnce(ctx, r.tokens(e.backend.Store), token, fresh, func(id string) (*elevator.Release, error) {
		rel, err := compile.ReleaseDocument(compile.ReleaseRequest{App: a, Orbit: e.orbit, Version: version, ID: id, CreatedAt: now, CreatedBy: r.p.caller, Agent: agent.Builds}, facts)
		if err != nil {
			return nil, err
		}
		return rel, e.publishAgent(ctx, facts, agent)
	}, func(rel *elevator.Release) error {
		_, err := e.engine.Submit(ctx, rel)
		return err
	})
}

// tokens binds a stage's release token in the execution's home and reads
// the release in the orbit it goes to, as the deployer does (see
// splitTokenStore).
func (r cliReleaser) tokens(releases releaseReads) splitTokenStore {
	return splitTokenStore{claims: r.p.claims, releases: releases}
}

// Status drives the release to its end when it has not ended: it runs a
// submitted release, or resumes one whose process died.
func (r cliReleaser) Status(ctx context.Context, orbitName, id string) (pipeline.ReleaseStatus, error) {
	e, err := r.p.release(ctx, orbitName)
	if err != nil {
		return pipeline.ReleaseStatus{}, err
	}
	rec, err := e.backend.Store.Record(ctx, id)
	if err != nil {
		return pipeline.ReleaseStatus{}, err
	}
	if !rec.State.Ended() {
		fmt.Fprintf(r.p.stderr, "release %s of %s into orbit %s\n", id, rec.App, orbitName)
		if len(rec.Path) == 0 {
			_, sum, err := e.backend.Store.Release(ctx, id)
			if err != nil {
				return pipeline.ReleaseStatus{}, err
			}
			rec, err = e.engine.Run(ctx, id, sum)
		} else {
			rec, err = e.engine.Resume(ctx, id, r.p.caller)
		}
		if errors.Is(err, release.ErrRunning) {
			return pipeline.ReleaseStatus{}, nil // another engine drives it; look again later
		}
		if err != nil {
			return pipeline.ReleaseStatus{}, err
		}
	}
	return pipeline.ReleaseStatus{Done: rec.State.Ended(), Succeeded: rec.State == elevator.StateSuccess, Message: string(rec.State) + " " + rec.Error}, nil
}

// cliPins finds the pin a rollback leaves: an orbit is pinned while the
// newest release of the app there is a person's rollback
// (elevator.RollbackPin): a rollback release, or a release halted at its
// gates. A release after it, by hand or by a pipeline that was unpinned,
// clears it.
type cliPins struct{ p *pipelineEnv }

func (c cliPins) Pin(ctx context.Context, orbitName string) (string, error) {
	e, err := c.p.release(ctx, orbitName)
	if err != nil {
		return "", err
	}
	return stagerelease.Pin(ctx, e.backend.Store, c.p.app.Name)
}

// cliNotifier publishes an execution's notices to an orbit's info topic
// (the orbit stack's output), in its home region, where the orbit's
// subscriptions (Slack, email) get them.
type cliNotifier struct{ p *pipelineEnv }

// maxSubject is SNS's limit on a message's subject.
const maxSubject = 100

func (n cliNotifier) Notify(ctx context.Context, orbitName, subject, message string) error {
	e, err := n.p.release(ctx, orbitName)
	if err != nil {
		return err
	}
	return e.notifyInfo(ctx, subject, message)
}

// notifyInfo publishes a pipeline notice to the orbit's info topic, in its
// home region.
func (e *releaseEnv) notifyInfo(ctx context.Context, subject, message string) error {
	home := e.orbit.Regions[0].Name
	topic := e.orbitOutputs[home][compile.TopicOutput(elevator.SeverityInfo)]
	if topic == "" {
		return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no %s output in %s; run `elevator orbit up`", e.orbit.Name, compile.TopicOutput(elevator.SeverityInfo), home)
	}
	cfg, err := e.configs.For(ctx, home)
	if err != nil {
		return err
	}
	if len(subject) > maxSubject {
		subject = subject[:maxSubject]
	}
	_, err = sns.New(cfg).Publish(ctx, topic, subject, message)
	return err
}

func newPipelineCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Promote a version of an app through the orbits of its manifest's pipeline, gated by approvals and windows",
		Long: `A pipeline (the app manifest's pipeline section) releases one version into
its stages' orbits in order. An execution is a record in the releases table of
the first stage's orbit, and ships the app manifest it started with. When that
orbit has a deployer, the deployer drives it ('pipeline watch' follows it);
else it runs in this process, and whenever it must wait for an approval, a
window or a bake longer than --max-wait it is written down and the command
returns: 'elevator pipeline resume EXEC' continues it, from any machine. See
docs/pipelines.md.`,
	}
	cmd.AddCommand(newPipelineStartCmd(g), newPipelineResumeCmd(g), newPipelineStatusCmd(g), newPipelineListCmd(g),
		newPipelineDecisionCmd(g, "approve"), newPipelineDecisionCmd(g, "reject"), newPipelineOverrideCmd(g), newPipelineUnpinCmd(g), newPipelineCancelCmd(g), newPipelineWatchCmd(g))
	return cmd
}

func (p *pipelineEnv) runFlags(c *cobra.Command) {
	c.Flags().DurationVar(&p.pollInterval, "poll-interval", 0, fmt.Sprintf("time between two looks at AWS while a release runs, at least %s (default 5s, 100ms with --local)", minPollInterval))
	c.Flags().DurationVar(&p.lease, "lease", release.DefaultLease, fmt.Sprintf("how long the execution and its releases stay this process's if it dies, %s to %s; renewed while it runs", minLease, maxLease))
	c.Flags().DurationVar(&p.maxWait, "max-wait", 15*time.Minute, "the longest wait (window, bake) this process sits through; a longer one, or an approval, ends the command and leaves the execution to 'pipeline resume'")
}

func (p *pipelineEnv) checkRunFlags(c *cobra.Command) error {
	if err := checkPollInterval(c, p.pollInterval); err != nil {
		return err
	}
	if p.pollInterval == 0 && p.local {
		p.pollInterval = minPollInterval
	}
	if p.lease < minLease || p.lease > maxLease {
		return elevator.Errorf(elevator.EINVALID, "--lease %s: want %s to %s", p.lease, minLease, maxLease)
	}
	if p.maxWait < 0 {
		return elevator.Errorf(elevator.EINVALID, "--max-wait %s: want 0 or more", p.maxWait)
	}
	return nil
}

// finishExecution prints an execution and turns its end into the exit
// code: 0 while it runs or waits and when it succeeded, EFAILED when it
// failed.
func (p *pipelineEnv) finishExecution(e *elevator.PipelineExecution) error {
	if p.json() {
		if err := p.printJSON(executionView(e)); err != nil {
			return err
		}
	} else {
		printExecution(p.stdout, e)
	}
	return p.endError(e)
}

// endError is the exit of a command that followed an execution to its
// end or a wait: EFAILED (already reported in JSON) when it failed.
func (p *pipelineEnv) endError(e *elevator.PipelineExecution) error {
	if e.State != elevator.ExecutionFailed {
		return nil
	}
	err := elevator.Errorf(elevator.EFAILED, "pipeline %s failed", e.ID)
	if p.json() {
		return reported{err}
	}
	return err
}

func newPipelineStartCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var version string
	var s startOptions
	c := &cobra.Command{Use: "start", Short: "Start an execution of the app's pipeline for a version; run it here until it ends or waits, or leave it to the first orbit's deployer", Args: noArgs}
	c.RunE = p.command(func([]string) error {
		if err := elevator.CheckVersion(version); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--version: %w", err)
		}
		if err := p.checkRunFlags(c); err != nil {
			return err
		}
		if err := s.validate(p); err != nil {
			return err
		}
		_, err := orbit.ReadAgent() // the releases' user data names its builds
		return err
	}, func(ctx context.Context, _ []string) error {
		id, err := elevator.NewReleaseID(time.Now(), nil)
		if err != nil {
			return err
		}
		x, err := p.pinnedExecutor(ctx, id)
		if err != nil {
			return err
		}
		if s.deployer != "" {
			started, err := x.Start(ctx, id, version, p.caller)
			if err != nil {
				return err
			}
			return s.leave(ctx, p, started)
		}
		// Run next, by this process: the record is written leased to
		// it, so that a deployer does not take it in between.
		if _, err := x.StartLeased(ctx, id, version, p.caller); err != nil {
			return err
		}
		fmt.Fprintf(p.stderr, "pipeline %s of %s %s (resume it with: elevator pipeline resume %s -f %s)\n", id, p.app.Name, version, id, p.file)
		e, err := x.Run(ctx, id)
		if err != nil {
			return err
		}
		return p.finishExecution(e)
	})
	c.Flags().StringVar(&version, "version", "", "the version to promote, an OCI image tag such as 1.4.2 (required)")
	s.addFlags(c)
	p.addFlags(c)
	p.runFlags(c)
	return c
}

func newPipelineResumeCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var stage, reason string
	c := &cobra.Command{Use: "resume EXEC", Short: "Continue an execution that waits or whose process died; --stage also starts a stage that does not start by itself", Args: exactArgs(1)}
	c.RunE = p.command(func([]string) error { return p.checkRunFlags(c) }, func(ctx context.Context, args []string) error {
		if stage != "" {
			if _, err := p.decider().Promote(ctx, p.app.Name, args[0], stage, p.caller, reason); err != nil {
				return err
			}
		}
		was, err := p.store.Get(ctx, p.app.Name, args[0])
		if err != nil {
			return err
		}
		if err := p.useSources(ctx, was); err != nil {
			return err
		}
		e, err := p.executor().Run(ctx, args[0])
		if err != nil {
			return err
		}
		return p.finishExecution(e)
	})
	c.Flags().StringVar(&stage, "stage", "", "a pending stage without auto to start (needs the deployer role in its orbits)")
	c.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	p.addFlags(c)
	p.runFlags(c)
	return c
}

func newPipelineStatusCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	c := &cobra.Command{Use: "status EXEC", Short: "Show an execution: each stage, what it waits for and until when, the change sets to approve", Args: exactArgs(1)}
	c.RunE = p.command(nil, func(ctx context.Context, args []string) error {
		e, err := p.store.Get(ctx, p.app.Name, args[0])
		if err != nil {
			return err
		}
		if p.json() {
			return p.printJSON(executionView(e))
		}
		printExecution(p.stdout, e)
		return nil
	})
	p.addFlags(c)
	return c
}

func newPipelineListCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var limit int
	c := &cobra.Command{Use: "list", Short: "List the app's pipeline executions, newest first", Args: noArgs}
	c.RunE = p.command(func([]string) error {
		if limit < 1 {
			return elevator.Errorf(elevator.EINVALID, "--limit %d: want 1 or more", limit)
		}
		return nil
	}, func(ctx context.Context, _ []string) error {
		list, err := p.store.List(ctx, p.app.Name, limit)
		if err != nil {
			return err
		}
		if p.json() {
			views := make([]executionJSON, 0, len(list))
			for _, e := range list {
				views = append(views, executionView(e))
			}
			return p.printJSON(views)
		}
		for _, e := range list {
			fmt.Fprintf(p.stdout, "%s  %s  %-9s  %s\n", e.ID, e.Version, e.State, stagesLine(e))
		}
		return nil
	})
	c.Flags().IntVar(&limit, "limit", 20, "the most executions to list")
	p.addFlags(c)
	return c
}

func newPipelineDecisionCmd(g *globals, verb string) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var stage, reason, review string
	short := "Approve a stage that waits for its approval, bound to the change sets 'pipeline status' showed (--review)"
	if verb == "reject" {
		short = "Reject a stage that waits for its approval: the stage and the execution fail"
	}
	c := &cobra.Command{Use: verb + " EXEC", Short: short, Args: exactArgs(1)}
	c.RunE = p.command(func([]string) error {
		if stage == "" {
			return elevator.Errorf(elevator.EINVALID, "--stage is required")
		}
		if verb == "approve" && review == "" {
			return elevator.Errorf(elevator.EINVALID, "--review is required: the review digest 'pipeline status' prints for the stage, so that what you approve is what you saw")
		}
		return checkReason(reason)
	}, func(ctx context.Context, args []string) error {
		var e *elevator.PipelineExecution
		var err error
		if verb == "approve" {
			seen := func(current []elevator.ChangeSetRef) bool { return reviewDigest(current) == review }
			e, err = p.decider().ApproveSeen(ctx, p.app.Name, args[0], stage, p.caller, seen, reason)
		} else {
			e, err = p.decider().Reject(ctx, p.app.Name, args[0], stage, p.caller, reason)
		}
		if err != nil {
			return err
		}
		if p.json() {
			return p.printJSON(executionView(e))
		}
		fmt.Fprintf(p.stdout, "stage %s of pipeline %s %sd by %s; %s\n", stage, e.ID, verb, p.caller, p.continues(e.ID))
		return nil
	})
	c.Flags().StringVar(&stage, "stage", "", "the stage (required)")
	c.Flags().StringVar(&reason, "reason", "", "why (required), for the audit log")
	if verb == "approve" {
		c.Flags().StringVar(&review, "review", "", "the stage's review digest that 'pipeline status' printed (required)")
	}
	p.addFlags(c)
	return c
}

func newPipelineOverrideCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var stage, reason string
	c := &cobra.Command{Use: "override EXEC", Short: "Let a stage that waits for its window release now (admin of its orbits; audited)", Args: exactArgs(1)}
	c.RunE = p.command(func([]string) error {
		if stage == "" {
			return elevator.Errorf(elevator.EINVALID, "--stage is required")
		}
		return checkReason(reason)
	}, func(ctx context.Context, args []string) error {
		e, err := p.decider().Override(ctx, p.app.Name, args[0], stage, p.caller, reason)
		if err != nil {
			return err
		}
		if p.json() {
			return p.printJSON(executionView(e))
		}
		fmt.Fprintf(p.stdout, "stage %s of pipeline %s may release outside its windows (%s); %s\n", stage, e.ID, p.caller, p.continues(e.ID))
		return nil
	})
	c.Flags().StringVar(&stage, "stage", "", "the stage (required)")
	c.Flags().StringVar(&reason, "reason", "", "why (required), for the audit log")
	p.addFlags(c)
	return c
}

func newPipelineUnpinCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var stage, reason string
	c := &cobra.Command{Use: "unpin EXEC", Short: "Let a stage release into orbits a rollback pinned (approver of its orbits; audited)", Args: exactArgs(1)}
	c.RunE = p.command(func([]string) error {
		if stage == "" {
			return elevator.Errorf(elevator.EINVALID, "--stage is required")
		}
		return checkReason(reason)
	}, func(ctx context.Context, args []string) error {
		e, err := p.decider().Unpin(ctx, p.app.Name, args[0], stage, p.caller, reason)
		if err != nil {
			return err
		}
		if p.json() {
			return p.printJSON(executionView(e))
		}
		fmt.Fprintf(p.stdout, "stage %s of pipeline %s unpinned by %s; %s\n", stage, e.ID, p.caller, p.continues(e.ID))
		return nil
	})
	c.Flags().StringVar(&stage, "stage", "", "the stage (required)")
	c.Flags().StringVar(&reason, "reason", "", "why (required), for the audit log")
	p.addFlags(c)
	return c
}

func newPipelineCancelCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var reason string
	c := &cobra.Command{Use: "cancel EXEC", Short: "End an execution at its next step; releases already running go on to their end", Args: exactArgs(1)}
	c.RunE = p.command(func([]string) error { return checkReason(reason) }, func(ctx context.Context, args []string) error {
		e, err := p.decider().Cancel(ctx, p.app.Name, args[0], p.caller, reason)
		if err != nil {
			return err
		}
		if p.json() {
			return p.printJSON(executionView(e))
		}
		fmt.Fprintf(p.stdout, "pipeline %s cancelled by %s; it ends at its next step ('elevator pipeline resume %s' if nothing runs it)\n", e.ID, p.caller, e.ID)
		return nil
	})
	c.Flags().StringVar(&reason, "reason", "", "why (required), for the audit log")
	p.addFlags(c)
	return c
}

// executionJSON is an execution as --output json prints it: the record,
// and each stage's review digest for `pipeline approve --review`.
type executionJSON struct {
	*elevator.PipelineExecution
	Reviews map[string]string `json:"reviews,omitempty"` // stage -> review digest
}

func executionView(e *elevator.PipelineExecution) executionJSON {
	v := executionJSON{PipelineExecution: e}
	for _, s := range e.Stages {
		if len(s.Review) > 0 {
			if v.Reviews == nil {
				v.Reviews = map[string]string{}
			}
			v.Reviews[s.Name] = reviewDigest(s.Review)
		}
	}
	return v
}

func stagesLine(e *elevator.PipelineExecution) string {
	var parts []string
	for _, s := range e.Stages {
		parts = append(parts, s.Name+" "+string(s.State))
	}
	return strings.Join(parts, ", ")
}

func printExecution(w io.Writer, e *elevator.PipelineExecution) {
	fmt.Fprintf(w, "pipeline %s  app %s  version %s  %s\n", e.ID, e.App, e.Version, e.State)
	fmt.Fprintf(w, "  started by %s at %s\n", e.StartedBy, e.StartedAt.Format(time.RFC3339))
	if e.Cancel != nil {
		fmt.Fprintf(w, "  cancelled by %s: %s\n", e.Cancel.By, e.Cancel.Reason)
	}
	for _, s := range e.Stages {
		fmt.Fprintf(w, "  stage %s  %s", s.Name, s.State)
		for _, o := range sortedKeys(s.Releases) {
			fmt.Fprintf(w, "  %s: release %s", o, s.Releases[o])
		}
		fmt.Fprintln(w)
		if len(s.WaitingFor) > 0 {
			line := "    waiting for " + strings.Join(s.WaitingFor, ", ")
			if !s.Until.IsZero() {
				line += " until " + s.Until.Format(time.RFC3339) + " (next window opens)"
			}
			fmt.Fprintln(w, line)
		}
		if s.State == elevator.StageBaking && !s.Until.IsZero() {
			fmt.Fprintf(w, "    baking until %s\n", s.Until.Format(time.RFC3339))
		}
		printReview(w, e, s)
		if s.Approval != nil {
			fmt.Fprintf(w, "    approved by %s at %s (until %s): %s\n", s.Approval.By, s.Approval.At.Format(time.RFC3339), s.Approval.Expires.Format(time.RFC3339), s.Approval.Reason)
		}
		for _, pin := range s.Pins {
			if s.Unpinned == nil {
				fmt.Fprintf(w, "    pinned: %s\n", pin)
			}
		}
		if s.Unpinned != nil {
			fmt.Fprintf(w, "    unpinned by %s: %s\n", s.Unpinned.By, s.Unpinned.Reason)
		}
		if s.Override != nil {
			fmt.Fprintf(w, "    windows overridden by %s: %s\n", s.Override.By, s.Override.Reason)
		}
		if s.Rejection != nil {
			fmt.Fprintf(w, "    rejected by %s: %s\n", s.Rejection.By, s.Rejection.Reason)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "    %s\n", s.Error)
		}
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
