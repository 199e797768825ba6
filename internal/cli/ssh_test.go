package cli

import (
	"context"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// fakeWorld is releases, groups and instances in memory, for sshLookup.
type fakeWorld struct {
	records   []*elevator.ReleaseRecord
	groups    map[string]autoscaling.Group
	instances map[string]ec2.Instance
}

func (f *fakeWorld) Releases(_ context.Context, app string, limit int) ([]*elevator.ReleaseRecord, error) {
	return f.records, nil
}

func (f *fakeWorld) Group(_ context.Context, name string) (autoscaling.Group, error) {
	g, ok := f.groups[name]
	if !ok {
		return g, elevator.Errorf(elevator.ENOTFOUND, "auto scaling group %s not found", name)
	}
	return g, nil
}

func (f *fakeWorld) Groups(_ context.Context, tags map[string]string) ([]autoscaling.Group, error) {
	var out []autoscaling.Group
	for _, g := range f.groups {
		match := true
		for k, v := range tags {
			match = match && g.Tags[k] == v
		}
		if match {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *fakeWorld) Instances(_ context.Context, ids []string) ([]ec2.Instance, error) {
	var out []ec2.Instance
	for _, id := range ids {
		if i, ok := f.instances[id]; ok {
			out = append(out, i)
		}
	}
	return out, nil
}

func inService(id string) autoscaling.Instance {
	return autoscaling.Instance{ID: id, LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy}
}

// world is an orbit "prod" whose app shop's current release 2 runs web in
// group web-2 (one healthy instance, one launching), after which release 3
// failed; its bastion has a public address.
func world() *fakeWorld {
	rec := func(id string, state elevator.ReleaseState, group string) *elevator.ReleaseRecord {
		return &elevator.ReleaseRecord{ID: id, State: state, Regions: []elevator.ReleaseRegionRecord{{Region: "us-east-1", Services: []elevator.ReleaseServiceRecord{{Service: "web", Group: group}}}}}
	}
	return &fakeWorld{
		records: []*elevator.ReleaseRecord{rec("3", elevator.StateFailureClean, "web-3"), rec("2", elevator.StateSuccess, "web-2"), rec("1", elevator.StateSuccess, "web-1")},
		groups: map[string]autoscaling.Group{
			"web-2":        {Name: "web-2", Instances: []autoscaling.Instance{{ID: "i-0000000a", LifecycleState: autoscaling.Pending}, inService("i-0000000b")}},
			"web-3":        {Name: "web-3", Instances: []autoscaling.Instance{inService("i-0000000c")}},
			"prod-bastion": {Name: "prod-bastion", Tags: map[string]string{"Name": "prod-bastion", elevator.TagOrbit: "prod"}, Instances: []autoscaling.Instance{inService("i-0000000f")}},
		},
		instances: map[string]ec2.Instance{
			"i-0000000a": {ID: "i-0000000a", State: "pending", PrivateIP: "10.0.1.10"},
			"i-0000000b": {ID: "i-0000000b", State: "running", PrivateIP: "10.0.1.11"},
			"i-0000000c": {ID: "i-0000000c", State: "running", PrivateIP: "10.0.1.12"},
			"i-0000000f": {ID: "i-0000000f", State: "running", PrivateIP: "10.0.0.5", PublicIP: "198.51.100.7"},
		},
	}
}

func TestSSHFindsAHealthyInstanceOfTheCurrentReleaseAndTheBastion(t *testing.T) {
	tests := []struct {
		name     string
		change   func(w *fakeWorld, l *sshLookup)
		ssm      bool
		want     string // the command, or the error
		notFound bool
	}{
		{name: "the last successful release's healthy instance, through the bastion", want: "ssh -J alice@198.51.100.7 -- alice@10.0.1.11 uptime"},
		{name: "the instance asked for, even launching", change: func(w *fakeWorld, l *sshLookup) { l.instance = "i-0000000a" }, want: "ssh -J alice@198.51.100.7 -- alice@10.0.1.10 uptime"},
		{name: "through Session Manager, no bastion needed", ssm: true, change: func(w *fakeWorld, l *sshLookup) { delete(w.groups, "prod-bastion") },
			want: `aws ssm start-session --target i-0000000b --region us-east-1 --document-name AWS-StartInteractiveCommand --parameters {"command":["uptime"]}`},
		{name: "an instance of another group", change: func(w *fakeWorld, l *sshLookup) { l.instance = "i-0000000c" }, notFound: true,
			want: "--instance i-0000000c is not an instance of service web's group web-2 in us-east-1 (its instances: i-0000000a Pending/, i-0000000b InService/Healthy)"},
		{name: "no healthy instance", change: func(w *fakeWorld, l *sshLookup) {
			g := w.groups["web-2"]
			g.Instances = g.Instances[:1]
			w.groups["web-2"] = g
		}, notFound: true, want: "group web-2 in us-east-1 has no InService, healthy instance"},
		{name: "no successful release", change: func(w *fakeWorld, l *sshLookup) { w.records = w.records[:1] }, notFound: true, want: "app shop has no successful release in orbit prod"},
		{name: "a service the release does not have", change: func(w *fakeWorld, l *sshLookup) { l.service = "api" }, notFound: true, want: "has no service api in us-east-1 (its services there: web)"},
		{name: "no bastion", change: func(w *fakeWorld, l *sshLookup) { delete(w.groups, "prod-bastion") }, notFound: true, want: "no group prod-bastion): pass --ssm"},
		{name: "a bastion without a public address", change: func(w *fakeWorld, l *sshLookup) {
			b := w.instances["i-0000000f"]
			b.PublicIP = ""
			w.instances["i-0000000f"] = b
		}, notFound: true, want: "no running bastion instance has a public address): pass --ssm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := world()
			l := sshLookup{orbit: "prod", app: "shop", service: "web", region: "us-east-1", releases: w, groups: w, instances: w}
			if tt.change != nil {
				tt.change(w, &l)
			}
			target, err := l.find(context.Background(), tt.ssm)
			if tt.notFound {
				if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want not found saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			program := "ssh"
			if tt.ssm {
				program = "aws"
			}
			argv, err := sshCommand(target, program, "alice", "", []string{"uptime"})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(argv, " "); got != tt.want {
				t.Errorf("command %q, want %q", got, tt.want)
			}
			if target.Release != "2" || !slices.Contains([]string{"ssh", "ssm"}, target.Via) {
				t.Errorf("target %+v", target)
			}
		})
	}
}
