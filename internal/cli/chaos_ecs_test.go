package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/chaos"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release"
)

// TestChaosSaysWhichECSServicesItLeftAlone: chaos lists Auto Scaling
// Groups only (findGroups reads Auto Scaling), so the ECS services of the
// current releases are never chosen; its dry run names those of the
// regions it looked in, in text and JSON.
func TestChaosSaysWhichECSServicesItLeftAlone(t *testing.T) {
	current := map[string]*elevator.ReleaseRecord{
		"shop": mixed, // api and jobs on ECS in us-east-1, api in eu-west-1
		"cart": nil,   // no successful release
	}
	got := skippedECS(current, []string{"us-east-1"})
	if len(got) != 2 || got[0].Service != "api" || got[1].Service != "jobs" || got[0].Cluster != "elevator-production" || got[0].Name != "shop-production-api-ec5ec5ec" {
		t.Fatalf("skipped in us-east-1: %+v", got)
	}
	if all := skippedECS(current, []string{"us-east-1", "eu-west-1"}); len(all) != 3 || all[2].Region != "eu-west-1" {
		t.Errorf("skipped in both regions: %+v", all)
	}

	for _, output := range []string{"text", "json"} {
		var stdout bytes.Buffer
		r := &chaosRun{chaosOptions: &chaosOptions{orbitEnv: orbitEnv{globals: &globals{stdout: &stdout, output: output},
			orbit: &elevator.Orbit{Name: "production", Regions: []elevator.Region{{Name: "us-east-1"}}}}, dryRun: true}}
		out := chaosJSON{Orbit: "production", DryRun: true, Plan: chaos.Plan{}, Terminated: []termination{}, SkippedECS: got}
		if err := r.printChaos(out); err != nil {
			t.Fatal(err)
		}
		if output == "json" {
			var back chaosJSON
			if err := json.Unmarshal(stdout.Bytes(), &back); err != nil || len(back.SkippedECS) != 2 || back.SkippedECS[1].Cluster != "elevator-production" {
				t.Errorf("json: %+v (%v)\n%s", back.SkippedECS, err, stdout.String())
			}
			continue
		}
		want := "us-east-1  ECS service shop-production-api-ec5ec5ec (cluster elevator-production) (shop/api): skipped, chaos terminates instances of Auto Scaling Groups only\n"
		if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "(shop/jobs): skipped") {
			t.Errorf("text:\n%s\nwant it to start with\n%s", stdout.String(), want)
		}
	}
}

// TestChaosNamesTheECSServicesOfAnAppThatRunsOnlyOnECS runs findGroups
// over fakes (groupsFake for Auto Scaling, a listingCloud for the
// release.Cloud listing that has ECS services, releasesFake for the
// store): rig runs only ECS services, so Auto Scaling has no group of it,
// yet the run reads its current release and names its ECS service as
// skipped. An app whose only ECS service belongs to no successful release
// is not named.
func TestChaosNamesTheECSServicesOfAnAppThatRunsOnlyOnECS(t *testing.T) {
	rig := &elevator.ReleaseRecord{ID: "20261123-120000-0000a11e", App: "rig", State: elevator.StateSuccess, Regions: []elevator.ReleaseRegionRecord{
		{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{{Service: "api", Group: "rig-production-api-0000a11e", Cluster: "elevator-production"}}}}}
	shop := &elevator.ReleaseRecord{ID: "20261123-110000-5eed5eed", App: "shop", State: elevator.StateSuccess, Regions: []elevator.ReleaseRegionRecord{
		{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{{Service: "web", Group: "shop-production-web-5eed5eed"}}}}}
	failed := &elevator.ReleaseRecord{ID: "20261123-130000-0ddba11e", App: "lab", State: elevator.StateFailureDirty}
	records := map[string][]*elevator.ReleaseRecord{"rig": {rig}, "shop": {shop}, "lab": {failed}}
	tags := func(app, rel, service string) map[string]string {
		return map[string]string{elevator.TagOrbit: "production", elevator.TagApp: app, elevator.TagRelease: rel, elevator.TagService: service}
	}
	var stderr bytes.Buffer
	r := &chaosRun{chaosOptions: &chaosOptions{orbitEnv: orbitEnv{globals: &globals{stderr: &stderr},
		orbit: &elevator.Orbit{Name: "production", Regions: []elevator.Region{{Name: "us-east-1"}}}}},
		progress: progress.Plain(&stderr), current: map[string]*elevator.ReleaseRecord{},
		groupsFake: func(_ context.Context, region string, _ map[string]string) ([]autoscaling.Group, error) {
			return []autoscaling.Group{{Name: "shop-production-web-5eed5eed", Desired: 1, Tags: tags("shop", shop.ID, "web"),
				Instances: []autoscaling.Instance{{ID: "i-0000000a", AZ: "us-east-1a", LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy}}}}, nil
		},
		releasesFake: func(_ context.Context, app string) ([]*elevator.ReleaseRecord, error) { return records[app], nil },
		services: map[string]groupLister{"us-east-1": listingCloud{groups: []release.Group{
			{Name: "shop-production-web-5eed5eed", Tags: tags("shop", shop.ID, "web")},
			{Name: "rig-production-api-0000a11e", Cluster: "elevator-production", Tags: tags("rig", rig.ID, "api")},
			{Name: "lab-production-api-0ddba11e", Cluster: "elevator-production", Tags: tags("lab", failed.ID, "api")},
		}}},
	}
	groups, err := r.findGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].App != "shop" {
		t.Errorf("groups: %+v, want shop's only", groups)
	}
	got := skippedECS(r.current, r.regions())
	want := []chaosSkippedECS{{Region: "us-east-1", App: "rig", Service: "api", Name: "rig-production-api-0000a11e", Cluster: "elevator-production"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("skipped: %+v, want %+v", got, want)
	}
}
