package elevator

import (
	"strings"
	"testing"
	"time"
)

func gatedRelease() *Release {
	return &Release{ID: "20261123-120000-9f86d081", CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), CreatedBy: "ana",
		App: "shop", Orbit: "prod", Version: "1.4.2", Regions: []string{"us-east-1"}, TimeoutSeconds: 600,
		Services: []ReleaseService{{Name: "web", InstanceType: "t3.small", Capacity: ReleaseCapacity{Min: 1, Max: 2},
			Placements: []ReleasePlacement{{Region: "us-east-1", Image: "ami-1", Subnets: []string{"subnet-1"}, TargetGroups: []string{"arn:tg"}, TestListener: "arn:listener"}}}},
		Tests: &ReleaseTests{Smoke: []ReleaseTest{{Name: "health", Kind: TestHTTP, Path: "/health"}}, Alarms: []string{"a"}, MissingData: MissingDataOK}}
}

func TestCheckRefusesBadGates(t *testing.T) {
	if err := gatedRelease().Check(); err != nil {
		t.Fatalf("a good gated release: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Release)
		want   string
	}{
		{"a command test without a command", func(r *Release) { r.Tests.Smoke[0] = ReleaseTest{Name: "x", Kind: TestCommand} },
			"tests.smoke[0].command: a command test needs a command"},
		{"an unknown kind", func(r *Release) { r.Tests.Smoke[0].Kind = "selenium" }, `tests.smoke[0].kind "selenium": want http, command or ssm`},
		{"alarms without missing_data", func(r *Release) { r.Tests.MissingData = "" }, "tests.missing_data: required when alarms are watched"},
		{"smoke tests without a test listener", func(r *Release) { r.Services[0].Placements[0].TestListener = "" },
			"smoke tests need the test listener"},
		{"a negative bake", func(r *Release) { r.Tests.BakeSeconds = -1 }, "tests.bake_seconds -1"},
		{"a body that is not a regular expression", func(r *Release) { r.Tests.Smoke[0].Body = "(" }, "tests.smoke[0].body"},
		{"an ssm test on another service", func(r *Release) {
			r.Tests.Integration = []ReleaseTest{{Name: "x", Kind: TestSSM, Command: []string{"ls"}, Service: "api"}}
		}, `tests.integration[0].service "api": not a service of the release`},
		{"a header naming an engine variable outside the test prefix", func(r *Release) {
			r.Tests.Smoke[0].Headers = map[string]string{"X-Debug": "${AWS_SECRET_ACCESS_KEY}"}
		}, "tests.smoke[0].headers.X-Debug: header X-Debug reads ${AWS_SECRET_ACCESS_KEY}: a header is sent to the app under test, so it may read only the engine's variables whose names start with ELEVATOR_TEST_"},
		{"a credential header mixing a test variable with another", func(r *Release) {
			r.Tests.Smoke[0].Headers = map[string]string{"Authorization": "Bearer ${ELEVATOR_TEST_TOKEN}${AWS_SESSION_TOKEN}"}
		}, "reads ${AWS_SESSION_TOKEN}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gatedRelease()
			tt.change(r)
			err := r.Check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExpandHeaderReadsOnlyTestVariables(t *testing.T) {
	env := map[string]string{"AWS_SECRET_ACCESS_KEY": "engine-secret", "ELEVATOR_TEST_TOKEN": "smoke-token"}
	getenv := func(k string) string { return env[k] }
	for _, tt := range []struct{ in, want string }{
		{"Bearer ${ELEVATOR_TEST_TOKEN}", "Bearer smoke-token"},
		{"${AWS_SECRET_ACCESS_KEY}", "${AWS_SECRET_ACCESS_KEY}"},
		{"${ELEVATOR_TEST_TOKEN}:${AWS_SECRET_ACCESS_KEY}", "smoke-token:${AWS_SECRET_ACCESS_KEY}"},
		{"${ELEVATOR_TEST_UNSET}", ""},
	} {
		if got := ExpandHeader(tt.in, getenv); got != tt.want {
			t.Errorf("ExpandHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if err := CheckTestHeader("Authorization", "Bearer ${ELEVATOR_TEST_TOKEN}"); err != nil {
		t.Errorf("a credential from a test variable: %v", err)
	}
}

func TestTestOutputIsCappedAtBothEnds(t *testing.T) {
	long := "BEGIN" + strings.Repeat("x", 3*MaxTestOutput) + "END"
	got := CapOutput(long)
	if len(got) > MaxTestOutput+64 || !strings.HasPrefix(got, "BEGIN") || !strings.HasSuffix(got, "END") || !strings.Contains(got, "bytes cut") {
		t.Errorf("CapOutput gave %d bytes: %.40q...", len(got), got)
	}
	if CapOutput("short") != "short" {
		t.Error("a short output changed")
	}
	if got := Redact("token=abcd1234 and abc", []string{"abcd1234", "abc"}); got != "token=[redacted] and abc" {
		t.Errorf("Redact = %q (secrets under four characters are left, as they match too much)", got)
	}
}

func TestWhatBreachesIsTheMissingDataSetting(t *testing.T) {
	for _, tt := range []struct {
		state, missing string
		want           bool
	}{
		{AlarmAlarm, MissingDataOK, true},
		{AlarmOK, MissingDataBreaching, false},
		{AlarmInsufficient, MissingDataOK, false},
		{AlarmInsufficient, MissingDataBreaching, true},
		{AlarmMissing, MissingDataBreaching, true},
		{AlarmMissing, MissingDataOK, false},
	} {
		if got := Breaching(tt.state, tt.missing); got != tt.want {
			t.Errorf("Breaching(%s, %s) = %v, want %v", tt.state, tt.missing, got, tt.want)
		}
	}
}
