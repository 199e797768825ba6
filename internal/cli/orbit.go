package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/route53"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/spf13/cobra"
)

// orbitOpts are the options of every `elevator orbit` command.
type orbitOpts struct {
	*globals
	file         string
	pollInterval time.Duration
	timeout      time.Duration

	orbit    *elevator.Orbit
	configs  *awsConfigs
	progress *progress.Printer
}

func newOrbitCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "orbit",
		Short: "Bring orbits (multi-region environments) up and down",
		Long: `An orbit is a tier of the deployment lifecycle (test, staging, production)
spanning AWS regions: in each region one VPC over every availability zone,
with tiers of subnets, NAT, a bastion, alarm topics and Elevator's own state.
It is described by an orbit manifest (see 'elevator schema orbit').`,
	}
	verbs := []struct {
		use, short string
		run        func(*orbitOpts, context.Context) error
	}{
		{"validate", "Check an orbit manifest without calling AWS", (*orbitOpts).validateOnly},
		{"plan", "Preview, per region, what 'up' would add, change or remove", (*orbitOpts).plan},
		{"up", "Create or update the orbit in every region, in parallel", (*orbitOpts).up},
		{"status", "Show each region's stack, VPC, subnets and NAT gateways, read back from AWS", (*orbitOpts).status},
		{"outputs", "Print the values the orbit's stacks export (VPC, subnets, topics, bucket, tables)", (*orbitOpts).outputs},
		{"down", "Delete the orbit in every region (asks first unless --yes)", (*orbitOpts).down},
	}
	for _, v := range verbs {
		o := &orbitOpts{globals: g}
		c := &cobra.Command{
			Use:   v.use,
			Short: v.short,
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := o.validate(); err != nil {
					return err
				}
				return v.run(o, cmd.Context())
			},
		}
		c.Flags().StringVarP(&o.file, "file", "f", "orbit.yml", "the orbit manifest")
		c.Flags().DurationVar(&o.pollInterval, "poll-interval", 0, "time between two looks at AWS while waiting (default 5s, 200ms with --local)")
		c.Flags().DurationVar(&o.timeout, "timeout", time.Hour, "how long a stack may take to settle")
		cmd.AddCommand(c)
	}
	return cmd
}

// validate reads and checks the manifest and the flags.
func (o *orbitOpts) validate() error {
	data, err := os.ReadFile(o.file)
	if err != nil {
		if os.IsNotExist(err) {
			return elevator.Errorf(elevator.EINVALID, "orbit manifest %s not found; pass -f FILE", o.file)
		}
		return elevator.Errorf(elevator.EINVALID, "read orbit manifest: %w", err)
	}
	orb, err := manifest.ParseOrbit(o.file, data)
	if err != nil {
		return err
	}
	if o.region != "" {
		r := orb.Region(o.region)
		if r == nil {
			names := make([]string, len(orb.Regions))
			for i, r := range orb.Regions {
				names[i] = r.Name
			}
			return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", o.region, orb.Name, strings.Join(names, ", "))
		}
		orb.Regions = []elevator.Region{*r}
	}
	if o.pollInterval < 0 || o.timeout <= 0 {
		return elevator.Errorf(elevator.EINVALID, "--poll-interval and --timeout must be positive")
	}
	o.orbit = orb
	o.configs = newAWSConfigs(o.globals)
	o.progress = progress.New(o.stderr)
	return nil
}

// service wires the orbit service to AWS.
func (o *orbitOpts) service(ctx context.Context) (*orbit.Service, error) {
	interval := o.pollInterval
	if interval == 0 {
		interval = 5 * time.Second
		if o.configs.emulated() {
			interval = 200 * time.Millisecond
		}
	}
	global, err := o.configs.For(ctx, o.orbit.Regions[0].Name)
	if err != nil {
		return nil, err
	}
	return &orbit.Service{
		Clients: func(region string) (orbit.Clients, error) {
			cfg, err := o.configs.For(ctx, region)
			if err != nil {
				return orbit.Clients{}, err
			}
			return orbit.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), Parameters: ssm.New(cfg)}, nil
		},
		Zones:    route53.New(global),
		Progress: o.progress,
		Poller:   apply.Poller{Clock: apply.SystemClock{}, Interval: interval, Timeout: o.timeout},
	}, nil
}

