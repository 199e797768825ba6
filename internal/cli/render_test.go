package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the renderers write")

// at is a fixed time: no golden depends on the clock.
func at(minutes, seconds int) time.Time {
	return time.Date(2026, 11, 23, 12, minutes, seconds, 0, time.UTC)
}

var (
	succeeded = &elevator.ReleaseRecord{
		ID: "20261123-120000-9f86d081", App: "shop", Orbit: "production", Revision: 14, State: elevator.StateSuccess,
		Path: []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
			elevator.StateCheckHealthy, elevator.StateCutOver, elevator.StateCleanUpSuccess, elevator.StateUnlock, elevator.StateSuccess},
		SubmittedAt: at(0, 0), UpdatedAt: at(4, 12), EndedAt: at(4, 12),
		Regions: []elevator.ReleaseRegionRecord{
			{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "web", Group: "shop-production-web-9f86d081", Desired: 4, Health: elevator.ReleaseGroupHealth{Launch: 4, Needed: 4, InService: 4, Healthy: 4},
					Old: []elevator.ReleaseOldGroup{{Name: "shop-production-web-1a2b3c4d", Desired: 4}}},
				{Service: "worker", Group: "shop-production-worker-9f86d081", Desired: 2, Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 2, Healthy: 2}},
			}},
			{Region: "eu-west-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "web", Group: "shop-production-web-9f86d081", Desired: 2, Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 2, Healthy: 2},
					Old: []elevator.ReleaseOldGroup{{Name: "shop-production-web-1a2b3c4d", Desired: 2}, {Name: "shop-production-web-00c0ffee", Desired: 1}}},
				{Service: "worker", Group: "shop-production-worker-9f86d081", Desired: 1, Health: elevator.ReleaseGroupHealth{Launch: 1, Needed: 1, InService: 1, Healthy: 1}},
			}},
		},
		Notes: []string{"took over the lock of release 20261123-115500-bbbbbbbb of arn:aws:iam::123456789012:user/bob (engine host/41/a1b2c3, held since 2026-11-23T11:55:00Z), whose lease ended at 2026-11-23T11:59:00Z"},
		Calls: map[string]int{"Cloud.Groups us-east-1": 6, "Cloud.Groups eu-west-1": 6, "Store.PutRecord": 9, "Locker.Acquire": 1},
	}
	halted = &elevator.ReleaseRecord{
		ID: "20261123-121500-0badcafe", App: "shop", Orbit: "production", Revision: 9, State: elevator.StateFailureDirty,
		Path: []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
			elevator.StateCheckHealthy, elevator.StateCleanUpFailure, elevator.StateUnlock, elevator.StateFailureDirty},
		SubmittedAt: at(15, 0), UpdatedAt: at(21, 30), EndedAt: at(21, 30), Failed: true,
		Error: "halted by arn:aws:iam::123456789012:user/alice at 2026-11-23T12:16:40Z: bad canary",
		Halt:  &elevator.ReleaseHalt{By: "arn:aws:iam::123456789012:user/alice", At: at(16, 40), Reason: "bad canary"},
		Regions: []elevator.ReleaseRegionRecord{
			{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "web", Group: "shop-production-web-0badcafe", Desired: 4, Health: elevator.ReleaseGroupHealth{Launch: 4, Needed: 4, InService: 3, Healthy: 1},
					Old: []elevator.ReleaseOldGroup{{Name: "shop-production-web-9f86d081", Desired: 4, Detached: false}}},
			}},
		},
		Leftovers: []string{"us-east-1: group shop-production-web-0badcafe (DeleteAutoScalingGroup: ScalingActivityInProgress)"},
	}
	// running has not ended: its time is taken up to its last update.
	running = &elevator.ReleaseRecord{
		ID: "20261123-123000-5eed5eed", App: "shop", Orbit: "production", Revision: 5, State: elevator.StateCheckHealthy,
		Path:        []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy, elevator.StateCheckHealthy},
		SubmittedAt: at(30, 0), UpdatedAt: at(31, 5),
		Regions: []elevator.ReleaseRegionRecord{
			{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "web", Group: "shop-production-web-5eed5eed", Desired: 4, Health: elevator.ReleaseGroupHealth{Launch: 4, Needed: 4, InService: 2}},
			}},
		},
	}
	// baked is a gated release an alarm rolled back during its bake.
	baked = &elevator.ReleaseRecord{
		ID: "20261123-124000-ba4eba4e", App: "shop", Orbit: "production", Revision: 14, State: elevator.StateFailureClean,
		Path: []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
			elevator.StateCheckHealthy, elevator.StateSmokeTest, elevator.StateCutOver, elevator.StateIntegrationTest, elevator.StateBake,
			elevator.StateRollBack, elevator.StateCleanUpFailure, elevator.StateUnlock, elevator.StateFailureClean},
		SubmittedAt: at(40, 0), UpdatedAt: at(47, 30), EndedAt: at(47, 30), Failed: true, Failure: elevator.FailureAlarm,
		Error:        "Bake: alarm elevator-production-shop-web-5xx_rate in us-east-1 is ALARM (Threshold Crossed: 1 datapoint [9.0] was >= 5.0)",
		GreenReadyAt: at(41, 10),
		Tests: []elevator.ReleaseTestResult{
			{Phase: elevator.PhaseSmoke, Name: "health", Region: "us-east-1", Attempt: 1, Passed: true, At: at(41, 10), Seconds: 0.2},
			{Phase: elevator.PhaseIntegration, Name: "checkout", Region: "us-east-1", Attempt: 1, Passed: false, At: at(42, 0), Seconds: 3.1, Error: "exit status 1"},
			{Phase: elevator.PhaseIntegration, Name: "checkout", Region: "us-east-1", Attempt: 2, Passed: true, At: at(42, 5), Seconds: 2.9},
		},
		Alarms: []elevator.ReleaseAlarmChange{
			{At: at(41, 10), Region: "us-east-1", Name: "elevator-production-shop-web-5xx_rate", To: elevator.AlarmOK},
			{At: at(47, 20), Region: "us-east-1", Name: "elevator-production-shop-web-5xx_rate", From: elevator.AlarmOK, To: elevator.AlarmAlarm},
		},
		Regions: []elevator.ReleaseRegionRecord{
			{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "web", Group: "shop-production-web-ba4eba4e", Desired: 2, Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 2, Healthy: 2},
					Old: []elevator.ReleaseOldGroup{{Name: "shop-production-web-5eed5eed", Desired: 2}}},
			}},
		},
	}
	// mixed released an app with an Auto Scaling Group service (web) and
	// two ECS services (api in two regions, jobs in one), each replacing
	// the previous release's of the same runtime, in the orbit's cluster.
	mixed = &elevator.ReleaseRecord{
		ID: "20261123-125000-ec5ec5ec", App: "shop", Orbit: "production", Revision: 12, State: elevator.StateSuccess,
		Path: []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
			elevator.StateCheckHealthy, elevator.StateCutOver, elevator.StateCleanUpSuccess, elevator.StateUnlock, elevator.StateSuccess},
		SubmittedAt: at(50, 0), UpdatedAt: at(53, 40), EndedAt: at(53, 40),
		Regions: []elevator.ReleaseRegionRecord{
			{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "api", Group: "shop-production-api-ec5ec5ec", Cluster: "elevator-production", Desired: 3,
					Health: elevator.ReleaseGroupHealth{Launch: 3, Needed: 3, InService: 3, Healthy: 3, Terminating: 1},
					Old:    []elevator.ReleaseOldGroup{{Name: "shop-production-api-ba4eba4e", Cluster: "elevator-production", Desired: 3}}},
				{Service: "web", Group: "shop-production-web-ec5ec5ec", Desired: 2, Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 2, Healthy: 2},
					Old: []elevator.ReleaseOldGroup{{Name: "shop-production-web-ba4eba4e", Desired: 2}}},
				{Service: "jobs", Group: "shop-production-jobs-ec5ec5ec", Cluster: "elevator-production", Desired: 1,
					Health: elevator.ReleaseGroupHealth{Launch: 1, Needed: 1, InService: 1, Healthy: 1},
					Old:    []elevator.ReleaseOldGroup{{Name: "shop-production-jobs-ba4eba4e", Cluster: "elevator-production", Desired: 1}}},
			}},
			{Region: "eu-west-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "api", Group: "shop-production-api-ec5ec5ec", Cluster: "elevator-production", Desired: 2,
					Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 2, Healthy: 2},
					Old:    []elevator.ReleaseOldGroup{{Name: "shop-production-api-ba4eba4e", Cluster: "elevator-production", Desired: 2}}},
				{Service: "web", Group: "shop-production-web-ec5ec5ec", Desired: 1, Health: elevator.ReleaseGroupHealth{Launch: 1, Needed: 1, InService: 1, Healthy: 1}},
			}},
		},
		Calls: map[string]int{"Cloud.Groups us-east-1": 5, "Cloud.Groups eu-west-1": 5, "Store.PutRecord": 9},
	}
	// tripped is an ECS release whose deployment circuit breaker gave up:
	// tasks kept stopping, and the release cleaned up.
	tripped = &elevator.ReleaseRecord{
		ID: "20261123-130000-0ddba11e", App: "shop", Orbit: "production", Revision: 8, State: elevator.StateFailureClean,
		Path: []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy,
			elevator.StateCheckHealthy, elevator.StateCleanUpFailure, elevator.StateUnlock, elevator.StateFailureClean},
		SubmittedAt: at(0, 0).Add(time.Hour), UpdatedAt: at(6, 0).Add(time.Hour), EndedAt: at(6, 0).Add(time.Hour), Failed: true, Failure: elevator.FailureUnhealthy,
		Error: "CheckHealthy: us-east-1: ECS service shop-production-api-0ddba11e of cluster elevator-production failed its deployment: tasks failed to start",
		Regions: []elevator.ReleaseRegionRecord{
			{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{
				{Service: "api", Group: "shop-production-api-0ddba11e", Cluster: "elevator-production", Desired: 3,
					Health: elevator.ReleaseGroupHealth{Launch: 3, Needed: 3, InService: 1, Healthy: 0, Terminating: 4},
					Old:    []elevator.ReleaseOldGroup{{Name: "shop-production-api-ec5ec5ec", Cluster: "elevator-production", Desired: 3, Detached: false}}},
			}},
		},
	}
	refused = &elevator.ReleaseRecord{
		ID: "20261123-123001-0000beef", App: "shop", Orbit: "production", Revision: 4, State: elevator.StateFailureClean,
		Path:        []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateFailureClean},
		SubmittedAt: at(30, 1), UpdatedAt: at(30, 2), EndedAt: at(30, 2), Failed: true,
		Error: "Lock: shop in production is locked by release 20261123-123000-5eed5eed of arn:aws:iam::123456789012:user/bob since 2026-11-23T12:30:00Z (engine host/41/a1b2c3, lease until 2026-11-23T12:31:00Z)",
	}
)

