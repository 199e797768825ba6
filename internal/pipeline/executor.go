package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/window"
)

// Outcome is what a stage's step asks for: to move to Next, to be run
// again After a delay (Next unchanged), or to Park: the execution is
// written and the executor returns; the next Run continues it.
type Outcome struct {
	Next  elevator.StageState
	After time.Duration
	Park  bool
}

// step advances one stage. It re-reads what it needs and is safe to run
// twice: a crash between a step and the write of its outcome runs it
// again.
type step func(ctx context.Context, x *Executor, e *elevator.PipelineExecution, i int) (Outcome, error)

// transition is a row of the table: a state's step and the states it may
// move to.
type transition struct {
	step step
	next []elevator.StageState
}

// table is the pipeline's stage machine. Succeeded and Failed are final.
var table = map[elevator.StageState]transition{
	elevator.StagePending: {pending, []elevator.StageState{elevator.StageWaiting}},
	elevator.StageWaiting: {waiting, []elevator.StageState{elevator.StageUpdating, elevator.StageReleasing, elevator.StageFailed}},
	// Updating goes back to Waiting when a reviewed change set went stale:
	// what runs must be what was reviewed (and approved).
	elevator.StageUpdating:  {updating, []elevator.StageState{elevator.StageReleasing, elevator.StageWaiting, elevator.StageFailed}},
	elevator.StageReleasing: {releasing, []elevator.StageState{elevator.StageBaking, elevator.StageFailed}},
	elevator.StageBaking:    {baking, []elevator.StageState{elevator.StageSucceeded}},
}

// Executor drives pipeline executions of one app.
type Executor struct {
	App *elevator.App // its Pipeline is what Start records
	// Sources, when set, name the manifests the execution ships; Start
	// records them.
	Sources  *elevator.PipelineSourcesRef
	Store    Store
	Releaser Releaser
	// Reviewer makes the change sets a stage reviews and executes them
	// before its releases; without one a stage leaves the app's
	// infrastructure alone.
	Reviewer Reviewer
	// Pins, when set, holds a stage whose orbit a rollback pinned.
	Pins Pins
	// Images promotes the images of a stage that says promote_images;
	// without one such a stage waits at its end for a driver that has it.
	Images Images
	// Notifier, when set, is told when a stage starts releasing, waits
	// for an approval of a new review, or fails, and when the execution
	// ends. A notification that cannot be sent is logged, not retried:
	// the execution does not wait for it.
	Notifier Notifier
	// Owner names this process in leases, such as host:pid.
	Owner string
	// Lease is how long a lease lasts between writes; 2 minutes when 0.
	Lease time.Duration
	// MaxWait is the longest wait the executor sleeps through; a longer
	// one (or any approval) parks the execution. 0 parks at every wait
	// that is not a release poll.
	MaxWait time.Duration
	// Poll is how often a release's status is read; 5 s when 0.
	Poll time.Duration
	// Now, Sleep and Log default to time.Now, a sleep that ends with its
	// context, and a logger that drops everything. After, time.After when
	// nil, times the lease's heartbeat (see heartbeat).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	After func(d time.Duration) <-chan time.Time
	Log   *slog.Logger
	// Progress, when set, is told about every transition.
	Progress func(e *elevator.PipelineExecution, stage string, from, to elevator.StageState)
}

func (x *Executor) now() time.Time { return x.Now().UTC().Truncate(time.Millisecond) }

// defaults fills what the caller left out: the clock, a sleep that ends
// with ctx, and a logger that drops everything.
func (x *Executor) defaults() {
	if x.Now == nil {
		x.Now = time.Now
	}
	if x.Sleep == nil {
		x.Sleep = elevator.Sleep
	}
	if x.Log == nil {
		x.Log = slog.New(slog.DiscardHandler)
	}
	if x.After == nil {
		x.After = time.After
	}
}

func (x *Executor) lease() time.Duration {
	if x.Lease > 0 {
		return x.Lease
	}
	return 2 * time.Minute
}

