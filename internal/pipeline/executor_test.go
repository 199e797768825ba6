package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

const (
	alice     = "arn:aws:sts::123456789012:assumed-role/dev/alice" // starts pipelines
	bob       = "arn:aws:sts::123456789012:assumed-role/ops/bob"   // approver in production
	carol     = "arn:aws:sts::123456789012:assumed-role/ci/carol"  // deployer only
	manifest3 = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - orbit: test
    - orbit: staging
      auto: true
      approval: {roles: [approver], expiry: 24h}
    - orbit: production
      auto: true
      windows: [Mon-Fri 09:00-17:00 UTC]
      bake: 10m
`
)

// sunday noon: the production window opens on Monday at 09:00.
var sundayNoon = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

type world struct {
	t      testing.TB
	store  *memStore
	rel    *fakeReleaser
	rev    *fakeReviewer
	clock  *clock
	app    *elevator.App
	orbits map[string]*elevator.Orbit
	path   []string
}

func newWorld(t testing.TB, src string) *world {
	t.Helper()
	a, err := manifest.ParseApp("app.yml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	access := []elevator.AccessRule{
		{Role: elevator.RoleApprover, Principals: []string{"arn:aws:iam::123456789012:role/ops"}},
		{Role: elevator.RoleDeployer, Principals: []string{"arn:aws:iam::123456789012:role/ci", "arn:aws:iam::123456789012:role/dev"}},
	}
	orbits := map[string]*elevator.Orbit{}
	for _, s := range a.Pipeline.Stages {
		for _, o := range s.Orbits {
			orbits[o] = &elevator.Orbit{Name: o, Access: access}
		}
	}
	if err := manifest.CheckPipeline(a, orbits); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, store: newMemStore(), rel: newFakeReleaser(2), rev: newFakeReviewer(),
		clock: &clock{t: sundayNoon}, app: a, orbits: orbits}
}

func (w *world) executor(owner string) *Executor {
	return &Executor{App: w.app, Store: w.store, Releaser: w.rel, Reviewer: w.rev, Owner: owner,
		Lease: time.Minute, MaxWait: 15 * time.Minute, Now: w.clock.Now, Sleep: w.clock.Sleep,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress: func(_ *elevator.PipelineExecution, stage string, from, to elevator.StageState) {
			w.path = append(w.path, fmt.Sprintf("%s:%s>%s", stage, from, to))
		}}
}

func (w *world) decider() *Decider {
	return &Decider{Store: w.store, Orbits: deployedOrbits(w.orbits), Now: w.clock.Now}
}

func states(e *elevator.PipelineExecution) string {
	var s []string
	for _, st := range e.Stages {
		s = append(s, st.Name+"="+string(st.State))
	}
	return string(e.State) + " " + strings.Join(s, " ")
}

func TestAThreeStagePipelineWaitsForItsApprovalAndWindow(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	x := w.executor("host-a:1")
	if _, err := x.Start(ctx, "p1", "1.4.2", alice); err != nil {
		t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Running test=Succeeded staging=Waiting production=Pending" {
		t.Fatalf("after the first run: %s", got)
	}
	st := e.Stage("staging")
	if !slices.Equal(st.WaitingFor, []string{elevator.WaitApproval}) || len(st.Review) != 1 || e.Owner != "" {
		t.Fatalf("staging waits for %v with review %v; lease %q (a parked execution holds none)", st.WaitingFor, st.Review, e.Owner)
	}

	d := w.decider()
	if _, err := d.Approve(ctx, "shop", "p1", "staging", alice, st.Review, "lgtm"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "someone else must approve") {
		t.Errorf("the starter approving: %v", err)
	}
	if _, err := d.Approve(ctx, "shop", "p1", "staging", carol, st.Review, "lgtm"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "holds deployer there") {
		t.Errorf("a deployer approving: %v", err)
	}
	if _, err := d.Approve(ctx, "shop", "p1", "staging", bob, st.Review, "ok"); err != nil {
		t.Fatalf("the approver approving: %v", err)
	}

	// Another process resumes it: the first one is gone.
	e, err = w.executor("host-b:2").Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Running test=Succeeded staging=Succeeded production=Waiting" {
		t.Fatalf("after the approval: %s", got)
	}
	p := e.Stage("production")
	if want := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC); !p.Until.Equal(want) || !slices.Equal(p.WaitingFor, []string{elevator.WaitWindow}) {
		t.Fatalf("production waits for %v until %s, want the window until %s", p.WaitingFor, p.Until, want)
	}
	w.clock.t = time.Date(2026, 11, 30, 8, 55, 0, 0, time.UTC)
	if e, err = w.executor("host-c:3").Run(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Succeeded test=Succeeded staging=Succeeded production=Succeeded" {
		t.Fatalf("on Monday: %s", got)
	}
	// Every stage's infrastructure changes (the fake reviewer finds a
	// change in every orbit), so every stage updates before it releases.
	want := []string{
		"test:Pending>Waiting", "test:Waiting>Updating", "test:Updating>Releasing", "test:Releasing>Baking", "test:Baking>Succeeded",
		"staging:Pending>Waiting",
		"staging:Waiting>Updating", "staging:Updating>Releasing", "staging:Releasing>Baking", "staging:Baking>Succeeded", "production:Pending>Waiting",
		"production:Waiting>Updating", "production:Updating>Releasing", "production:Releasing>Baking", "production:Baking>Succeeded",
	}
	if !slices.Equal(w.path, want) {
		t.Errorf("path\n got %v\nwant %v", w.path, want)
	}
	if approved := e.Stage("staging").Approval.Reviewed[0].ChangeSetID; !slices.Contains(w.rev.executed, approved) || len(w.rev.executed) != 3 {
		t.Errorf("executed change sets %v; want one per stage, staging's the approved %s", w.rev.executed, approved)
	}
	if !slices.Equal(w.rel.started, []string{"test", "staging", "production"}) {
		t.Errorf("releases started in %v", w.rel.started)
	}
	if e.Stage("staging").Approval.By != bob || e.Stage("production").Releases["production"] == "" {
		t.Errorf("record lacks the approval or the release id: %+v", e.Stages)
	}
	acts := w.store.actions()
	for _, a := range []string{"pipeline.start:started", "pipeline.approve:refused", "pipeline.approve:done", "pipeline.release:started"} {
		if !slices.Contains(acts, a) {
			t.Errorf("audit log %v lacks %s", acts, a)
		}
	}
	if n := strings.Count(strings.Join(acts, " "), "pipeline.approve:refused"); n != 2 {
		t.Errorf("%d refusals audited, want 2", n)
	}
}

func TestAnApprovalOfAStaleChangeSetIsRefusedAndAChangeVoidsAnApproval(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	x := w.executor("a")
	if _, err := x.Start(ctx, "p1", "2.0.0", alice); err != nil {
		t.Fatal(err)
	}
	e, _ := x.Run(ctx, "p1")
	shown := e.Stage("staging").Review

	// The change sets change (a new template), and the driver sees it.
	w.rev.hash["staging"] = "h2"
	if e, _ = x.Run(ctx, "p1"); e.Stage("staging").Review[0].TemplateHash != "h2" {
		t.Fatalf("review not recomputed: %+v", e.Stage("staging").Review)
	}
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, shown, "ok"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "changed since they were shown") {
		t.Fatalf("approving what was shown before: %v", err)
	}
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "ok"); err != nil {
		t.Fatal(err)
	}
	// Another change after the approval voids it: the stage waits again.
	w.rev.hash["staging"] = "h3"
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage("staging")
	if st.State != elevator.StageWaiting || st.Approval != nil || st.Review[0].TemplateHash != "h3" {
		t.Fatalf("after a change: %s approval %+v review %+v", st.State, st.Approval, st.Review)
	}
	if slices.Contains(w.rel.started, "staging") {
		t.Fatal("staging released a change set nobody approved")
	}
}

func TestAnApprovalExpires(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "ok"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(24*time.Hour + time.Second) // the manifest's expiry is 24h
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Stage("staging"); st.State != elevator.StageWaiting || st.Approval != nil {
		t.Fatalf("an expired approval still counts: %+v", st)
	}
}

func TestARejectionFailsTheStageAndThePipeline(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	x.Run(ctx, "p1")
	if _, err := w.decider().Reject(ctx, "shop", "p1", "staging", bob, "not on a Sunday"); err != nil {
		t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Failed test=Succeeded staging=Failed production=Pending" || !strings.Contains(e.Stage("staging").Error, "not on a Sunday") {
		t.Fatalf("%s: %q", got, e.Stage("staging").Error)
	}
}

func TestAProcessKilledWhileReleasingIsResumedByAnotherAfterItsLease(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	w.rel.polls = 3
	killed := errors.New("killed")
	// The process dies at the first write after the test stage's release
	// id was recorded: the lease it holds is left in the record.
	w.store.failPut = func(e *elevator.PipelineExecution) error {
		if len(e.Stages) > 0 && e.Stages[0].State == elevator.StageReleasing && e.Stages[0].Releases["test"] != "" && e.Owner == "a" {
			if prev, _ := w.store.recs["shop/p1"]; strings.Contains(string(prev), `"releases"`) {
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
	b := w.executor("b")
	if _, err := b.Run(ctx, "p1"); !errors.Is(err, ErrLeased) {
		t.Fatalf("a second driver inside the lease: %v, want ErrLeased", err)
	}
	w.clock.Advance(time.Minute)
	e, err := b.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Running test=Succeeded staging=Waiting production=Pending" {
		t.Fatalf("after the resume: %s", got)
	}
	if !slices.Equal(w.rel.started, []string{"test"}) || w.rel.calls["test"] != 1 {
		t.Errorf("releases started %v, %d calls to start the test release: the resume asked again for a release it had recorded", w.rel.started, w.rel.calls["test"])
	}
}

func TestOutsideItsWindowAStageThatMayNotWaitFails(t *testing.T) {
	w := newWorld(t, strings.Replace(manifest3, "bake: 10m", "bake: 10m\n      outside: fail", 1))
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "ok")
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Failed test=Succeeded staging=Succeeded production=Failed" ||
		e.Stage("production").Error != "due outside its windows; the next opens at 2026-11-30T09:00:00Z" {
		t.Fatalf("%s: %q", got, e.Stage("production").Error)
	}
}

func TestParallelOrbitsAndAFailedRelease(t *testing.T) {
	w := newWorld(t, `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - {name: canary, orbits: [eu, us]}
    - {orbit: world, auto: true}
`)
	w.rel.fail["us"] = true
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage("canary")
	if got := states(e); got != "Failed canary=Failed world=Pending" || len(st.Releases) != 2 || !strings.Contains(st.Error, "in us failed: FailureClean: unhealthy") {
		t.Fatalf("%s releases %v: %q", got, st.Releases, st.Error)
	}
	if !slices.Equal(w.rel.started, []string{"eu", "us"}) {
		t.Errorf("started %v", w.rel.started)
	}
}

func TestAStageWithoutAutoWaitsToBePromoted(t *testing.T) {
	w := newWorld(t, strings.Replace(manifest3, "    - orbit: staging\n      auto: true\n", "    - orbit: staging\n", 1))
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	if st := e.Stage("staging"); st.State != elevator.StagePending || !slices.Equal(st.WaitingFor, []string{elevator.WaitPromote}) {
		t.Fatalf("staging %+v", st)
	}
	if _, err := w.decider().Promote(ctx, "shop", "p1", "staging", "arn:aws:sts::123456789012:assumed-role/web/eve", ""); !errors.Is(err, ErrRefused) {
		t.Fatalf("a stranger promoting: %v", err)
	}
	if _, err := w.decider().Promote(ctx, "shop", "p1", "staging", carol, "go"); err != nil {
		t.Fatal(err)
	}
	e, _ = x.Run(ctx, "p1")
	if st := e.Stage("staging"); st.State != elevator.StageWaiting || !slices.Equal(st.WaitingFor, []string{elevator.WaitApproval}) {
		t.Fatalf("after the promotion staging %+v", st)
	}
}

func TestACancelledPipelineEnds(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	x.Run(ctx, "p1")
	if _, err := w.decider().Cancel(ctx, "shop", "p1", "arn:aws:sts::123456789012:assumed-role/web/eve", "no"); !errors.Is(err, ErrRefused) {
		t.Fatalf("a stranger cancelling: %v", err)
	}
	if _, err := w.decider().Cancel(ctx, "shop", "p1", alice, "wrong version"); err != nil {
		t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil || e.State != elevator.ExecutionCancelled {
		t.Fatalf("after cancel: %v %v", states(e), err)
	}
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, nil, "late"); !errors.Is(err, ErrRefused) {
		t.Errorf("approving an ended pipeline: %v", err)
	}
}

func TestEveryStateOfTheTableHasAStepAndKnownNextStates(t *testing.T) {
	all := []elevator.StageState{elevator.StagePending, elevator.StageWaiting, elevator.StageUpdating, elevator.StageReleasing, elevator.StageBaking, elevator.StageSucceeded, elevator.StageFailed}
	for s, row := range table {
		if row.step == nil || len(row.next) == 0 {
			t.Errorf("state %s has no step or no next state", s)
		}
		for _, n := range row.next {
			if !slices.Contains(all, n) {
				t.Errorf("state %s moves to unknown %s", s, n)
			}
		}
	}
	for _, final := range []elevator.StageState{elevator.StageSucceeded, elevator.StageFailed} {
		if _, ok := table[final]; ok {
			t.Errorf("final state %s has a step", final)
		}
	}
}

// notices records notifications as "orbit event stage state".
type notices struct{ got []string }

func (n *notices) Notify(_ context.Context, orbit, subject, message string) error {
	var x Notice
	if err := json.Unmarshal([]byte(message), &x); err != nil {
		return err
	}
	n.got = append(n.got, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", orbit, x.Event, x.Stage, x.State)))
	return nil
}

func TestTheExecutorNotifiesTheStagesOrbits(t *testing.T) {
	w := newWorld(t, strings.Replace(manifest3, "bake: 10m", "bake: 10m\n      outside: fail", 1))
	ctx := context.Background()
	n := &notices{}
	x := w.executor("a")
	x.Notifier = n
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	x.Run(ctx, "p1") // nothing new: no second "approval needed"
	w.rev.hash["staging"] = "h2"
	x.Run(ctx, "p1") // a new review: asked again
	e, _ = x.Run(ctx, "p1")
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "ok"); err != nil {
		t.Fatal(err)
	}
	if e, _ = x.Run(ctx, "p1"); e.State != elevator.ExecutionFailed {
		t.Fatalf("%s", states(e))
	}
	want := []string{
		"test stage_started test Releasing",
		"staging approval_needed staging Waiting",
		"staging approval_needed staging Waiting",
		"staging stage_started staging Releasing",
		"production stage_failed production Failed",
		"production pipeline_done  Failed",
	}
	if !slices.Equal(n.got, want) {
		t.Errorf("notifications\n got %q\nwant %q", n.got, want)
	}
}

func TestAnAdminOverridesAWindowAndIsAudited(t *testing.T) {
	w := newWorld(t, manifest3)
	admin := "arn:aws:sts::123456789012:assumed-role/root-ops/dana"
	w.orbits["production"].Access = append(w.orbits["production"].Access,
		elevator.AccessRule{Role: elevator.RoleAdmin, Principals: []string{"arn:aws:iam::123456789012:role/root-ops"}})
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	if _, err := w.decider().Override(ctx, "shop", "p1", "staging", admin, "early"); !errors.Is(err, ErrRefused) {
		t.Fatalf("overriding a stage that waits for an approval: %v", err)
	}
	w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "ok")
	if e, _ = x.Run(ctx, "p1"); e.Stage("production").State != elevator.StageWaiting {
		t.Fatalf("%s", states(e))
	}
	if _, err := w.decider().Override(ctx, "shop", "p1", "production", bob, "hotfix"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "needs the admin role") {
		t.Fatalf("an approver overriding: %v", err)
	}
	if _, err := w.decider().Override(ctx, "shop", "p1", "production", admin, "hotfix"); err != nil {
		t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil || e.State != elevator.ExecutionSucceeded || e.Stage("production").Override.By != admin {
		t.Fatalf("after the override: %s %v", states(e), err)
	}
	if !w.clock.Now().Before(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("it waited for the window anyway: it is %s", w.clock.Now())
	}
	acts := strings.Join(w.store.actions(), " ")
	if strings.Count(acts, "pipeline.override:refused") != 2 || !strings.Contains(acts, "pipeline.override:done") {
		t.Errorf("audit log %s", acts)
	}
}

// pins pins the orbits it lists.
type pins map[string]string

func (p pins) Pin(_ context.Context, orbit string) (string, error) { return p[orbit], nil }

func TestARollbackPinsTheOrbitUntilSomeoneUnpinsIt(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	x := w.executor("a")
	x.Pins = pins{"staging": "release r9 rolled back to r8 by bob"}
	n := &notices{}
	x.Notifier = n
	x.Start(ctx, "p1", "1", alice)
	e, _ := x.Run(ctx, "p1")
	st := e.Stage("staging")
	if st.State != elevator.StageWaiting || !slices.Equal(st.WaitingFor, []string{elevator.WaitUnpin}) ||
		!slices.Equal(st.Pins, []string{"staging: release r9 rolled back to r8 by bob"}) || len(st.Review) != 0 {
		t.Fatalf("staging %+v", st)
	}
	if _, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, nil, "ok"); !errors.Is(err, ErrRefused) {
		t.Fatalf("approving a pinned stage: %v", err)
	}
	if _, err := w.decider().Unpin(ctx, "shop", "p1", "staging", carol, "fixed"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "needs the approver role") {
		t.Fatalf("a deployer unpinning: %v", err)
	}
	if _, err := w.decider().Unpin(ctx, "shop", "p1", "staging", bob, "fixed in 1"); err != nil {
		t.Fatal(err)
	}
	e, _ = x.Run(ctx, "p1")
	if st := e.Stage("staging"); !slices.Equal(st.WaitingFor, []string{elevator.WaitApproval}) || st.Unpinned.By != bob {
		t.Fatalf("after the unpin staging %+v", st)
	}
	if slices.Contains(w.rel.started, "staging") {
		t.Error("a pinned orbit was released into")
	}
	acts := strings.Join(w.store.actions(), " ")
	if !strings.Contains(acts, "pipeline.unpin:refused") || !strings.Contains(acts, "pipeline.unpin:done") {
		t.Errorf("audit log %s", acts)
	}
}

// approvalWaiting starts an execution by starter and runs it until
// staging waits for its approval.
func (w *world) approvalWaiting(starter string) *elevator.PipelineExecution {
	w.t.Helper()
	ctx := context.Background()
	x := w.executor("host-a:1")
	if _, err := x.Start(ctx, "p1", "1.4.2", starter); err != nil {
		w.t.Fatal(err)
	}
	e, err := x.Run(ctx, "p1")
	if err != nil {
		w.t.Fatal(err)
	}
	if s := e.Stage("staging"); !slices.Contains(s.WaitingFor, elevator.WaitApproval) {
		w.t.Fatalf("staging waits for %v", s.WaitingFor)
	}
	return e
}

func TestTheStarterMayNotApproveFromAnotherSessionOfTheSameRole(t *testing.T) {
	const bobAgain = "arn:aws:sts::123456789012:assumed-role/ops/release-bot"
	w := newWorld(t, manifest3)
	e := w.approvalWaiting(bob)
	_, err := w.decider().Approve(context.Background(), "shop", "p1", "staging", bobAgain, e.Stage("staging").Review, "lgtm")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "someone else must approve") {
		t.Errorf("another session of the starter's role approving: %v, want refused", err)
	}
}

func TestTwoUsersOfOneIdentityCenterRoleAreTwoPrincipals(t *testing.T) {
	const (
		role  = "arn:aws:iam::123456789012:role/AWSReservedSSO_Approver_0123456789abcdef"
		alice = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_0123456789abcdef/alice@example.com"
		bob   = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_0123456789abcdef/bob@example.com"
	)
	t.Run("a role orbit up found on Identity Center's path", func(t *testing.T) {
		w := newWorld(t, manifest3)
		for _, o := range w.orbits {
			o.Access = append(o.Access, elevator.AccessRule{Role: elevator.RoleApprover, Principals: []string{role}})
			o.IdentityCenterRoles = []string{role}
		}
		e := w.approvalWaiting(alice)
		d := w.decider()
		if _, err := d.Approve(context.Background(), "shop", "p1", "staging", alice, e.Stage("staging").Review, "lgtm"); !errors.Is(err, ErrRefused) {
			t.Errorf("the starter approving: %v, want refused", err)
		}
		if _, err := d.Approve(context.Background(), "shop", "p1", "staging", bob, e.Stage("staging").Review, "lgtm"); err != nil {
			t.Errorf("another Identity Center user of the role approving: %v", err)
		}
	})
	t.Run("a role only named like one", func(t *testing.T) {
		// Anyone who may create roles can name one AWSReservedSSO_*; its
		// sessions, named at will, are one principal.
		w := newWorld(t, manifest3)
		for _, o := range w.orbits {
			o.Access = append(o.Access, elevator.AccessRule{Role: elevator.RoleApprover, Principals: []string{role}})
		}
		e := w.approvalWaiting(alice)
		_, err := w.decider().Approve(context.Background(), "shop", "p1", "staging", bob, e.Stage("staging").Review, "lgtm")
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "someone else must approve") {
			t.Errorf("another session of the role approving: %v, want refused as the starter", err)
		}
	})
}

const manifestTwoOrbitStage = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - orbit: test
    - name: staging
      orbits: [staging-eu, staging-us]
      auto: true
      approval: {roles: [approver]}
`

func TestAnOrbitMayLetTheStarterApproveAndItIsAuditedAsASelfApproval(t *testing.T) {
	t.Run("every orbit of the stage allows it", func(t *testing.T) {
		w := newWorld(t, manifestTwoOrbitStage)
		w.orbits["staging-eu"].SelfApproval, w.orbits["staging-us"].SelfApproval = true, true
		e := w.approvalWaiting(bob)
		e, err := w.decider().Approve(context.Background(), "shop", "p1", "staging", bob, e.Stage("staging").Review, "small fix, on call alone")
		if err != nil {
			t.Fatalf("the starter approving where the orbits allow it: %v", err)
		}
		if a := e.Stage("staging").Approval; a == nil || !a.Self || a.By != bob {
			t.Errorf("approval %+v, want a self-approval by bob", a)
		}
		if acts := w.store.actions(); !slices.Contains(acts, ActionSelfApprove+":done") || slices.Contains(acts, ActionApprove+":done") {
			t.Errorf("audit log %v, want the approval audited as %s", acts, ActionSelfApprove)
		}
		if e, err = w.executor("host-b:2").Run(context.Background(), "p1"); err != nil || e.State != elevator.ExecutionSucceeded {
			t.Errorf("after the self-approval: %v, %v", states(e), err)
		}
	})
	t.Run("one orbit of the stage does not", func(t *testing.T) {
		w := newWorld(t, manifestTwoOrbitStage)
		w.orbits["staging-eu"].SelfApproval = true
		e := w.approvalWaiting(bob)
		_, err := w.decider().Approve(context.Background(), "shop", "p1", "staging", bob, e.Stage("staging").Review, "lgtm")
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "orbit staging-us does not allow self-approval") {
			t.Errorf("the starter approving: %v, want refused naming staging-us", err)
		}
		if e, _ := w.store.Get(context.Background(), "shop", "p1"); e.Stage("staging").Approval != nil {
			t.Error("the refused approval was recorded")
		}
	})
}

