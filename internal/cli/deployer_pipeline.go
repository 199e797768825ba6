package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/pipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/awspipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/stagerelease"
	"github.com/elevatorhq/elevator/internal/release"
)

// deployerPipelines is the deployer's part in pipelines: it drives the
// executions kept in its orbit's releases table (those whose first stage
// is its orbit), with a releaser that compiles each stage's release from
// the execution's pinned manifest and submits it: to this deployer for a
// stage in its own orbit, to that orbit's deployers for a stage in
// another; a stage it may not release waits for elevator.WaitAccess (see
// docs/pipelines.md, "The deployer's part").
type deployerPipelines struct {
	env   *releaseEnv // the deployer's orbit, connected
	store *awspipeline.Store
	// claims binds the release tokens of the executions' stages: the
	// deployer's orbit is the home of the executions it drives.
	claims tokenClaims
	owner  string // the deployer's, as in its release locks: the executions' lease owner
	poll   time.Duration
	wait   time.Duration // the executor's MaxWait
	log    *slog.Logger
	d      *deployer.Deployer // set once made

	agentOnce sync.Once
	agent     *orbit.AgentFiles
	agentErr  error

	// connected are the other orbits the deployer reached, kept across
	// executions and ticks (one AssumeRole and account check per orbit and
	// account section, not per tick): by connectedKey.
	connectedMu sync.Mutex
	connected   map[string]*releaseEnv
	// connect connects another orbit's env; nil = (*releaseEnv).connect
	// (tests count it with a fake).
	connect func(ctx context.Context, e *releaseEnv) error
}

// connectedKey names an orbit as the deployer connects to it: its name,
// its account section and its regions, and a digest of all the pinned
// manifest says, so that an env connected for one version of the manifest
// never builds releases from another.
func connectedKey(o *elevator.Orbit) string {
	key := o.Name + "\x00" + o.Account.ID + "\x00" + o.Account.Role + "\x00" + o.Account.ExternalID
	for _, r := range o.Regions {
		key += "\x00" + r.Name
	}
	doc, err := json.Marshal(o)
	if err != nil {
		doc = []byte(time.Now().String()) // never the same: connect again
	}
	sum := sha256.Sum256(doc)
	return key + "\x00" + hex.EncodeToString(sum[:])
}

// pipelinesOptions makes the deployer's Pipelines option over its orbit's
// table and state bucket.
func (o *deployerOptions) pipelinesOptions(ctx context.Context, engine release.Config, log *slog.Logger) (*deployerPipelines, *deployer.Pipelines, error) {
	e := &o.env
	home := e.orbit.Regions[0].Name
	cfg, err := e.configs.For(ctx, home)
	if err != nil {
		return nil, nil, err
	}
	store := awspipeline.New(elevator.ReleasesTableName(e.orbit.Name), dynamodb.New(cfg), e.backend.Store).
		WithSources(s3.New(cfg), e.orbitOutputs[home][compile.StateBucketOutput])
	dp := &deployerPipelines{env: e, store: store, claims: e.backend.Store, owner: engine.Owner, poll: engine.Poll, wait: o.pipelineEvery, log: log}
	return dp, &deployer.Pipelines{Executions: store, Drive: dp.drive, Every: o.pipelineEvery}, nil
}

// drive runs one execution until it ends or parks.
func (dp *deployerPipelines) drive(ctx context.Context, e *elevator.PipelineExecution) (*elevator.PipelineExecution, error) {
	src, err := dp.store.Sources(ctx, e)
	if err != nil {
		// An execution without sources started before they were kept:
		// `pipeline resume` (which reads the files) drives it.
		return nil, err
	}
	a, err := stagerelease.App(src, "")
	if err != nil {
		return nil, err
	}
	if a.Name != e.App {
		return nil, elevator.Errorf(elevator.EINTERNAL, "pipeline %s of app %s pinned a manifest of app %s", e.ID, e.App, a.Name)
	}
	r := &stageReleaser{dp: dp, src: src, startedBy: e.StartedBy, app: e.App}
	r.settings = &deployedSettings{r: r}
	x := &pipeline.Executor{App: a, Store: dp.store, Releaser: r, Reviewer: r, Pins: r, Notifier: r, Owner: dp.owner,
		Lease: dp.env.lease, MaxWait: dp.wait, Poll: dp.poll, Log: dp.log.With("app", e.App)}
	out, err := x.Run(ctx, e.ID) // pipeline.ErrLeased is an ECONFLICT error
	if ctx.Err() != nil {
		dp.handOver(e.App, e.ID)
	}
	return out, err
}