func (x *Executor) poll() time.Duration {
	if x.Poll > 0 {
		return x.Poll
	}
	return 5 * time.Second
}

// Start records a new execution of the app's pipeline for version,
// started by the caller by, with id, and returns it; Run drives it. It
// returns an EINVALID error when the app has no pipeline.
func (x *Executor) Start(ctx context.Context, id, version, by string) (*elevator.PipelineExecution, error) {
	return x.start(ctx, id, version, by, false)
}

// StartLeased is Start for a caller that runs the execution next (Run):
// the first record is written already leased to x.Owner, so that no
// other driver (a deployer's round) takes the execution between Start
// and Run. If the caller dies before Run, another driver takes it once
// the lease ended.
func (x *Executor) StartLeased(ctx context.Context, id, version, by string) (*elevator.PipelineExecution, error) {
	return x.start(ctx, id, version, by, true)
}

func (x *Executor) start(ctx context.Context, id, version, by string, leased bool) (*elevator.PipelineExecution, error) {
	x.defaults()
	if x.App.Pipeline == nil {
		return nil, elevator.Errorf(elevator.EINVALID, "app %s has no pipeline section", x.App.Name)
	}
	now := x.now()
	e := &elevator.PipelineExecution{
		ID: id, App: x.App.Name, Version: version, StartedBy: by, StartedAt: now,
		State: elevator.ExecutionRunning, Pipeline: *x.App.Pipeline, Sources: x.Sources, Revision: 1, UpdatedAt: now,
	}
	for _, s := range x.App.Pipeline.Stages {
		e.Stages = append(e.Stages, elevator.StageRun{Name: s.Name, State: elevator.StagePending})
	}
	if leased {
		e.Owner, e.LeaseExpires = x.Owner, now.Add(x.lease())
	}
	if err := x.Store.Put(ctx, e); err != nil {
		return nil, fmt.Errorf("store pipeline execution %s: %w", id, err)
	}
	x.audit(ctx, e, "", "pipeline.start", by, "started", "version "+version)
	return e, nil
}

