package cli_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// TestGCRemovesWhatEndedReleasesLeftAndNothingElse: after two releases,
// each region holds, made with the SDK, what an ended release's cleanup
// missed before it looked by tag (the first release's web launch
// template, and its alarm), and a launch template of a release under way
// (it holds the lock; its group is not made yet). `gc --dry-run` lists
// the first two and removes nothing; `gc --yes` removes them; the serving
// release and the one under way keep everything.
func TestGCRemovesWhatEndedReleasesLeftAndNothingElse(t *testing.T) {
	acct, orbit, flags := releasable(t)
	first := elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...)
	mustSucceed(t, first)
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.1"}, flags...)...))
	firstID := releaseID.FindStringSubmatch(first.stdout)[1]
	ctx := context.Background()

	const runningID = "20261123-115500-bbbbbbbb"
	home := acct.Config("us-east-1")
	backend, err := awsrelease.New(awsrelease.Config{Orbit: orbit, AWS: []aws.Config{home}, Bucket: domain.StateBucketName(acct.ID, "us-east-1", orbit)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := backend.Locker.Acquire(ctx, release.Lock{App: "shop", Orbit: orbit, ReleaseID: runningID, Owner: "engine-elsewhere",
		Holder: "bob", Since: now, Expires: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	orphanLT := "shop-" + orbit + "-web-" + shortID(firstID)
	orphanAlarm := orphanLT + "-policy-alarm-0"
	runningLT := "shop-" + orbit + "-worker-bbbbbbbb"
	regions := []string{"us-east-1", "eu-west-1"}
	before := map[string][]string{}
	for _, region := range regions {
		cfg := acct.Config(region)
		image := firstImage(t, cfg)
		for name, id := range map[string]string{orphanLT: firstID, runningLT: runningID} {
			tags := []ec2types.Tag{{Key: aws.String(domain.TagApp), Value: aws.String("shop")}, {Key: aws.String(domain.TagOrbit), Value: aws.String(orbit)},
				{Key: aws.String(domain.TagRelease), Value: aws.String(id)}}
			if _, err := ec2sdk.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2sdk.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image), InstanceType: ec2types.InstanceTypeT3Micro},
				TagSpecifications:  []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := cloudwatch.New(cfg).PutAlarm(ctx, cloudwatch.Alarm{Name: orphanAlarm, Namespace: "AWS/EC2", Metric: "CPUUtilization",
			Dimensions: map[string]string{"AutoScalingGroupName": orphanLT}, Period: time.Minute, EvaluationPeriods: 1, Threshold: 90,
			Comparison: cloudwatch.GreaterThanOrEqual}); err != nil {
			t.Fatal(err)
		}
		before[region] = leftovers(t, cfg, orbit)
	}

	gcFlags := []string{"--orbit", orbit, "--orbit-file", flags[5]}
	dry := elevator(t, "", append([]string{"gc", "--dry-run", "-o", "json"}, gcFlags...)...)
	mustSucceed(t, dry)
	var found []struct {
		Region, Kind, Name string
		ReleaseID          string `json:"release_id"`
		Removed            bool
	}
	if err := json.Unmarshal([]byte(dry.stdout), &found); err != nil {
		t.Fatalf("gc -o json: %v\n%s", err, dry.stdout)
	}
	var got []string
	for _, o := range found {
		got = append(got, o.Region+" "+o.Kind+" "+o.Name)
		if o.Removed {
			t.Errorf("a dry run removed %+v", o)
		}
	}
	sort.Strings(got)
	var want []string
	for _, region := range regions {
		want = append(want, region+" alarm "+orphanAlarm, region+" launch template "+orphanLT)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("gc --dry-run found %q, want %q", got, want)
	}
	for _, region := range regions {
		if after := leftovers(t, acct.Config(region), orbit); !slices.Equal(after, before[region]) {
			t.Errorf("%s: a dry run changed %v into %v", region, before[region], after)
		}
	}

	if r := elevator(t, "", append([]string{"gc"}, gcFlags...)...); r.code != cli.ExitInterrupted {
		t.Errorf("gc without --yes and no answer: exit %d, want %d\n%s%s", r.code, cli.ExitInterrupted, r.stdout, r.stderr)
	}
	removed := elevator(t, "", append([]string{"gc", "--yes"}, gcFlags...)...)
	mustSucceed(t, removed)
	if strings.Count(removed.stdout, "removed") != 4 {
		t.Errorf("gc --yes:\n%s", removed.stdout)
	}
	for _, region := range regions {
		var wantLeft []string
		for _, x := range before[region] {
			if !strings.Contains(x, orphanLT) {
				wantLeft = append(wantLeft, x)
			}
		}
		if after := leftovers(t, acct.Config(region), orbit); !slices.Equal(after, wantLeft) {
			t.Errorf("%s: after gc %v, want %v", region, after, wantLeft)
		}
		if !slices.Contains(before[region], "launch template "+runningLT) {
			t.Errorf("%s: the running release's template is missing from %v", region, before[region])
		}
	}
	if again := elevator(t, "", append([]string{"gc", "--dry-run"}, gcFlags...)...); again.code != 0 || !strings.Contains(again.stdout, "nothing left behind") {
		t.Errorf("gc after gc: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
}

// leftovers lists, with the SDK, the orbit's launch templates and the
// shop app's alarms in a region.
func leftovers(t *testing.T, cfg aws.Config, orbit string) []string {
	t.Helper()
	ctx := context.Background()
	lts, err := ec2sdk.NewFromConfig(cfg).DescribeLaunchTemplates(ctx, &ec2sdk.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{orbit}}}, MaxResults: aws.Int32(200)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, lt := range lts.LaunchTemplates {
		out = append(out, "launch template "+aws.ToString(lt.LaunchTemplateName))
	}
	alarms, err := cloudwatch.New(cfg).Alarms(ctx, "shop-"+orbit+"-")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alarms {
		out = append(out, "alarm "+a.Name)
	}
	sort.Strings(out)
	return out
}

// firstImage returns an image id of the region's emulator.
func firstImage(t *testing.T, cfg aws.Config) string {
	t.Helper()
	out, err := ec2sdk.NewFromConfig(cfg).DescribeImages(context.Background(), &ec2sdk.DescribeImagesInput{MaxResults: aws.Int32(5)})
	if err != nil || len(out.Images) == 0 {
		t.Fatalf("no image: %v", err)
	}
	return aws.ToString(out.Images[0].ImageId)
}