// handOver gives up this deployer's lease on an execution it stops
// driving (it is shutting down), so that another replica takes it over at
// its next round instead of at the lease's end. The write is on condition
// of the revision read: a record someone else wrote since is left alone.
func (dp *deployerPipelines) handOver(app, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := dp.store.Get(ctx, app, id)
	if err != nil || e.State.Done() || e.Owner != dp.owner {
		return
	}
	e.Revision++
	e.HandOvers++ // the other replicas' sign to go on at once
	e.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	e.Owner, e.LeaseExpires = "", time.Time{}
	if err := dp.store.Put(ctx, e); err != nil {
		dp.log.Warn("pipeline lease not handed over; another replica takes it when it ends", "pipeline", id, "err", err)
		return
	}
	dp.log.Info("pipeline lease handed over", "pipeline", id, "revision", e.Revision)
}

func (dp *deployerPipelines) readAgent() (*orbit.AgentFiles, error) {
	dp.agentOnce.Do(func() { dp.agent, dp.agentErr = orbit.ReadAgent() })
	return dp.agent, dp.agentErr
}

// stageReleaser is the deployer's pipeline.Releaser, Reviewer, Pins and
// Notifier for one execution.
type stageReleaser struct {
	dp        *deployerPipelines
	src       *elevator.PipelineSources
	startedBy string
	app       string
	// settings reads other orbits as `orbit up` applied them, for the
	// starter's role there (see starterMay).
	settings pipeline.DeployedOrbits

	mu     sync.Mutex
	others map[string]*releaseEnv // other orbits, connected, by name
}

// starterMay refuses, with a *pipeline.BlockedError naming the missing
// role, to act in another orbit than the deployer's own for an execution
// whose starter does not hold the deployer role for the app there, as
// `orbit up` last applied the orbit's access rules. The deployer acts
// with its own credentials: without this check, anyone who may start a
// pipeline in the first orbit would release into every orbit whose
// deployer takes the first orbit's submissions. (The CLI acts with the
// caller's own credentials: IAM decides there.)
func (r *stageReleaser) starterMay(ctx context.Context, orbitName string) error {
	if orbitName == r.dp.env.orbit.Name {
		return nil
	}
	o, err := r.settings.Deployed(ctx, orbitName)
	if errors.Is(err, pipeline.ErrNotDeployed) {
		return &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("the deployer of orbit %s cannot tell whether %s, who started the pipeline, holds the %s role for app %s in orbit %s: %v",
			r.dp.env.orbit.Name, r.startedBy, elevator.RoleDeployer, r.app, orbitName, err)}
	}
	if err != nil {
		return err
	}
	if !o.RoleOf(r.startedBy, r.app).Covers(elevator.RoleDeployer) {
		return &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("%s, who started the pipeline, does not hold the %s role for app %s in orbit %s (its access rules as `orbit up` applied them), "+
			"so the deployer of orbit %s does not release there for them: an admin of orbit %s grants the role and runs `elevator orbit up`, "+
			"or someone who holds it runs `elevator pipeline resume`", r.startedBy, elevator.RoleDeployer, r.app, orbitName, r.dp.env.orbit.Name, orbitName)}
	}
	return nil
}

// deployedSettings reads another orbit's settings as `orbit up` applied
// them (elevator.OrbitSettingsKey in the state bucket of its home
// region), with the deployer's credentials: a pipeline.DeployedOrbits.
type deployedSettings struct {
	r *stageReleaser
	orbitCache
}

func (d *deployedSettings) Deployed(ctx context.Context, name string) (*elevator.Orbit, error) {
	return d.get(name, func() (*elevator.Orbit, error) {
		e, _, err := d.r.target(ctx, name)
		if err != nil {
			return nil, err
		}
		home := e.orbit.Regions[0].Name
		cfg, err := e.configs.For(ctx, home)
		if err != nil {
			return nil, err
		}
		o, err := orbitSettingsIn(ctx, s3.New(cfg), e.orbitOutputs[home][compile.StateBucketOutput], name)
		if err != nil && !errors.Is(err, pipeline.ErrNotDeployed) {
			return nil, d.r.denied(name, "read its settings as orbit up applied them", err)
		}
		return o, err
	})
}

