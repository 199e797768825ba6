package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// These tests drive the Updating state with the fake reviewer of
// fake_test.go, which keeps change sets as a cloud would: a stale one is
// one whose stack changed since it was made.

// twoStages: a test stage without gates, and a gated staging.
const twoStages = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - orbit: test
    - orbit: staging
      auto: true
      approval: {roles: [approver]}
`

func TestAReviewIsStableAndTheApprovedChangeSetIsWhatRuns(t *testing.T) {
	w := newWorld(t, twoStages)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	first := e.Stage("staging").Review
	if len(first) != 1 || first[0].ChangeSetID == "" || len(first[0].Changes) != 1 {
		t.Fatalf("staging's review %+v: want one change set with its change", first)
	}
	// Every resume computes the review again: nothing changed, so it is
	// the same change set, and no new one is made.
	made := len(w.rev.made)
	for range 3 {
		e, _ = x.Run(ctx, "p1")
	}
	if !elevator.SameReview(e.Stage("staging").Review, first) || len(w.rev.made) != made || len(w.rev.deleted) != 0 {
		t.Fatalf("after three resumes the review is %+v; %d change sets made (want %d), deleted %v", e.Stage("staging").Review, len(w.rev.made), made, w.rev.deleted)
	}
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, first, "ok"); err != nil {
		t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil || e.State != elevator.ExecutionSucceeded {
		t.Fatalf("%s, %v", states(e), err)
	}
	if want := []string{"staging:Pending>Waiting", "staging:Waiting>Updating", "staging:Updating>Releasing"}; !slices.Equal(w.path[5:8], want) {
		t.Errorf("staging's path %v, want %v", w.path[5:], want)
	}
	if !slices.Contains(w.rev.executed, first[0].ChangeSetID) || e.Stage("staging").Updates[first[0].ChangeSetID] != elevator.UpdateDone {
		t.Errorf("executed %v, updates %v: the approved change set %s did not run", w.rev.executed, e.Stage("staging").Updates, first[0].ChangeSetID)
	}
	if !slices.Contains(w.store.actions(), "pipeline.update:started") {
		t.Errorf("audit log %v lacks the update", w.store.actions())
	}
}

func TestNoChangeMeansNoInfrastructureStep(t *testing.T) {
	w := newWorld(t, twoStages)
	w.rev.none["test"], w.rev.none["staging"] = true, true
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "ok"); err != nil {
		t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil || e.State != elevator.ExecutionSucceeded {
		t.Fatalf("%s, %v", states(e), err)
	}
	for _, p := range w.path {
		if strings.Contains(p, "Updating") {
			t.Errorf("path %v visits Updating without a change", w.path)
			break
		}
	}
	if w.rev.applies != 0 || e.Stage("staging").Review[0].ChangeSetID != "" {
		t.Errorf("%d change sets applied; review %+v", w.rev.applies, e.Stage("staging").Review)
	}
}

func TestAStaleApprovedChangeSetSendsTheStageBackToItsApproval(t *testing.T) {
	w := newWorld(t, twoStages)
	ctx := context.Background()
	n := &notices{}
	x := w.executor("a")
	x.Notifier = n
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	approved := e.Stage("staging").Review
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, approved, "ok"); err != nil {
		t.Fatal(err)
	}
	// Someone updates the stack (an `app up` by hand) after the stage
	// left Waiting and before it executes: the approved change set may no
	// longer run.
	w.store.failPut = func(e *elevator.PipelineExecution) error {
		if e.Stages[1].State == elevator.StageUpdating {
			w.rev.stale[approved[0].ChangeSetID] = true
		}
		return nil
	}
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage("staging")
	if st.State != elevator.StageWaiting || st.Approval != nil || !slices.Equal(st.WaitingFor, []string{elevator.WaitApproval}) {
		t.Fatalf("staging %s waiting for %v, approval %+v: want it back waiting for an approval", st.State, st.WaitingFor, st.Approval)
	}
	if st.Review[0].ChangeSetID == approved[0].ChangeSetID || !slices.Equal(w.rev.deleted, []string{approved[0].ChangeSetID}) {
		t.Errorf("new review %+v, deleted %v: want a new change set and the stale one deleted", st.Review, w.rev.deleted)
	}
	if !strings.Contains(st.Error, "stale") || slices.Contains(w.rev.executed, approved[0].ChangeSetID) || slices.Contains(w.rel.started, "staging") {
		t.Errorf("error %q, executed %v, released %v", st.Error, w.rev.executed, w.rel.started)
	}
	if want := []string{"staging:Waiting>Updating", "staging:Updating>Waiting"}; !slices.Equal(w.path[len(w.path)-2:], want) {
		t.Errorf("path %v, want it to end %v", w.path, want)
	}
	if c := strings.Count(strings.Join(n.got, "\n"), "staging approval_needed"); c != 2 {
		t.Errorf("%d approval_needed notices, want 2 (the new review is asked for): %v", c, n.got)
	}
	// The approval of the new review runs the new change set.
	w.store.failPut = nil
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, approved, "again"); !errors.Is(err, ErrRefused) {
		t.Errorf("approving the stale review again: %v", err)
	}
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, st.Review, "ok"); err != nil {
		t.Fatal(err)
	}
	if e, err = x.Run(ctx, "p1"); err != nil || e.State != elevator.ExecutionSucceeded || !slices.Contains(w.rev.executed, st.Review[0].ChangeSetID) {
		t.Fatalf("%s, %v; executed %v", states(e), err, w.rev.executed)
	}
}

func TestAnApprovedChangeSetThatWentStaleWhileWaitingIsReviewedAgain(t *testing.T) {
	w := newWorld(t, twoStages)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	approved := e.Stage("staging").Review
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, approved, "ok"); err != nil {
		t.Fatal(err)
	}
	w.rev.stale[approved[0].ChangeSetID] = true // the stack changed while the stage was parked
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage("staging")
	if st.State != elevator.StageWaiting || st.Approval != nil || st.Review[0].ChangeSetID == approved[0].ChangeSetID || len(w.rev.executed) != 1 {
		t.Fatalf("staging %s, approval %+v, review %+v, executed %v: want a new review waiting for its approval", st.State, st.Approval, st.Review, w.rev.executed)
	}
}

func TestAStageWithoutApprovalUpdatesWhatItReviewsAndReviewsAgainWhenStale(t *testing.T) {
	w := newWorld(t, twoStages)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	stale := true
	// The first change set made for test goes stale before it runs, once.
	w.store.failPut = func(e *elevator.PipelineExecution) error {
		if s := e.Stages[0]; stale && s.State == elevator.StageUpdating && len(s.Review) == 1 {
			w.rev.stale[s.Review[0].ChangeSetID] = true
			stale = false
		}
		return nil
	}
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Running test=Succeeded staging=Waiting" {
		t.Fatalf("%s", got)
	}
	if len(w.rev.executed) != 1 || w.rev.executed[0] != e.Stage("test").Review[0].ChangeSetID || len(w.rev.deleted) != 1 {
		t.Errorf("executed %v, deleted %v, review %+v: want the second change set run and the stale one deleted", w.rev.executed, w.rev.deleted, e.Stage("test").Review)
	}
	if want := []string{"test:Pending>Waiting", "test:Waiting>Updating", "test:Updating>Waiting", "test:Waiting>Updating", "test:Updating>Releasing"}; !slices.Equal(w.path[:5], want) {
		t.Errorf("path %v, want it to start %v", w.path, want)
	}
}

func TestAProcessKilledWhileUpdatingFollowsTheStackInsteadOfExecutingAgain(t *testing.T) {
	w := newWorld(t, twoStages)
	ctx := context.Background()
	killed := errors.New("killed")
	// The process dies at the write that would record the change set
	// done: it was executed, and the record says only "started".
	w.store.failPut = func(e *elevator.PipelineExecution) error {
		for _, u := range e.Stages[0].Updates {
			if u == elevator.UpdateDone && e.Owner == "a" {
				return killed
			}
		}
		return nil
	}
	a := w.executor("a")
	a.Start(ctx, "p1", "1", alice)
	if _, err := a.Run(ctx, "p1"); !errors.Is(err, killed) {
		t.Fatalf("run = %v, want it killed", err)
	}
	w.store.failPut = nil
	w.clock.Advance(time.Minute)
	e, err := w.executor("b").Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Running test=Succeeded staging=Waiting" {
		t.Fatalf("after the resume: %s", got)
	}
	if len(w.rev.executed) != 1 || w.rev.applies != 2 {
		t.Errorf("executed %v in %d applies: want one execution, followed again by the resume", w.rev.executed, w.rev.applies)
	}
}

func TestAProcessKilledAfterAFailedUpdateFailsTheStageOnResume(t *testing.T) {
	// The fake reviewer answers as apply.Engine does on AWS, which keeps
	// a change set whose update failed (EXECUTE_FAILED): followed again,
	// it fails again, and is not stale.
	w := newWorld(t, twoStages)
	ctx := context.Background()
	w.rev.failing["arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs1-test-h1/x"] = true
	killed := errors.New("killed")
	// The process dies at the write that would record the stage failed:
	// the change set ran and failed; the record says only "started".
	w.store.failPut = func(e *elevator.PipelineExecution) error {
		if e.Stages[0].State == elevator.StageFailed && e.Owner == "a" {
			return killed
		}
		return nil
	}
	a := w.executor("a")
	a.Start(ctx, "p1", "1", alice)
	if _, err := a.Run(ctx, "p1"); !errors.Is(err, killed) {
		t.Fatalf("run = %v, want it killed", err)
	}
	w.store.failPut = nil
	w.clock.Advance(time.Minute)
	e, err := w.executor("b").Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Failed test=Failed staging=Pending" || !strings.Contains(e.Stage("test").Error, "UPDATE_ROLLBACK_COMPLETE") {
		t.Fatalf("after the resume: %s: %q", got, e.Stage("test").Error)
	}
	if len(w.rev.executed) != 1 || len(w.rev.made) != 1 || len(w.rel.started) != 0 {
		t.Errorf("executed %v, made %v, released %v: want the failing change set run once, never reviewed again, no release", w.rev.executed, w.rev.made, w.rel.started)
	}
}

func TestAFailedChangeSetFailsTheStage(t *testing.T) {
	w := newWorld(t, twoStages)
	ctx := context.Background()
	w.rev.failing["arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs1-test-h1/x"] = true
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Failed test=Failed staging=Pending" || !strings.Contains(e.Stage("test").Error, "UPDATE_ROLLBACK_COMPLETE") || len(w.rel.started) != 0 {
		t.Fatalf("%s: %q; released %v", got, e.Stage("test").Error, w.rel.started)
	}
}

func TestTheSafeChangesPolicyApprovesWhatLosesNoData(t *testing.T) {
	src := strings.Replace(twoStages, "approval: {roles: [approver]}", "approval: {roles: [approver], auto: safe-changes}", 1)
	for _, tc := range []struct {
		name    string
		changes []elevator.ResourceChange
		none    bool
		auto    bool
	}{
		{"nothing changes", nil, true, true},
		{"a security group modified in place", []elevator.ResourceChange{{Action: "Modify", LogicalID: "WebSecurityGroup", Type: "AWS::EC2::SecurityGroup", Replacement: "True"}}, false, true},
		{"a table added", []elevator.ResourceChange{{Action: "Add", LogicalID: "CartsTable", Type: "AWS::DynamoDB::Table", Stateful: true}}, false, true},
		{"a database modified in place", []elevator.ResourceChange{{Action: "Modify", LogicalID: "Database", Type: "AWS::RDS::DBInstance", Replacement: "False", Stateful: true}}, false, true},
		{"a database replaced", []elevator.ResourceChange{{Action: "Modify", LogicalID: "Database", Type: "AWS::RDS::DBInstance", Replacement: "True", Stateful: true}}, false, false},
		{"a database that may be replaced", []elevator.ResourceChange{{Action: "Modify", LogicalID: "Database", Type: "AWS::RDS::DBInstance", Replacement: "Conditional", Stateful: true}}, false, false},
		{"a log group modified, replacement unknown", []elevator.ResourceChange{{Action: "Modify", LogicalID: "WebLogs", Type: "AWS::Logs::LogGroup", Stateful: true}}, false, false},
		{"a table removed", []elevator.ResourceChange{{Action: "Remove", LogicalID: "CartsTable", Type: "AWS::DynamoDB::Table", Stateful: true}}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, src)
			w.rev.none["staging"] = tc.none
			w.rev.changes["staging"] = tc.changes
			ctx := context.Background()
			x := w.executor("a")
			x.Start(ctx, "p1", "1", alice)
			e, err := x.Run(ctx, "p1")
			if err != nil {
				t.Fatal(err)
			}
			st := e.Stage("staging")
			if !tc.auto {
				if st.State != elevator.StageWaiting || st.Approval != nil || slices.Contains(w.store.actions(), "pipeline.approve:done") {
					t.Fatalf("staging %s, approval %+v: a person must approve this", st.State, st.Approval)
				}
				return
			}
			if e.State != elevator.ExecutionSucceeded || st.Approval == nil || st.Approval.By != elevator.PolicyApprover ||
				!elevator.SameReview(st.Approval.Reviewed, st.Review) || !slices.Contains(w.store.actions(), "pipeline.approve:done") {
				t.Fatalf("%s, approval %+v, audit %v: want an audited approval by policy", states(e), st.Approval, w.store.actions())
			}
		})
	}
}