// Run drives execution id until it ends or parks, and returns its record
// as last written. It returns ErrLeased when another process holds the
// lease, and the error of a step or a write otherwise (the lease is kept
// until it expires, so a crash and an error look alike to others).
func (x *Executor) Run(ctx context.Context, id string) (*elevator.PipelineExecution, error) {
	x.defaults()
	e, err := x.acquire(ctx, id)
	if err != nil {
		return e, err
	}
	for {
		if e.State.Done() {
			return e, nil
		}
		if e.Cancel != nil {
			e.State = elevator.ExecutionCancelled
			if err := x.write(ctx, e, true); err != nil {
				return e, err
			}
			x.notifyDone(ctx, e)
			x.audit(ctx, e, "", "pipeline.cancelled", e.Cancel.By, "cancelled", e.Cancel.Reason)
			continue
		}
		i := current(e)
		if i < 0 {
			e.State = elevator.ExecutionSucceeded
			if err := x.write(ctx, e, true); err != nil {
				return e, err
			}
			x.notifyDone(ctx, e)
			continue
		}
		s := &e.Stages[i]
		if s.State == elevator.StageFailed {
			e.State = elevator.ExecutionFailed
			if err := x.write(ctx, e, true); err != nil {
				return e, err
			}
			x.notifyDone(ctx, e)
			continue
		}
		row, ok := table[s.State]
		if !ok {
			return e, elevator.Errorf(elevator.EINTERNAL, "pipeline %s stage %s: no step for state %s", e.ID, s.Name, s.State)
		}
		from := s.State
		askedBefore := slices.Contains(s.WaitingFor, elevator.WaitApproval)
		reviewBefore := s.Review
		s.WaitingFor = slices.DeleteFunc(s.WaitingFor, isAccessWait) // this driver may have the access
		// A step may run as long as a stage's release: the lease is
		// renewed meanwhile.
		hb := x.heartbeat(ctx, e)
		out, err := row.step(hb.ctx, x, e, i)
		if lost := hb.stop(e); lost != nil {
			return e, lost
		}
		if blocked := (*BlockedError)(nil); errors.As(err, &blocked) {
			s.WaitingFor, out, err = []string{elevator.WaitAccess + ": " + blocked.Error()}, Outcome{Park: true}, nil
		}
		if err != nil {
			return e, fmt.Errorf("pipeline %s stage %s in %s: %w", e.ID, s.Name, from, err)
		}
		if out.Next != "" && out.Next != from {
			if !slices.Contains(row.next, out.Next) {
				return e, elevator.Errorf(elevator.EINTERNAL, "pipeline %s stage %s: %s may not move to %s", e.ID, s.Name, from, out.Next)
			}
			s.State = out.Next
			switch out.Next {
			case elevator.StageWaiting:
				s.StartedAt = x.now()
			case elevator.StageSucceeded, elevator.StageFailed:
				s.EndedAt = x.now()
			}
		}
		asks := slices.Contains(s.WaitingFor, elevator.WaitApproval) && (!askedBefore || !elevator.SameReview(reviewBefore, s.Review))
		if out.Park {
			if err := x.write(ctx, e, false); err != nil {
				if isStale(err) {
					// An approval or a cancel landed: read it and go on.
					if e, err = x.acquire(ctx, id); err != nil {
						return e, err
					}
					continue
				}
				return e, err
			}
			if asks {
				x.notify(ctx, e, &e.Stages[i], EventApprovalNeeded)
			}
			return e, nil
		}
		if err := x.write(ctx, e, true); err != nil {
			if isStale(err) {
				if e, err = x.acquire(ctx, id); err != nil {
					return e, err
				}
				continue
			}
			return e, err
		}
		if out.Next != "" && out.Next != from {
			x.Log.Info("pipeline stage moved", "execution", e.ID, "stage", s.Name, "from", from, "to", out.Next)
			if x.Progress != nil {
				x.Progress(e, s.Name, from, out.Next)
			}
			switch out.Next {
			case elevator.StageReleasing:
				x.notify(ctx, e, s, EventStageStarted)
			case elevator.StageFailed:
				x.notify(ctx, e, s, EventStageFailed)
			}
		}
		if out.After > 0 {
			hb := x.heartbeat(ctx, e)
			err := x.Sleep(hb.ctx, out.After)
			if lost := hb.stop(e); lost != nil {
				return e, lost
			}
			if err != nil {
				return e, err
			}
			// Decisions land while the executor sleeps.
			if e, err = x.acquire(ctx, id); err != nil {
				return e, err
			}
		}
	}
}

// notify tells the orbits of stage s about event.
func (x *Executor) notify(ctx context.Context, e *elevator.PipelineExecution, s *elevator.StageRun, event string) {
	if x.Notifier == nil {
		return
	}
	n := Notice{Event: event, Pipeline: e.ID, App: e.App, Version: e.Version, Stage: s.Name, State: string(s.State),
		WaitingFor: s.WaitingFor, Until: s.Until, Error: s.Error}
	subject := fmt.Sprintf("%s %s: stage %s %s", e.App, e.Version, s.Name, strings.ReplaceAll(event, "_", " "))
	x.send(ctx, e.Pipeline.Stage(s.Name).Orbits, subject, n)
}

// notifyDone tells the orbits of the last stage that ran that the
// execution ended.
func (x *Executor) notifyDone(ctx context.Context, e *elevator.PipelineExecution) {
	if x.Notifier == nil {
		return
	}
	last := e.Pipeline.Stages[0]
	for i, s := range e.Stages {
		if s.State != elevator.StagePending {
			last = e.Pipeline.Stages[i]
		}
	}
	n := Notice{Event: EventPipelineDone, Pipeline: e.ID, App: e.App, Version: e.Version, State: string(e.State)}
	x.send(ctx, last.Orbits, fmt.Sprintf("%s %s: pipeline %s", e.App, e.Version, strings.ToLower(string(e.State))), n)
}

