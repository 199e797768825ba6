package cli_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// TestDeployerFigures measures the deployer on the emulator: releases a
// minute through 1 and 2 replicas, and the latency from a submission's
// write to its release's first transition (Validate), p50 and p99. It runs
// only when ELEVATOR_DEPLOYER_BENCH names how many releases to submit
// (over 10 apps of one service each), as scripts and the README do:
//
//	ELEVATOR_DEPLOYER_BENCH=100 go test ./internal/cli -run TestDeployerFigures -v -timeout 30m
func TestDeployerFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ELEVATOR_DEPLOYER_BENCH"))
	if n <= 0 {
		t.Skip("set ELEVATOR_DEPLOYER_BENCH=N to measure N releases through 1 and 2 deployers")
	}
	const apps = 10
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			in := newIntake(t, apps)
			var rs []*replica
			for range replicas {
				rs = append(rs, in.start(t, emulatortest.Endpoint()))
			}
			time.Sleep(2 * time.Second) // the replicas are up and polling
			var rels []*domain.Release
			for i := range n {
				rels = append(rels, in.release(t, fmt.Sprintf("app%02d", i%apps), fmt.Sprintf("1.0.%d", i)))
			}
			submitted := make([]time.Time, len(rels))
			start := time.Now()
			var wg sync.WaitGroup
			var ids []string
			for i, rel := range rels {
				ids = append(ids, rel.ID)
				wg.Add(1)
				go func() { defer wg.Done(); in.submit(t, rel); submitted[i] = time.Now() }()
			}
			wg.Wait()
			recs := in.waitEnded(t, ids, 30*time.Minute, rs...)
			took := time.Since(start)
			var lat []time.Duration
			ok := 0
			for i, rel := range rels {
				rec := recs[rel.ID]
				if rec.State == domain.StateSuccess {
					ok++
				}
				if len(rec.Visits) > 0 {
					lat = append(lat, rec.Visits[0].Sub(submitted[i]))
				}
			}
			slices.Sort(lat)
			pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
			t.Logf("FIGURES replicas=%d releases=%d success=%d took=%s releases/min=%.1f first-transition p50=%s p99=%s",
				replicas, n, ok, took.Round(time.Millisecond), float64(n)/took.Minutes(), pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond))
		})
	}
}
