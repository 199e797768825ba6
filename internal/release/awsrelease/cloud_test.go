package awsrelease

// The Cloud's own contract on moto: what Describe and Remains find, and
// that CreateGroup and DeleteGroup can be called again after any failure.

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/release"
)

func TestDescribeFindsWhatExistsWithWhatAuthorizesIt(t *testing.T) {
	w := newWorld(t, "us-east-1")
	a := w.newApp("shop", []string{"web"}, "web")
	c := NewCloud(w.cfg("us-east-1"))
	web := a.res["us-east-1"]["web"]
	ctx := context.Background()
	tests := []struct {
		name string
		kind release.ResourceKind
		ids  []string
		want func(release.Resource) bool
	}{
		{"an image tagged for the app", release.KindImage, []string{w.images["us-east-1"], "ami-12345678"},
			func(r release.Resource) bool {
				return r.Tags[elevator.TagApp] == "shop" && r.Tags[elevator.TagOrbit] == orbitName
			}},
		{"a private subnet of the orbit", release.KindSubnet, []string{w.privateSubnets("us-east-1")[0], "subnet-12345678"},
			func(r release.Resource) bool {
				return r.Tags[elevator.TagTier] == elevator.TierPrivate && r.Tags[elevator.TagOrbit] == orbitName
			}},
		{"a security group of the service", release.KindSecurityGroup, []string{web.SG, "sg-12345678"},
			func(r release.Resource) bool { return r.Tags[elevator.TagService] == "web" }},
		{"a target group of the service", release.KindTargetGroup, []string{web.TargetGroup, "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef"},
			func(r release.Resource) bool {
				return r.Tags[elevator.TagService] == "web" && r.Tags[elevator.TagApp] == "shop"
			}},
		{"an instance profile on the service's path", release.KindInstanceProfile, []string{web.Profile, "no-such-profile"},
			func(r release.Resource) bool { return r.Path == elevator.IAMPath(orbitName, "shop", "web") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Describe(ctx, tt.kind, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != tt.ids[0] || got[0].Kind != tt.kind || !tt.want(got[0]) {
				t.Errorf("got %+v; want %s alone (the other id does not exist), authorized", got, tt.ids[0])
			}
		})
	}
}

func TestCreateGroupCompletesWhatAnEarlierTryLeftAndRefusesAnotherReleasesName(t *testing.T) {
	w := newWorld(t, "us-east-1")
	a := w.newApp("shop", []string{"worker"})
	c := NewCloud(w.cfg("us-east-1"))
	ctx := context.Background()
	wk := a.res["us-east-1"]["worker"]
	spec := func(rel string) release.GroupSpec {
		return release.GroupSpec{
			Name: "shop-rel-worker-0000000a", ImageID: w.images["us-east-1"], InstanceType: "t3.micro",
			UserData: "#!/bin/sh\n", InstanceProfile: wk.Profile, SecurityGroups: []string{wk.SG},
			Subnets: w.privateSubnets("us-east-1")[:2], Capacity: release.Capacity{Min: 1, Max: 2, Desired: 1},
			HealthCheckGrace: time.Minute,
			Hooks:            []elevator.ReleaseHook{{Name: "drain", Transition: elevator.HookTerminating, HeartbeatSeconds: 300, DefaultResult: "CONTINUE"}},
			Tags:             map[string]string{elevator.TagApp: "shop", elevator.TagOrbit: orbitName, elevator.TagService: "worker", elevator.TagRelease: rel},
		}
	}
	const token = "0123456789abcdef0123456789abcdef"
	for try := 1; try <= 2; try++ {
		if err := c.CreateGroup(ctx, spec("r1"), token); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
	}
	groups, err := c.Groups(ctx, release.GroupFilter{App: "shop", Orbit: orbitName, ReleaseID: "r1"})
	if err != nil || len(groups) != 1 || len(groups[0].Instances) != 1 {
		t.Fatalf("groups of r1: %+v, %v; want one with one instance", groups, err)
	}
	hooks, err := autoscalingsdk.NewFromConfig(w.cfg("us-east-1")).DescribeLifecycleHooks(ctx, &autoscalingsdk.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(spec("r1").Name)})
	if err != nil || len(hooks.LifecycleHooks) != 1 || aws.ToString(hooks.LifecycleHooks[0].LifecycleHookName) != "drain" {
		t.Errorf("lifecycle hooks: %+v, %v; want drain", hooks, err)
	}
	if err := c.CreateGroup(ctx, spec("r2"), token); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("another release's create under the name: %v, want EINVALID (not retried)", err)
	}

	for try := 1; try <= 2; try++ {
		if err := c.DeleteGroup(ctx, release.GroupRef{Name: spec("r1").Name}); err != nil {
			t.Fatalf("delete, try %d: %v", try, err)
		}
	}
	if groups, _ := c.Groups(ctx, release.GroupFilter{App: "shop", Orbit: orbitName}); len(groups) != 0 {
		t.Errorf("groups after delete: %+v", groups)
	}
	if lts := w.launchTemplates(a, "us-east-1"); len(lts) != 0 {
		t.Errorf("launch templates after delete: %v", lts)
	}
	for _, op := range []func() error{
		func() error {
			return c.SetCapacity(ctx, release.GroupRef{Name: "no-such-group"}, release.Capacity{Max: 1})
		},
		func() error {
			return c.AttachTargetGroups(ctx, release.GroupRef{Name: "no-such-group"}, []string{"arn:tg"})
		},
		func() error {
			return c.DetachTargetGroups(ctx, release.GroupRef{Name: "no-such-group"}, []string{"arn:tg"})
		},
	} {
		if err := op(); !errors.Is(err, release.ErrNotFound) {
			t.Errorf("a missing group: %v, want ErrNotFound", err)
		}
	}
	if _, err := c.Groups(ctx, release.GroupFilter{App: "shop"}); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("groups without an orbit: %v, want EINVALID", err)
	}
}

