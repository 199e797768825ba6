package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/runcmd"
)

// onECS makes world()'s current release 2 run web as an ECS service in
// cluster elevator-prod in us-east-1.
func onECS(w *fakeWorld) {
	w.records[1].Regions[0].Services[0].Cluster = "elevator-prod"
}

// noGroups is a groupReader that fails the test when read: a refusal
// must come before any look at groups.
type noGroups struct{ t *testing.T }

func (n noGroups) Group(context.Context, string) (autoscaling.Group, error) {
	n.t.Error("a group was read")
	return autoscaling.Group{}, nil
}

func (n noGroups) Groups(context.Context, map[string]string) ([]autoscaling.Group, error) {
	n.t.Error("groups were read")
	return nil, nil
}

// ecsExec is what the refusals tell the user to run instead.
const ecsExec = "aws ecs execute-command --region us-east-1 --cluster elevator-prod --task TASK --container web --interactive --command /bin/sh"

func TestExecRefusesAnECSServiceAndSaysToUseECSExec(t *testing.T) {
	x, _, _, audits, cmds := execWorld(t, false)
	onECS(x.lookup.releases.(*fakeWorld))
	x.lookup.groups = func(context.Context, string) (groupReader, error) { return noGroups{t}, nil }
	err := x.run(context.Background(), runcmd.Shell("uptime", time.Minute))
	if ExitCode(err) != ExitInvalid {
		t.Errorf("exit %d, want %d: %v", ExitCode(err), ExitInvalid, err)
	}
	for _, want := range []string{"as ECS service web-2 in cluster elevator-prod (us-east-1, release 2)", "ECS tasks are not instances; exec cannot reach them",
		"aws ecs list-tasks --region us-east-1 --cluster elevator-prod --service-name web-2", ecsExec} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if len(*audits) != 0 || len(cmds["us-east-1"].sent)+len(cmds["eu-west-1"].sent) != 0 {
		t.Errorf("something was audited (%v) or sent", *audits)
	}
}

func TestExecStillRunsOnAServiceOfGroupsWhenAnotherServiceIsOnECS(t *testing.T) {
	x, _, _, audits, cmds := execWorld(t, false)
	w := x.lookup.releases.(*fakeWorld)
	for i := range w.records[1].Regions {
		r := &w.records[1].Regions[i]
		r.Services = append(r.Services, elevator.ReleaseServiceRecord{Service: "api", Group: "api-2-" + r.Region, Cluster: "elevator-prod"})
	}
	err := x.run(context.Background(), runcmd.Shell("uptime", time.Minute))
	if ExitCode(err) == ExitInvalid {
		t.Fatalf("web runs on Auto Scaling Groups, refused because api is on ECS: %v", err)
	}
	east, west := strings.Join(cmds["us-east-1"].sent, ";"), strings.Join(cmds["eu-west-1"].sent, ";")
	for _, want := range []string{"i-0000000b", "i-0000000d"} {
		if !strings.Contains(east, want) {
			t.Errorf("us-east-1: sent %q, not to web's %s", east, want)
		}
	}
	if !strings.Contains(west, "i-0000000e") {
		t.Errorf("eu-west-1: sent %q, not to web's i-0000000e", west)
	}
	if len(*audits) != 2 || !strings.HasPrefix((*audits)[0].Detail, "service web: ") {
		t.Errorf("audit entries: %+v, want web's start, then the outcome", *audits)
	}
	if err := refuseECS(w.records[1], x.lookup.regions, "shop", "api", "exec"); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("api on ECS: %v, want invalid", err)
	}
}

func TestSSHRefusesAnECSServiceAndSaysToUseECSExec(t *testing.T) {
	for _, ssm := range []bool{false, true} {
		w := world()
		onECS(w)
		l := sshLookup{orbit: "prod", app: "shop", service: "web", region: "us-east-1", releases: w, groups: noGroups{t}, instances: w}
		_, err := l.find(context.Background(), ssm)
		if ExitCode(err) != ExitInvalid {
			t.Errorf("ssm %v: exit %d, want %d: %v", ssm, ExitCode(err), ExitInvalid, err)
		}
		for _, want := range []string{"ECS service web-2 in cluster elevator-prod", "ECS tasks are not instances; ssh cannot reach them", ecsExec} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ssm %v: error %v does not say %q", ssm, err, want)
			}
		}
	}
}