func TestDecisionsInAnOrbitWithoutRecordedSettingsAreRefused(t *testing.T) {
	// The decider sees orbits only as deployed (deployedOrbits, in
	// memory here; the CLI reads what `orbit up` stored in the state
	// bucket): an orbit with no record grants no role and no
	// self-approval, whatever a manifest says.
	w := newWorld(t, manifestTwoOrbitStage)
	e := w.approvalWaiting(alice)
	delete(w.orbits, "staging-us")
	ctx := context.Background()
	_, err := w.decider().Approve(ctx, "shop", "p1", "staging", bob, e.Stage("staging").Review, "lgtm")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "orbit staging-us") || !strings.Contains(err.Error(), "elevator orbit up") {
		t.Errorf("an approval by a holder of the role: %v, want it refused, saying to run orbit up for staging-us", err)
	}
	if _, err := w.decider().Reject(ctx, "shop", "p1", "staging", bob, "no"); !errors.Is(err, ErrRefused) {
		t.Errorf("a rejection: %v, want it refused", err)
	}
	if e, _ := w.store.Get(ctx, "shop", "p1"); e.Stage("staging").Approval != nil || e.Stage("staging").Rejection != nil {
		t.Error("a refused decision was recorded")
	}
}

// slowReleaser is a fakeReleaser whose first Status call blocks, as a
// release driven in the process does, until the test lets it go or its
// context ends.
type slowReleaser struct {
	*fakeReleaser
	entered, release chan struct{}
	once             sync.Once
}

