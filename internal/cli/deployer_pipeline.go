package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/app"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sns"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/lookup"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/pipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/awspipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/stagerelease"
	"github.com/elevatorhq/elevator/internal/release"
)

// deployerPipelines is the deployer's part in pipelines: it drives the
// executions kept in its orbit's releases table (those whose first stage
// is its orbit), with a releaser that compiles each stage's release from
// the execution's pinned manifests and submits it to this deployer. It
// releases into its own orbit only: a stage in another orbit waits for
// elevator.WaitAccess (see docs/pipelines.md, "The deployer's part").
type deployerPipelines struct {
	env   *releaseEnv // the deployer's orbit, connected
	store *awspipeline.Store
	owner string
	poll  time.Duration
	wait  time.Duration // the executor's MaxWait
	log   *slog.Logger
	d     *deployer.Deployer // set once made

	agentOnce sync.Once
	agent     *orbit.AgentFiles
	agentErr  error
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
	dp := &deployerPipelines{env: e, store: store, owner: "deployer " + engine.Owner, poll: engine.Poll, wait: o.pipelineEvery, log: log}
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
	x := &pipeline.Executor{App: a, Store: dp.store, Releaser: r, Reviewer: r, Pins: r, Notifier: r, Owner: dp.owner,
		Lease: dp.env.lease, MaxWait: dp.wait, Poll: dp.poll, Log: dp.log.With("app", e.App)}
	out, err := x.Run(ctx, e.ID)
	if errors.Is(err, pipeline.ErrLeased) {
		return out, elevator.Errorf(elevator.ECONFLICT, "%v", err)
	}
	return out, err
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
}

// own refuses an orbit other than the deployer's: a deployer role is
// granted its own orbit only (docs/pipelines.md says why it does not reach
// into another).
func (r *stageReleaser) own(orbitName string) error {
	if mine := r.dp.env.orbit.Name; orbitName != mine {
		return &pipeline.BlockedError{Orbit: orbitName, Reason: fmt.Sprintf("the deployer of orbit %s releases into its own orbit only; "+
			"`elevator pipeline resume` from a machine with access to orbit %s goes on (or start the stage there)", mine, orbitName)}
	}
	return nil
}

func (r *stageReleaser) clients(ctx context.Context) func(region string) (lookup.Clients, error) {
	e := r.dp.env
	return func(region string) (lookup.Clients, error) {
		cfg, err := e.configs.For(ctx, region)
		if err != nil {
			return lookup.Clients{}, err
		}
		return lookup.Clients{Stacks: cloudformation.New(cfg), Images: elevator.ImageSources{Images: ec2.New(cfg), Parameters: ssm.New(cfg)},
			OrbitOutputs: e.orbitOutputs[region]}, nil
	}
}

// Start compiles the stage's release from the pinned manifest with the
// orbit's facts, stores the agent's builds where its instances find
// them, and submits the release to this deployer, which drives it like
// any submitted release.
func (r *stageReleaser) Start(ctx context.Context, orbitName, version, _ string) (string, error) {
	if err := r.own(orbitName); err != nil {
		return "", err
	}
	e := r.dp.env
	agent, err := r.dp.readAgent()
	if err != nil {
		return "", err
	}
	rel, facts, err := stagerelease.Release(ctx, stagerelease.Request{Sources: r.src, Orbit: e.orbit, Version: version, By: r.startedBy,
		Now: time.Now(), Agent: agent.Builds, Clients: r.clients(ctx)})
	if err != nil {
		return "", err
	}
	err = apply.Parallel(len(e.orbit.Regions), func(i int) error {
		region := e.orbit.Regions[i].Name
		bucket := facts[region].Orbit[compile.StateBucketOutput]
		if bucket == "" {
			return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no state bucket in %s; run `elevator orbit up`", e.orbit.Name, region)
		}
		cfg, err := e.configs.For(ctx, region)
		if err != nil {
			return err
		}
		_, err = orbit.PublishAgent(ctx, s3.New(cfg), bucket, agent)
		return err
	})
	if err != nil {
		return "", err
	}
	if _, err := r.dp.d.Submit(ctx, rel); err != nil {
		return "", err
	}
	return rel.ID, nil
}

// Status reads the release's record; a release submitted whose record is
// not written yet has not ended.
func (r *stageReleaser) Status(ctx context.Context, orbitName, id string) (pipeline.ReleaseStatus, error) {
	if err := r.own(orbitName); err != nil {
		return pipeline.ReleaseStatus{}, err
	}
	rec, err := r.dp.d.Store().Record(ctx, id)
	if errors.Is(err, release.ErrNotFound) {
		return pipeline.ReleaseStatus{}, nil
	}
	if err != nil {
		return pipeline.ReleaseStatus{}, err
	}
	return pipeline.ReleaseStatus{Done: rec.State.Ended(), Succeeded: rec.State == elevator.StateSuccess, Message: string(rec.State) + " " + rec.Error}, nil
}

// Review computes the stage's review as `pipeline resume` does
// (stagerelease.Review), so that a review computed here and one computed
// by a command are the same.
func (r *stageReleaser) Review(ctx context.Context, orbitName string) ([]elevator.ChangeSetRef, error) {
	if err := r.own(orbitName); err != nil {
		return nil, err
	}
	e := r.dp.env
	a, err := stagerelease.App(r.src, orbitName)
	if err != nil {
		return nil, err
	}
	svc := &app.Service{Clients: func(region string) (app.Clients, error) {
		cfg, err := e.configs.For(ctx, region)
		if err != nil {
			return app.Clients{}, err
		}
		return app.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), LoadBalancing: elbv2.New(cfg)}, nil
	}}
	cfg, err := e.configs.For(ctx, e.orbit.Regions[0].Name)
	if err != nil {
		return nil, err
	}
	svc.Identity = sts.New(cfg)
	return stagerelease.Review(ctx, a, e.orbit, svc)
}

// Pin reads the pin a rollback left in the deployer's orbit.
func (r *stageReleaser) Pin(ctx context.Context, orbitName string) (string, error) {
	if err := r.own(orbitName); err != nil {
		return "", err
	}
	return stagerelease.Pin(ctx, r.dp.env.backend.Store, r.app)
}

// Notify publishes to the deployer's orbit's info topic; another orbit's
// is not the deployer's to publish to (the executor logs the error).
func (r *stageReleaser) Notify(ctx context.Context, orbitName, subject, message string) error {
	if err := r.own(orbitName); err != nil {
		return err
	}
	e := r.dp.env
	home := e.orbit.Regions[0].Name
	topic := e.orbitOutputs[home][compile.TopicOutput(elevator.SeverityInfo)]
	if topic == "" {
		return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no %s output in %s; run `elevator orbit up`", orbitName, compile.TopicOutput(elevator.SeverityInfo), home)
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