func (o *orbitOpts) validateOnly(ctx context.Context) error {
	if o.json() {
		return o.printJSON(map[string]any{"valid": true, "orbit": o.orbit.Name, "regions": regionNames(o.orbit)})
	}
	fmt.Fprintf(o.stdout, "%s: orbit %s is valid (%s)\n", o.file, o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
	return nil
}

func regionNames(orb *elevator.Orbit) []string {
	names := make([]string, len(orb.Regions))
	for i, r := range orb.Regions {
		names[i] = r.Name
	}
	return names
}

func (o *orbitOpts) plan(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	plans, err := svc.Plan(ctx, o.orbit)
	o.progress.Done()
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "plans": plans})
	}
	printPlans(o.stdout, plans)
	return nil
}

func (o *orbitOpts) up(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := svc.Up(ctx, o.orbit)
	o.progress.Done()
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "plans": res.Plans, "results": res.Results, "seconds": time.Since(start).Seconds()})
	}
	changed := false
	for i, r := range res.Results {
		if r.Changed {
			changed = true
			fmt.Fprintf(o.stdout, "%s  %s  %s (%d change(s) applied in %s)\n", r.Region, r.Stack, r.Status, len(res.Plans[i].Changes), r.Duration.Round(time.Millisecond))
		} else {
			fmt.Fprintf(o.stdout, "%s  %s  %s (no changes)\n", r.Region, r.Stack, r.Status)
		}
	}
	if !changed {
		fmt.Fprintf(o.stdout, "orbit %s is up to date: no changes\n", o.orbit.Name)
	} else {
		fmt.Fprintf(o.stdout, "orbit %s is up in %s (%s)\n", o.orbit.Name, strings.Join(regionNames(o.orbit), ", "), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (o *orbitOpts) status(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	st, err := svc.Status(ctx, o.orbit)
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "regions": st})
	}
	printStatus(o.stdout, o.orbit, st)
	return nil
}

func (o *orbitOpts) outputs(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	out, err := svc.Outputs(ctx, o.orbit)
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "outputs": out})
	}
	printOutputs(o.stdout, o.orbit, out)
	return nil
}

func (o *orbitOpts) down(ctx context.Context) error {
	if !o.yes {
		if o.orbit.Protect {
			// Refuse before asking: the answer would not matter.
			svc, err := o.service(ctx)
			if err != nil {
				return err
			}
			_, err = svc.Down(ctx, o.orbit)
			return err
		}
		if err := o.confirm(); err != nil {
			return err
		}
	}
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	results, err := svc.Down(ctx, o.orbit)
	o.progress.Done()
	if o.json() && err == nil {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "results": results})
	}
	for _, r := range results {
		if r != nil {
			fmt.Fprintf(o.stdout, "%s  %s  %s\n", r.Region, r.Stack, r.Status)
		}
	}
	return err
}

// confirm asks the user to type the orbit's name before deleting it.
func (o *orbitOpts) confirm() error {
	fmt.Fprintf(o.stderr, "This deletes orbit %s in %s: its VPCs, NAT gateways, bastions, topics, bucket and tables.\nType the orbit's name to confirm: ",
		o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
	line, err := bufio.NewReader(o.stdin).ReadString('\n')
	if strings.TrimSpace(line) == o.orbit.Name {
		return nil
	}
	if err != nil && strings.TrimSpace(line) == "" {
		return elevator.Errorf(elevator.EINTERRUPTED, "no answer: nothing was deleted (pass --yes to skip the question)")
	}
	return elevator.Errorf(elevator.EINTERRUPTED, "not confirmed: nothing was deleted")
}