// target is the orbit a stage acts in: the deployer's own (own), or
// another orbit connected with the deployer's credentials from the
// manifest the execution pinned. Another orbit without a deployer to take
// the stage's release, or whose manifest the execution did not pin, gives
// a *pipeline.BlockedError.
func (r *stageReleaser) target(ctx context.Context, orbitName string) (env *releaseEnv, own bool, err error) {
	if orbitName == r.dp.env.orbit.Name {
		return r.dp.env, true, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.others[orbitName]; e != nil {
		return e, false, nil
	}
	mine := r.dp.env.orbit.Name
	o, err := stagerelease.Orbit(r.src, orbitName)
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, false, &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("the execution pinned no manifest of orbit %s, which the deployer of orbit %s needs to release there; "+
			"`elevator pipeline resume` from a machine with access to orbit %s goes on", orbitName, mine, orbitName)}
	}
	if err != nil {
		return nil, false, err
	}
	if o.Deployer == "" {
		return nil, false, &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("orbit %s has no deployer (its manifest's deployer:) to take the stage's release from the deployer of orbit %s; "+
			"`elevator pipeline resume` from a machine with access to orbit %s goes on", orbitName, mine, orbitName)}
	}
	// An orbit of the deployer's own account is reached with the
	// deployer's own role, whatever role its account section names for
	// people and CI; an orbit of another account only through a role.
	mineAt := r.dp.env.configs.accountID()
	if mineAt == "" {
		mineAt = accountOf(r.dp.env.caller)
	}
	want := o.Account.Want()
	sameAccount := want == "" || want == mineAt
	if !sameAccount && o.Account.Role == "" {
		return nil, false, &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("orbit %s lives in account %s and the deployer of orbit %s in %s: name a role in orbit %s's account section for the deployer to assume there (docs/accounts.md); "+
			"or `elevator pipeline resume` from a machine with access to orbit %s goes on", orbitName, want, mine, mineAt, orbitName, orbitName)}
	}
	e, err := r.dp.connectOther(ctx, o, sameAccount)
	if err != nil {
		return nil, false, r.denied(orbitName, "read its orbit stack and its releases", err)
	}
	if r.others == nil {
		r.others = map[string]*releaseEnv{}
	}
	r.others[orbitName] = e
	return e, false, nil
}

// denied turns a call an orbit refused into the stage's wait for
// access, saying what grant is missing and who goes on; other errors stay
// errors. Everything but executing a change set is in the orbit's
// submitter policy (compiling and submitting releases, reviews, pins,
// notices); executing one needs the orbit's deployer policy and the
// rights to make the app's resources, which no Elevator policy gives
// (docs/pipelines.md, "Its IAM").
func (r *stageReleaser) denied(orbitName, doing string, err error) error {
	if !errors.Is(err, awserr.ErrAccessDenied) {
		return err
	}
	mine := r.dp.env.orbit.Name
	if doing == executeChangeSets {
		return &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("the deployer of orbit %s may not %s in orbit %s (%v): "+
			"executing a reviewed change set needs orbit %s's deployer policy (%s) and, as CloudFormation makes the app's resources with the caller's own rights, "+
			"the rights to create and change them (security groups, load balancers, IAM roles, data stores), which no Elevator policy grants; "+
			"`elevator pipeline resume` (or `elevator app up --change-set ID` with the change sets `elevator pipeline status` shows) "+
			"by someone who may change the app's infrastructure in orbit %s goes on", mine, doing, orbitName, err, orbitName,
			elevator.OrbitPolicyName(orbitName, elevator.OrbitPolicyDeployer), orbitName)}
	}
	return &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("the deployer of orbit %s may not %s in orbit %s (%v): give its role orbit %s's submitter policy (%s); "+
		"or `elevator pipeline resume` from a machine with access to orbit %s goes on", mine, doing, orbitName, err, orbitName,
		elevator.OrbitPolicyName(orbitName, elevator.OrbitPolicySubmitter), orbitName)}
}

// executeChangeSets is what Apply is refused: see denied.
const executeChangeSets = "execute the app's change sets"

