package deployer

import (
	"context"
	"errors"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// This file is the deployer's part in pipelines (docs/pipelines.md): the
// deployers of the orbit whose releases table holds an execution (the
// orbit of its first stage) drive it, so that waiting for an approval, a
// window or a bake holds no process of the user's.

// Executions lists the pipeline executions kept in the orbit's releases
// table that have not ended (awspipeline.Store is one).
type Executions interface {
	Running(ctx context.Context) ([]*elevator.PipelineExecution, error)
}

// Pipelines is what the deployer needs to drive pipeline executions.
type Pipelines struct {
	Executions Executions
	// Drive runs an execution until it ends or parks (pipeline.Executor's
	// Run with the deployer's releaser) and returns its record as last
	// written. It returns an ECONFLICT error when another process holds
	// the execution's lease.
	Drive func(ctx context.Context, e *elevator.PipelineExecution) (*elevator.PipelineExecution, error)
	// Every is the time between two looks at the executions
	// (DefaultPipelineEvery when 0).
	Every time.Duration
	// Recheck is how often a parked execution that nothing changed is
	// run again all the same, for what its record cannot show (a pin
	// cleared by a release made by hand): DefaultPipelineRecheck when 0.
	Recheck time.Duration
}

// Defaults of Pipelines.
const (
	DefaultPipelineEvery   = 15 * time.Second
	DefaultPipelineRecheck = 10 * time.Minute
)

// SubmissionTakeDeadline is how long after a pipeline stage submitted a
// release to another orbit (the time in its id) that orbit's deployers
// have to take it, writing its record, before the stage says the orbit's
// deployer has not taken it: a deployer that died with the submission's
// message comes back after a lease, another finds it at its next listing
// of the submissions (Reconcile), so a live orbit takes it within two
// leases and a listing (release.DefaultLease, DefaultReconcile).
const SubmissionTakeDeadline = 2*release.DefaultLease + DefaultReconcile

// PipelineRetry is how long after a run of an execution failed the
// deployer runs it again when nothing changed its record.
const PipelineRetry = time.Minute

// parked is what the deployer saw of an execution it left parked.
type parked struct {
	// calls is the record's Decisions + HandOvers: every replica's runs
	// write the record (its revision moves at each lease taken and
	// given up), so only a decision's write, or a driver's hand-over,
	// says that it calls for a run.
	calls int64
	at    time.Time
	// lease is the end of another process's lease the record held then.
	lease time.Time
	// retry, when set, is when a run that failed is tried again.
	retry time.Time
}

// pipelines is the deployer's state of the executions it drives.
type pipelines struct {
	mu      sync.Mutex
	driving map[string]bool   // by execution id
	seen    map[string]parked // the record it parked, by execution id
}

// due says whether the deployer runs execution e now: it has not ended,
// no other process holds its lease, and something may have changed since
// this deployer parked it — a decision wrote its record (an approval, a
// promotion, a cancel: Decisions moved) or a stopping driver handed it
// over (HandOvers moved), the time a stage waits for has
// come since (Until passed), another process died holding its lease, or
// Recheck has passed. An execution this deployer has not seen (a new
// one, or after a restart) is due. Another replica's runs, which write
// the record too, do not make it due: two replicas do not run a parked
// execution in turn forever.
func (d *Deployer) pipelineDue(e *elevator.PipelineExecution, now time.Time) bool {
	if e.State.Done() || (e.Owner != "" && e.Owner != d.owner && now.Before(e.LeaseExpires)) {
		return false
	}
	d.pipes.mu.Lock()
	defer d.pipes.mu.Unlock()
	if d.pipes.driving[e.ID] {
		return false
	}
	p, ok := d.pipes.seen[e.ID]
	if !ok || p.calls != callsOf(e) || now.Sub(p.at) >= d.o.Pipelines.Recheck || (!p.retry.IsZero() && !now.Before(p.retry)) {
		return true
	}
	if e.Owner != "" && e.Owner != d.owner && !e.LeaseExpires.Equal(p.lease) {
		return true // a lease it had not seen ended with its driver: it died while driving
	}
	for _, s := range e.Stages {
		if !s.Until.IsZero() && !now.Before(s.Until) && p.at.Before(s.Until) && s.State != elevator.StageSucceeded && s.State != elevator.StageFailed {
			return true
		}
	}
	return false
}

// pipelineLoop looks at the running executions every Pipelines.Every and
// drives those that are due, each in a goroutine of its own.
func (d *Deployer) pipelineLoop(ctx context.Context) {
	for {
		d.pipelinesOnce(ctx)
		if !d.sleep(ctx, elevator.Jitter(d.o.Pipelines.Every, nil)) {
			return
		}
	}
}

func (d *Deployer) pipelinesOnce(ctx context.Context) {
	list, err := d.o.Pipelines.Executions.Running(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("list pipeline executions failed", "err", err)
		}
		return
	}
	now := d.clock.Now()
	for _, e := range list {
		if ctx.Err() != nil || !d.Ready() {
			return
		}
		if !d.pipelineDue(e, now) {
			continue
		}
		d.drivePipeline(ctx, e)
	}
}

