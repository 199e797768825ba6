package awsrelease

// BenchmarkRelease measures a release on the emulator: its wall time, the
// engine's calls of its interfaces (Store, Locker, Cloud) and the HTTP
// calls the SDK makes, for apps of 1, 10 and 50 services in orbits of 1
// and 3 regions, with and without 200 unrelated Auto Scaling groups in
// every region of the account. The HTTP calls must not grow with the
// unrelated groups: groups are only ever found by tag filters.
//
//	go test ./internal/release/awsrelease -run '^$' -bench Release -benchtime 1x
//
// Each measured release replaces the groups of the one before it (a first
// release runs before the clock starts), so it creates, checks, cuts over
// and deletes one group per service and region. Every other service has a
// target group behind a load balancer. On moto instances are healthy at
// once, so the time is the engine's and moto's, not EC2's.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

var benchRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

func BenchmarkRelease(b *testing.B) {
	for _, services := range []int{1, 10, 50} {
		for _, regions := range []int{1, 3} {
			for _, unrelated := range []int{0, 200} {
				b.Run(fmt.Sprintf("services=%d/regions=%d/unrelated=%d", services, regions, unrelated), func(b *testing.B) {
					benchRelease(b, services, benchRegions[:regions], unrelated)
				})
			}
		}
	}
}

func benchRelease(b *testing.B, services int, regions []string, unrelated int) {
	w := newWorld(b, regions...)
	var names, lb []string
	for i := range services {
		names = append(names, fmt.Sprintf("s%02d", i))
		if i%2 == 0 {
			lb = append(lb, names[i])
		}
	}
	a := w.newApp("bench", names, lb...)
	for _, r := range regions {
		w.unrelatedGroups(r, unrelated)
	}
	counter := newCountingClient()
	var cfgs []aws.Config
	for _, r := range regions {
		c := w.cfg(r)
		c.HTTPClient = counter
		cfgs = append(cfgs, c)
	}
	e := w.engine(w.backend(cfgs...), "bench")
	f := measureReleases(b, w, e, counter, func(i int) *elevator.Release { return w.release(a, fmt.Sprint(i)) })
	b.ReportMetric(float64(f.ops["DescribeAutoScalingGroups"])/float64(b.N), "describe-asg/op")
	b.Logf("HTTP calls by operation over %d release(s): %v", b.N, f.ops)
}

// releaseFigures are what b.N measured releases took: wall time, the
// engine's calls of its interfaces, and the SDK's HTTP calls, in all and
// by operation.
type releaseFigures struct {
	elapsed     time.Duration
	engineCalls int
	http        int
	ops         map[string]int
}

// measureReleases runs release(0) with e, then release(1) to release(b.N)
// on the clock, each replacing the one before, failing b when one does not
// succeed. It reports s/op, calls/op and http/op, the HTTP calls counted
// by counter, and returns the figures.
func measureReleases(b *testing.B, w *world, e *release.Engine, counter *countingClient, rel func(i int) *elevator.Release) releaseFigures {
	b.Helper()
	if rec := w.run(b, e, rel(0)); rec.State != elevator.StateSuccess {
		b.Fatalf("first release: %s (%s)", rec.State, rec.Error)
	}
	counter.reset()
	var f releaseFigures
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		rec := w.run(b, e, rel(i+1))
		if rec.State != elevator.StateSuccess {
			b.Fatalf("release %d: %s (%s)", i+1, rec.State, rec.Error)
		}
		for _, n := range rec.Calls {
			f.engineCalls += n
		}
	}
	f.elapsed = time.Since(start)
	b.StopTimer()
	f.ops = counter.reset()
	for _, n := range f.ops {
		f.http += n
	}
	n := float64(b.N)
	b.ReportMetric(f.elapsed.Seconds()/n, "s/op")
	b.ReportMetric(float64(f.engineCalls)/n, "calls/op")
	b.ReportMetric(float64(f.http)/n, "http/op")
	return f
}

// unrelatedGroups makes n groups of another app in region, with no
// instances, for releases to ignore.
func (w *world) unrelatedGroups(region string, n int) {
	if n == 0 {
		return
	}
	ctx := context.Background()
	cfg := w.cfg(region)
	lt, err := ec2sdk.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("unrelated"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(w.images[region]), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	as := autoscalingsdk.NewFromConfig(cfg)
	for i := range n {
		_, err := as.CreateAutoScalingGroup(ctx, &autoscalingsdk.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(fmt.Sprintf("other-%03d", i)),
			LaunchTemplate:       &autoscalingtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId},
			MinSize:              aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
			VPCZoneIdentifier: aws.String(w.privateSubnets(region)[0]),
			Tags: []autoscalingtypes.Tag{
				{Key: aws.String(elevator.TagApp), Value: aws.String("other"), PropagateAtLaunch: aws.Bool(true)},
				{Key: aws.String(elevator.TagOrbit), Value: aws.String(orbitName), PropagateAtLaunch: aws.Bool(true)},
			},
		})
		if err != nil {
			w.t.Fatal(err)
		}
	}
}