// Start compiles the stage's release from the pinned manifest with the
// orbit's facts, stores the agent's builds where its instances find
// them, and submits the release: to this deployer, which drives it like
// any submitted release, or to the other orbit's deployers through its
// state bucket (deployer.PutSubmission, as CI submits).
func (r *stageReleaser) Start(ctx context.Context, orbitName, version, token string) (string, error) {
	if err := r.starterMay(ctx, orbitName); err != nil {
		return "", err
	}
	e, own, err := r.target(ctx, orbitName)
	if err != nil {
		return "", err
	}
	agent, err := r.dp.readAgent()
	if err != nil {
		return "", err
	}
	fresh, err := elevator.NewReleaseID(time.Now(), nil)
	if err != nil {
		return "", err
	}
	build := func(id string) (*elevator.Release, error) {
		rel, facts, err := stagerelease.Release(ctx, stagerelease.Request{Sources: r.src, Orbit: e.orbit, Version: version, ID: id, By: r.startedBy,
			Now: time.Now(), Agent: agent.Builds, Clients: e.lookupClients(ctx)})
		if err != nil {
			return nil, r.denied(orbitName, "read the app's stacks to compile its release", err)
		}
		err = e.publishAgent(ctx, facts, agent)
		if err != nil {
			return nil, r.denied(orbitName, "store the Elevator agent's builds", err)
		}
		return rel, nil
	}
	submit := func(rel *elevator.Release) error {
		if own {
			_, err := r.dp.d.Submit(ctx, rel)
			return err
		}
		home := e.orbit.Regions[0].Name
		cfg, err := e.configs.For(ctx, home)
		if err != nil {
			return err
		}
		if err := deployer.PutSubmission(ctx, s3.New(cfg), e.orbitOutputs[home][compile.StateBucketOutput], rel); err != nil {
			return r.denied(orbitName, "submit a release", err)
		}
		return nil
	}
	// The token is bound in the execution's home, this deployer's own
	// orbit, as every driver binds it; a release submitted twice under
	// one id (the try before died after submitting it to another orbit)
	// is one release there.
	return startOnce(ctx, r.tokens(e.backend.Store), token, fresh, build, submit)
}

// tokens binds a stage's release token in the execution's home and reads
// the release in the orbit it goes to, as the CLI does (see
// splitTokenStore).
func (r *stageReleaser) tokens(releases releaseReads) splitTokenStore {
	return splitTokenStore{claims: r.dp.claims, releases: releases}
}

// Status reads the release's record in its orbit. A release submitted
// whose record is not written yet has not ended, unless the orbit's
// deployer rejected it (see untaken).
func (r *stageReleaser) Status(ctx context.Context, orbitName, id string) (pipeline.ReleaseStatus, error) {
	e, _, err := r.target(ctx, orbitName)
	if err != nil {
		return pipeline.ReleaseStatus{}, err
	}
	rec, err := e.backend.Store.Record(ctx, id)
	if errors.Is(err, release.ErrNotFound) {
		home := e.orbit.Regions[0].Name
		cfg, err := e.configs.For(ctx, home)
		if err != nil {
			return pipeline.ReleaseStatus{}, err
		}
		return untaken(ctx, s3.New(cfg), e.orbitOutputs[home][compile.StateBucketOutput], orbitName, id, time.Now())
	}
	if err != nil {
		return pipeline.ReleaseStatus{}, r.denied(orbitName, "read release records", err)
	}
	return pipeline.ReleaseStatus{Done: rec.State.Ended(), Succeeded: rec.State == elevator.StateSuccess, Message: string(rec.State) + " " + rec.Error}, nil
}

// rejectedReads reads a rejected submission (s3.Client).
type rejectedReads interface {
	GetWithMetadata(ctx context.Context, bucket, key string) ([]byte, map[string]string, error)
}

// untaken is the status of release id, submitted to orbit orbitName's
// deployers (whose state bucket is bucket) and without a record: failed
// with the deployer's reason when it rejected the submission (moved it
// to elevator.RejectedKey); a *pipeline.BlockedError when no record came
// within deployer.SubmissionTakeDeadline of the id's time (the orbit's
// deployer is down or does not read its submissions), so the stage waits
// and says so rather than polling unseen; otherwise not ended.
func untaken(ctx context.Context, objects rejectedReads, bucket, orbitName, id string, now time.Time) (pipeline.ReleaseStatus, error) {
	_, meta, err := objects.GetWithMetadata(ctx, bucket, elevator.RejectedKey(id))
	if err == nil {
		reason := meta[elevator.RejectedReasonMeta]
		if reason == "" {
			reason = "see the orbit's audit log"
		}
		return pipeline.ReleaseStatus{Done: true, Message: fmt.Sprintf("the deployer of orbit %s rejected the submission: %s", orbitName, reason)}, nil
	}
	// A driver the orbit does not let read its rejected submissions
	// (its submitter policy grants no rejected/) still learns, from the
	// deadline, that the release was not taken.
	unreadable := errors.Is(err, awserr.ErrAccessDenied)
	if !errors.Is(err, s3.ErrNotFound) && !unreadable {
		return pipeline.ReleaseStatus{}, fmt.Errorf("read the rejected submission of release %s: %w", id, err)
	}
	if at, ok := elevator.ReleaseIDTime(id); ok && now.Sub(at) > deployer.SubmissionTakeDeadline {
		also := ""
		if unreadable {
			also = fmt.Sprintf(" (it may have rejected it: s3://%s/%s could not be read, see orbit %s's audit log)", bucket, elevator.RejectedKey(id), orbitName)
		}
		return pipeline.ReleaseStatus{}, &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf(
			"the deployer of orbit %s has not taken release %s, submitted %s ago (it takes one within %s)%s: check that it runs (its logs) and reads s3://%s/%s; "+
				"the stage goes on once it does",
			orbitName, id, now.Sub(at).Truncate(time.Second), deployer.SubmissionTakeDeadline, also, bucket, elevator.SubmissionKey(id))}
	}
	return pipeline.ReleaseStatus{}, nil
}

