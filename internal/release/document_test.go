package release

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

func sampleRelease() *elevator.Release {
	return &elevator.Release{
		ID:             "20261123-120000-9f86d081",
		CreatedAt:      time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		CreatedBy:      "alice",
		App:            "shop",
		Orbit:          "prod",
		Version:        "1.4.2",
		Regions:        []string{"us-east-1"},
		TimeoutSeconds: 600,
		Services: []elevator.ReleaseService{{
			Name: "web", InstanceType: "t3.small", UserData: "<&>",
			Capacity:   elevator.ReleaseCapacity{Min: 1, Max: 4, Spread: 0.2},
			Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: "ami-1", Subnets: []string{"subnet-a"}}},
		}},
	}
}

const sampleCanonical = `{"id":"20261123-120000-9f86d081","created_at":"2026-11-23T12:00:00Z","created_by":"alice","app":"shop","orbit":"prod","version":"1.4.2","regions":["us-east-1"],"timeout_seconds":600,"services":[{"name":"web","instance_type":"t3.small","user_data":"<&>","capacity":{"min":1,"max":4,"spread":0.2},"placements":[{"region":"us-east-1","image":"ami-1","subnets":["subnet-a"]}]}]}`

func TestTheCanonicalJSONAndChecksumOfAReleaseNeverChange(t *testing.T) {
	rel := sampleRelease()
	doc, err := rel.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != sampleCanonical {
		t.Errorf("canonical JSON:\n%s\nwant:\n%s", doc, sampleCanonical)
	}
	sum, _ := rel.Checksum()
	if want := elevator.ChecksumOf([]byte(sampleCanonical)); sum != want || len(sum) != 64 {
		t.Errorf("checksum %s, want %s", sum, want)
	}
	// The same instant in another zone is the same release.
	other := sampleRelease()
	other.CreatedAt = rel.CreatedAt.In(time.FixedZone("CET", 3600))
	if s2, _ := other.Checksum(); s2 != sum {
		t.Errorf("checksum depends on the time zone: %s != %s", s2, sum)
	}
	back, err := elevator.ParseRelease(doc)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Canonical()
	if !bytes.Equal(again, doc) {
		t.Errorf("a parsed release encodes differently:\n%s", again)
	}
	changed := sampleRelease()
	changed.Version = "1.4.3"
	if s3, _ := changed.Checksum(); s3 == sum {
		t.Error("a different version has the same checksum")
	}
}

func TestOnlyCanonicalReleaseDocumentsParse(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"white space", strings.Replace(sampleCanonical, `"app":"shop"`, `"app": "shop"`, 1)},
		{"an unknown field", strings.Replace(sampleCanonical, `"app":"shop"`, `"app":"shop","admin":true`, 1)},
		{"fields out of order", strings.Replace(strings.Replace(sampleCanonical, `"app":"shop",`, ``, 1), `"orbit":"prod"`, `"orbit":"prod","app":"shop"`, 1)},
		{"trailing data", sampleCanonical + `{}`},
		{"a time with a zone", strings.Replace(sampleCanonical, `12:00:00Z`, `13:00:00+01:00`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := elevator.ParseRelease([]byte(tt.doc)); elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("ParseRelease = %v, want an invalid-input error", err)
			}
		})
	}
}

func TestCheckNamesEveryProblemOfARelease(t *testing.T) {
	tests := []struct {
		name   string
		change func(*elevator.Release)
		want   string
	}{
		{"a made-up id", func(r *elevator.Release) { r.ID = "latest" }, `id "latest"`},
		{"no regions", func(r *elevator.Release) { r.Regions = nil }, "regions: want at least one"},
		{"a service without a placement in a region", func(r *elevator.Release) { r.Regions = append(r.Regions, "eu-west-1") }, "no placement in region eu-west-1"},
		{"min above max", func(r *elevator.Release) { r.Services[0].Capacity.Min = 5 }, "min 5, max 4"},
		{"a spread of one", func(r *elevator.Release) { r.Services[0].Capacity.Spread = 1 }, "spread 1"},
		{"percent steps that do not end at 100", func(r *elevator.Release) {
			r.Services[0].Capacity.Strategy, r.Services[0].Capacity.Steps = elevator.StrategyPercent, []int{50, 75}
		}, "ending at 100"},
		{"an unknown strategy", func(r *elevator.Release) { r.Services[0].Capacity.Strategy = "yolo" }, `strategy "yolo"`},
		{"a scale-down policy that scales up", func(r *elevator.Release) {
			r.Services[0].Policies = []elevator.ReleasePolicy{{Type: elevator.PolicyCPUScaleDown, Threshold: 15, Adjustment: 1}}
		}, "adjustment 1"},
		{"a schedule above max", func(r *elevator.Release) {
			r.Services[0].Schedule = []elevator.ReleaseSchedule{{Desired: 9, Cron: "0 1 * * *"}}
		}, "desired 9"},
		{"a lifecycle hook on an unknown transition", func(r *elevator.Release) {
			r.Services[0].Hooks = []elevator.ReleaseHook{{Name: "h", Transition: "autoscaling:EC2_INSTANCE_REBOOTING"}}
		}, "transition"},
		{"a service listed twice", func(r *elevator.Release) { r.Services = append(r.Services, r.Services[0]) }, "listed twice"},
		{"user data over EC2's limit", func(r *elevator.Release) { r.Services[0].UserData = strings.Repeat("x", 16385) }, "16385 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := sampleRelease()
			tt.change(rel)
			err := rel.Check()
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want it to say %q", err, tt.want)
			}
		})
	}
	if err := sampleRelease().Check(); err != nil {
		t.Errorf("a good release: %v", err)
	}
}

