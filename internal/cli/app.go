package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/app"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/spf13/cobra"
)

// appOpts are the options of every `elevator app` command.
type appOpts struct {
	*globals
	waitFlags
	file       string
	orbitName  string
	orbitFile  string
	deleteData bool
	changeSet  string // up: the reviewed change set to execute
	keep       bool   // plan: keep the change sets for review

	app      *elevator.App
	orbit    *elevator.Orbit
	configs  *awsConfigs
	progress *progress.Printer
}

func newAppCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Bring an app's infrastructure (load balancers, firewalls, DNS, identity, alarms, data stores) up and down in an orbit",
		Long: `An app is described by an app manifest kept with its code (see 'elevator schema
app'). Its infrastructure in an orbit is one CloudFormation stack per region:
security groups, load balancers with a target group per service, DNS records,
an instance profile per service, log groups, alarms and data stores. Releases
of the app's code ('elevator deploy') run on top of it.

The orbit's manifest is found with --orbit-file, else $ELEVATOR_ORBIT_FILE,
else orbits/NAME.yml, NAME.orbit.yml or orbit.yml.`,
	}
	addVerbs(cmd, []verb[*appOpts]{
		{"plan", "Preview, per region, what 'up' would add, change or remove", (*appOpts).plan},
		{"up", "Create or update the app's infrastructure in every region of the orbit", (*appOpts).up},
		{"status", "Show the app's stack in each region and its load balancers", (*appOpts).status},
		{"outputs", "Print what the app's stacks export (target groups, security groups, instance profiles, endpoints)", (*appOpts).outputs},
		{"down", "Delete the app's infrastructure (asks first unless --yes; data stores need --delete-data)", (*appOpts).down},
	}, func(use string, c *cobra.Command) *appOpts {
		o := &appOpts{globals: g}
		c.Flags().StringVarP(&o.file, "file", "f", "app.yml", "the app manifest")
		c.Flags().StringVar(&o.orbitName, "orbit", "", "the orbit to work in (required)")
		c.Flags().StringVar(&o.orbitFile, "orbit-file", "", "the orbit's manifest (default: see above)")
		addChangeSetFlags(use, c, o)
		if use == "plan" {
			addPriceLookupFlag(c, g)
		}
		if use == "down" {
			c.Flags().BoolVar(&o.deleteData, "delete-data", false, "also delete the app's data stores (databases keep a final snapshot)")
		}
		o.waitFlags.add(c)
		return o
	})
	return cmd
}

func (o *appOpts) validate() error {
	if err := o.waitFlags.validate(); err != nil {
		return err
	}
	if o.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required: the orbit to work in")
	}
	orbitFile, err := findOrbitFile(o.orbitName, o.orbitFile)
	if err != nil {
		return err
	}
	// The whole orbit is read even with --region: compiling an app needs
	// every region (a global database's primary is the first one).
	if o.orbit, err = readOrbit(orbitFile, ""); err != nil {
		return err
	}
	if o.region != "" && o.orbit.Region(o.region) == nil {
		return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", o.region, o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
	}
	if o.orbit.Name != o.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", o.orbitName, orbitFile, o.orbit.Name)
	}
	if o.app, err = readApp(o.file, o.orbitName); err != nil {
		return err
	}
	o.configs = orbitConfigs(o.globals, o.orbit)
	o.progress = progress.New(o.stderr)
	return o.validateChangeSet()
}

// findOrbitFile finds the manifest of orbit name.
func findOrbitFile(name, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv("ELEVATOR_ORBIT_FILE"); env != "" {
		return env, nil
	}
	tried := []string{filepath.Join("orbits", name+".yml"), name + ".orbit.yml", "orbit.yml"}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", elevator.Errorf(elevator.EINVALID, "no manifest for orbit %s: pass --orbit-file, set ELEVATOR_ORBIT_FILE, or put it at %s", name, strings.Join(tried, ", "))
}

