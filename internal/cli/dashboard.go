package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/dashboard"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// Environment variables of the dashboard's secrets, never flags (a flag
// shows in ps and in shell history).
const (
	oidcSecretEnv = "ELEVATOR_OIDC_CLIENT_SECRET"
	// sessionKeyEnv is 64 hex digits shared by the replicas behind one
	// load balancer, so that a session signed by one is good at another.
	sessionKeyEnv = "ELEVATOR_DASHBOARD_SESSION_KEY"
)

// dashboardFlags are the sign-in flags of the dashboard, which both
// `elevator deployer` and `elevator dashboard` take.
type dashboardFlags struct {
	issuer, clientID, url string
	refresh               time.Duration
}

func (f *dashboardFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.issuer, "oidc-issuer", "", "serve the dashboard at /, signing users in with this OpenID Connect issuer, such as https://accounts.google.com (the client secret is $"+oidcSecretEnv+")")
	c.Flags().StringVar(&f.clientID, "oidc-client-id", "", "the dashboard's OpenID Connect client id")
	c.Flags().StringVar(&f.url, "dashboard-url", "", "the dashboard's URL as browsers reach it, such as https://deployer.example.com (its sign-in callback is /signin/callback there)")
	c.Flags().DurationVar(&f.refresh, "refresh", 10*time.Second, "how often the dashboard reads again the summary its overview and app pages show (one page of releases per app), at least 1s")
}

// enabled says whether the dashboard is to be served with sign-in.
func (f *dashboardFlags) enabled() bool { return f.issuer != "" || f.clientID != "" || f.url != "" }

