package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sqs"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// deployerOptions are the flags of `elevator deployer`.
type deployerOptions struct {
	env         releaseEnv
	listen      string
	maxInFlight int
	reconcile   time.Duration
	wait        time.Duration
	grace       time.Duration
	// pipelineEvery is the time between two looks at the orbit's
	// pipeline executions; 0 drives none.
	pipelineEvery time.Duration
	dashboard     dashboardFlags // the dashboard at / beside the API, when set
}

func (o *deployerOptions) validate() error {
	if err := o.env.validate(); err != nil {
		return err
	}
	if o.maxInFlight < 1 || o.maxInFlight > 1000 {
		return elevator.Errorf(elevator.EINVALID, "--max-in-flight %d: want 1 to 1000", o.maxInFlight)
	}
	if o.reconcile != 0 && o.reconcile < time.Second {
		return elevator.Errorf(elevator.EINVALID, "--reconcile %s: want at least 1s, or 0 to list submissions never", o.reconcile)
	}
	if o.wait < time.Second || o.wait > 20*time.Second {
		return elevator.Errorf(elevator.EINVALID, "--receive-wait %s: want 1s to 20s", o.wait)
	}
	if o.pipelineEvery != 0 && o.pipelineEvery < time.Second {
		return elevator.Errorf(elevator.EINVALID, "--pipeline-every %s: want at least 1s, or 0 to drive no pipeline executions", o.pipelineEvery)
	}
	if o.grace < time.Second {
		return elevator.Errorf(elevator.EINVALID, "--grace %s: want at least 1s", o.grace)
	}
	if o.dashboard.enabled() && o.listen == "" {
		return elevator.Errorf(elevator.EINVALID, "the dashboard is served on --listen, beside the API: give --listen")
	}
	if err := o.dashboard.validate(); err != nil {
		return err
	}
	if o.listen != "" {
		if _, _, err := net.SplitHostPort(o.listen); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--listen %q: want host:port, such as 127.0.0.1:8080", o.listen)
		}
	}
	return nil
}

func newDeployerCmd(g *globals) *cobra.Command {
	// A deployer drives releases itself, whatever its orbit manifest's
	// deployer: says (the URL the CLI reaches it at).
	o := &deployerOptions{env: releaseEnv{globals: g, inProcess: true}}
	c := &cobra.Command{
		Use:   "deployer",
		Short: "Run the deployer service of an orbit: drive the releases submitted to its state bucket",
		Long: `Run until SIGTERM or SIGINT, driving the releases submitted to the orbit:
each is an object under submissions/ in the state bucket of the orbit's first
region, announced on the orbit's submissions queue (and found by listing the
prefix every --reconcile, should a notification be lost). Any number of
deployers may run for one orbit: each release is driven by one of them at a
time, through the release locks' leases; a release whose deployer dies is
resumed by another once its lease ends.

On SIGTERM the deployer stops taking work, lets its releases finish their
current step (at most --grace), ends their leases so another deployer
resumes them at once, and exits 0.

Logs are JSON lines on stderr. --listen serves the deployer's HTTP API
(/v1: see docs/deployer-api.md), /healthz, /readyz and /metrics; with
--oidc-issuer, --oidc-client-id and --dashboard-url, the dashboard at /
too (docs/dashboard.md).`,
		Args: noArgs,
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.validate(); err != nil {
			return err
		}
		return o.execute(cmd.Context())
	}
	o.env.addFlags(c)
	c.Flags().StringVar(&o.listen, "listen", "", "serve the HTTP API, /healthz, /readyz and /metrics on this address, such as 127.0.0.1:8080")
	c.Flags().IntVar(&o.maxInFlight, "max-in-flight", deployer.DefaultMaxInFlight, "releases this deployer drives at once, 1 to 1000")
	c.Flags().DurationVar(&o.reconcile, "reconcile", deployer.DefaultReconcile, "time between two listings of the submissions prefix, at least 1s; 0 never lists")
	c.Flags().DurationVar(&o.wait, "receive-wait", deployer.DefaultWait, "long poll of a receive from the queue, 1s to 20s")
	c.Flags().DurationVar(&o.pipelineEvery, "pipeline-every", deployer.DefaultPipelineEvery, "time between two looks at the pipeline executions whose first stage is this orbit, at least 1s; 0 drives none (see docs/pipelines.md)")
	c.Flags().DurationVar(&o.grace, "grace", deployer.DefaultGrace, "on SIGTERM, how long releases may take to finish their current step")
	o.dashboard.add(c)
	return c
}

