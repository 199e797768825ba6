package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/spf13/cobra"
)

// The variables that name the programs `elevator ssh` runs, instead of
// the ssh and aws found on PATH.
const (
	SSHEnv    = "ELEVATOR_SSH"
	AWSCLIEnv = "ELEVATOR_AWS_CLI"
)

// instanceIDPattern is the form of an EC2 instance id.
var instanceIDPattern = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// exitStatus is the exit status of a program a command ran in the
// foreground (ssh): the command exits with it, and prints nothing more.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// The lookups `elevator ssh` makes, as small interfaces so that the rules
// (which release, which instance, which bastion) are tested with fakes.
type (
	releaseLister interface {
		Releases(ctx context.Context, app string, limit int) ([]*elevator.ReleaseRecord, error)
	}
	groupReader interface {
		Group(ctx context.Context, name string) (autoscaling.Group, error)
		Groups(ctx context.Context, tags map[string]string) ([]autoscaling.Group, error)
	}
	instanceReader interface {
		Instances(ctx context.Context, ids []string) ([]ec2.Instance, error)
	}
)

// sshLookup finds the instance to log in to and the bastion to go through.
type sshLookup struct {
	orbit, app, service, region string
	instance                    string // --instance, or "" for any healthy one
	releases                    releaseLister
	groups                      groupReader
	instances                   instanceReader
}

// sshHost is an instance `elevator ssh` reaches.
type sshHost struct {
	ID        string `json:"id"`
	PrivateIP string `json:"private_ip,omitempty"`
	PublicIP  string `json:"public_ip,omitempty"`
	AZ        string `json:"az,omitempty"`
}

// sshTarget is where `elevator ssh` goes, and how.
type sshTarget struct {
	Release  string   `json:"release"`
	Region   string   `json:"region"`
	Service  string   `json:"service"`
	Group    string   `json:"group"`
	Instance sshHost  `json:"instance"`
	Bastion  *sshHost `json:"bastion"` // nil through Session Manager
	Via      string   `json:"via"`     // ssh or ssm
	Command  []string `json:"command"` // what runs, or would run with --output json
}

// find looks up the current release's instance of the service and, unless
// ssm, the orbit's bastion in the region.
func (l sshLookup) find(ctx context.Context, ssm bool) (*sshTarget, error) {
	cur, err := currentRelease(ctx, l.releases, l.app, l.orbit, "log in to")
	if err != nil {
		return nil, err
	}
	if err := refuseECS(cur, []string{l.region}, l.app, l.service, "ssh"); err != nil {
		return nil, err
	}
	t := &sshTarget{Release: cur.ID, Region: l.region, Service: l.service, Via: "ssh"}
	var services []string
	t.Group, services = serviceGroup(cur, l.region, l.service)
	if t.Group == "" {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "the current release of %s in orbit %s (%s) has no service %s in %s (its services there: %s)", l.app, l.orbit, cur.ID, l.service, l.region, orNone(services))
	}
	g, err := l.groups.Group(ctx, t.Group)
	if err != nil {
		return nil, fmt.Errorf("group of service %s of release %s: %w", l.service, cur.ID, err)
	}
	id := l.instance
	if id != "" {
		if !slices.ContainsFunc(g.Instances, func(i autoscaling.Instance) bool { return i.ID == id }) {
			return nil, elevator.Errorf(elevator.ENOTFOUND, "--instance %s is not an instance of service %s's group %s in %s (its instances: %s)", id, l.service, g.Name, l.region, orNone(describeInstances(g.Instances)))
		}
	} else {
		healthy := g.InService()
		if len(healthy) == 0 {
			return nil, elevator.Errorf(elevator.ENOTFOUND, "service %s's group %s in %s has no InService, healthy instance to log in to (its instances: %s)", l.service, g.Name, l.region, orNone(describeInstances(g.Instances)))
		}
		slices.SortFunc(healthy, func(a, b autoscaling.Instance) int { return strings.Compare(a.ID, b.ID) })
		id = healthy[0].ID
	}
	found, err := l.instances.Instances(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 || found[0].PrivateIP == "" {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "instance %s of group %s in %s is gone or has no private address", id, g.Name, l.region)
	}
	t.Instance = sshHost{ID: id, PrivateIP: found[0].PrivateIP, AZ: found[0].AZ}
	if ssm {
		t.Via = "ssm"
		return t, nil
	}
	bastion, err := l.bastion(ctx)
	if err != nil {
		return nil, err
	}
	t.Bastion = bastion
	return t, nil
}

// currentRelease returns the app's current release in the orbit: its
// newest successful one. It returns an ENOTFOUND error, saying there is
// nothing to act on (to "log in to", to "run a command on"), when there
// is none.
func currentRelease(ctx context.Context, releases releaseLister, app, orbit, act string) (*elevator.ReleaseRecord, error) {
	recs, err := releases.Releases(ctx, app, 50)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.State == elevator.StateSuccess {
			return r, nil
		}
	}
	return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no successful release in orbit %s: nothing of it runs to %s (release it with `elevator deploy`)", app, orbit, act)
}