// reviewer makes and executes the stage's change sets as `pipeline
// resume` does, from the pinned manifest, so that a review made here and
// one made by a command are the same.
func (r *stageReleaser) reviewer() stackReviewer {
	return stackReviewer{
		app: func(orbitName string) (*elevator.App, error) { return stagerelease.App(r.src, orbitName) },
		env: func(ctx context.Context, orbitName string) (*releaseEnv, error) {
			e, _, err := r.target(ctx, orbitName)
			return e, err
		},
		poll: r.dp.poll, log: r.dp.env.stderr,
	}
}

// Review makes the stage's change sets in an orbit (see stackReviewer).
func (r *stageReleaser) Review(ctx context.Context, orbitName, owner string, previous []elevator.ChangeSetRef) ([]elevator.ChangeSetRef, error) {
	if err := r.starterMay(ctx, orbitName); err != nil {
		return nil, err
	}
	refs, err := r.reviewer().Review(ctx, orbitName, owner, previous)
	if err != nil {
		return nil, r.denied(orbitName, "make the change sets of the app's stacks", err)
	}
	return refs, nil
}

// Apply executes a reviewed change set (see stackReviewer).
func (r *stageReleaser) Apply(ctx context.Context, ref elevator.ChangeSetRef) error {
	if err := r.starterMay(ctx, ref.Orbit); err != nil {
		return err
	}
	if err := r.reviewer().Apply(ctx, ref); err != nil {
		return r.denied(ref.Orbit, executeChangeSets, err)
	}
	return nil
}

// Pin reads the pin a rollback left in the orbit.
func (r *stageReleaser) Pin(ctx context.Context, orbitName string) (string, error) {
	e, _, err := r.target(ctx, orbitName)
	if err != nil {
		return "", err
	}
	pin, err := stagerelease.Pin(ctx, e.backend.Store, r.app)
	if err != nil {
		return "", r.denied(orbitName, "read release records and documents", err)
	}
	return pin, nil
}

// Notify publishes to the orbit's info topic.
func (r *stageReleaser) Notify(ctx context.Context, orbitName, subject, message string) error {
	e, _, err := r.target(ctx, orbitName)
	if err != nil {
		return err
	}
	return e.notifyInfo(ctx, subject, message)
}

// connectOther returns another orbit's env, connected, as the deployer
// connected it before with the same account section and regions, or
// connects it now.
func (dp *deployerPipelines) connectOther(ctx context.Context, o *elevator.Orbit, sameAccount bool) (*releaseEnv, error) {
	key := connectedKey(o)
	dp.connectedMu.Lock()
	defer dp.connectedMu.Unlock()
	if e := dp.connected[key]; e != nil {
		return e, nil
	}
	e := &releaseEnv{globals: dp.env.globals, orbitName: o.Name, orbit: o, pollInterval: dp.env.pollInterval, lease: dp.env.lease,
		lookups: true, inProcess: true, apiOptions: dp.env.apiOptions, asDeployer: sameAccount}
	connect := dp.connect
	if connect == nil {
		connect = func(ctx context.Context, e *releaseEnv) error { return e.connect(ctx) }
	}
	if err := connect(ctx, e); err != nil {
		return nil, err
	}
	if dp.connected == nil {
		dp.connected = map[string]*releaseEnv{}
	}
	dp.connected[key] = e
	return e, nil
}