func TestRemainsFindsAReleasesTemplatesByTagAndAlarmsByName(t *testing.T) {
	w := newWorld(t, "us-east-1")
	cfg := w.cfg("us-east-1")
	c := NewCloud(cfg)
	ctx := context.Background()
	ids := []string{"20261123-120000-0000000a", "20261123-120000-0000000b"}
	for _, id := range ids {
		group := "shop-" + orbitName + "-worker-" + id[16:]
		if _, err := ec2.New(cfg).CreateLaunchTemplate(ctx, ec2.LaunchTemplateInput{Name: group, ImageID: w.images["us-east-1"], InstanceType: "t3.micro",
			Tags: map[string]string{elevator.TagApp: "shop", elevator.TagOrbit: orbitName, elevator.TagService: "worker", elevator.TagRelease: id}}); err != nil {
			t.Fatal(err)
		}
		if err := cloudwatch.New(cfg).PutAlarm(ctx, cloudwatch.Alarm{Name: alarmName(group, 0), Namespace: "AWS/EC2", Metric: "CPUUtilization",
			Dimensions: map[string]string{"AutoScalingGroupName": group}, Period: time.Minute, EvaluationPeriods: 1, Threshold: 90,
			Comparison: cloudwatch.GreaterThanOrEqual}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(f release.GroupFilter) []string {
		t.Helper()
		found, err := c.Remains(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range found {
			out = append(out, x.String()+" of "+x.Group+" "+x.App+" "+x.ReleaseID)
		}
		sort.Strings(out)
		return out
	}
	a := "shop-" + orbitName + "-worker-0000000a"
	want := []string{"alarm " + alarmName(a, 0) + " of " + a + " shop " + ids[0], "launch template " + a + " of " + a + " shop " + ids[0]}
	if got := names(release.GroupFilter{App: "shop", Orbit: orbitName, ReleaseID: ids[0]}); !slices.Equal(got, want) {
		t.Errorf("one release's: %q, want %q", got, want)
	}
	if got := names(release.GroupFilter{Orbit: orbitName}); len(got) != 2 || !strings.HasPrefix(got[0], "launch template") || !strings.HasPrefix(got[1], "launch template") {
		t.Errorf("the orbit's without an app: %q, want both launch templates (alarms are found by an app's name)", got)
	}
	found, err := c.Remains(ctx, release.GroupFilter{App: "shop", Orbit: orbitName, ReleaseID: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range found {
		if err := c.DeleteRemain(ctx, x); err != nil {
			t.Fatalf("delete %s: %v", x, err)
		}
	}
	if got := names(release.GroupFilter{App: "shop", Orbit: orbitName, ReleaseID: ids[0]}); len(got) != 0 {
		t.Errorf("after deleting: %q", got)
	}
	if got := names(release.GroupFilter{App: "shop", Orbit: orbitName}); len(got) != 2 {
		t.Errorf("the other release's: %q, want its template and alarm untouched", got)
	}
	if err := c.DeleteRemain(ctx, release.Remain{Kind: release.RemainLaunchTemplate, Name: a}); err != nil {
		t.Errorf("deleting a template again: %v", err)
	}
	if _, err := c.Remains(ctx, release.GroupFilter{App: "shop"}); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("remains without an orbit: %v, want EINVALID", err)
	}
}

// deniedServices is a fake servicesAPI that answers every ECS call
// AccessDenied, as AWS does for a deployer without ECS permissions (moto
// enforces no IAM, so only a fake shows it). Calls it does not list panic
// through the nil embedded interface.
type deniedServices struct {
	servicesAPI
	calls int
}

func (d *deniedServices) denied(op string) error {
	d.calls++
	return elevator.Errorf(elevator.EAWS, "%s: AccessDeniedException: not authorized to perform ecs:%s", op, op)
}
func (d *deniedServices) ServiceARNs(context.Context, string) ([]string, error) {
	return nil, d.denied("ListServices")
}
func (d *deniedServices) Families(context.Context, string) ([]string, error) {
	return nil, d.denied("ListTaskDefinitionFamilies")
}
func (d *deniedServices) TaskDefinitionARNs(context.Context, string, string) ([]string, error) {
	return nil, d.denied("ListTaskDefinitions")
}

func TestWithoutAnECSClusterGroupsAndRemainsMakeNoECSCall(t *testing.T) {
	w := newWorld(t, "us-east-1")
	a := w.newApp("shop", []string{"worker"})
	ctx := context.Background()
	wk := a.res["us-east-1"]["worker"]
	spec := release.GroupSpec{
		Name: "shop-rel-worker-0000000b", ImageID: w.images["us-east-1"], InstanceType: "t3.micro",
		UserData: "#!/bin/sh\n", InstanceProfile: wk.Profile, SecurityGroups: []string{wk.SG},
		Subnets: w.privateSubnets("us-east-1")[:2], Capacity: release.Capacity{Min: 1, Max: 1, Desired: 1},
		Tags: map[string]string{elevator.TagApp: "shop", elevator.TagOrbit: orbitName, elevator.TagService: "worker", elevator.TagRelease: "r1"},
	}
	denied := &deniedServices{}
	c := NewCloud(w.cfg("us-east-1")) // an orbit without `ecs:`
	c.ecs = denied
	if err := c.CreateGroup(ctx, spec, "0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []release.GroupFilter{{App: "shop", Orbit: orbitName}, {Orbit: orbitName}} {
		groups, err := c.Groups(ctx, f)
		if err != nil || len(groups) != 1 || groups[0].Name != spec.Name {
			t.Errorf("groups %+v: %+v, %v; want the ASG alone", f, groups, err)
		}
		remains, err := c.Remains(ctx, f)
		if err != nil || len(remains) != 1 || remains[0].Kind != release.RemainLaunchTemplate {
			t.Errorf("remains %+v: %+v, %v; want its launch template", f, remains, err)
		}
	}
	if denied.calls != 0 {
		t.Errorf("%d ECS calls, want none", denied.calls)
	}
	// The same Cloud of an orbit with a cluster asks ECS, and says so.
	c.WithECS(true)
	if _, err := c.Groups(ctx, release.GroupFilter{App: "shop", Orbit: orbitName}); err == nil || denied.calls == 0 {
		t.Errorf("with a cluster: %v after %d ECS calls, want the denial", err, denied.calls)
	}
}