func (o *appOpts) service(ctx context.Context) (*app.Service, error) {
	home, err := o.configs.For(ctx, o.orbit.Regions[0].Name)
	if err != nil {
		return nil, err
	}
	return &app.Service{
		Clients: func(region string) (app.Clients, error) {
			cfg, err := o.configs.For(ctx, region)
			if err != nil {
				return app.Clients{}, err
			}
			return app.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), LoadBalancing: elbv2.New(cfg), Registry: ecr.New(cfg)}, nil
		},
		Identity: sts.New(home),
		Progress: o.progress,
		Poller:   o.poller(o.configs.emulated()),
		Region:   o.region,
	}, nil
}

func (o *appOpts) plan(ctx context.Context) error {
	if o.keep {
		return o.planKept(ctx)
	}
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	plans, err := svc.Plan(ctx, o.app, o.orbit)
	if err != nil {
		o.progress.Done()
		return err
	}
	est, costErr := o.appCost(ctx)
	o.progress.Done()
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "plans": plans, "cost": costJSON(est, costErr)})
	}
	printPlans(o.stdout, plans)
	o.printCost(est, costErr)
	return nil
}

func (o *appOpts) up(ctx context.Context) error {
	if o.changeSet != "" {
		return o.upChangeSet(ctx)
	}
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := svc.Up(ctx, o.app, o.orbit)
	o.progress.Done()
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "plans": res.Plans, "results": res.Results, "seconds": time.Since(start).Seconds()})
	}
	printApplied(o.stdout, res.Plans, res.Results, fmt.Sprintf("app %s in orbit %s", o.app.Name, o.orbit.Name), time.Since(start))
	return nil
}

func (o *appOpts) status(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	st, err := svc.Status(ctx, o.app, o.orbit)
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "regions": st})
	}
	for i, r := range st {
		if i > 0 {
			fmt.Fprintln(o.stdout)
		}
		fmt.Fprintf(o.stdout, "%s  %s  %s\n", r.Region, r.Stack, r.Status)
		for _, lb := range r.LoadBalancers {
			fmt.Fprintf(o.stdout, "  load balancer %s (%s): http://%s\n", lb.Name, lb.Scheme, lb.DNSName)
		}
		keys := make([]string, 0, len(r.Outputs))
		for k := range r.Outputs {
			if strings.HasSuffix(k, "Endpoint") || strings.HasSuffix(k, "Dns") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(o.stdout, "  %-28s %s\n", k, r.Outputs[k])
		}
	}
	return nil
}

func (o *appOpts) outputs(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	out, err := svc.Outputs(ctx, o.app, o.orbit)
	if err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "outputs": out})
	}
	printOutputs(o.stdout, o.orbit, out)
	return nil
}

func (o *appOpts) down(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	if stores := app.DataStores(o.app); len(stores) > 0 && !o.deleteData {
		_, err := svc.Down(ctx, o.app, o.orbit, false) // refuses, saying why
		return err
	}
	if !o.yes {
		what := "its load balancers, security groups, DNS records, instance profiles and alarms"
		if o.deleteData {
			what += ", and its data stores (" + strings.Join(app.DataStores(o.app), ", ") + ")"
		}
		if err := confirm(o.globals, fmt.Sprintf("This deletes app %s in orbit %s (%s): %s.", o.app.Name, o.orbit.Name, strings.Join(regionNames(o.orbit), ", "), what), o.app.Name, "app"); err != nil {
			return err
		}
	}
	results, err := svc.Down(ctx, o.app, o.orbit, o.deleteData)
	o.progress.Done()
	if o.json() && err != nil {
		return err // the error is the JSON answer
	}
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "results": results})
	}
	for _, r := range results {
		if r != nil {
			fmt.Fprintf(o.stdout, "%s  %s  %s\n", r.Region, r.Stack, r.Status)
		}
	}
	return err
}
