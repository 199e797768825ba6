package cli_test

// BenchmarkMixedDeployCalls puts a figure on a release of the mixed app
// (web on ECS Fargate, worker on Docker instances) next to the same app
// with web on Docker too: the wall time of `elevator deploy` and its AWS
// requests, counted by the counting proxy of BenchmarkDeployCalls, in an
// orbit over two regions, for the app's first release and the second,
// which replaces the first's services and groups.
//
//	go test ./internal/cli -run '^$' -bench MixedDeployCalls -benchtime 1x -v
//
// Both apps' requests go through ecsproxy.Proxy, the fault-injecting proxy
// in front of moto that answers for the tasks, target health and
// deployments moto lacks (see ecs_mixed_e2e_test.go); the counter stands
// in front of it, so the ECS figures count what the command asks of AWS,
// not the proxy's own calls to moto. moto answers at once, so the times
// are the engine's polling and the requests' round trips, not AWS's.

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/elevatorhq/elevator/internal/emulator/ecsproxy"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/orbit/orbittest"

	"net/http/httptest"
)

// dockerWebApp is mixedApp with web on Docker instances.
const dockerWebApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"]}}
    port: 8080
    load_balancer: {type: public, health_check: {path: /health}}
    scaling: {min: 1, max: 2}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
`

func BenchmarkMixedDeployCalls(b *testing.B) {
	for _, c := range []struct{ web, app string }{{"ecs", mixedApp}, {"docker", dockerWebApp}} {
		b.Run("web="+c.web, func(b *testing.B) { benchMixedDeployCalls(b, c.app) })
	}
}

func benchMixedDeployCalls(b *testing.B, app string) {
	acct := emulatortest.NewAccount(b)
	b.Setenv("AWS_ACCESS_KEY_ID", acct.AccessKeyID)
	b.Setenv("AWS_SECRET_ACCESS_KEY", acct.SecretAccessKey)
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_PROFILE", "")
	b.Setenv("CI", "true")
	orbittest.FakeAgent(b)
	ecs := httptest.NewServer(ecsproxy.New(emulatortest.Endpoint(), credentials.NewStaticCredentialsProvider(acct.AccessKeyID, acct.SecretAccessKey, "")))
	b.Cleanup(ecs.Close)
	counter := startCountingProxy(b, ecs.URL)

	orbit := fmt.Sprintf("mixed-%d", time.Now().UnixNano()%1e6)
	measureDeploys(b, counter, orbit, mixedOrbit, app, "")
}
