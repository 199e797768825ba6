package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/spf13/cobra"
)

// addChangeSetFlags gives `app up` its --change-set and `app plan` its
// --keep: plan keeps its change sets for review, up executes one of them.
func addChangeSetFlags(use string, c *cobra.Command, o *appOpts) {
	switch use {
	case "up":
		c.Flags().StringVar(&o.changeSet, "change-set", "", "execute this reviewed change set (its ARN, or its name with --region) instead of planning anew; refused when it is stale")
	case "plan":
		c.Flags().BoolVar(&o.keep, "keep", false, "keep the change sets for review and print their ids, for 'app up --change-set ID'")
	}
}

// validateChangeSet checks --change-set before any call: an ARN names its
// region, which must be the orbit's (and --region's, if given); a name
// needs --region.
func (o *appOpts) validateChangeSet() error {
	if o.changeSet == "" {
		return nil
	}
	if !strings.HasPrefix(o.changeSet, "arn:") {
		if o.region == "" {
			return elevator.Errorf(elevator.EINVALID, "--change-set %s: a change set's name needs --region (or give its ARN)", o.changeSet)
		}
		return nil
	}
	parts := strings.SplitN(o.changeSet, ":", 6)
	if len(parts) != 6 || parts[2] != "cloudformation" || !strings.HasPrefix(parts[5], "changeSet/") {
		return elevator.Errorf(elevator.EINVALID, "--change-set %s: not a change set ARN; want arn:aws:cloudformation:REGION:ACCOUNT:changeSet/NAME/ID", o.changeSet)
	}
	region := parts[3]
	if o.region != "" && o.region != region {
		return elevator.Errorf(elevator.EINVALID, "--change-set %s is in %s, not --region %s", o.changeSet, region, o.region)
	}
	if o.orbit.Region(region) == nil {
		return elevator.Errorf(elevator.EINVALID, "--change-set %s is in %s; orbit %s is not (its regions are %s)", o.changeSet, region, o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
	}
	o.region = region
	return nil
}

// upChangeSet executes a reviewed change set of the app's stack in one
// region of the orbit: what runs is exactly what was reviewed. It refuses
// (ECONFLICT) a change set executed already or stale — its stack changed
// since it was made, it is gone or not executable — and (EINVALID) one
// of another stack than the app's in this orbit.
func (o *appOpts) upChangeSet(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	targets, err := svc.Targets(ctx, o.app, o.orbit)
	if err != nil {
		return err
	}
	if len(targets) != 1 {
		return elevator.Errorf(elevator.EINTERNAL, "app %s in %s: %d stacks, want one", o.app.Name, o.region, len(targets))
	}
	t := targets[0]
	id := o.changeSet
	if !strings.HasPrefix(id, "arn:") {
		cfg, err := o.configs.For(ctx, o.region)
		if err != nil {
			return err
		}
		if id, err = cloudformation.New(cfg).ChangeSetARN(ctx, t.Spec.Name, id); err != nil {
			return err
		}
	}
	cs, err := t.Engine.CheckKept(ctx, id, t.Spec.Name)
	if err != nil {
		return err
	}
	if cs.Executed() {
		return elevator.Errorf(elevator.ECONFLICT, "change set %s of stack %s in %s was executed already (%s); plan again", id, t.Spec.Name, o.region, cs.Execution)
	}
	start := time.Now()
	res, err := svc.ExecuteKept(ctx, t, id, cs.Created)
	o.progress.Done()
	if err != nil {
		return err
	}
	plans := []*apply.Plan{{Region: o.region, Stack: t.Spec.Name, Changes: cs.Changes}}
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "change_set": id, "plans": plans, "results": []*apply.Result{res}, "seconds": time.Since(start).Seconds()})
	}
	printApplied(o.stdout, plans, []*apply.Result{res}, fmt.Sprintf("app %s in orbit %s (change set %s)", o.app.Name, o.orbit.Name, id), time.Since(start))
	return nil
}

// planKept plans the app in every region and keeps the change sets, for
// a review and a later `app up --change-set`.
func (o *appOpts) planKept(ctx context.Context) error {
	svc, err := o.service(ctx)
	if err != nil {
		return err
	}
	plans, err := svc.PlanKept(ctx, o.app, o.orbit)
	if err != nil {
		o.progress.Done()
		return err
	}
	est, costErr := o.appCost(ctx)
	o.progress.Done()
	plans = slices.DeleteFunc(plans, func(p *apply.Plan) bool { return p == nil })
	if o.json() {
		return o.printJSON(map[string]any{"app": o.app.Name, "orbit": o.orbit.Name, "plans": plans, "cost": costJSON(est, costErr)})
	}
	printPlans(o.stdout, plans)
	for _, p := range plans {
		if p.Kept() != "" {
			fmt.Fprintf(o.stdout, "%s  %s  change set kept: %s\n    apply it with: elevator app up -f %s --orbit %s --change-set %s\n", p.Region, p.Stack, p.Kept(), o.file, o.orbit.Name, p.Kept())
		}
	}
	o.printCost(est, costErr)
	return nil
}