func (f *dashboardFlags) validate() error {
	if f.refresh < time.Second {
		return elevator.Errorf(elevator.EINVALID, "--refresh %s: want at least 1s", f.refresh)
	}
	if !f.enabled() {
		return nil
	}
	if f.issuer == "" || f.clientID == "" || f.url == "" {
		return elevator.Errorf(elevator.EINVALID, "the dashboard needs --oidc-issuer, --oidc-client-id and --dashboard-url together")
	}
	u, err := url.Parse(f.url)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return elevator.Errorf(elevator.EINVALID, "--dashboard-url %q: want the site's root URL, such as https://deployer.example.com", f.url)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return elevator.Errorf(elevator.EINVALID, "--dashboard-url %q: want https (plain http only on 127.0.0.1 or localhost, for tests)", f.url)
	}
	if i, err := url.Parse(f.issuer); err != nil || i.Host == "" || (i.Scheme != "https" && !(i.Scheme == "http" && isLoopback(i.Hostname()))) {
		return elevator.Errorf(elevator.EINVALID, "--oidc-issuer %q: want an https URL (plain http only on 127.0.0.1 or localhost, for tests)", f.issuer)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// options returns the dashboard's options of these flags and the
// environment.
func (f *dashboardFlags) options() (dashboard.Options, error) {
	u, _ := url.Parse(f.url)
	o := dashboard.Options{OIDC: &dashboard.OIDC{Issuer: f.issuer, ClientID: f.clientID, ClientSecret: os.Getenv(oidcSecretEnv),
		RedirectURL: strings.TrimSuffix(f.url, "/") + "/signin/callback"}, PlainHTTP: u.Scheme == "http", Refresh: f.refresh}
	if k := os.Getenv(sessionKeyEnv); k != "" {
		key, err := hex.DecodeString(k)
		if err != nil || len(key) < 32 {
			return o, elevator.Errorf(elevator.EINVALID, "$%s: want at least 64 hex digits (32 bytes), such as the output of `openssl rand -hex 32`", sessionKeyEnv)
		}
		o.SessionKey = key
	}
	return o, nil
}

// dashboardSource is what the dashboard reads of an orbit (its
// dashboard.Source): records and documents from the orbit's store, one
// tag-filtered listing of groups and the health of their target groups
// per region, and the release operations of an engine, with submissions
// (rollbacks) written to the state bucket for the deployers.
type dashboardSource struct {
	orbit  string
	store  *awsrelease.Store
	engine *release.Engine
	clouds []release.Cloud
	submit func(ctx context.Context, rel *elevator.Release) error
}

var _ dashboard.Source = (*dashboardSource)(nil)

func (s *dashboardSource) Groups(ctx context.Context) ([]dashboard.Group, error) {
	var out []dashboard.Group
	for _, c := range s.clouds {
		groups, err := c.Groups(ctx, release.GroupFilter{Orbit: s.orbit})
		if err != nil {
			return nil, err
		}
		// A service whose groups have target groups serves through
		// them; one without serves from every group it has.
		balanced := map[string]bool{}
		targets := map[string]map[string]string{} // target group -> instance -> state
		for _, g := range groups {
			key := g.Tags[elevator.TagApp] + "/" + g.Tags[elevator.TagService]
			balanced[key] = balanced[key] || len(g.TargetGroups) > 0
			for _, tg := range g.TargetGroups {
				if targets[tg] != nil {
					continue
				}
				ts, err := c.Targets(ctx, tg)
				if err != nil {
					return nil, err
				}
				targets[tg] = map[string]string{}
				for _, t := range ts {
					targets[tg][t.InstanceID] = t.State
				}
			}
		}
		for _, g := range groups {
			if g.Tags[elevator.TagApp] == "" || g.ReleaseID() == "" {
				continue // the orbit's own groups, such as its bastions
			}
			dg := dashboard.Group{Region: c.Region(), App: g.Tags[elevator.TagApp], Service: g.Tags[elevator.TagService],
				ReleaseID: g.ReleaseID(), Name: g.Name, Cluster: g.Cluster, Desired: g.Capacity.Desired, Deleting: g.Deleting,
				Serving: !g.Deleting && (len(g.TargetGroups) > 0 || !balanced[g.Tags[elevator.TagApp]+"/"+g.Tags[elevator.TagService]])}
			for _, i := range g.Instances {
				if g.Cluster != "" && i.Lifecycle == release.LifecycleGone {
					// ECS lists a stopped task for about an hour,
					// with an address a new task may have since.
					dg.Stopped++
					continue
				}
				di := dashboard.Instance{ID: i.ID, Lifecycle: i.Lifecycle, Healthy: i.Healthy, Targets: map[string]string{}}
				if g.Cluster != "" {
					di.Health = containerHealth(i)
				}
				for _, tg := range g.TargetGroups {
					st := targets[tg][i.TargetID()] // a task is registered by its IP
					if st == "" {
						st = "unregistered"
					}
					di.Targets[tg] = st
				}
				dg.Instances = append(dg.Instances, di)
			}
			out = append(out, dg)
		}
	}
	return out, nil
}

// containerHealth is the container health status ECS reports for task i:
// UNHEALTHY when the task is not Healthy, else UNKNOWN. Elevator's task
// definitions have no container health check (ECS ignores an image's
// HEALTHCHECK), so ECS never reports HEALTHY for their tasks, and UNKNOWN
// counts as healthy: a task is ready once running and healthy in its
// target groups.
func containerHealth(i release.Instance) string {
	if !i.Healthy {
		return "UNHEALTHY"
	}
	return "UNKNOWN"
}

func (s *dashboardSource) Page(ctx context.Context, app string, limit int, before string) ([]*elevator.ReleaseRecord, string, error) {
	return s.store.Page(ctx, app, limit, before)
}

func (s *dashboardSource) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	return s.engine.Status(ctx, id)
}

func (s *dashboardSource) Release(ctx context.Context, id string) (*elevator.Release, error) {
	doc, _, err := s.store.Release(ctx, id)
	if errors.Is(err, release.ErrNotFound) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
	}
	if err != nil {
		return nil, err
	}
	return elevator.ParseRelease(doc)
}

func (s *dashboardSource) Halt(ctx context.Context, id, by, reason string) error {
	return s.engine.Halt(ctx, id, by, reason)
}

