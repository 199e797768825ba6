package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/chaos"
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