func (x *Executor) send(ctx context.Context, orbits []string, subject string, n Notice) {
	b, err := json.Marshal(n)
	if err != nil {
		x.Log.Error("encode pipeline notice", "execution", n.Pipeline, "error", err)
		return
	}
	for _, o := range orbits {
		if err := x.Notifier.Notify(ctx, o, subject, string(b)); err != nil {
			x.Log.Warn("pipeline notification not sent", "execution", n.Pipeline, "orbit", o, "event", n.Event, "error", err)
		}
	}
}

// current is the index of the first stage that has not succeeded, or -1.
func current(e *elevator.PipelineExecution) int {
	for i, s := range e.Stages {
		if s.State != elevator.StageSucceeded {
			return i
		}
	}
	return -1
}

// acquire reads the execution and takes (or renews) its lease with a
// conditional write. A record that has ended needs no lease.
func (x *Executor) acquire(ctx context.Context, id string) (*elevator.PipelineExecution, error) {
	for {
		e, err := x.Store.Get(ctx, x.App.Name, id)
		if err != nil {
			return nil, fmt.Errorf("read pipeline execution %s: %w", id, err)
		}
		if e.State.Done() {
			return e, nil
		}
		now := x.now()
		if e.Owner != "" && e.Owner != x.Owner && now.Before(e.LeaseExpires) {
			return e, fmt.Errorf("pipeline %s is driven by %s until %s: %w", id, e.Owner, e.LeaseExpires.Format(time.RFC3339), ErrLeased)
		}
		err = x.write(ctx, e, true)
		if isStale(err) {
			continue // someone wrote between the read and the write; look again
		}
		return e, err
	}
}

// beat is the lease's heartbeat while a step runs or the executor
// sleeps: every third of the lease it writes the record as this process
// last stored it, on condition of its revision, with the lease renewed.
// The step works on its own copy of the record, which it writes when it
// returns.
type beat struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	quit   chan struct{}
	done   chan struct{}

	mu sync.Mutex
	// base is the record as this process last stored it; moved says
	// that another process's write (a decision) landed since the step
	// began, so the step's copy is stale.
	base  elevator.PipelineExecution
	moved bool
	lost  error
}