func TestNewReleaseIDsSortByTimeAndFitGroupNames(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.FixedZone("X", 7200))
	id, err := elevator.ReleaseIDAt(at, strings.NewReader("\x9f\x86\xd0\x81"))
	if err != nil || id != "20261123-100000000-9f86d081" {
		t.Fatalf("ReleaseIDAt = %q, %v", id, err)
	}
	rel := &elevator.Release{ID: id, App: "abcdefghijklmnopqrst", Orbit: "abcdefghijklmnopqrst"}
	// Names use the random part alone: within a launch template's 128
	// characters (and a group's 255), and a target group's 32.
	if name := GroupName(rel, "abcdefghijklmnopqrst"); len(name) > 128 || !strings.HasSuffix(name, "-9f86d081") {
		t.Errorf("group name %q", name)
	}
	if name := TestTargetGroupName(id, "abcdefghijklmnopqrst"); len(name) > 32 || name != "t-9f86d081-abcdefghijklmnopqrst" {
		t.Errorf("test target group name %q", name)
	}
}

func TestPlanSizesEachStep(t *testing.T) {
	tests := []struct {
		name     string
		capacity elevator.ReleaseCapacity
		desired  int
		want     []CapacityStep
	}{
		{"no spread launches and needs the desired capacity", elevator.ReleaseCapacity{Max: 10}, 3, []CapacityStep{{3, 3}}},
		{"a spread launches more and needs fewer", elevator.ReleaseCapacity{Max: 10, Spread: 0.2}, 5, []CapacityStep{{6, 4}}},
		{"a spread is bounded by max", elevator.ReleaseCapacity{Max: 5, Spread: 0.5}, 4, []CapacityStep{{5, 2}}},
		{"one instance always needs one healthy", elevator.ReleaseCapacity{Max: 10, Spread: 0.5}, 1, []CapacityStep{{2, 1}}},
		{"nothing desired needs nothing", elevator.ReleaseCapacity{Max: 10, Spread: 0.5}, 0, []CapacityStep{{0, 0}}},
		{"a canary starts with one", elevator.ReleaseCapacity{Max: 10, Strategy: elevator.StrategyCanary}, 4, []CapacityStep{{1, 1}, {4, 4}}},
		{"a canary of one is one, twice", elevator.ReleaseCapacity{Max: 10, Strategy: elevator.StrategyCanary}, 1, []CapacityStep{{1, 1}, {1, 1}}},
		{"percent steps round up", elevator.ReleaseCapacity{Max: 20, Spread: 0.1, Strategy: elevator.StrategyPercent, Steps: []int{10, 50, 100}},
			10, []CapacityStep{{2, 1}, {6, 4}, {11, 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.capacity, tt.desired)
			if len(got) != len(tt.want) {
				t.Fatalf("Plan = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Plan = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDesiredCarriesOverTheRunningCapacityWithinBounds(t *testing.T) {
	c := elevator.ReleaseCapacity{Min: 2, Max: 6}
	tests := []struct {
		name    string
		running []int
		want    int
	}{
		{"nothing runs: min", nil, 2},
		{"one group runs: its capacity", []int{4}, 4},
		{"several run: the largest", []int{3, 5}, 5},
		{"below min: min", []int{1}, 2},
		{"above max: max", []int{9}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Desired(c, tt.running); got != tt.want {
				t.Errorf("Desired = %d, want %d", got, tt.want)
			}
		})
	}
}
