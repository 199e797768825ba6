package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// TestDeployProgressCountsAnECSServicesTasks follows a mixed release
// through CheckHealthy: the Auto Scaling Group's line counts healthy
// instances, the ECS service's healthy tasks.
func TestDeployProgressCountsAnECSServicesTasks(t *testing.T) {
	var stderr bytes.Buffer
	e := &releaseEnv{globals: &globals{stderr: &stderr}}
	rec := *mixed
	rec.State = elevator.StateCheckHealthy
	e.observe(rec)
	line := stderr.String()
	for _, want := range []string{"us-east-1/api 3/3 tasks healthy", "us-east-1/web 2/2 healthy", "eu-west-1/api 2/2 tasks healthy"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q does not say %q", line, want)
		}
	}
	if strings.Contains(line, "us-east-1/web 2/2 tasks") {
		t.Errorf("progress line %q counts an Auto Scaling Group's instances as tasks", line)
	}
}

// TestTheRecordsJSONNamesAnECSServicesCluster prints a mixed release's
// record as JSON, as `release status -o json` does: its ECS services and
// their old services carry their cluster, its Auto Scaling Groups none,
// and the fields groups had are all there.
func TestTheRecordsJSONNamesAnECSServicesCluster(t *testing.T) {
	var stdout bytes.Buffer
	e := &releaseEnv{globals: &globals{stdout: &stdout, output: "json"}}
	if err := e.finish(mixed); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Regions []struct {
			Region   string `json:"region"`
			Services []map[string]json.RawMessage
		} `json:"regions"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(got.Regions) != 2 || len(got.Regions[0].Services) != 3 {
		t.Fatalf("regions and services: %s", stdout.String())
	}
	api, web := got.Regions[0].Services[0], got.Regions[0].Services[1]
	if string(api["cluster"]) != `"elevator-production"` || string(api["group"]) != `"shop-production-api-ec5ec5ec"` {
		t.Errorf("api: cluster %s, group %s", api["cluster"], api["group"])
	}
	var old []map[string]any
	if err := json.Unmarshal(api["old"], &old); err != nil || len(old) != 1 || old[0]["cluster"] != "elevator-production" {
		t.Errorf("api's old services: %s (%v)", api["old"], err)
	}
	if _, ok := web["cluster"]; ok {
		t.Errorf("web, an Auto Scaling Group, has a cluster: %s", web["cluster"])
	}
	for _, k := range []string{"service", "group", "desired", "health"} {
		if _, ok := api[k]; !ok {
			t.Errorf("api has no %q", k)
		}
	}
}

// TestGCNamesAnECSServiceByItsCluster prints what gc found: a group by
// its kind and name, an ECS service by its cluster, a task definition by
// family:revision.
func TestGCNamesAnECSServiceByItsCluster(t *testing.T) {
	var w bytes.Buffer
	printOrphans(&w, []release.Orphan{
		{Region: "us-east-1", Kind: release.KindGroup, Name: "shop-production-web-0badcafe", App: "shop", ReleaseID: "20261123-121500-0badcafe", Ended: elevator.StateFailureDirty},
		{Region: "us-east-1", Kind: release.KindGroup, Name: "shop-production-api-0badcafe", Cluster: "elevator-production", App: "shop", ReleaseID: "20261123-121500-0badcafe", Ended: elevator.StateFailureDirty, Removed: true},
		{Region: "us-east-1", Kind: string(release.RemainTaskDefinition), Name: "shop-production-api-0badcafe:1", App: "shop", ReleaseID: "20261123-121500-0badcafe", Ended: elevator.StateFailureDirty},
	})
	want := "us-east-1  group shop-production-web-0badcafe  release 20261123-121500-0badcafe (FailureDirty)  would remove\n" +
		"us-east-1  ECS service shop-production-api-0badcafe (cluster elevator-production)  release 20261123-121500-0badcafe (FailureDirty)  removed\n" +
		"us-east-1  task definition shop-production-api-0badcafe:1  release 20261123-121500-0badcafe (FailureDirty)  would remove\n"
	if w.String() != want {
		t.Errorf("gc printed\n%s\nwant\n%s", w.String(), want)
	}
}