func (s *slowReleaser) Status(ctx context.Context, orbit, id string) (ReleaseStatus, error) {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		select {
		case <-s.release:
			return ReleaseStatus{Done: true, Succeeded: true}, nil
		case <-ctx.Done():
			return ReleaseStatus{}, context.Cause(ctx)
		}
	}
	return s.fakeReleaser.Status(ctx, orbit, id)
}

// eventually waits, in real time, until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
	}
}

const oneStage = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - orbit: test
`

// slowRun starts an execution whose release blocks, driven by host-a
// with a one-minute lease renewed on the fake clock, and returns where
// Run's result will arrive once the release is under way.
func (w *world) slowRun(t *testing.T) (*slowReleaser, chan error) {
	slow := &slowReleaser{fakeReleaser: w.rel, entered: make(chan struct{}), release: make(chan struct{})}
	x := w.executor("host-a:1")
	x.Releaser, x.After = slow, w.clock.After
	if _, err := x.Start(context.Background(), "p1", "1.4.2", alice); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		e, err := x.Run(context.Background(), "p1")
		if err == nil && e.State != elevator.ExecutionSucceeded {
			err = fmt.Errorf("ended %s", states(e))
		}
		done <- err
	}()
	select {
	case <-slow.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the release was not started")
	}
	return slow, done
}

// TestTheLeaseIsRenewedWhileAStageReleases: a release that lasts longer
// than the lease (in-memory store, fake clock) keeps the execution this
// process's: another process is refused throughout, and the first one
// finishes it.
func TestTheLeaseIsRenewedWhileAStageReleases(t *testing.T) {
	w := newWorld(t, oneStage)
	slow, done := w.slowRun(t)
	for range 6 { // two minutes: twice the lease
		w.clock.Advance(20 * time.Second)
		eventually(t, "the lease renewed", func() bool {
			e, _ := w.store.Get(context.Background(), "shop", "p1")
			return e.Owner == "host-a:1" && e.LeaseExpires.Sub(w.clock.Now()) >= 40*time.Second
		})
	}
	if _, err := w.executor("host-b:2").Run(context.Background(), "p1"); !errors.Is(err, ErrLeased) {
		t.Errorf("another process, two leases into the release: %v, want ErrLeased", err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Errorf("the first process: %v", err)
	}
	if len(w.rel.started) != 1 {
		t.Errorf("releases started: %v, want one", w.rel.started)
	}
}

// TestADriverWhoseExecutionWasTakenOverStops: when a renewal finds that
// another process holds the lease (this one was too slow to renew it),
// the step's context ends and Run returns ErrLeased.
func TestADriverWhoseExecutionWasTakenOverStops(t *testing.T) {
	w := newWorld(t, oneStage)
	_, done := w.slowRun(t)
	e, err := w.store.Get(context.Background(), "shop", "p1")
	if err != nil {
		t.Fatal(err)
	}
	e.Revision++
	e.Owner, e.LeaseExpires = "host-b:2", w.clock.Now().Add(time.Hour)
	if err := w.store.Put(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(20 * time.Second)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeased) {
			t.Errorf("Run = %v, want ErrLeased", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the process whose execution was taken over still drives it")
	}
	if e, _ := w.store.Get(context.Background(), "shop", "p1"); e.Owner != "host-b:2" {
		t.Errorf("the record's owner is %q, want the process that took it over", e.Owner)
	}
}

// TestADriverWhoseExecutionEndedElsewhereStopsWithoutWriting: when a
// renewal finds the record ended by another process (its lease free), the
// step's context ends and the record stays as that process left it: no
// owner, no lease written on an ended execution.
func TestADriverWhoseExecutionEndedElsewhereStopsWithoutWriting(t *testing.T) {
	w := newWorld(t, oneStage)
	_, done := w.slowRun(t)
	e, err := w.store.Get(context.Background(), "shop", "p1")
	if err != nil {
		t.Fatal(err)
	}
	e.Revision++
	e.State, e.Owner, e.LeaseExpires = elevator.ExecutionCancelled, "", time.Time{}
	if err := w.store.Put(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(20 * time.Second)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeased) || !strings.Contains(err.Error(), "ended") {
			t.Errorf("Run = %v, want ErrLeased saying it ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the process whose execution ended elsewhere still drives it")
	}
	stored, _ := w.store.Get(context.Background(), "shop", "p1")
	if stored.Revision != e.Revision || stored.Owner != "" || !stored.LeaseExpires.IsZero() || stored.State != elevator.ExecutionCancelled {
		t.Errorf("record after: revision %d (want %d), owner %q, lease %v, state %s: want it as the other process left it",
			stored.Revision, e.Revision, stored.Owner, stored.LeaseExpires, stored.State)
	}
}

// TestTheHeartbeatWritesTheRecordAsStoredNotTheStepsHalfDoneCopy: the
// step changes its copy of the record while the heartbeat renews the
// lease; the heartbeat's write holds none of those changes (the step
// writes them when it ends), and the step's copy then carries the
// revision the heartbeat wrote, so that its own write lands.
func TestTheHeartbeatWritesTheRecordAsStoredNotTheStepsHalfDoneCopy(t *testing.T) {
	w := newWorld(t, oneStage)
	ctx := context.Background()
	x := w.executor("host-a:1")
	x.After = w.clock.After
	if _, err := x.Start(ctx, "p1", "1.4.2", alice); err != nil {
		t.Fatal(err)
	}
	x.defaults()
	e, err := x.acquire(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	b := x.heartbeat(ctx, e)
	e.Stages[0].State, e.Stages[0].Releases = elevator.StageReleasing, map[string]string{"test": "r-half-done"}
	w.clock.Advance(20 * time.Second)
	var stored *elevator.PipelineExecution
	eventually(t, "the lease renewed", func() bool {
		stored, _ = w.store.Get(ctx, "shop", "p1")
		return stored.Revision == e.Revision+1
	})
	if err := b.stop(e); err != nil {
		t.Fatal(err)
	}
	if st := stored.Stages[0]; st.State != elevator.StagePending || len(st.Releases) != 0 {
		t.Errorf("the heartbeat wrote the step's unfinished stage: %+v", st)
	}
	if e.Revision != stored.Revision || e.Stages[0].Releases["test"] != "r-half-done" {
		t.Errorf("after the heartbeat the step's copy is revision %d with %v, want revision %d with its own changes", e.Revision, e.Stages[0].Releases, stored.Revision)
	}
	if err := x.write(ctx, e, true); err != nil {
		t.Errorf("the step's write after a heartbeat: %v", err)
	}
}

// TestAnExecutionStartedToRunHereIsNotTakenBeforeItsRun: `pipeline start
// --in-process` starts an execution and runs it; a deployer's round in
// between finds it leased to the starter (StartLeased) and leaves it, and
// the starter's Run drives it. Started without the lease (Start, for a
// deployer to drive), any driver takes it.
func TestAnExecutionStartedToRunHereIsNotTakenBeforeItsRun(t *testing.T) {
	w := newWorld(t, manifest3)
	ctx := context.Background()
	cli, dep := w.executor("laptop:1"), w.executor("deployer-1")
	if _, err := cli.StartLeased(ctx, "p1", "1.4.2", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := dep.Run(ctx, "p1"); !errors.Is(err, ErrLeased) {
		t.Fatalf("a deployer's round between StartLeased and Run: %v, want ErrLeased", err)
	}
	e, err := cli.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Running test=Succeeded staging=Waiting production=Pending" {
		t.Fatalf("the starter's Run left %s", got)
	}

	if _, err := cli.Start(ctx, "p2", "1.4.2", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := dep.Run(ctx, "p2"); err != nil {
		t.Fatalf("a deployer on an execution started for it: %v", err)
	}
}