// refuseECS returns an EINVALID error when release rec runs service as
// an ECS service in one of regions: ECS tasks are not instances (no SSM
// agent, no SSH server, no user of Elevator's), so the error says how to
// reach a task with ECS Exec instead, which Elevator's ECS services have
// enabled. It returns nil for a service of Auto Scaling Groups.
func refuseECS(rec *elevator.ReleaseRecord, regions []string, app, service, command string) error {
	for _, r := range rec.Regions {
		if !slices.Contains(regions, r.Region) {
			continue
		}
		for _, s := range r.Services {
			if s.Service != service || s.Cluster == "" {
				continue
			}
			return elevator.Errorf(elevator.EINVALID, "--service %s: %s runs it on ECS, as ECS service %s in cluster %s (%s, release %s); "+
				"ECS tasks are not instances; %s cannot reach them. "+
				"Use ECS Exec instead (enabled on Elevator's ECS services; it needs ecs:ExecuteCommand and the Session Manager plugin): "+
				"aws ecs list-tasks --region %s --cluster %s --service-name %s, then "+
				"aws ecs execute-command --region %s --cluster %s --task TASK --container %s --interactive --command /bin/sh (see docs/ecs.md)",
				service, app, s.Group, s.Cluster, r.Region, rec.ID, command,
				r.Region, s.Cluster, s.Group, r.Region, s.Cluster, service)
		}
	}
	return nil
}

// serviceGroup returns the group of service that release rec runs in
// region ("" when it runs none there), and every service it runs there.
func serviceGroup(rec *elevator.ReleaseRecord, region, service string) (group string, services []string) {
	for _, r := range rec.Regions {
		if r.Region != region {
			continue
		}
		for _, s := range r.Services {
			services = append(services, s.Service)
			if s.Service == service {
				group = s.Group
			}
		}
	}
	return group, services
}

