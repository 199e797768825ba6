package image

// Figures of a cleanup: the calls it makes by kind, and its time.
//
// BenchmarkCleanupOfAThousandImagesInThreeRegions runs on the fake
// (fakeRegion, not moto): 1,000 images of 10 lines, each with its copies
// in 3 regions (3,000 AMIs), 100 launch templates of 3 versions, 100
// groups (10 pinned to a version neither $Default nor $Latest), 50 launch configurations and 500 instances per region; pages
// are as large as AWS makes them. It reports the calls of one cleanup by
// kind (calls-<kind>/op) beside ns/op.
//
// BenchmarkCleanupOnMoto does the same on moto with 100 images in 3
// regions, counting the calls that reach the emulator with a middleware.
//
//	go test ./internal/image -run '^$' -bench Cleanup -benchtime 3x

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

var benchRegions = []string{"us-east-1", "us-west-2", "eu-west-1"}

// thousandImages is a fake cloud of n images in 3 regions and what uses
// some of them.
func thousandImages(n int) fakeCloud {
	cloud := fakeCloud{}
	for _, r := range benchRegions {
		cloud[r] = newFakeRegion()
	}
	for i := range n {
		line := fmt.Sprintf("line-%d", i%10)
		tags := map[string]string{elevator.TagImage: line, elevator.TagImageStage: "tested", elevator.TagOrbit: "bench", elevator.TagImageBakeID: fmt.Sprintf("bake-%d", i),
			elevator.TagImageBuilt: testNow.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339)}
		for ri, r := range benchRegions {
			ct := map[string]string{}
			for k, v := range tags {
				ct[k] = v
			}
			if ri > 0 {
				ct[elevator.TagImageCopiedFrom] = fmt.Sprintf("%s/ami-%05d-0", benchRegions[0], i)
			}
			cloud[r].addImage(ec2.ImageDetail{Image: ec2.Image{ID: fmt.Sprintf("ami-%05d-%d", i, ri), Tags: ct}})
		}
	}
	for ri, r := range benchRegions {
		f := cloud[r]
		id := func(i int) string { return fmt.Sprintf("ami-%05d-%d", i%n, ri) }
		for t := range 100 {
			f.addTemplate(fmt.Sprintf("t%d", t), id(3*t), id(3*t+1), id(3*t+2))
			// As releases make them, groups launch their template's
			// default version; one in ten pins version 2 (neither
			// $Default nor $Latest), which costs a call of its own.
			lt := autoscaling.LaunchTemplate{Name: fmt.Sprintf("t%d", t)}
			if t%10 == 0 {
				lt.Version = "2"
			}
			f.groups = append(f.groups, autoscaling.GroupLaunch{Group: fmt.Sprintf("g%d", t), LaunchTemplates: []autoscaling.LaunchTemplate{lt}})
		}
		for c := range 50 {
			f.configs = append(f.configs, autoscaling.LaunchConfiguration{Name: fmt.Sprintf("lc%d", c), ImageID: id(400 + c)})
		}
		for i := range 500 {
			f.instances = append(f.instances, ec2.InstanceImage{InstanceID: fmt.Sprintf("i-%d", i), ImageID: id(500 + i%200), State: "running"})
		}
	}
	return cloud
}

func BenchmarkCleanupOfAThousandImagesInThreeRegions(b *testing.B) {
	var calls map[string]int
	var removed, kept int
	for b.Loop() {
		b.StopTimer()
		cloud := thousandImages(1000)
		b.StartTimer()
		rep, err := Cleanup(context.Background(), CleanupInput{Orbit: "bench", Regions: cloud.regions(), Removers: cloud.removers(),
			Policy: Policy{Keep: DefaultKeep, Age: DefaultAge}, Now: testNow})
		if err != nil {
			b.Fatal(err)
		}
		calls, removed, kept = cloud.calls(), 0, 0
		for _, d := range rep.Decisions {
			if d.Remove {
				removed++
			} else {
				kept++
			}
		}
	}
	reportCalls(b, calls)
	b.ReportMetric(float64(removed), "images-removed/op")
	b.ReportMetric(float64(kept), "images-kept/op")
}

