package runcmd

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRunOverThreeRegions runs a command on 600 instances in three
// regions (a fake Run Command; instance k ends after k%10 looks) and
// reports the Run Command calls a run makes: one Send per 50 instances
// of a region, one ListCommandInvocations per command still running at
// each look (and, on AWS, one GetCommandInvocation per ended step with
// output, not counted here).
func BenchmarkRunOverThreeRegions(b *testing.B) {
	var sends, looks int
	for b.Loop() {
		regions := map[string]Commands{}
		var targets []Target
		for _, r := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
			f := newFake(map[string]plan{})
			for k := range 200 {
				id := fmt.Sprintf("i-%s-%03d", r, k)
				f.plans[id] = plan{after: k % 10, inv: ok("done\n")}
				targets = append(targets, Target{Region: r, Instance: id, AZ: r + string(rune('a'+k%3))})
			}
			regions[r] = f
		}
		rep, err := newRunner(regions, &clock{t: time.Unix(0, 0)}).Run(context.Background(), Shell("uptime", time.Minute), targets)
		if err != nil || len(rep.Instances) != 600 {
			b.Fatal(rep, err)
		}
		sends, looks = 0, 0
		for _, c := range regions {
			f := c.(*fakeRunCommand)
			sends += len(f.sent)
			looks += f.lists
		}
	}
	b.ReportMetric(float64(sends), "sends/run")
	b.ReportMetric(float64(looks), "list-invocations/run")
}
