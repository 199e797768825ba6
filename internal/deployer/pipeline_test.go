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
	out := *rec
	return &out, nil
}

func (x *executions) decide(id string) {
	x.mu.Lock()
	x.recs[id].Revision++
	x.mu.Unlock()
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
	d := &Deployer{o: Options{Pipelines: &Pipelines{Executions: x, Drive: x.drive, Every: time.Second, Recheck: 2 * time.Hour}},
		log: slog.New(slog.DiscardHandler), owner: "deployer-1", clock: clock,
		pipes: pipelines{driving: map[string]bool{}, seen: map[string]parked{}}}
	round := func() []string {
		t.Helper()
		x.mu.Lock()
		x.drove = nil
		x.mu.Unlock()
		d.pipelinesOnce(context.Background())
		d.wg.Wait()
		x.mu.Lock()
		defer x.mu.Unlock()
		return slices.Sorted(slices.Values(x.drove)) // each runs in a goroutine of its own
	}
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