// orbitPlans is what `orbit plan` shows for a new orbit in two regions.
func orbitPlans() []*apply.Plan {
	add := func(id, typ string) cloudformation.Change {
		return cloudformation.Change{Action: "Add", LogicalID: id, Type: typ}
	}
	changes := []cloudformation.Change{add("Vpc", "AWS::EC2::VPC"), add("PublicSubnetA", "AWS::EC2::Subnet"), add("PrivateSubnetA", "AWS::EC2::Subnet"),
		add("NatGatewayA", "AWS::EC2::NatGateway"), add("StateBucket", "AWS::S3::Bucket"), add("LocksTable", "AWS::DynamoDB::Table")}
	return []*apply.Plan{
		{Region: "us-east-1", Stack: "elevator-orbit-production", Create: true, Changes: changes},
		{Region: "eu-west-1", Stack: "elevator-orbit-production", Create: true, Changes: changes},
	}
}

// appPlans is what `app plan` shows for an app already up: changes, a
// replacement, a removal, a region without changes, and one whose template
// changes no resource.
func appPlans() []*apply.Plan {
	return []*apply.Plan{
		{Region: "us-east-1", Stack: "elevator-app-shop-production", Changes: []cloudformation.Change{
			{Action: "Add", LogicalID: "WorkerLogGroup", Type: "AWS::Logs::LogGroup"},
			{Action: "Modify", LogicalID: "WebTargetGroup", Type: "AWS::ElasticLoadBalancingV2::TargetGroup", Replacement: "False"},
			{Action: "Modify", LogicalID: "WebLoadBalancer", Type: "AWS::ElasticLoadBalancingV2::LoadBalancer", Replacement: "True"},
			{Action: "Modify", LogicalID: "WebSecurityGroup", Type: "AWS::EC2::SecurityGroup", Replacement: "Conditional"},
			{Action: "Remove", LogicalID: "CacheCluster", Type: "AWS::ElastiCache::CacheCluster"},
		}},
		{Region: "eu-west-1", Stack: "elevator-app-shop-production", NoChanges: true},
		{Region: "ap-southeast-2", Stack: "elevator-app-shop-production"},
	}
}

