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
	for _, want := range []string{"as ECS service web-2 in cluster elevator-prod (us-east-1, release 2)", "no instances to run a command on",
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
	x, _, _, _, _ := execWorld(t, false)
	w := x.lookup.releases.(*fakeWorld)
	w.records[1].Regions[0].Services = append(w.records[1].Regions[0].Services, elevator.ReleaseServiceRecord{Service: "api", Group: "api-2", Cluster: "elevator-prod"})
	if err := refuseECS(w.records[1], x.lookup.regions, "shop", "web", "exec"); err != nil {
		t.Errorf("web runs on Auto Scaling Groups, refused: %v", err)
	}
	if err := refuseECS(w.records[1], []string{"eu-west-1"}, "shop", "api", "exec"); err != nil {
		t.Errorf("api runs on ECS in us-east-1 only, refused in eu-west-1: %v", err)
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
		for _, want := range []string{"ECS service web-2 in cluster elevator-prod", "no instances to log in to", ecsExec} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ssm %v: error %v does not say %q", ssm, err, want)
			}
		}
	}
}
