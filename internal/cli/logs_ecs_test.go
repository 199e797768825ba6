package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatchlogs"
	"github.com/elevatorhq/elevator/internal/compile"
)

// listedLogs is a logReader that lists log groups by prefix from a fixed
// list and has no events (findLogSources reads none).
type listedLogs []string

func (l listedLogs) Groups(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for _, g := range l {
		if strings.HasPrefix(g, prefix) {
			out = append(out, g)
		}
	}
	return out, nil
}

func (listedLogs) Events(context.Context, string, time.Time, time.Time) ([]cloudwatchlogs.Event, error) {
	return nil, nil
}

// TestLogsReadAnECSServicesLogGroupFromItsAppStack: a service whose app
// stack names its log group (an ECS service's, which need not have the
// usual name) is read there, with --service and without; a service the
// stack does not name, or an app without a stack, is read under the
// usual name.
func TestLogsReadAnECSServicesLogGroupFromItsAppStack(t *testing.T) {
	o := &elevator.Orbit{Name: "production", Regions: []elevator.Region{{Name: "us-east-1"}}}
	web := compile.LogGroupName("production", "shop", "web")
	api := elevator.AppPath("production", "shop") + "api/ecs"
	jobs := "/ecs/shop-production-jobs"
	outputs := map[string]string{compile.ServiceOutput("web", "LogGroup"): web, compile.ServiceOutput("api", "LogGroup"): api,
		compile.ServiceOutput("jobs", "LogGroup"): jobs, compile.ServiceOutput("web", "SecurityGroup"): "sg-0web"}
	logs := listedLogs{web, api, jobs, elevator.AppPath("production", "cart") + "web"}
	region := func(out map[string]string) func(context.Context, string) (logReader, map[string]string, error) {
		return func(context.Context, string) (logReader, map[string]string, error) { return logs, out, nil }
	}
	describe := func(ss []logSource) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.service+"="+s.group)
		}
		return out
	}
	tests := []struct {
		name    string
		service string
		outputs map[string]string
		want    []string
	}{
		{"an ECS service named by its stack", "api", outputs, []string{"api=" + api}},
		{"a service of groups, its usual name", "web", outputs, []string{"web=" + web}},
		{"every service: the usual names and those the stack names", "", outputs, []string{"web=" + web, "api=" + api, "jobs=" + jobs}},
		{"no app stack: the usual name", "api", nil, []string{"api=" + compile.LogGroupName("production", "shop", "api")}},
		{"no app stack, every service: only the usual names", "", nil, []string{"web=" + web}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findLogSources(context.Background(), o, "shop", tt.service, region(tt.outputs))
			if err != nil {
				t.Fatal(err)
			}
			if d := describe(got); !slices.Equal(d, tt.want) {
				t.Errorf("sources %v, want %v", d, tt.want)
			}
		})
	}
}