// Rollback audits the reason, then submits a release of the successful
// release before the current one (which the engine audits too).
func (s *dashboardSource) Rollback(ctx context.Context, app, by, reason string) (*elevator.Release, error) {
	recs, _, err := s.store.Page(ctx, app, 50, "")
	if err != nil {
		return nil, err
	}
	to := previousSuccess(recs)
	if to == "" {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no earlier successful release in orbit %s to roll back to", app, s.orbit)
	}
	if err := s.store.Audit(ctx, elevator.AuditEntry{By: by, Action: elevator.AuditRollback, App: app, Orbit: s.orbit, ReleaseID: to,
		Outcome: "asked", Detail: "rollback to release " + to + " asked from the dashboard: " + reason}); err != nil {
		return nil, err
	}
	rel, err := s.engine.Rollback(ctx, to, by)
	if err != nil {
		return nil, err
	}
	return rel, s.submit(ctx, rel)
}

func (s *dashboardSource) Unlock(ctx context.Context, app, by, reason string) error {
	_, err := s.engine.Unlock(ctx, app, s.orbit, by, reason)
	return err
}

func (s *dashboardSource) AuditLog(ctx context.Context, since time.Time) ([]elevator.AuditEntry, error) {
	return s.store.AuditLog(ctx, since)
}

func (s *dashboardSource) Audit(ctx context.Context, e elevator.AuditEntry) error {
	return s.store.Audit(ctx, e)
}

// mountDashboard serves the dashboard at / beside the API (/v1/,
// /healthz, /readyz, /metrics), on one listener.
func mountDashboard(apiHandler, dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, apiHandler)
	}
	mux.Handle("/", dash)
	return mux
}

// recordFeed hands the records a deployer's engine writes to its
// dashboard, once there is one, so that its pages show them at once.
type recordFeed struct {
	to atomic.Pointer[func(*elevator.ReleaseRecord)]
}

// wrap returns an engine observer that calls next, then the dashboard.
func (f *recordFeed) wrap(next func(elevator.ReleaseRecord)) func(elevator.ReleaseRecord) {
	return func(rec elevator.ReleaseRecord) {
		if next != nil {
			next(rec)
		}
		if to := f.to.Load(); to != nil {
			(*to)(&rec)
		}
	}
}

// deployerDashboard is the dashboard a deployer serves, when its flags
// ask for one: over the deployer's store and engine, rollbacks submitted
// through the deployer, and the records its engine writes fed to it.
func deployerDashboard(ctx context.Context, f *dashboardFlags, orbit *elevator.Orbit, d *deployer.Deployer, engine release.Config, feed *recordFeed, refusals *api.RefusalLimiter, log *slog.Logger) (http.Handler, error) {
	store, ok := engine.Store.(*awsrelease.Store)
	if !ok {
		return nil, elevator.Errorf(elevator.EINTERNAL, "the deployer's store cannot page releases")
	}
	ops, err := release.New(engine)
	if err != nil {
		return nil, err
	}
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	opts.Source = &dashboardSource{orbit: orbit.Name, store: store, engine: ops, clouds: engine.Clouds,
		submit: func(ctx context.Context, rel *elevator.Release) error { _, err := d.Submit(ctx, rel); return err }}
	opts.Orbit, opts.Log, opts.Refusals = orbit, log, refusals
	dash, err := dashboard.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	observe := dash.Observe
	feed.to.Store(&observe)
	return dash, nil
}

// dashboardOptions are the flags of `elevator dashboard`.
type dashboardOptions struct {
	env    releaseEnv
	file   string
	listen string
	flags  dashboardFlags
	role   string
}

func newDashboardCmd(g *globals) *cobra.Command {
	o := &dashboardOptions{env: releaseEnv{globals: g, inProcess: true}}
	c := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the web dashboard of an orbit: its apps, releases and audit log",
		Long: `Serve the dashboard of an orbit (docs/dashboard.md) until SIGINT or SIGTERM.

With --local (the emulator, for the demo) it serves one local user, without
sign-in, on a loopback address only (127.0.0.1 by default): every page says
so, and every action is audited as local:USER. It reads the same state as
the CLI and the deployers; a rollback it asks for is submitted to the state
bucket, for a deployer of the orbit to run.

Against AWS it signs users in with OpenID Connect (--oidc-issuer,
--oidc-client-id, --dashboard-url and $` + oidcSecretEnv + `), and the orbit
manifest's access section gives them roles by email or group. A deployer
serves the same dashboard with the same flags, beside its API.`,
		Example: `  elevator dashboard --local -f examples/orbit.yml
  elevator dashboard --orbit prod --listen 0.0.0.0:8443 --oidc-issuer https://accounts.google.com --oidc-client-id ID --dashboard-url https://dash.example.com`,
		Args: noArgs,
	}
	o.env.addFlags(c)
	c.Flags().StringVarP(&o.file, "file", "f", "", "the orbit's manifest (same as --orbit-file; --orbit then defaults to its name)")
	c.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8080", "the address to serve on; with --local a loopback one only")
	c.Flags().StringVar(&o.role, "local-role", string(elevator.RoleAdmin), "with --local, the role of the local user: viewer, deployer, approver or admin")
	o.flags.add(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.validate(); err != nil {
			return err
		}
		return o.execute(cmd.Context())
	}
	return c
}

