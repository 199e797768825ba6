package awsrelease

// End-to-end tests of the release engine on moto: a real two-region orbit
// (internal/orbit), an app with a service behind a load balancer ("web")
// and one without ("worker"), and releases run by release.Engine on this
// package's Cloud, Store and Locker. What a release did is checked with the
// SDK's own clients, not only from its record.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cloudwatchsdk "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/release"
)

var twoRegions = []string{"us-east-1", "eu-west-1"}

// withScaling gives web a target tracking policy, a step policy pair
// (with their CloudWatch alarms) and a schedule.
func withScaling(rel *elevator.Release) {
	web := rel.Service("web")
	web.Policies = []elevator.ReleasePolicy{
		{Type: elevator.PolicyCPUTarget, Target: 50},
		{Type: elevator.PolicyCPUScaleUp, Threshold: 70, Adjustment: 2, Periods: 2},
		{Type: elevator.PolicyCPUScaleDown, Threshold: 20, Adjustment: -1},
	}
	web.Schedule = []elevator.ReleaseSchedule{{Desired: 2, Cron: "30 10 * * *"}}
}

func TestATwoServiceReleaseSucceedsInEveryRegionAndTheNextReplacesIt(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a := w.newApp("shop", []string{"web", "worker"}, "web")
	b := w.backend()
	e := w.engine(b, "engine-a")
	ctx := context.Background()

	first := w.release(a, "1.0.0", withScaling)
	rec := w.run(t, e, first)
	assertPath(t, rec, happyPath...)
	if rec.State != elevator.StateSuccess || rec.Failed || len(rec.Leftovers) > 0 {
		t.Fatalf("first release: %s, failed %v, leftovers %v", rec.State, rec.Failed, rec.Leftovers)
	}
	w.assertServing(t, a, first.ID)

	second := w.release(a, "1.1.0", withScaling)
	rec = w.run(t, e, second)
	assertPath(t, rec, happyPath...)
	w.assertServing(t, a, second.ID)

	t.Run("the second release replaced the first's groups in every region, carrying their capacity over", func(t *testing.T) {
		for _, r := range w.regions {
			for _, sr := range regionRecord(rec, r).Services {
				if len(sr.Old) != 1 || sr.Old[0].Name != release.GroupName(first, sr.Service) || sr.CarriedFrom != sr.Old[0].Name {
					t.Errorf("%s/%s: old groups %+v, carried from %q; want the first release's group", r, sr.Service, sr.Old, sr.CarriedFrom)
				}
			}
		}
	})
	t.Run("the first release's alarms went with its groups, the second's are in place", func(t *testing.T) {
		for _, r := range w.regions {
			cw := cloudwatchsdk.NewFromConfig(w.cfg(r), cloudwatch.QueryProtocol)
			out, err := cw.DescribeAlarms(ctx, &cloudwatchsdk.DescribeAlarmsInput{AlarmNamePrefix: aws.String("shop-")})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, al := range out.MetricAlarms {
				names = append(names, aws.ToString(al.AlarmName))
			}
			g := release.GroupName(second, "web")
			if want := []string{g + "-policy-1", g + "-policy-2"}; !slices.Equal(names, want) {
				t.Errorf("%s: alarms %v, want %v", r, names, want)
			}
		}
	})
	t.Run("the new web groups have their policies and schedule", func(t *testing.T) {
		as := autoscalingsdk.NewFromConfig(w.cfg(w.regions[1]))
		g := release.GroupName(second, "web")
		pol, err := as.DescribePolicies(ctx, &autoscalingsdk.DescribePoliciesInput{AutoScalingGroupName: aws.String(g)})
		if err != nil || len(pol.ScalingPolicies) != 3 {
			t.Errorf("policies of %s: %d, %v; want 3", g, len(pol.ScalingPolicies), err)
		}
		sched, err := as.DescribeScheduledActions(ctx, &autoscalingsdk.DescribeScheduledActionsInput{AutoScalingGroupName: aws.String(g)})
		if err != nil || len(sched.ScheduledUpdateGroupActions) != 1 || aws.ToString(sched.ScheduledUpdateGroupActions[0].Recurrence) != "30 10 * * *" {
			t.Errorf("scheduled actions of %s: %+v, %v", g, sched, err)
		}
	})
	t.Run("the records are in the releases table, and listed newest first", func(t *testing.T) {
		item := w.recordItem(a, second.ID)
		if s, ok := item["state"].(*ddbtypes.AttributeValueMemberS); !ok || s.Value != string(elevator.StateSuccess) {
			t.Errorf("the table's item says state %v", item["state"])
		}
		list, err := b.Store.Releases(ctx, "shop", 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range list {
			ids = append(ids, r.ID+" "+string(r.State))
		}
		if want := []string{second.ID + " Success", first.ID + " Success"}; !slices.Equal(ids, want) {
			t.Errorf("releases of shop: %v, want %v", ids, want)
		}
	})
	t.Run("the documents and their checksums are in the state bucket as submitted", func(t *testing.T) {
		doc, sum, err := b.Store.Release(ctx, first.ID)
		want, _ := first.Canonical()
		if err != nil || string(doc) != string(want) || sum != elevator.ChecksumOf(want) {
			t.Errorf("document %q, checksum %s, %v", doc, sum, err)
		}
	})
	t.Run("the audit log has each release's submission and end", func(t *testing.T) {
		log, err := b.Store.AuditLog(ctx, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, en := range log {
			got = append(got, en.ReleaseID+" "+en.Action+" "+en.Outcome)
		}
		for _, want := range []string{first.ID + " submit submitted", first.ID + " release Success", second.ID + " submit submitted", second.ID + " release Success"} {
			if !slices.Contains(got, want) {
				t.Errorf("audit log %v lacks %q", got, want)
			}
		}
	})
}

func regionRecord(rec *elevator.ReleaseRecord, region string) elevator.ReleaseRegionRecord {
	for _, rr := range rec.Regions {
		if rr.Region == region {
			return rr
		}
	}
	return elevator.ReleaseRegionRecord{}
}

// stopNewWeb stops the new web instances of a release in region as soon
// as the engine has entered CheckHealthy, before it first looks: moto then
// reports them unused in their target group, never healthy.
func stopNewWeb(w *world, a *app, id *string, region string) func(elevator.ReleaseRecord) {
	stopped := false
	return func(rec elevator.ReleaseRecord) {
		if rec.State == elevator.StateCheckHealthy && !stopped {
			stopped = true
			w.stop(region, w.newInstances(a, region, "web", *id))
		}
	}
}

func TestAReleaseWhoseNewInstancesNeverServeEndsFailureCleanWithTheOldGroupsServing(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a := w.newApp("shop", []string{"web", "worker"}, "web")
	b := w.backend()
	first := w.release(a, "1.0.0")
	assertPath(t, w.run(t, w.engine(b, "engine-a"), first), happyPath...)

	var id string
	e := w.engine(b, "engine-b", func(c *release.Config) { c.Observe = stopNewWeb(w, a, &id, w.regions[1]) })
	bad := w.release(a, "1.1.0", func(r *elevator.Release) { r.TimeoutSeconds = 2 })
	id = bad.ID
	rec := w.run(t, e, bad)
	assertPath(t, rec, rolledBack...)
	if !errors.Is(rec.Err(), elevator.FailureUnhealthy) || !strings.Contains(rec.Error, "not healthy after 2s") || !strings.Contains(rec.Error, w.regions[1]+"/web: 0 of 1 needed healthy") {
		t.Errorf("error %q, want web in %s not healthy", rec.Error, w.regions[1])
	}
	// In both regions the new groups are gone and the first release's
	// groups still serve, attached and healthy in their target groups.
	w.assertServing(t, a, first.ID)
}

func TestAReleaseHaltedInCheckHealthyEndsFailureClean(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a := w.newApp("shop", []string{"web", "worker"}, "web")
	b := w.backend()
	first := w.release(a, "1.0.0")
	assertPath(t, w.run(t, w.engine(b, "engine-a"), first), happyPath...)

	var e *release.Engine
	var id string
	e = w.engine(b, "engine-b", func(c *release.Config) {
		c.Observe = func(rec elevator.ReleaseRecord) {
			if rec.State == elevator.StateCheckHealthy {
				if err := e.Halt(context.Background(), id, "bob", "wrong version"); err != nil {
					t.Errorf("halt: %v", err)
				}
			}
		}
	})
	halted := w.release(a, "1.1.0")
	id = halted.ID
	rec := w.run(t, e, halted)
	assertPath(t, rec, rolledBack...)
	if rec.Halt == nil || rec.Halt.By != "bob" || !errors.Is(rec.Err(), elevator.FailureHalted) || !strings.Contains(rec.Error, "halted by bob") {
		t.Errorf("halt %+v, error %q", rec.Halt, rec.Error)
	}
	w.assertServing(t, a, first.ID)
}

// offsetClock is the system clock moved on by a duration: an engine that
// starts after another engine's lease has run out.
type offsetClock struct{ d time.Duration }

func (c offsetClock) Now() time.Time                         { return time.Now().Add(c.d) }
func (c offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// hookClient calls after with the operation of every HTTP call that
// returned, as it returns: a way to kill an engine between two calls of
// one step.
type hookClient struct {
	next  aws.HTTPClient
	after func(op string)
}

func (c hookClient) Do(r *http.Request) (*http.Response, error) {
	op := operation(r)
	resp, err := c.next.Do(r)
	if err == nil {
		c.after(op)
	}
	return resp, err
}

func TestAnEngineKilledInAnyStateIsResumedByAnotherToACleanEnd(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a := w.newApp("shop", []string{"web", "worker"}, "web")
	b := w.backend()
	serving := w.release(a, "1.0.0")
	assertPath(t, w.run(t, w.engine(b, "engine-0"), serving), happyPath...)

	tests := []struct {
		name string
		// The dying engine is killed right after it stored the record in
		// state killIn, or right after the first HTTP call of killAfter
		// went through (in the middle of a step).
		killIn    elevator.ReleaseState
		killAfter string
		halt      bool // halt the release when it enters CheckHealthy
		want      elevator.ReleaseState
	}{
		{name: "killed once validated", killIn: elevator.StateLock, want: elevator.StateSuccess},
		{name: "killed holding the lock", killIn: elevator.StateValidateResources, want: elevator.StateSuccess},
		{name: "killed before making its groups", killIn: elevator.StateDeploy, want: elevator.StateSuccess},
		{name: "killed between a launch template and its group", killAfter: "CreateLaunchTemplate", want: elevator.StateSuccess},
		{name: "killed after making its first group", killAfter: "CreateAutoScalingGroup", want: elevator.StateSuccess},
		{name: "killed while waiting for health", killIn: elevator.StateCheckHealthy, want: elevator.StateSuccess},
		{name: "killed at cut-over", killIn: elevator.StateCutOver, want: elevator.StateSuccess},
		{name: "killed after detaching an old group", killAfter: "DetachLoadBalancerTargetGroups", want: elevator.StateSuccess},
		{name: "killed before deleting the old groups", killIn: elevator.StateCleanUpSuccess, want: elevator.StateSuccess},
		{name: "killed after deleting an old group", killAfter: "DeleteAutoScalingGroup", want: elevator.StateSuccess},
		{name: "killed before unlocking", killIn: elevator.StateUnlock, want: elevator.StateSuccess},
		{name: "killed while rolling back a halted release", killIn: elevator.StateCleanUpFailure, halt: true, want: elevator.StateFailureClean},
		{name: "killed after deleting a new group of a halted release", killAfter: "DeleteAutoScalingGroup", halt: true, want: elevator.StateFailureClean},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := w.release(a, fmt.Sprintf("2.0.%d", i))
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			var cfgs []aws.Config
			for _, r := range w.regions {
				c := w.cfg(r)
				c.HTTPClient = hookClient{next: http.DefaultClient, after: func(op string) {
					if op == tt.killAfter {
						kill()
					}
				}}
				cfgs = append(cfgs, c)
			}
			var dying *release.Engine
			dying = w.engine(w.backend(cfgs...), "dying", func(c *release.Config) {
				c.Observe = func(rec elevator.ReleaseRecord) {
					if tt.halt && rec.State == elevator.StateCheckHealthy {
						if err := dying.Halt(context.Background(), rel.ID, "bob", "stop"); err != nil {
							t.Errorf("halt: %v", err)
						}
					}
					if rec.State == tt.killIn {
						kill()
					}
				}
			})
			if _, err := dying.Submit(context.Background(), rel); err != nil {
				t.Fatal(err)
			}
			sum, _ := rel.Checksum()
			rec, err := dying.Run(ctx, rel.ID, sum)
			if !errors.Is(err, context.Canceled) || rec.State.Ended() || (tt.killIn != "" && rec.State != tt.killIn) {
				t.Fatalf("the dying engine stopped in %s with %v, want it killed before the end", rec.State, err)
			}
			killedIn := rec.State
			// Another engine, whose clock is past the dying engine's lease.
			heir := w.engine(b, "heir", func(c *release.Config) { c.Clock = offsetClock{testLease + time.Second} })
			rec, err = heir.Resume(context.Background(), rel.ID, "carol")
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if rec.State != tt.want || len(rec.Leftovers) > 0 {
				t.Fatalf("resumed release ended %s (path %v, error %s, leftovers %v), want %s", rec.State, rec.Path, rec.Error, rec.Leftovers, tt.want)
			}
			t.Logf("killed in %s, resumed to %s; path %v", killedIn, rec.State, rec.Path)
			if tt.want == elevator.StateSuccess {
				serving = rel
			}
			w.assertServing(t, a, serving.ID)
		})
	}
}

// TestAReleaseKilledBetweenATemplateAndItsGroupAndOvertakenLeavesNothingTagged
// kills an engine right after its first CreateLaunchTemplate, before the
// group; another release takes the lock once the lease has ended and
// succeeds; the killed release, resumed, ends FailureClean ("the lock was
// broken while no engine ran the release") and, as the SDK sees it,
// nothing tagged or named for it remains in any region: no group, no
// launch template, no alarm.
func TestAReleaseKilledBetweenATemplateAndItsGroupAndOvertakenLeavesNothingTagged(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a := w.newApp("shop", []string{"web", "worker"}, "web")
	b := w.backend()
	assertPath(t, w.run(t, w.engine(b, "engine-0"), w.release(a, "1.0.0", withScaling)), happyPath...)

	dead := w.release(a, "2.0.0", withScaling)
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	var cfgs []aws.Config
	for _, r := range w.regions {
		c := w.cfg(r)
		c.HTTPClient = hookClient{next: http.DefaultClient, after: func(op string) {
			if op == "CreateLaunchTemplate" {
				kill()
			}
		}}
		cfgs = append(cfgs, c)
	}
	dying := w.engine(w.backend(cfgs...), "dying")
	if _, err := dying.Submit(context.Background(), dead); err != nil {
		t.Fatal(err)
	}
	sum, _ := dead.Checksum()
	if rec, err := dying.Run(ctx, dead.ID, sum); !errors.Is(err, context.Canceled) || rec.State != elevator.StateDeploy {
		t.Fatalf("the dying engine stopped in %s with %v, want it killed in Deploy", rec.State, err)
	}
	if got := w.tagged(t, a, dead.ID); len(got) == 0 {
		t.Fatal("the killed release made nothing; the test misses its window")
	}

	// Past the dead engine's lease.
	later := func(c *release.Config) { c.Clock = offsetClock{testLease + time.Second} }
	next := w.release(a, "3.0.0", withScaling)
	assertPath(t, w.run(t, w.engine(b, "engine-next", later), next), happyPath...)

	rec, err := w.engine(b, "heir", later).Resume(context.Background(), dead.ID, "carol")
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if rec.State != elevator.StateFailureClean || !strings.Contains(rec.Error, "the lock was broken") || len(rec.Leftovers) > 0 {
		t.Fatalf("resumed release ended %s (path %v, error %s, leftovers %v), want FailureClean by the broken lock", rec.State, rec.Path, rec.Error, rec.Leftovers)
	}
	if got := w.tagged(t, a, dead.ID); len(got) > 0 {
		t.Errorf("left after FailureClean: %v", got)
	}
	w.assertServing(t, a, next.ID)
}

// tagged lists, with the SDK, what carries a release's id in every
// region: groups and launch templates by tag, alarms by name (they are
// named after their group, which ends with the release's short id).
func (w *world) tagged(t *testing.T, a *app, id string) []string {
	t.Helper()
	ctx := context.Background()
	byRelease := aws.String("tag:" + elevator.TagRelease)
	short := id[strings.LastIndexByte(id, '-')+1:]
	var out []string
	for _, region := range w.regions {
		cfg := w.cfg(region)
		groups, err := autoscalingsdk.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscalingsdk.DescribeAutoScalingGroupsInput{
			Filters: []autoscalingtypes.Filter{{Name: byRelease, Values: []string{id}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups.AutoScalingGroups {
			out = append(out, region+": group "+aws.ToString(g.AutoScalingGroupName))
		}
		lts, err := ec2sdk.NewFromConfig(cfg).DescribeLaunchTemplates(ctx, &ec2sdk.DescribeLaunchTemplatesInput{
			Filters: []ec2types.Filter{{Name: byRelease, Values: []string{id}}}, MaxResults: aws.Int32(200)})
		if err != nil {
			t.Fatal(err)
		}
		for _, lt := range lts.LaunchTemplates {
			out = append(out, region+": launch template "+aws.ToString(lt.LaunchTemplateName))
		}
		alarms, err := cloudwatchsdk.NewFromConfig(cfg, cloudwatch.QueryProtocol).DescribeAlarms(ctx, &cloudwatchsdk.DescribeAlarmsInput{AlarmNamePrefix: aws.String(a.name + "-" + orbitName + "-")})
		if err != nil {
			t.Fatal(err)
		}
		for _, al := range alarms.MetricAlarms {
			if strings.Contains(aws.ToString(al.AlarmName), "-"+short+"-") {
				out = append(out, region+": alarm "+aws.ToString(al.AlarmName))
			}
		}
	}
	return out
}