// ecsRelease is the document `deploy --dry-run` shows for an app with
// an ECS service on Fargate and an Auto Scaling Group service.
func ecsRelease() *elevator.Release {
	return &elevator.Release{ID: "20261123-125000-ec5ec5ec", App: "shop", Orbit: "production", Version: "1.4.2", CreatedBy: "arn:aws:iam::123456789012:user/alice",
		Regions: []string{"us-east-1"}, TimeoutSeconds: 1800,
		Services: []elevator.ReleaseService{
			{Name: "api", Capacity: elevator.ReleaseCapacity{Min: 2, Max: 10, Strategy: elevator.StrategyCanary, MaxTerms: 3},
				ECS: &elevator.ReleaseECS{Capacity: elevator.ECSFargate, CPU: 512, Memory: 1024, Ports: []elevator.ReleasePort{{Container: 8080, Protocol: "tcp"}}},
				Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Cluster: "elevator-production", Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-api:1.4.2",
					Subnets: []string{"subnet-0a", "subnet-0b"}, SecurityGroups: []string{"sg-0api"}, TargetGroups: []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-api/0123"},
					LogGroup: "/elevator/production/shop/api", TaskRole: "arn:aws:iam::123456789012:role/shop-api-task", ExecutionRole: "arn:aws:iam::123456789012:role/shop-api-execution",
					Secrets: []elevator.ReleaseSecret{{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db-AbCdEf:password::"}}}}},
			{Name: "web", InstanceType: "t4g.small", Capacity: elevator.ReleaseCapacity{Min: 2, Max: 4},
				Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: "ami-0123456789abcdef0", Subnets: []string{"subnet-0a", "subnet-0b"},
					SecurityGroups: []string{"sg-0web"}, InstanceProfile: "shop-web"}}},
		}}
}

func TestHumanOutputMatchesGoldenFiles(t *testing.T) {
	tests := []struct {
		golden string
		render func(w *bytes.Buffer)
	}{
		{"release_status_success", func(w *bytes.Buffer) { printRecord(w, succeeded) }},
		{"release_status_failure_dirty", func(w *bytes.Buffer) { printRecord(w, halted) }},
		{"release_status_running", func(w *bytes.Buffer) { printRecord(w, running) }},
		{"release_status_refused", func(w *bytes.Buffer) { printRecord(w, refused) }},
		{"release_status_rolled_back_in_bake", func(w *bytes.Buffer) { printRecord(w, baked) }},
		{"release_status_ecs_and_groups", func(w *bytes.Buffer) { printRecord(w, mixed) }},
		{"release_status_ecs_circuit_breaker", func(w *bytes.Buffer) { printRecord(w, tripped) }},
		{"deploy_dry_run_ecs", func(w *bytes.Buffer) { printRelease(w, ecsRelease()) }},
		{"deploy_dry_run_ecs_cost", func(w *bytes.Buffer) { writeEstimate(w, ecsReleaseEstimate(new([]string))) }},
		{"release_list", func(w *bytes.Buffer) {
			printReleases(w, []*elevator.ReleaseRecord{refused, running, halted, succeeded})
		}},
		{"orbit_plan", func(w *bytes.Buffer) { printPlans(w, orbitPlans()) }},
		{"orbit_plan_no_changes", func(w *bytes.Buffer) {
			printPlans(w, []*apply.Plan{{Region: "us-east-1", Stack: "elevator-orbit-production", NoChanges: true}, {Region: "eu-west-1", Stack: "elevator-orbit-production", NoChanges: true}})
		}},
		{"app_plan", func(w *bytes.Buffer) { printPlans(w, appPlans()) }},
	}
	wanted := map[string]bool{}
	for _, tt := range tests {
		wanted[tt.golden+".golden"] = true
		t.Run(tt.golden, func(t *testing.T) {
			var got bytes.Buffer
			tt.render(&got)
			requireGolden(t, filepath.Join("testdata", tt.golden+".golden"), got.Bytes())
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !wanted[filepath.Base(f)] {
			t.Errorf("%s is stale: no test renders it; delete it", f)
		}
	}
}

// requireGolden compares got with the golden file, or rewrites the file
// with -update.
func requireGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run TestHumanOutputMatchesGoldenFiles -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