func (o *dashboardOptions) validate() error {
	e := &o.env
	if o.file != "" {
		if e.orbitFile != "" && e.orbitFile != o.file {
			return elevator.Errorf(elevator.EINVALID, "-f %s and --orbit-file %s: give one", o.file, e.orbitFile)
		}
		e.orbitFile = o.file
		if e.orbitName == "" {
			orb, err := readOrbit(o.file, "")
			if err != nil {
				return err
			}
			e.orbitName = orb.Name
		}
	}
	if err := e.validate(); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return elevator.Errorf(elevator.EINVALID, "--listen %q: want host:port, such as 127.0.0.1:8080", o.listen)
	}
	if !elevator.AccessRole(o.role).Valid() {
		return elevator.Errorf(elevator.EINVALID, "--local-role %q: want viewer, deployer, approver or admin", o.role)
	}
	if o.flags.refresh < time.Second {
		return elevator.Errorf(elevator.EINVALID, "--refresh %s: want at least 1s", o.flags.refresh)
	}
	if e.local {
		if o.flags.enabled() {
			return elevator.Errorf(elevator.EINVALID, "--local serves one local user without sign-in; drop the --oidc-* and --dashboard-url flags")
		}
		if !isLoopback(host) {
			return elevator.Errorf(elevator.EINVALID, "--listen %s: with --local (one user, no sign-in) the dashboard listens on a loopback address only, such as 127.0.0.1:8080", o.listen)
		}
		return nil
	}
	if !o.flags.enabled() {
		return elevator.Errorf(elevator.EINVALID, "the dashboard signs users in with OpenID Connect: give --oidc-issuer, --oidc-client-id and --dashboard-url (or --local for the emulator)")
	}
	return o.flags.validate()
}

func (o *dashboardOptions) execute(ctx context.Context) error {
	e := &o.env
	if err := e.connect(ctx); err != nil {
		return err
	}
	log := e.serviceLog()
	home := e.orbit.Regions[0].Name
	cfg, err := e.configs.For(ctx, home)
	if err != nil {
		return err
	}
	objects, bucket := s3.New(cfg), e.orbitOutputs[home][compile.StateBucketOutput]
	opts := dashboard.Options{Local: e.local, LocalRole: elevator.AccessRole(o.role), PlainHTTP: e.local, Refresh: o.flags.refresh}
	if !e.local {
		if opts, err = o.flags.options(); err != nil {
			return err
		}
	}
	opts.Orbit, opts.Log = e.orbit, log
	opts.Source = &dashboardSource{orbit: e.orbit.Name, store: e.backend.Store, engine: e.engine, clouds: e.backend.Clouds,
		submit: func(ctx context.Context, rel *elevator.Release) error {
			return deployer.PutSubmission(ctx, objects, bucket, rel)
		}}
	h, err := dashboard.New(ctx, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return elevator.Errorf(elevator.EINVALID, "--listen %s: %v", o.listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	mode := "signing users in with " + o.flags.issuer
	if e.local {
		mode = "local single-user mode, no sign-in"
	}
	if e.json() {
		_ = e.printJSON(map[string]string{"url": "http://" + ln.Addr().String() + "/", "orbit": e.orbit.Name, "mode": mode})
	} else {
		fmt.Fprintf(e.stderr, "dashboard of orbit %s at http://%s/ (%s)\n", e.orbit.Name, ln.Addr(), mode)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
