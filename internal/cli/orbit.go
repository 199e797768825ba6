package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ecs"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/aws/route53"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/spf13/cobra"
)

// orbitOpts are the options of every `elevator orbit` command.
type orbitOpts struct {
	*globals
	waitFlags
	file string

	orbit    *elevator.Orbit
	configs  *awsConfigs
	progress *progress.Printer
}

// verb is one `elevator <noun> <verb>` command: its options are
// validated, then run.
type verb[O interface{ validate() error }] struct {
	use, short string
	run        func(O, context.Context) error
}

// addVerbs adds verbs to parent; options makes each verb's options and
// declares its flags.
func addVerbs[O interface{ validate() error }](parent *cobra.Command, verbs []verb[O], options func(use string, c *cobra.Command) O) {
	for _, v := range verbs {
		c := &cobra.Command{Use: v.use, Short: v.short, Args: noArgs}
		o := options(v.use, c)
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return v.run(o, cmd.Context())
		}
		parent.AddCommand(c)
	}
}

// waitFlags say how commands that change stacks wait for them.
type waitFlags struct {
	pollInterval time.Duration
	timeout      time.Duration
	cmd          *cobra.Command
}

func (w *waitFlags) add(c *cobra.Command) {
	w.cmd = c
	c.Flags().DurationVar(&w.pollInterval, "poll-interval", 0, fmt.Sprintf("time between two looks at AWS while waiting, at least %s (default 5s, 200ms with --local)", minPollInterval))
	c.Flags().DurationVar(&w.timeout, "timeout", time.Hour, "how long a stack may take to settle")
}

func (w *waitFlags) validate() error {
	if err := checkPollInterval(w.cmd, w.pollInterval); err != nil {
		return err
	}
	if w.timeout <= 0 {
		return elevator.Errorf(elevator.EINVALID, "--timeout %s: want a positive duration", w.timeout)
	}
	return nil
}

// poller polls AWS every 5 seconds, the emulator every 200 milliseconds,
// unless --poll-interval says otherwise.
func (w *waitFlags) poller(emulated bool) apply.Poller {
	interval := w.pollInterval
	if interval == 0 {
		interval = 5 * time.Second
		if emulated {
			interval = 200 * time.Millisecond
		}
	}
	return apply.Poller{Clock: elevator.SystemClock{}, Interval: interval, Timeout: w.timeout}
}

// readOrbit reads and checks an orbit manifest; with region set, the orbit
// keeps only that region.
func readOrbit(file, region string) (*elevator.Orbit, error) {
	data, err := manifest.ReadFile(file)
	if err != nil {
		if elevator.ErrorCode(err) == elevator.EINVALID {
			return nil, err
		}
		if os.IsNotExist(err) {
			return nil, elevator.Errorf(elevator.EINVALID, "orbit manifest %s not found; pass -f FILE", file)
		}
		return nil, elevator.Errorf(elevator.EINVALID, "read orbit manifest: %w", err)
	}
	orb, err := manifest.ParseOrbit(file, data)
	if err != nil {
		return nil, err
	}
	if region != "" {
		r := orb.Region(region)
		if r == nil {
			return nil, elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", region, orb.Name, strings.Join(regionNames(orb), ", "))
		}
		orb.Regions = []elevator.Region{*r}
	}
	return orb, nil
}

func newOrbitCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "orbit",
		Short: "Bring orbits (multi-region environments) up and down",
		Long: `An orbit is a tier of the deployment lifecycle (test, staging, production)
spanning AWS regions: in each region one VPC over every availability zone,
with tiers of subnets, NAT, a bastion, alarm topics and Elevator's own state.
It is described by an orbit manifest (see 'elevator schema orbit').

'up' also stores the Elevator agent's builds (bin/agent, built by
scripts/setup, or $ELEVATOR_AGENT_DIR) in each region's state bucket: the
bastion runs the agent, so an orbit with a bastion needs it built.`,
	}
	addVerbs(cmd, []verb[*orbitOpts]{
		{"validate", "Check an orbit manifest without calling AWS", (*orbitOpts).validateOnly},
		{"plan", "Preview, per region, what 'up' would add, change or remove", (*orbitOpts).plan},
		{"up", "Create or update the orbit in every region, in parallel", (*orbitOpts).up},
		{"status", "Show each region's stack, VPC, subnets and NAT gateways, read back from AWS", (*orbitOpts).status},
		{"outputs", "Print the values the orbit's stacks export (VPC, subnets, topics, bucket, tables, bastion) and how to reach the bastion", (*orbitOpts).outputs},
		{"down", "Delete the orbit in every region (asks first unless --yes)", (*orbitOpts).down},
	}, func(use string, c *cobra.Command) *orbitOpts {
		o := &orbitOpts{globals: g}
		c.Flags().StringVarP(&o.file, "file", "f", "orbit.yml", "the orbit manifest")
		if use == "plan" {
			addPriceLookupFlag(c, g)
		}
		o.waitFlags.add(c)
		return o
	})
	return cmd
}

// validate reads and checks the manifest and the flags.
func (o *orbitOpts) validate() error {
	if err := o.waitFlags.validate(); err != nil {
		return err
	}
	orb, err := readOrbit(o.file, o.region)
	if err != nil {
		return err
	}
	o.orbit = orb
	o.configs = orbitConfigs(o.globals, o.orbit)
	o.progress = progress.New(o.stderr)
	return nil
}

// service wires the orbit service to AWS.
func (o *orbitOpts) service(ctx context.Context) (*orbit.Service, error) {
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
			return orbit.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), Parameters: ssm.New(cfg), Objects: s3.New(cfg), Clusters: ecs.New(cfg), Groups: autoscaling.New(cfg)}, nil
		},
		Zones:    route53.New(global),
		Roles:    iam.New(global),
		Progress: o.progress,
		Poller:   o.poller(o.configs.emulated()),
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
	if err != nil {
		o.progress.Done()
		return err
	}
	est, costErr := o.orbitCost(ctx, svc)
	o.progress.Done()
	if o.json() {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "plans": plans, "cost": costJSON(est, costErr)})
	}
	printPlans(o.stdout, plans)
	o.printCost(est, costErr)
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
	printApplied(o.stdout, res.Plans, res.Results, "orbit "+o.orbit.Name, time.Since(start))
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
		// Refuse before asking (a protected orbit, an ECS cluster that
		// still has services): the answer would not matter.
		svc, err := o.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.CheckDown(ctx, o.orbit); err != nil {
			return err
		}
		what := fmt.Sprintf("This deletes orbit %s in %s: its VPCs, NAT gateways, bastions, topics, bucket and tables.", o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
		if o.orbit.ECS != nil {
			what = fmt.Sprintf("This deletes orbit %s in %s: its ECS clusters, VPCs, NAT gateways, bastions, topics, bucket and tables.", o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
		}
		if err := confirm(o.globals, what, o.orbit.Name, "orbit"); err != nil {
			return err
		}
	}
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	results, err := svc.Down(ctx, o.orbit)
	o.progress.Done()
	if o.json() && err != nil {
		return err // the error is the JSON answer
	}
	if o.json() {
		return o.printJSON(map[string]any{"orbit": o.orbit.Name, "results": results})
	}
	for _, r := range results {
		if r != nil {
			fmt.Fprintf(o.stdout, "%s  %s  %s\n", r.Region, r.Stack, r.Status)
		}
	}
	return err
}
