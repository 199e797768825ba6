package cli_test

// BenchmarkBakeCalls counts the HTTP requests one `elevator image bake`
// makes on the emulator, from reading the manifests to the terminated
// builder, and times it. Moto cannot run scripts: the benchmark plays the
// builder and reports success as soon as the builder appears, so the
// figures leave script time out (what remains of the wait is the polling:
// --poll-interval 100ms here, 5s by default).
//
//	go test ./internal/cli -run '^$' -bench BakeCalls -benchtime 3x -v
//
// The requests are counted by the counting reverse proxy in front of moto
// (deploy_bench_test.go), retries included.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/orbit/orbittest"
)

func BenchmarkBakeCalls(b *testing.B) {
	s := &bakeSetting{acct: emulatortest.NewAccount(b)}
	b.Setenv("AWS_ACCESS_KEY_ID", s.acct.AccessKeyID)
	b.Setenv("AWS_SECRET_ACCESS_KEY", s.acct.SecretAccessKey)
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_PROFILE", "")
	b.Setenv("CI", "true")
	orbittest.FakeAgent(b)
	counter := startCountingProxy(b, emulatortest.Endpoint())
	s.orbit = fmt.Sprintf("bake-%d", time.Now().UnixNano()%1e6)
	s.orbitFile = filepath.Join(b.TempDir(), "orbit.yml")
	run := func(args ...string) {
		b.Helper()
		args = append(args, "--endpoint-url", counter.url)
		var stdout, stderr strings.Builder
		if code := cli.Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			b.Fatalf("elevator %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
	}
	if err := os.WriteFile(s.orbitFile, []byte("name: "+s.orbit+"\nregions:\n  us-east-1: {}\nnetwork: {nat: none}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	run("orbit", "up", "-f", s.orbitFile, "--poll-interval", "100ms")
	s.prepare(b)
	s.playBuilder(b, domain.BakeResult{OK: true})
	for i := range b.N {
		counter.reset()
		start := time.Now()
		run("image", "bake", "-f", s.imageFile, "--orbit", s.orbit, "--orbit-file", s.orbitFile, "--poll-interval", "100ms",
			"--version", fmt.Sprintf("1.0.%d", i), "-o", "json")
		took := time.Since(start)
		total, ops := counter.counts()
		b.ReportMetric(float64(total), "requests")
		b.ReportMetric(took.Seconds(), "s")
		if i == 0 {
			b.Logf("one bake: %d requests in %s: %s", total, took.Round(time.Millisecond), ops)
		}
	}
}
