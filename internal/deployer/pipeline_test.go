package deployer

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *fakeClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// executions is an in-memory table of execution records, which the fake
// driver parks as the executor does: a new revision, the lease given up.
type executions struct {
	mu    sync.Mutex
	recs  map[string]*elevator.PipelineExecution
	drove []string
	fail  error // what a run returns, the record unchanged
}

func (x *executions) Running(context.Context) ([]*elevator.PipelineExecution, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*elevator.PipelineExecution
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range x.recs {
			if !yield(id) {
				return
			}
		}
	}) {
		e := *x.recs[id]
		out = append(out, &e)
	}
	return out, nil
}

func (x *executions) drive(_ context.Context, e *elevator.PipelineExecution) (*elevator.PipelineExecution, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.drove = append(x.drove, e.ID)
	if x.fail != nil {
		return nil, x.fail
	}
	rec := x.recs[e.ID]
	rec.Revision += 2 // its lease taken, then given up as it parks
	rec.Owner, rec.LeaseExpires = "", time.Time{}
	out := *rec
	return &out, nil
}

// decide writes a decision as pipeline.Decider does: a new revision, one
// more decision.
func (x *executions) decide(id string) {
	x.mu.Lock()
	x.recs[id].Revision++
	x.recs[id].Decisions++
	x.mu.Unlock()
}

func (x *executions) deployer(owner string, clock *fakeClock) *Deployer {
	return &Deployer{o: Options{Pipelines: &Pipelines{Executions: x, Drive: x.drive, Every: time.Second, Recheck: 2 * time.Hour}},
		log: slog.New(slog.DiscardHandler), owner: owner, clock: clock,
		pipes: pipelines{driving: map[string]bool{}, seen: map[string]parked{}}}
}

// round runs one round of each deployer in turn and returns what each
// drove.
func (x *executions) round(ds ...*Deployer) [][]string {
	var out [][]string
	for _, d := range ds {
		x.mu.Lock()
		x.drove = nil
		x.mu.Unlock()
		d.pipelinesOnce(context.Background())
		d.wg.Wait()
		x.mu.Lock()
		out = append(out, slices.Sorted(slices.Values(x.drove))) // each runs in a goroutine of its own
		x.mu.Unlock()
	}
	return out
}

// TestTheDeployerDrivesAnExecutionWhenItIsDue: an execution is driven the
// first time it is seen, then only when a decision moved its revision,
// when the time a stage waits for has come, or after Recheck; never while
// another process holds its lease, and never once it ended.
func TestTheDeployerDrivesAnExecutionWhenItIsDue(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	x := &executions{recs: map[string]*elevator.PipelineExecution{
		"a": {ID: "a", State: elevator.ExecutionRunning, Revision: 1, Stages: []elevator.StageRun{{Name: "test", State: elevator.StageWaiting}}},
	}}
	d := x.deployer("deployer-1", clock)
	round := func() []string { return x.round(d)[0] }
	steps := []struct {
		name   string
		before func()
		want   []string
	}{
		{"a new execution is due", nil, []string{"a"}},
		{"a parked execution nothing changed is not due", nil, nil},
		{"an approval moved its revision", func() { x.decide("a") }, []string{"a"}},
		{"a stage that waits an hour", func() {
			x.recs["a"].Stages[0].Until = clock.now.Add(time.Hour)
			x.decide("a")
		}, []string{"a"}},
		{"half an hour later", func() { clock.add(30 * time.Minute) }, nil},
		{"the hour has passed", func() { clock.add(31 * time.Minute) }, []string{"a"}},
		{"another process holds a new execution's lease", func() {
			x.recs["a"].Stages[0].Until = time.Time{}
			x.recs["b"] = &elevator.PipelineExecution{ID: "b", State: elevator.ExecutionRunning, Revision: 1, Owner: "laptop", LeaseExpires: clock.now.Add(time.Minute)}
		}, nil},
		{"that lease ended", func() { clock.add(2 * time.Minute) }, []string{"b"}},
		{"Recheck passed", func() { clock.add(2 * time.Hour) }, []string{"a", "b"}},
		{"an ended execution is never due", func() {
			x.recs["a"].State = elevator.ExecutionSucceeded
			clock.add(2 * time.Hour)
		}, []string{"b"}},
		{"a run fails", func() {
			x.fail = errors.New("throttled")
			x.decide("b")
		}, []string{"b"}},
		{"not again at the next round", func() { clock.add(time.Second) }, nil},
		{"again after PipelineRetry", func() { x.fail = nil; clock.add(PipelineRetry) }, []string{"b"}},
		{"and not again once it parked", func() { clock.add(PipelineRetry) }, nil},
		{"its own lease, left by a run of this deployer that failed, is no other's", func() {
			x.recs["b"].Owner, x.recs["b"].LeaseExpires = "deployer-1", clock.now.Add(time.Minute)
			x.decide("b")
		}, []string{"b"}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		if got := round(); !slices.Equal(got, s.want) {
			t.Fatalf("%s: drove %v, want %v", s.name, got, s.want)
		}
	}
}

// TestTwoReplicasDoNotRunAParkedExecutionInTurn: every run writes the
// record (its lease taken, then given up as it parks), so a replica that
// took the other's writes for decisions would run a parked execution
// every round, each run making it due for the other. With two deployers
// on the fakes above: each runs a new execution at most once, then
// neither runs it nor writes it while it stays parked; a decision makes
// it due again, once per replica, and so does a hand-over; a driver that
// died holding the lease is taken over once the lease ended.
func TestTwoReplicasDoNotRunAParkedExecutionInTurn(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	x := &executions{recs: map[string]*elevator.PipelineExecution{
		"a": {ID: "a", State: elevator.ExecutionRunning, Revision: 1, Stages: []elevator.StageRun{{Name: "prod", State: elevator.StageWaiting}}},
	}}
	a, b := x.deployer("deployer-a", clock), x.deployer("deployer-b", clock)
	runs := func(rounds int) int {
		n := 0
		for range rounds {
			for _, drove := range x.round(a, b) {
				n += len(drove)
			}
			clock.add(time.Second)
		}
		return n
	}
	revision := func() int64 {
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.recs["a"].Revision
	}
	if n := runs(1); n != 2 {
		t.Fatalf("first round: %d runs, want one per replica (neither had seen it)", n)
	}
	parkedAt := revision()
	if n := runs(20); n != 0 {
		t.Fatalf("20 rounds of two replicas on a parked execution: %d runs, revision %d -> %d; want none", n, parkedAt, revision())
	}
	if got := revision(); got != parkedAt {
		t.Fatalf("the parked execution was written while nothing changed: revision %d -> %d", parkedAt, got)
	}
	x.decide("a")
	if n := runs(20); n != 2 {
		t.Fatalf("a decision, then 20 rounds: %d runs, want one per replica", n)
	}
	// A replica that stops mid-run hands the execution over (its lease
	// given up, HandOvers+1): the others go on at once.
	x.mu.Lock()
	x.recs["a"].Revision++
	x.recs["a"].HandOvers++
	x.mu.Unlock()
	if n := runs(1); n != 2 {
		t.Fatalf("a hand-over, then a round: %d runs, want one per replica", n)
	}
	x.mu.Lock()
	x.recs["a"].Owner, x.recs["a"].LeaseExpires = "deployer-c", clock.now.Add(10*time.Second)
	x.mu.Unlock()
	if n := runs(30); n != 1 {
		t.Fatalf("a driver died holding the lease: %d runs in the 30 s after it, want one once the lease ended", n)
	}
}
