package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// countingStore counts the writes and reads an execution costs: in AWS
// each is one DynamoDB request on the releases table.
type countingStore struct {
	*memStore
	puts, gets atomic.Int64
}

func (c *countingStore) Put(ctx context.Context, e *elevator.PipelineExecution) error {
	c.puts.Add(1)
	return c.memStore.Put(ctx, e)
}

func (c *countingStore) Get(ctx context.Context, app, id string) (*elevator.PipelineExecution, error) {
	c.gets.Add(1)
	return c.memStore.Get(ctx, app, id)
}

// BenchmarkAnExecutionOfThreeAutoStages runs three stages without gates,
// each release ending at its first status read, and reports the record
// writes and reads per execution (the DynamoDB requests of the executor
// itself, releases and change sets aside) and the executor's own time:
// with no change to the app's infrastructure (no Updating state), and
// with a change set to execute in every stage.
func BenchmarkAnExecutionOfThreeAutoStages(b *testing.B) {
	for _, changes := range []bool{false, true} {
		name := "no infrastructure change"
		if changes {
			name = "a change set per stage"
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, strings.Replace(strings.Replace(manifest3, "      approval: {roles: [approver], expiry: 24h}\n", "", 1),
				"      windows: [Mon-Fri 09:00-17:00 UTC]\n", "", 1))
			w.rel.polls = 1
			for _, o := range []string{"test", "staging", "production"} {
				w.rev.none[o] = !changes
			}
			store := &countingStore{memStore: w.store}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				x := w.executor("a")
				x.Store = store
				id := fmt.Sprintf("p%d", i)
				if _, err := x.Start(ctx, id, "1", alice); err != nil {
					b.Fatal(err)
				}
				e, err := x.Run(ctx, id)
				if err != nil || e.State != elevator.ExecutionSucceeded {
					b.Fatalf("%s %v", states(e), err)
				}
			}
			b.ReportMetric(float64(store.puts.Load())/float64(b.N), "writes/op")
			b.ReportMetric(float64(store.gets.Load())/float64(b.N), "reads/op")
		})
	}
}
