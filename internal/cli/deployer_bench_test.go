package cli_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// TestDeployerFigures measures the deployer on the emulator: releases a
// minute through 1, 2 and 4 replicas, the latency from a submission's
// write to its release's first transition (Validate, once it has its
// app's lock) and to a replica taking it (its record written down), p50
// and p99, and
// the replicas' resident memory (VmRSS from /proc) idle and at its peak
// with the releases in flight (each replica may hold all of them:
// --max-in-flight 25 lets 100 wait for their apps' locks). It runs only
// when ELEVATOR_DEPLOYER_BENCH names how many releases to submit (over 10
// apps of one service each), as scripts and the README do:
//
//	ELEVATOR_DEPLOYER_BENCH=100 go test ./internal/cli -run TestDeployerFigures -v -timeout 30m
//
// The API's list figure is TestDeployerListPagesTenThousandReleasesReadingOnePageEach.
func TestDeployerFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ELEVATOR_DEPLOYER_BENCH"))
	if n <= 0 {
		t.Skip("set ELEVATOR_DEPLOYER_BENCH=N to measure N releases through 1, 2 and 4 deployers")
	}
	const apps = 10
	for _, replicas := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			in := newIntake(t, apps)
			var rs []*replica
			for range replicas {
				rs = append(rs, in.start(t, emulatortest.Endpoint(), "--max-in-flight", "25"))
			}
			time.Sleep(2 * time.Second) // the replicas are up and polling
			idle := rss(t, rs)
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
			// The peak resident memory while the releases run.
			done := make(chan struct{})
			peak := make(chan int64, 1)
			go func() {
				var top int64
				for {
					top = max(top, rss(t, rs))
					select {
					case <-done:
						peak <- top
						return
					case <-time.After(250 * time.Millisecond):
					}
				}
			}()
			recs := in.waitEnded(t, ids, 30*time.Minute, rs...)
			took := time.Since(start)
			close(done)
			top := <-peak
			// The first transition (Validate) comes once the release has
			// its app's lock; a replica takes (writes down) a submission
			// before that, as soon as the queue or the listing shows it.
			var lat, taken []time.Duration
			ok := 0
			for i, rel := range rels {
				rec := recs[rel.ID]
				if rec.State == domain.StateSuccess {
					ok++
				} else {
					t.Logf("release %s of %s ended %s: %s", rec.ID, rec.App, rec.State, rec.Error)
				}
				if len(rec.Visits) > 0 {
					lat = append(lat, rec.Visits[0].Sub(submitted[i]))
				}
				taken = append(taken, rec.SubmittedAt.Sub(submitted[i]))
			}
			slices.Sort(lat)
			slices.Sort(taken)
			pct := func(d []time.Duration, p float64) time.Duration {
				return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Millisecond)
			}
			t.Logf("FIGURES replicas=%d releases=%d success=%d took=%s releases/min=%.1f first-transition p50=%s p99=%s taken p50=%s p99=%s rss-idle=%.1fMiB rss-peak=%.1fMiB (largest replica)",
				replicas, n, ok, took.Round(time.Millisecond), float64(n)/took.Minutes(), pct(lat, 0.50), pct(lat, 0.99), pct(taken, 0.50), pct(taken, 0.99),
				float64(idle)/(1<<20), float64(top)/(1<<20))
		})
	}
}

// rss is the largest resident memory (VmRSS, in bytes) of the replicas'
// processes, from /proc.
func rss(t *testing.T, rs []*replica) int64 {
	t.Helper()
	var top int64
	for _, r := range rs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
		if err != nil {
			continue // it exited: waitEnded says so
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				top = max(top, kb<<10)
			}
		}
	}
	return top
}
