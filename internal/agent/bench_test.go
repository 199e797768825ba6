package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// reportPercentiles reports the p50 and p99 of durations, in milliseconds.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(len(d)), "calls")
}

// BenchmarkAuthorizedKeys measures authorized-keys against moto's tables:
// in-process (the lookup: one BatchGetItem) and as sshd runs it (a new
// process each time, with its configuration and AWS set-up). Run it with
// -benchtime=200x for the p50/p99 of 200 calls.
func BenchmarkAuthorizedKeys(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		awsCfg := emulatortest.Config(b, testRegion)
		cfg := sshTables(b, awsCfg, "bench")
		putUser(b, awsCfg, cfg.UsersTable, "alice", aliceKey)
		putAdmins(b, awsCfg, cfg.ServicesTable, "shop", "alice")
		tables := dynamodb.New(awsCfg)
		ctx := context.Background()
		var d []time.Duration
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			keys, err := AuthorizedKeys(ctx, cfg, tables, "alice")
			d = append(d, time.Since(start))
			if err != nil || len(keys) != 1 {
				b.Fatalf("keys %q, %v", keys, err)
			}
		}
		b.StopTimer()
		reportPercentiles(b, d)
	})
	b.Run("process", func(b *testing.B) {
		w := newAppWorld(b)
		w.bin = buildAgent(b)
		var d []time.Duration
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			out, stderr, code := w.run(b, "authorized-keys", "alice")
			d = append(d, time.Since(start))
			if code != 0 || out != aliceKey+"\n" {
				b.Fatalf("status %d, %q, %s", code, out, stderr)
			}
		}
		b.StopTimer()
		reportPercentiles(b, d)
	})
}

// BenchmarkAgentStartToServiceStarted measures, with the agent as a real
// process against moto, the time from `elevator-agent boot` starting to
// the service (run by `elevator-agent exec`) writing its first line:
// secrets, stack outputs, env file, SSH set-up (commands recorded, not
// run: no systemd here, no image pull), then exec. It reports the peak
// resident memory of each agent process (VmHWM), sampled every 2 ms.
func BenchmarkAgentStartToServiceStarted(b *testing.B) {
	w := newAppWorld(b)
	w.bin = buildAgent(b)
	var bootRSS, execRSS int64
	var d []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		boot := w.command("boot")
		if err := boot.Start(); err != nil {
			b.Fatal(err)
		}
		bootHWM := watchHWM(boot.Process.Pid)
		if err := boot.Wait(); err != nil {
			b.Fatalf("boot: %v", err)
		}
		bootRSS = max(bootRSS, bootHWM())
		run := w.command("exec", "--service", "web", "--", "sh", "-c", "echo started; sleep 0.1")
		stdout, err := run.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Start(); err != nil {
			b.Fatal(err)
		}
		execHWM := watchHWM(run.Process.Pid)
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() || lines.Text() != "started" {
			b.Fatalf("first line %q", lines.Text())
		}
		d = append(d, time.Since(start))
		for lines.Scan() {
		}
		if err := run.Wait(); err != nil {
			b.Fatalf("exec: %v", err)
		}
		execRSS = max(execRSS, execHWM())
	}
	b.StopTimer()
	reportPercentiles(b, d)
	b.ReportMetric(float64(bootRSS)/1024, "boot-peak-RSS-MiB")
	b.ReportMetric(float64(execRSS)/1024, "exec-peak-RSS-MiB")
}

// watchHWM reads the peak resident set (VmHWM, KiB) of process pid every
// few milliseconds until the returned function is called, after the
// process ended, and returns the highest seen. (getrusage's ru_maxrss
// would not do: Go starts a child sharing its own memory, whose peak the
// child inherits at exec.)
func watchHWM(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for _, l := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
						if kb > peak.Load() {
							peak.Store(kb)
						}
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}