// drivePipeline runs execution e in a goroutine unless one does already.
func (d *Deployer) drivePipeline(ctx context.Context, e *elevator.PipelineExecution) {
	d.pipes.mu.Lock()
	if d.pipes.driving[e.ID] {
		d.pipes.mu.Unlock()
		return
	}
	d.pipes.driving[e.ID] = true
	d.pipes.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		log := d.log.With("pipeline", e.ID, "app", e.App, "version", e.Version)
		log.Info("pipeline driven", "revision", e.Revision)
		out, err := d.o.Pipelines.Drive(ctx, e)
		d.pipes.mu.Lock()
		defer d.pipes.mu.Unlock()
		delete(d.pipes.driving, e.ID)
		switch {
		case err == nil && out != nil && out.State.Done():
			delete(d.pipes.seen, e.ID)
			log.Info("pipeline ended", "state", out.State)
		case err == nil && out != nil:
			d.pipes.seen[e.ID] = parked{calls: callsOf(out), at: d.clock.Now(), lease: othersLease(out, d.owner)}
			log.Info("pipeline parked", "revision", out.Revision, "stages", stagesOf(out))
		case elevator.ErrorCode(err) == elevator.ECONFLICT:
			// The other process parks it; this deployer runs it again
			// when a decision or the time calls for it, or when that
			// process dies holding the lease.
			d.pipes.seen[e.ID] = parked{calls: callsOf(e), at: d.clock.Now(), lease: e.LeaseExpires}
			log.Info("pipeline driven by another process", "err", err)
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			log.Info("pipeline left at shutdown; its lease ends and another deployer goes on")
		default:
			// Again when something changes, or after a while: an
			// execution this deployer cannot drive (it pinned no
			// manifest) or whose step failed (AWS throttled) is not run
			// again every round.
			last := e
			if out != nil {
				last = out
			}
			now := d.clock.Now()
			d.pipes.seen[e.ID] = parked{calls: callsOf(last), at: now, lease: othersLease(last, d.owner), retry: now.Add(PipelineRetry)}
			log.Warn("pipeline stopped", "err", err, "retry_in", PipelineRetry.String())
		}
	}()
}

// callsOf counts the writes of e that call for a run: decisions and
// hand-overs.
func callsOf(e *elevator.PipelineExecution) int64 { return e.Decisions + e.HandOvers }

// othersLease is the end of the lease another process than owner holds
// in e, or zero.
func othersLease(e *elevator.PipelineExecution, owner string) time.Time {
	if e.Owner == "" || e.Owner == owner {
		return time.Time{}
	}
	return e.LeaseExpires
}

func stagesOf(e *elevator.PipelineExecution) []string {
	out := make([]string, 0, len(e.Stages))
	for _, s := range e.Stages {
		out = append(out, s.Name+" "+string(s.State))
	}
	return out
}