// heartbeat starts renewing the lease of e, as stored, in the background.
func (x *Executor) heartbeat(ctx context.Context, e *elevator.PipelineExecution) *beat {
	b := &beat{quit: make(chan struct{}), done: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancelCause(ctx)
	// The base is a deep copy: the step changes e's stages (their maps
	// and slices) while the heartbeat writes the record as it was.
	raw, err := json.Marshal(e)
	if err == nil {
		err = json.Unmarshal(raw, &b.base)
	}
	if err != nil {
		x.Log.Error("pipeline lease not renewed during a step", "execution", e.ID, "error", err)
		close(b.done)
		b.base = *e
		return b
	}
	// Each beat's timer is set before the beat before it writes, so that
	// a clock that moves (a test's) finds it set.
	tick := x.After(x.lease() / 3)
	go func() {
		defer close(b.done)
		for {
			select {
			case <-b.quit:
				return
			case <-b.ctx.Done():
				return
			case <-tick:
			}
			tick = x.After(x.lease() / 3)
			x.renew(b)
		}
	}()
	return b
}

// renew writes b's record with the lease renewed. A write that finds the
// record changed reads it again: a record whose lease another process
// holds (it took the execution over while this one was slow), or that
// another process ended, ends the step, with ErrLeased; any other change
// (a decision) is kept, and the lease renewed on top of it.
func (x *Executor) renew(b *beat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range 3 {
		next := b.base
		next.Revision++
		next.UpdatedAt = x.now()
		next.Owner, next.LeaseExpires = x.Owner, next.UpdatedAt.Add(x.lease())
		err := x.Store.Put(b.ctx, &next)
		if err == nil {
			b.base = next
			return
		}
		if !isStale(err) {
			x.Log.Warn("pipeline lease not renewed", "execution", next.ID, "error", err)
			return
		}
		fresh, err := x.Store.Get(b.ctx, next.App, next.ID)
		if err != nil {
			x.Log.Warn("pipeline lease not renewed", "execution", next.ID, "error", err)
			return
		}
		if fresh.Owner != "" && fresh.Owner != x.Owner && x.now().Before(fresh.LeaseExpires) {
			b.lost = fmt.Errorf("pipeline %s was taken over by %s (lease until %s) while this process drove it: %w",
				fresh.ID, fresh.Owner, fresh.LeaseExpires.Format(time.RFC3339), ErrLeased)
			x.Log.Error("pipeline lease lost", "execution", fresh.ID, "owner", fresh.Owner)
			b.cancel(b.lost)
			return
		}
		if fresh.State.Done() {
			// Another process ended it (a cancel, or a driver that took
			// over and finished): stop the step, write nothing.
			b.lost = fmt.Errorf("pipeline %s ended %s in another process while this one drove it: %w", fresh.ID, fresh.State, ErrLeased)
			x.Log.Warn("pipeline ended elsewhere", "execution", fresh.ID, "state", fresh.State)
			b.cancel(b.lost)
			return
		}
		b.base, b.moved = *fresh, true
	}
}

// stop ends the heartbeat and returns ErrLeased (wrapped) when it found
// the execution taken over. Otherwise, when only the heartbeat wrote the
// record since the step began, e takes the revision and lease it wrote,
// so that the step's write lands; when a decision landed, e keeps its
// revision, and its write finds it stale and reads the decision.
func (b *beat) stop(e *elevator.PipelineExecution) error {
	close(b.quit)
	<-b.done // closed at once when no heartbeat ran
	b.cancel(nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lost != nil {
		return b.lost
	}
	if !b.moved {
		e.Revision, e.UpdatedAt, e.Owner, e.LeaseExpires = b.base.Revision, b.base.UpdatedAt, b.base.Owner, b.base.LeaseExpires
	}
	return nil
}

// write stores e as its next revision, holding the lease (hold) or giving
// it up (when the execution parks or ends).
func (x *Executor) write(ctx context.Context, e *elevator.PipelineExecution, hold bool) error {
	next := *e
	next.Revision++
	next.UpdatedAt = x.now()
	next.Owner, next.LeaseExpires = x.Owner, next.UpdatedAt.Add(x.lease())
	if !hold || next.State.Done() {
		next.Owner, next.LeaseExpires = "", time.Time{}
	}
	if err := x.Store.Put(ctx, &next); err != nil {
		return fmt.Errorf("store revision %d of pipeline %s: %w", next.Revision, e.ID, err)
	}
	*e = next
	return nil
}

func (x *Executor) audit(ctx context.Context, e *elevator.PipelineExecution, orbit, action, by, outcome, detail string) {
	err := x.Store.Audit(ctx, elevator.AuditEntry{At: x.now(), By: by, Action: action, App: e.App, Orbit: orbit, Outcome: outcome,
		Detail: fmt.Sprintf("pipeline %s: %s", e.ID, detail)})
	if err != nil {
		x.Log.Error("audit pipeline decision", "execution", e.ID, "action", action, "error", err)
	}
}

// pending starts a stage: the first one, or one whose previous stage
// succeeded and that starts by itself (auto) or was promoted.
func pending(_ context.Context, x *Executor, e *elevator.PipelineExecution, i int) (Outcome, error) {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	if i > 0 && !spec.Auto && s.Promoted == nil {
		s.WaitingFor = []string{elevator.WaitPromote}
		return Outcome{Park: true}, nil
	}
	s.WaitingFor = nil
	return Outcome{Next: elevator.StageWaiting}, nil
}

// waiting holds a stage until its approval is given and good for the
// change sets as they are now, and one of its windows is open.
func waiting(ctx context.Context, x *Executor, e *elevator.PipelineExecution, i int) (Outcome, error) {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	now := x.now()
	if s.Rejection != nil {
		s.Error = fmt.Sprintf("rejected by %s: %s", s.Rejection.By, s.Rejection.Reason)
		return Outcome{Next: elevator.StageFailed}, nil
	}
	s.WaitingFor, s.Until = nil, time.Time{}
	if x.Pins != nil && s.Unpinned == nil {
		s.Pins = nil
		for _, o := range spec.Orbits {
			pin, err := x.Pins.Pin(ctx, o)
			if err != nil {
				return Outcome{}, fmt.Errorf("read the pin of %s: %w", o, err)
			}
			if pin != "" {
				s.Pins = append(s.Pins, o+": "+pin)
			}
		}
		if len(s.Pins) > 0 {
			s.WaitingFor = []string{elevator.WaitUnpin}
			return Outcome{Park: true}, nil
		}
	}
	if spec.Approval != nil {
		if err := x.reviewStage(ctx, e, i); err != nil {
			return Outcome{}, err
		}
		if s.Approval != nil && !now.Before(s.Approval.Expires) {
			s.Approval = nil
		}
		if s.Approval == nil && spec.Approval.Auto == elevator.ApproveSafeChanges && safe(s.Review) {
			s.Approval = &elevator.StageDecision{By: elevator.PolicyApprover, At: now, Reason: elevator.ApproveSafeChanges + ": no stateful resource is removed or replaced",
				Reviewed: slices.Clone(s.Review), Expires: now.Add(spec.Approval.Expiry)}
			x.audit(ctx, e, strings.Join(spec.Orbits, ","), "pipeline.approve", elevator.PolicyApprover, "done", "stage "+s.Name+": approved by policy "+elevator.ApproveSafeChanges)
		}
		if s.Approval == nil {
			s.WaitingFor = []string{elevator.WaitApproval}
			return Outcome{Park: true}, nil
		}
	}
	if s.Override != nil {
		return x.leaveWaiting(ctx, e, i)
	}
	sched, err := schedule(spec)
	if err != nil {
		return Outcome{}, err
	}
	next, ok := sched.NextOpen(now)
	switch {
	case ok && !next.After(now):
		return x.leaveWaiting(ctx, e, i)
	case spec.Outside == elevator.OutsideFail:
		s.Error = "due outside its windows"
		if ok {
			s.Error += "; the next opens at " + next.Format(time.RFC3339)
		}
		return Outcome{Next: elevator.StageFailed}, nil
	case !ok:
		s.Error = "no window opens within a year (freeze dates)"
		return Outcome{Next: elevator.StageFailed}, nil
	}
	s.WaitingFor, s.Until = []string{elevator.WaitWindow}, next
	if d := next.Sub(now); d <= x.MaxWait {
		return Outcome{After: d}, nil
	}
	return Outcome{Park: true}, nil
}

// reviewStage makes (or keeps) the change sets of stage i's orbits; a
// review that is not the one recorded voids the approval: what was shown
// (and maybe approved) is not what would run.
func (x *Executor) reviewStage(ctx context.Context, e *elevator.PipelineExecution, i int) error {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	if x.Reviewer == nil {
		return nil // nothing to review: the approval binds no change set
	}
	var review []elevator.ChangeSetRef
	for _, o := range spec.Orbits {
		var previous []elevator.ChangeSetRef
		for _, r := range s.Review {
			if r.Orbit == o {
				previous = append(previous, r)
			}
		}
		refs, err := x.Reviewer.Review(ctx, o, elevator.ReviewOwner(e.ID, s.Name), previous)
		if err != nil {
			return fmt.Errorf("make the change sets in %s for review: %w", o, err)
		}
		review = append(review, refs...)
	}
	if !elevator.SameReview(review, s.Review) {
		s.Review, s.Approval, s.Updates = review, nil, nil
	}
	return nil
}

// leaveWaiting moves a stage whose gates are open on: to Updating when
// its review has a change set to execute, to Releasing when none does.
// A stage without an approval is reviewed now, as it leaves.
func (x *Executor) leaveWaiting(ctx context.Context, e *elevator.PipelineExecution, i int) (Outcome, error) {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	if x.Reviewer == nil {
		return Outcome{Next: elevator.StageReleasing}, nil
	}
	if spec.Approval == nil {
		if err := x.reviewStage(ctx, e, i); err != nil {
			return Outcome{}, err
		}
	}
	s.Error = ""
	for _, r := range s.Review {
		if r.ChangeSetID != "" {
			return Outcome{Next: elevator.StageUpdating}, nil
		}
	}
	return Outcome{Next: elevator.StageReleasing}, nil // no change, no infrastructure step
}

// safe reports whether a review may be approved by the policy
// ApproveSafeChanges: no change removes or may replace a stateful
// resource.
func safe(review []elevator.ChangeSetRef) bool {
	for _, r := range review {
		for _, c := range r.Changes {
			if c.Destructive() {
				return false
			}
		}
	}
	return true
}

// updating executes the stage's reviewed change sets, one at a time,
// marking each started (written before it is executed, so that a resume
// after a crash follows its stack instead of executing it again) and
// done. A change set that went stale sends the stage back to Waiting for
// a new review (and, with an approval gate, a new approval).
func updating(ctx context.Context, x *Executor, e *elevator.PipelineExecution, i int) (Outcome, error) {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	for _, ref := range s.Review {
		if ref.ChangeSetID == "" || s.Updates[ref.ChangeSetID] == elevator.UpdateDone {
			continue
		}
		if s.Updates[ref.ChangeSetID] != elevator.UpdateStarted {
			if s.Updates == nil {
				s.Updates = map[string]string{}
			}
			s.Updates[ref.ChangeSetID] = elevator.UpdateStarted
			x.audit(ctx, e, ref.Orbit, "pipeline.update", e.StartedBy, "started", fmt.Sprintf("stage %s change set %s of %s in %s", s.Name, ref.ChangeSetID, ref.Stack, ref.Region))
			return Outcome{}, nil // write it now, before the change set runs
		}
		err := x.Reviewer.Apply(ctx, ref)
		switch {
		case errors.Is(err, elevator.ErrStaleChangeSet):
			s.Error = err.Error()
			s.Approval, s.Updates = nil, nil
			x.Log.Warn("pipeline reviewed change set stale", "execution", e.ID, "stage", s.Name, "change_set", ref.ChangeSetID, "error", err)
			if spec.Approval == nil {
				return Outcome{Next: elevator.StageWaiting, After: x.poll()}, nil
			}
			return Outcome{Next: elevator.StageWaiting}, nil
		case errors.Is(err, elevator.ErrChangeSetFailed):
			s.Error = fmt.Sprintf("change set %s of %s in %s: %v", ref.ChangeSetID, ref.Stack, ref.Region, err)
			return Outcome{Next: elevator.StageFailed}, nil
		case err != nil:
			return Outcome{}, fmt.Errorf("execute change set %s of %s in %s: %w", ref.ChangeSetID, ref.Stack, ref.Region, err)
		}
		s.Updates[ref.ChangeSetID] = elevator.UpdateDone
		return Outcome{}, nil
	}
	return Outcome{Next: elevator.StageReleasing}, nil
}

// schedule reads a stage's windows and freeze dates, which the manifest
// checked.
func schedule(spec elevator.PipelineStage) (window.Schedule, error) {
	var s window.Schedule
	for _, w := range spec.Windows {
		p, err := window.Parse(w)
		if err != nil {
			return s, elevator.Errorf(elevator.EINVALID, "stage %s window %q: %v", spec.Name, w, err)
		}
		s.Windows = append(s.Windows, p)
	}
	for _, f := range spec.Freeze {
		d, err := window.ParseDate(f)
		if err != nil {
			return s, elevator.Errorf(elevator.EINVALID, "stage %s freeze date %q: %v", spec.Name, f, err)
		}
		s.Freeze = append(s.Freeze, d)
	}
	return s, nil
}

// releasing starts the stage's release in each of its orbits (recording
// each id before it polls), then waits for all of them.
func releasing(ctx context.Context, x *Executor, e *elevator.PipelineExecution, i int) (Outcome, error) {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	for _, o := range spec.Orbits {
		if s.Releases[o] != "" {
			continue
		}
		// The token is the same for every run of this step, so a crash
		// after Start and before the id was written starts no second
		// release.
		id, err := x.Releaser.Start(ctx, o, e.Version, e.ID+"-"+s.Name+"-"+o)
		if err != nil {
			return Outcome{}, fmt.Errorf("start the release in %s: %w", o, err)
		}
		if s.Releases == nil {
			s.Releases = map[string]string{}
		}
		s.Releases[o] = id
		x.audit(ctx, e, o, "pipeline.release", e.StartedBy, "started", "stage "+s.Name+" release "+id)
		return Outcome{}, nil // write the id now, before anything else
	}
	var failed []string
	for _, o := range spec.Orbits {
		st, err := x.Releaser.Status(ctx, o, s.Releases[o])
		if err != nil {
			return Outcome{}, fmt.Errorf("read release %s in %s: %w", s.Releases[o], o, err)
		}
		if !st.Done {
			return Outcome{After: x.poll()}, nil
		}
		if !st.Succeeded {
			failed = append(failed, fmt.Sprintf("release %s in %s failed: %s", s.Releases[o], o, st.Message))
		}
	}
	if len(failed) > 0 {
		s.Error = fmt.Sprint(failed)
		return Outcome{Next: elevator.StageFailed}, nil
	}
	s.Until = x.now().Add(spec.Bake)
	return Outcome{Next: elevator.StageBaking}, nil
}

// baking waits out the stage's bake time.
func baking(ctx context.Context, x *Executor, e *elevator.PipelineExecution, i int) (Outcome, error) {
	s := &e.Stages[i]
	d := s.Until.Sub(x.now())
	switch {
	case d <= 0:
		if err := promoteImages(ctx, x, e, i); err != nil {
			return Outcome{}, err
		}
		s.Until = time.Time{}
		return Outcome{Next: elevator.StageSucceeded}, nil
	case d <= x.MaxWait:
		return Outcome{After: d}, nil
	}
	return Outcome{Park: true}, nil
}

// promoteImages promotes the images of the stage's releases, in each of
// its orbits, to the image stage its promote_images names, and audits it.
// It runs each time the bake ends until the stage moves on: promoting
// again is safe.
func promoteImages(ctx context.Context, x *Executor, e *elevator.PipelineExecution, i int) error {
	s, spec := &e.Stages[i], e.Pipeline.Stages[i]
	if spec.PromoteImages == "" {
		return nil
	}
	for _, o := range spec.Orbits {
		if x.Images == nil {
			return &BlockedError{Orbit: o, Reason: fmt.Sprintf("stage %s promotes its images to %s, which this process cannot do: "+
				"run `elevator pipeline resume` where the credentials may tag, share and copy images in orbit %s", s.Name, spec.PromoteImages, o)}
		}
		lines, err := x.Images.Promote(ctx, o, s.Releases[o], spec.PromoteImages)
		if err != nil {
			return fmt.Errorf("promote the images of release %s in %s to %s: %w", s.Releases[o], o, spec.PromoteImages, err)
		}
		x.audit(ctx, e, o, "pipeline.promote-images", e.StartedBy, "promoted",
			fmt.Sprintf("stage %s release %s images to %s: %s", s.Name, s.Releases[o], spec.PromoteImages, strings.Join(lines, "; ")))
	}
	return nil
}

func isAccessWait(w string) bool { return strings.HasPrefix(w, elevator.WaitAccess+":") }