// bastion finds a bastion of the orbit in the region with a public
// address: an InService instance of its group, found by the group's tags.
func (l sshLookup) bastion(ctx context.Context) (*sshHost, error) {
	name := elevator.BastionName(l.orbit)
	none := func(why string) error {
		return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no bastion to go through in %s (%s): pass --ssm to go through Session Manager instead, or give the orbit a bastion (bastion: in its manifest, then `elevator orbit up`)", l.orbit, l.region, why)
	}
	groups, err := l.groups.Groups(ctx, map[string]string{"Name": name, elevator.TagOrbit: l.orbit})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, g := range groups {
		for _, i := range g.InService() {
			ids = append(ids, i.ID)
		}
	}
	if len(groups) == 0 {
		return nil, none("no group " + name)
	}
	if len(ids) == 0 {
		return nil, none("group " + name + " has no InService instance")
	}
	slices.Sort(ids)
	found, err := l.instances.Instances(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, i := range found {
		if i.PublicIP != "" && i.State == "running" {
			return &sshHost{ID: i.ID, PublicIP: i.PublicIP, AZ: i.AZ}, nil
		}
	}
	return nil, none("no running bastion instance has a public address")
}

func describeInstances(is []autoscaling.Instance) []string {
	var out []string
	for _, i := range is {
		out = append(out, fmt.Sprintf("%s %s/%s", i.ID, i.LifecycleState, i.HealthStatus))
	}
	return out
}

// sshCommand is what runs: the system ssh through the bastion, or the AWS
// CLI's Session Manager session.
func sshCommand(t *sshTarget, program, user, profile string, remote []string) ([]string, error) {
	if t.Via == "ssm" {
		argv := []string{program, "ssm", "start-session", "--target", t.Instance.ID, "--region", t.Region}
		if profile != "" {
			argv = append(argv, "--profile", profile)
		}
		if len(remote) > 0 {
			params, err := json.Marshal(map[string][]string{"command": {strings.Join(remote, " ")}})
			if err != nil {
				return nil, err
			}
			argv = append(argv, "--document-name", "AWS-StartInteractiveCommand", "--parameters", string(params))
		}
		return argv, nil
	}
	argv := []string{program, "-J", user + "@" + t.Bastion.PublicIP, "--", user + "@" + t.Instance.PrivateIP}
	return append(argv, remote...), nil
}

func newSSHCmd(g *globals) *cobra.Command {
	e := &orbitEnv{globals: g, allRegions: true}
	var app, service, instance, user string
	var ssm bool
	c := &cobra.Command{
		Use:   "ssh [-- COMMAND...]",
		Short: "Log in to an instance of an app's service, through the orbit's bastion (or Session Manager)",
		Long: `Find an InService, healthy instance of the service in the app's current
release (its last successful one), in the orbit's first region or --region,
and run the system ssh to it through the orbit's bastion:

  ssh -J USER@<bastion public address> -- USER@<instance private address> [COMMAND...]

--ssm runs 'aws ssm start-session --target <instance>' instead (no bastion,
no key: the AWS CLI with its Session Manager plugin, and ssm:StartSession).
$` + SSHEnv + ` and $` + AWSCLIEnv + ` name other programs to run. With --output json,
nothing runs: the target and the command are printed, for a script to run.

Your key must have been granted first: elevator access grant --orbit O --user USER --key FILE.

A service that runs on ECS has tasks, not instances: ssh refuses it (exit 2)
and says how to reach a task with ECS Exec (aws ecs execute-command).`,
		Example: `  elevator ssh --orbit production --app shop --service web
  elevator ssh --orbit production --app shop --service web -- journalctl -u elevator-web -n 50
  elevator ssh --orbit production --app shop --service web --ssm`,
		Args: cobra.ArbitraryArgs,
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := e.validate(); err != nil {
			return err
		}
		if err := checkAppService(app, service, true); err != nil {
			return err
		}
		if service == "" {
			return elevator.Errorf(elevator.EINVALID, "--service is required: an instance runs one service of the app")
		}
		if instance != "" && !instanceIDPattern.MatchString(instance) {
			return elevator.Errorf(elevator.EINVALID, "--instance %q: want an EC2 instance id such as i-0abcdef1234567890", instance)
		}
		if user == "" && !ssm {
			user = os.Getenv("USER")
			if elevator.CheckUserName(user) != nil {
				return elevator.Errorf(elevator.EINVALID, "--user is required: your local name %q is not a Linux user name; give the name you were granted", user)
			}
		}
		if user != "" {
			if err := elevator.CheckUserName(user); err != nil {
				return elevator.Errorf(elevator.EINVALID, "--user: %w", err)
			}
		}
		if len(args) > 0 && cmd.ArgsLenAtDash() != 0 {
			return usageError{fmt.Errorf("give the command to run after --: elevator ssh ... -- %s", strings.Join(args, " "))}
		}
		program, err := sshProgram(ssm, g.json())
		if err != nil {
			return err
		}
		region := g.region
		if region == "" {
			region = e.orbit.Regions[0].Name
		} else if e.orbit.Region(region) == nil {
			return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", region, e.orbit.Name, strings.Join(regionNames(e.orbit), ", "))
		}

		ctx := cmd.Context()
		home, err := e.configs.For(ctx, e.orbit.Regions[0].Name)
		if err != nil {
			return err
		}
		backend, err := homeBackend(ctx, home, e.orbit)
		if err != nil {
			return err
		}
		cfg, err := e.configs.For(ctx, region)
		if err != nil {
			return err
		}
		lookup := sshLookup{orbit: e.orbit.Name, app: app, service: service, region: region, instance: instance,
			releases: backend.Store, groups: autoscaling.New(cfg), instances: ec2.New(cfg)}
		target, err := lookup.find(ctx, ssm)
		if err != nil {
			return err
		}
		if target.Command, err = sshCommand(target, program, user, g.profile, args); err != nil {
			return err
		}
		if g.json() {
			return g.printJSON(target)
		}
		via := "Session Manager"
		if target.Bastion != nil {
			via = "bastion " + target.Bastion.ID + " (" + target.Bastion.PublicIP + ")"
		}
		fmt.Fprintf(g.stderr, "%s %s: instance %s (%s) of release %s in %s, through %s\n", app, service, target.Instance.ID, target.Instance.PrivateIP, target.Release, region, via)
		run := exec.Command(target.Command[0], target.Command[1:]...)
		run.Stdin, run.Stdout, run.Stderr = g.stdin, g.stdout, g.stderr
		if err := run.Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() > 0 {
				return exitStatus{exit.ExitCode()}
			}
			return elevator.Errorf(elevator.EINTERNAL, "run %s: %w", target.Command[0], err)
		}
		return nil
	}
	e.addFlags(c)
	c.Flags().StringVar(&app, "app", "", "the app (required)")
	c.Flags().StringVar(&service, "service", "", "the service whose instance (required)")
	c.Flags().StringVar(&instance, "instance", "", "this instance of the service's group (default: an InService, healthy one)")
	c.Flags().StringVar(&user, "user", "", "the user to log in as, as granted (default: $USER)")
	c.Flags().BoolVar(&ssm, "ssm", false, "go through Session Manager (aws ssm start-session) instead of ssh and the bastion")
	return c
}

// sshProgram finds the program to run: $ELEVATOR_SSH or ssh (with ssm,
// $ELEVATOR_AWS_CLI or aws) on PATH. With --output json nothing runs, so
// a missing program is only named.
func sshProgram(ssm, plan bool) (string, error) {
	env, name, what := SSHEnv, "ssh", "OpenSSH's client"
	if ssm {
		env, name, what = AWSCLIEnv, "aws", "the AWS CLI with the Session Manager plugin"
	}
	if p := os.Getenv(env); p != "" {
		name = p
	}
	path, err := exec.LookPath(name)
	if err != nil {
		if plan {
			return name, nil
		}
		return "", elevator.Errorf(elevator.ENOTFOUND, "%s: no %s to run (install %s, or set %s to its path)", name, name, what, env)
	}
	return path, nil
}
