package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Decider records people's decisions on executions: approvals,
// rejections, promotions and cancellations. Each is one conditional write
// of the record (retried on ErrStale after a fresh read), audited whether
// it is made or refused; the driver picks it up at its next step, or the
// next `pipeline resume` does.
type Decider struct {
	Store Store
	// Orbits are the orbits as deployed: their access rules say who
	// holds which role, and their settings whether the starter may
	// approve. Never a manifest the caller hands in.
	Orbits DeployedOrbits
	Now    func() time.Time // time.Now when nil
}

// DeployedOrbits reads orbits as `orbit up` last applied them.
type DeployedOrbits interface {
	// Deployed returns the orbit's name, access rules and
	// self-approval setting as applied, and an error wrapping
	// ErrNotDeployed when there is no record of them.
	Deployed(ctx context.Context, orbit string) (*elevator.Orbit, error)
}

// ErrNotDeployed is the cause of DeployedOrbits' error for an orbit whose
// settings as applied are not recorded: decisions in it are refused.
var ErrNotDeployed = errors.New("its settings as applied are not recorded in AWS; an admin of the orbit must run `elevator orbit up` (which records them) before pipelines can decide there")

// deployed returns orbit as deployed; an orbit without a record of its
// settings is refused (ErrRefused).
func (d *Decider) deployed(ctx context.Context, orbit string) (*elevator.Orbit, error) {
	o, err := d.Orbits.Deployed(ctx, orbit)
	if errors.Is(err, ErrNotDeployed) {
		return nil, refused("orbit %s: %v", orbit, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read the settings of orbit %s: %w", orbit, err)
	}
	return o, nil
}

// Audit actions of approvals: a self-approval (the starter approving, as
// the stage's orbits allow) is audited under its own action.
const (
	ActionApprove     = "pipeline.approve"
	ActionSelfApprove = "pipeline.self-approve"
)

// ErrRefused is the error of a decision the caller may not make, or may
// not make now.
var ErrRefused = &elevator.Error{Code: elevator.EINVALID, Message: "decision refused"}

// Approve approves stage of execution id of app for caller (an IAM or STS
// ARN), who was shown the change sets shown, with reason. It refuses, with
// ErrRefused, when the stage does not wait for an approval, when the
// caller is the principal who started the execution
// (elevator.SamePrincipal) and one of the stage's orbits does not allow
// self-approval, when the caller is neither one of the approval's
// principals nor holds one of its roles in each of the stage's orbits,
// and when shown is not the stage's current review (the change sets
// changed since they were shown).
func (d *Decider) Approve(ctx context.Context, app, id, stage, caller string, shown []elevator.ChangeSetRef, reason string) (*elevator.PipelineExecution, error) {
	return d.ApproveSeen(ctx, app, id, stage, caller, func(current []elevator.ChangeSetRef) bool { return elevator.SameReview(shown, current) }, reason)
}

// ApproveSeen is Approve for a caller who names what they were shown some
// other way, such as by a digest: seen reports whether the stage's current
// review is what they saw.
func (d *Decider) ApproveSeen(ctx context.Context, app, id, stage, caller string, seen func(current []elevator.ChangeSetRef) bool, reason string) (*elevator.PipelineExecution, error) {
	return d.decide(ctx, app, id, stage, ActionApprove, caller, reason, func(e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, now time.Time) error {
		self, err := d.mayApprove(ctx, e, s, spec, caller)
		if err != nil {
			return err
		}
		if !seen(s.Review) {
			return refused("the change sets of stage %s changed since they were shown; look at them again (pipeline status) and approve what is there now", s.Name)
		}
		s.Approval = &elevator.StageDecision{By: caller, At: now, Reason: reason, Reviewed: slices.Clone(s.Review), Expires: now.Add(spec.Approval.Expiry),
			Self: self}
		return nil
	})
}

// Reject rejects stage of execution id; the stage fails at the driver's
// next step. Who may reject is who may approve.
func (d *Decider) Reject(ctx context.Context, app, id, stage, caller, reason string) (*elevator.PipelineExecution, error) {
	return d.decide(ctx, app, id, stage, "pipeline.reject", caller, reason, func(e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, now time.Time) error {
		if _, err := d.mayApprove(ctx, e, s, spec, caller); err != nil {
			return err
		}
		s.Rejection = &elevator.StageDecision{By: caller, At: now, Reason: reason}
		return nil
	})
}

// mayApprove refuses caller's approval of stage s, or says whether it is
// a self-approval: caller and the starter are one principal as one of the
// stage's orbits as deployed sees them (its Identity Center roles).
func (d *Decider) mayApprove(ctx context.Context, e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, caller string) (bool, error) {
	if spec.Approval == nil {
		return false, refused("stage %s needs no approval", s.Name)
	}
	if s.State != elevator.StageWaiting || !slices.Contains(s.WaitingFor, elevator.WaitApproval) {
		return false, refused("stage %s does not wait for an approval; it is %s", s.Name, s.State)
	}
	orbits := make([]*elevator.Orbit, len(spec.Orbits))
	for i, o := range spec.Orbits {
		var err error
		if orbits[i], err = d.deployed(ctx, o); err != nil {
			return false, err
		}
	}
	self := false
	for _, orbit := range orbits {
		self = self || elevator.SamePrincipal(caller, e.StartedBy, orbit.IdentityCenterRoles)
	}
	if self {
		for i, orbit := range orbits {
			if !orbit.SelfApproval {
				return false, refused("%s started this execution (as %s); someone else must approve stage %s (orbit %s does not allow self-approval)", caller, e.StartedBy, s.Name, spec.Orbits[i])
			}
		}
	}
	for _, p := range spec.Approval.Principals {
		if elevator.MatchPrincipal(p, caller) {
			return self, nil
		}
	}
	for i, orbit := range orbits {
		o := spec.Orbits[i]
		has := orbit.RoleOf(caller, e.App)
		if !slices.ContainsFunc(spec.Approval.Roles, has.Covers) {
			roles := make([]string, len(spec.Approval.Roles))
			for i, r := range spec.Approval.Roles {
				roles[i] = string(r)
			}
			held := "none"
			if has != "" {
				held = string(has)
			}
			return false, refused("approving stage %s needs one of the roles %s in orbit %s (or one of the stage's principals); %s holds %s there",
				s.Name, strings.Join(roles, ", "), o, caller, held)
		}
	}
	return self, nil
}

// Promote starts a stage that does not start by itself, once the stage
// before it has succeeded. Anyone who may deploy to each of its orbits
// may promote it.
func (d *Decider) Promote(ctx context.Context, app, id, stage, caller, reason string) (*elevator.PipelineExecution, error) {
	return d.decide(ctx, app, id, stage, "pipeline.promote", caller, reason, func(e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, now time.Time) error {
		if s.State != elevator.StagePending {
			return refused("stage %s is %s, not pending", s.Name, s.State)
		}
		if err := d.holdsIn(ctx, spec, e.App, caller, elevator.RoleDeployer, "promoting stage "+s.Name); err != nil {
			return err
		}
		s.Promoted = &elevator.StageDecision{By: caller, At: now, Reason: reason}
		return nil
	})
}

// Override lets a stage that waits for its window release now. Only an
// admin of each of the stage's orbits may override; the override is
// audited like every decision.
func (d *Decider) Override(ctx context.Context, app, id, stage, caller, reason string) (*elevator.PipelineExecution, error) {
	return d.decide(ctx, app, id, stage, "pipeline.override", caller, reason, func(e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, now time.Time) error {
		if s.State != elevator.StageWaiting || !slices.Contains(s.WaitingFor, elevator.WaitWindow) {
			return refused("stage %s does not wait for a window; it is %s", s.Name, s.State)
		}
		if err := d.holdsIn(ctx, spec, e.App, caller, elevator.RoleAdmin, "overriding the windows of stage "+s.Name); err != nil {
			return err
		}
		s.Override = &elevator.StageDecision{By: caller, At: now, Reason: reason}
		return nil
	})
}

// Unpin clears, for this execution, the pins that hold a stage: it may
// then release into orbits where a person rolled the app back. It needs
// the approver role in each of the stage's orbits, and is audited.
func (d *Decider) Unpin(ctx context.Context, app, id, stage, caller, reason string) (*elevator.PipelineExecution, error) {
	return d.decide(ctx, app, id, stage, "pipeline.unpin", caller, reason, func(e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, now time.Time) error {
		if s.State != elevator.StageWaiting || !slices.Contains(s.WaitingFor, elevator.WaitUnpin) {
			return refused("stage %s is not held by a pin; it is %s", s.Name, s.State)
		}
		if err := d.holdsIn(ctx, spec, e.App, caller, elevator.RoleApprover, "unpinning stage "+s.Name); err != nil {
			return err
		}
		s.Unpinned = &elevator.StageDecision{By: caller, At: now, Reason: reason}
		return nil
	})
}

// holdsIn refuses, saying what doing needs, unless caller holds role for
// app in each orbit of the stage spec.
func (d *Decider) holdsIn(ctx context.Context, spec elevator.PipelineStage, app, caller string, role elevator.AccessRole, doing string) error {
	for _, o := range spec.Orbits {
		orbit, err := d.deployed(ctx, o)
		if err != nil {
			return err
		}
		if !orbit.RoleOf(caller, app).Covers(role) {
			return refused("%s needs the %s role in orbit %s; %s does not hold it", doing, role, o, caller)
		}
	}
	return nil
}

// Cancel asks the driver to end the execution; releases already running
// go on to their end. Anyone who may deploy to one of the pipeline's
// orbits, or who started it, may cancel it.
func (d *Decider) Cancel(ctx context.Context, app, id, caller, reason string) (*elevator.PipelineExecution, error) {
	return d.decide(ctx, app, id, "", "pipeline.cancel", caller, reason, func(e *elevator.PipelineExecution, _ *elevator.StageRun, _ elevator.PipelineStage, now time.Time) error {
		allowed := caller == e.StartedBy
		for _, s := range e.Pipeline.Stages {
			for _, o := range s.Orbits {
				if allowed {
					break
				}
				// An orbit without recorded settings grants nothing.
				if orbit, err := d.Orbits.Deployed(ctx, o); err == nil && orbit.RoleOf(caller, e.App).Covers(elevator.RoleDeployer) {
					allowed = true
				}
			}
		}
		if !allowed {
			return refused("cancelling needs the deployer role in one of the pipeline's orbits; %s holds none", caller)
		}
		e.Cancel = &elevator.StageDecision{By: caller, At: now, Reason: reason}
		return nil
	})
}

func refused(format string, args ...any) error {
	return elevator.Errorf(elevator.EINVALID, format+": %w", append(args, ErrRefused)...)
}

// decide applies a decision to a fresh read of the record and writes it,
// again after a fresh read when another write came between. stage "" is
// a decision on the whole execution.
func (d *Decider) decide(ctx context.Context, app, id, stage, action, caller, reason string,
	apply func(e *elevator.PipelineExecution, s *elevator.StageRun, spec elevator.PipelineStage, now time.Time) error) (*elevator.PipelineExecution, error) {
	for {
		e, err := d.Store.Get(ctx, app, id)
		if err != nil {
			return nil, fmt.Errorf("read pipeline execution %s: %w", id, err)
		}
		clock := d.Now
		if clock == nil {
			clock = time.Now
		}
		now := clock().UTC().Truncate(time.Millisecond)
		orbit := ""
		var s *elevator.StageRun
		var spec elevator.PipelineStage
		if stage != "" {
			if s = e.Stage(stage); s == nil {
				return e, elevator.Errorf(elevator.EINVALID, "pipeline %s has no stage %s", id, stage)
			}
			spec = *e.Pipeline.Stage(stage)
			orbit = strings.Join(spec.Orbits, ",")
		}
		if e.State.Done() {
			err = refused("pipeline %s has ended: %s", id, e.State)
		} else {
			err = apply(e, s, spec, now)
		}
		entry := elevator.AuditEntry{At: now, By: caller, Action: action, App: app, Orbit: orbit, Outcome: "done",
			Detail: fmt.Sprintf("pipeline %s stage %s: %s", id, stage, reason)}
		if err == nil && action == ActionApprove && s.Approval != nil && s.Approval.Self {
			entry.Action = ActionSelfApprove
		}
		if err != nil {
			entry.Outcome, entry.Detail = "refused", fmt.Sprintf("pipeline %s stage %s: %v", id, stage, err)
			if aerr := d.Store.Audit(ctx, entry); aerr != nil {
				return e, fmt.Errorf("%w (and auditing the refusal failed: %v)", err, aerr)
			}
			return e, err
		}
		// The audit entry is written first: a decision that is not in the
		// log is not made. A write that lost a race is audited again when
		// it is retried.
		if err := d.Store.Audit(ctx, entry); err != nil {
			return e, fmt.Errorf("audit %s: %w", action, err)
		}
		e.Revision++
		e.Decisions++
		e.UpdatedAt = now
		if err := d.Store.Put(ctx, e); isStale(err) {
			continue
		} else if err != nil {
			return e, fmt.Errorf("store pipeline execution %s: %w", id, err)
		}
		return e, nil
	}
}
