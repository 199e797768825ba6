package awsrelease

// BenchmarkECSRelease measures a release of one service on the emulator,
// run by the engine, as an Auto Scaling group and as an ECS service of
// the same app: its wall time, the engine's calls of its interfaces and
// the HTTP calls the SDK makes, by operation.
//
//	go test ./internal/release/awsrelease -run XXX -bench ECSRelease -benchtime 3x
//
// Each measured release replaces the one before it (a first release runs
// before the clock starts). The ECS releases reach moto through ecsproxy
// (ecs_test.go), the proxy in front of moto that answers for the tasks
// moto never starts and their target health: its answers count as HTTP
// calls, the lookups it makes of moto itself do not. On moto instances
// and tasks are healthy at once, so the time is the engine's and moto's,
// not EC2's or ECS's.

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/ecsproxy"
)

func BenchmarkECSRelease(b *testing.B) {
	b.Run("runtime=asg", func(b *testing.B) {
		w := newWorld(b, "us-east-1")
		a := w.newApp("bench", []string{"web"}, "web")
		benchOneService(b, w, nil, func(version string) *elevator.Release { return w.release(a, version) })
	})
	b.Run("runtime=ecs", func(b *testing.B) {
		w := newECSWorld(b)
		benchOneService(b, w.world, w.proxy, func(version string) *elevator.Release { return w.release(version) })
	})
}

// release is a release of the app's web service as an ECS service on
// Fargate, in the world's target group.
func (w *ecsWorld) release(version string) *elevator.Release {
	w.t.Helper()
	id, err := elevator.NewReleaseID(time.Now(), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return &elevator.Release{
		ID: id, CreatedAt: time.Now().UTC().Truncate(time.Second), CreatedBy: "arn:aws:iam::" + w.accountID() + ":user/alice",
		App: "shop", Orbit: orbitName, Version: version, Regions: []string{w.region}, TimeoutSeconds: 60,
		Services: []elevator.ReleaseService{{
			Name:     "web",
			Capacity: elevator.ReleaseCapacity{Min: 1, Max: 4},
			ECS: &elevator.ReleaseECS{Capacity: elevator.ECSFargate, CPU: 256, Memory: 512,
				Ports: []elevator.ReleasePort{{Container: 8080, Protocol: "tcp"}}, Env: map[string]string{"LOG_LEVEL": "info"}},
			Placements: []elevator.ReleasePlacement{{
				Region: w.region, Image: "public.ecr.aws/nginx/nginx:" + version,
				Subnets: w.privateSubnets(w.region)[:2], SecurityGroups: []string{w.sg}, TargetGroups: []string{w.tg},
				// The roles and log group the app stack makes: under the
				// service's IAM path and the app's path (ValidateResources).
				Cluster:       w.cluster,
				TaskRole:      "arn:aws:iam::" + w.accountID() + ":role" + elevator.IAMPath(orbitName, "shop", "web") + "shop-rel-web-task",
				ExecutionRole: "arn:aws:iam::" + w.accountID() + ":role" + elevator.IAMPath(orbitName, "shop", "web") + "shop-rel-web-exec",
				LogGroup:      elevator.AppPath(orbitName, "shop") + "web",
			}},
		}},
	}
}

// benchOneService runs a first release, then b.N releases that each
// replace the one before, and reports their time and calls. With a proxy,
// the SDK's calls go through it.
func benchOneService(b *testing.B, w *world, proxy *ecsproxy.Proxy, release func(version string) *elevator.Release) {
	counter := newCountingClient()
	if proxy != nil {
		counter.next = proxy
	}
	c := w.cfg(w.regions[0])
	c.HTTPClient = counter
	e := w.engine(w.backend(c), "bench")
	f := measureReleases(b, w, e, counter, func(i int) *elevator.Release { return release(fmt.Sprint(i)) })
	n := float64(b.N)
	var by []string
	for _, op := range slices.Sorted(maps.Keys(f.ops)) {
		by = append(by, fmt.Sprintf("%s=%.1f", op, float64(f.ops[op])/n))
	}
	b.Logf("per release: %.2f s, %.0f engine calls, %.0f HTTP calls: %v", f.elapsed.Seconds()/n, float64(f.engineCalls)/n, float64(f.http)/n, by)
}