// reportCalls reports calls by kind, and the describes together.
func reportCalls(b *testing.B, calls map[string]int) {
	describes := 0
	var kinds []string
	for k := range calls {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		b.ReportMetric(float64(calls[k]), "calls-"+k+"/op")
		if strings.HasPrefix(k, "Describe") {
			describes += calls[k]
		}
	}
	b.ReportMetric(float64(describes), "describe-calls/op")
}

// counter counts the operations of the calls made through the configs it
// adds itself to.
type counter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *counter) add(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.calls[middleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return cfg
}

func BenchmarkCleanupOnMoto(b *testing.B) {
	const images = 100
	acct := emulatortest.NewAccount(b)
	ctx := context.Background()
	setup := func() {
		east := ec2sdk.NewFromConfig(acct.Config(benchRegions[0]))
		for i := range images {
			reg, err := east.RegisterImage(ctx, &ec2sdk.RegisterImageInput{Name: aws.String(fmt.Sprintf("bench-%d-%d", i, time.Now().UnixNano()))})
			if err != nil {
				b.Fatal(err)
			}
			tags := []ec2types.Tag{{Key: aws.String(elevator.TagImage), Value: aws.String(fmt.Sprintf("line-%d", i%10))},
				{Key: aws.String(elevator.TagImageStage), Value: aws.String("tested")},
				{Key: aws.String(elevator.TagOrbit), Value: aws.String("bench")},
				{Key: aws.String(elevator.TagImageBakeID), Value: aws.String(fmt.Sprintf("bake-%d-%s", i, aws.ToString(reg.ImageId)))},
				{Key: aws.String(elevator.TagImageBuilt), Value: aws.String(testNow.Add(-time.Duration(i+400) * time.Hour).Format(time.RFC3339))}}
			if _, err := east.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{aws.ToString(reg.ImageId)}, Tags: tags}); err != nil {
				b.Fatal(err)
			}
			for _, r := range benchRegions[1:] {
				sdk := ec2sdk.NewFromConfig(acct.Config(r))
				cp, err := sdk.CopyImage(ctx, &ec2sdk.CopyImageInput{SourceImageId: reg.ImageId, SourceRegion: aws.String(benchRegions[0]), Name: aws.String("copy")})
				if err != nil {
					b.Fatal(err)
				}
				ct := slices.Concat(tags, []ec2types.Tag{{Key: aws.String(elevator.TagImageCopiedFrom), Value: aws.String(benchRegions[0] + "/" + aws.ToString(reg.ImageId))}})
				if _, err := sdk.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{aws.ToString(cp.ImageId)}, Tags: ct}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	var calls map[string]int
	var removals int
	for b.Loop() {
		b.StopTimer()
		setup()
		c := &counter{calls: map[string]int{}}
		var regions []Region
		removers := map[string]Remover{}
		for _, r := range benchRegions {
			cfg := c.add(acct.Config(r))
			e := ec2.New(cfg)
			regions = append(regions, Region{Name: r, Images: e, Groups: autoscaling.New(cfg), Parameters: ssm.New(cfg)})
			removers[r] = e
		}
		b.StartTimer()
		rep, err := Cleanup(ctx, CleanupInput{Orbit: "bench", Regions: regions, Removers: removers, Policy: Policy{Keep: DefaultKeep, Age: DefaultAge}, Now: testNow})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Failed() > 0 {
			b.Fatalf("%d copies not removed", rep.Failed())
		}
		calls, removals = c.calls, len(rep.Removals)
	}
	reportCalls(b, calls)
	b.ReportMetric(float64(removals), "copies-removed/op")
}