// serviceLog is the structured JSON log of a long-running command (the
// deployer, the dashboard) on stderr; --verbose adds the debug lines.
func (e *releaseEnv) serviceLog() *slog.Logger {
	level := slog.LevelInfo
	if e.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

func (o *deployerOptions) execute(ctx context.Context) error {
	e := &o.env
	// The metrics count every AWS call: their middleware is in the
	// configs before any client is built.
	metrics := api.NewMetrics()
	e.apiOptions = append(e.apiOptions, metrics.AWSMiddleware)
	e.asDeployer = true
	if err := e.connect(ctx); err != nil {
		return err
	}
	log := e.serviceLog()
	home := e.orbit.Regions[0].Name
	cfg, err := e.configs.For(ctx, home)
	if err != nil {
		return err
	}
	outputs := e.orbitOutputs[home]
	engine := e.backend.EngineConfig(owner())
	engine.Poll = e.pollInterval
	if engine.Poll == 0 && e.configs.emulated() {
		engine.Poll = 100 * time.Millisecond
	}
	engine.Lease = e.lease
	engine.Tester = release.DeployerTester{} // no command tests with the deployer's role
	feed := &recordFeed{}                    // to the dashboard, when there is one
	engine.Observe = feed.wrap(releaseMetrics(metrics))
	engine.ObserveRenewal = func(outcome string) { metrics.LeaseRenewals.WithLabelValues(outcome).Inc() }
	opts := deployer.Options{Orbit: e.orbit.Name, Bucket: outputs[compile.StateBucketOutput], Objects: s3.New(cfg), Engine: engine,
		MaxInFlight: o.maxInFlight, Reconcile: o.reconcile, Wait: o.wait, Grace: o.grace, Log: log,
		QueueLag: func(age time.Duration) { metrics.QueueLagSeconds.Set(age.Seconds()) }}
	if opts.Reconcile == 0 {
		opts.Reconcile = -1
	}
	queues := sqs.New(cfg)
	url := outputs[compile.SubmissionsQueueOutput]
	if url == "" {
		url, err = queues.QueueURL(ctx, elevator.SubmissionsQueueName(e.orbit.Name))
	}
	switch {
	case errors.Is(err, sqs.ErrNotFound):
		log.Warn("the orbit has no submissions queue; finding submissions by listing them (run `elevator orbit up` to add it)", "orbit", e.orbit.Name)
		if opts.Reconcile < 0 {
			return elevator.Errorf(elevator.EINVALID, "orbit %s has no submissions queue, and --reconcile 0 says never to list submissions: run `elevator orbit up`", e.orbit.Name)
		}
	case err != nil:
		return err
	default:
		opts.Queue, opts.QueueURL = queues, url
	}
	var pipes *deployerPipelines
	if o.pipelineEvery > 0 {
		if pipes, opts.Pipelines, err = o.pipelinesOptions(ctx, engine, log); err != nil {
			return err
		}
	}
	d, err := deployer.New(opts)
	if err != nil {
		return err
	}
	if pipes != nil {
		pipes.d = d
	}
	if o.listen != "" {
		refusals := api.NewRefusalLimiter(api.RefusalLimit{}) // the API's and the dashboard's together
		handler, err := o.apiHandler(ctx, d, engine, metrics, refusals, log)
		if err != nil {
			return err
		}
		if o.dashboard.enabled() {
			dash, err := deployerDashboard(ctx, &o.dashboard, e.orbit, d, engine, feed, refusals, log)
			if err != nil {
				return err
			}
			handler = mountDashboard(handler, dash)
		}
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			return elevator.Errorf(elevator.EINVALID, "--listen %s: %v", o.listen, err)
		}
		// No WriteTimeout: a watch streams for as long as its release runs.
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("listening", "orbit", e.orbit.Name, "addr", ln.Addr().String())
	}
	fmt.Fprintf(e.stderr, "deployer of orbit %s started (pid in its owner name %s)\n", e.orbit.Name, engine.Owner)
	return d.Run(ctx)
}

// apiHandler is the deployer's HTTP API (internal/api) over this
// deployer: callers prove who they are with a signed
// sts:GetCallerIdentity, bound to the orbit's deployer id, and the orbit
// manifest's access section says what each may do. On the emulator, the
// allow-listed STS endpoints are carried to it.
func (o *deployerOptions) apiHandler(ctx context.Context, d *deployer.Deployer, engine release.Config, metrics *api.Metrics, refusals *api.RefusalLimiter, log *slog.Logger) (http.Handler, error) {
	e := &o.env
	store, ok := engine.Store.(*awsrelease.Store)
	if !ok {
		return nil, elevator.Errorf(elevator.EINTERNAL, "the deployer's store cannot page releases")
	}
	ops, err := release.New(engine)
	if err != nil {
		return nil, err
	}
	auth := &api.Authenticator{ServerID: elevator.DeployerServerID(e.orbit.Name)}
	opts, err := e.configs.options(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Endpoint != "" {
		if auth.STSTransportForTests, err = api.EmulatorSTS(opts.Endpoint); err != nil {
			return nil, err
		}
	}
	return api.New(api.Options{
		Releases: &deployerReleases{d: d, engine: ops, store: store, orbit: e.orbit.Name},
		Orbit:    e.orbit,
		Auth:     auth,
		Metrics:  metrics,
		Refusals: refusals,
		Log:      log,
		Ready: func() error {
			if !d.Ready() {
				return errors.New("the deployer is stopping")
			}
			return nil
		},
	})
}

// releaseMetrics is the engine's observer that counts, in metrics, the
// states the releases this deployer drives enter, how long they spent in
// each, and how many of them are in each state now (ended ones counted
// once, and forgotten).
func releaseMetrics(metrics *api.Metrics) func(elevator.ReleaseRecord) {
	var mu sync.Mutex
	states := map[string]elevator.ReleaseState{}
	return func(rec elevator.ReleaseRecord) {
		metrics.ObserveTransition(rec)
		mu.Lock()
		defer mu.Unlock()
		if was, ok := states[rec.ID]; ok {
			metrics.Releases.WithLabelValues(string(was)).Dec()
		}
		metrics.Releases.WithLabelValues(string(rec.State)).Inc()
		if rec.State.Ended() {
			delete(states, rec.ID) // an ended release writes no more records
		} else {
			states[rec.ID] = rec.State
		}
	}
}
