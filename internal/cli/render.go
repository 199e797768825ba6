package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/orbit"
)

// printPlans writes a readable diff: a line per resource, + to add, ~ to
// modify, - to remove, with replacements flagged.
func printPlans(w io.Writer, plans []*apply.Plan) {
	var add, change, remove int
	for _, p := range plans {
		switch {
		case p.NoChanges:
			fmt.Fprintf(w, "%s  %s  no changes\n", p.Region, p.Stack)
			continue
		case p.Create:
			fmt.Fprintf(w, "%s  %s  (new stack)\n", p.Region, p.Stack)
		default:
			fmt.Fprintf(w, "%s  %s\n", p.Region, p.Stack)
		}
		var rows bytes.Buffer
		tw := tabwriter.NewWriter(&rows, 0, 4, 2, ' ', 0)
		for _, c := range p.Changes {
			mark, note := "?", ""
			switch c.Action {
			case "Add":
				mark = "+"
				add++
			case "Modify":
				mark = "~"
				change++
				switch c.Replacement {
				case "True":
					note = "REPLACED"
				case "Conditional":
					note = "may be replaced"
				}
			case "Remove":
				mark = "-"
				remove++
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\n", mark, c.LogicalID, c.Type, note)
		}
		tw.Flush()
		writeTrimmed(w, rows.String())
		if len(p.Changes) == 0 {
			fmt.Fprintln(w, "  (template or parameters change; no resource changes)")
		}
	}
	if add+change+remove == 0 && allUnchanged(plans) {
		fmt.Fprintln(w, "No changes.")
		return
	}
	fmt.Fprintf(w, "Plan: %d to add, %d to change, %d to remove.\n", add, change, remove)
}

// writeTrimmed writes lines without the padding a table leaves after an
// empty last cell.
func writeTrimmed(w io.Writer, lines string) {
	for _, line := range strings.SplitAfter(lines, "\n") {
		if line != "" {
			fmt.Fprintln(w, strings.TrimRight(line, " \n"))
		}
	}
}

func allUnchanged(plans []*apply.Plan) bool {
	for _, p := range plans {
		if !p.NoChanges {
			return false
		}
	}
	return true
}

// printStatus writes each region's stack, VPC, subnets per tier per zone
// and NAT gateways.
func printStatus(w io.Writer, o *elevator.Orbit, regions []orbit.RegionStatus) {
	for i, r := range regions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s  %s  %s", r.Region, r.Stack, r.Status)
		if r.Reason != "" {
			fmt.Fprintf(w, " (%s)", r.Reason)
		}
		fmt.Fprintln(w)
		if r.VPC == nil {
			fmt.Fprintln(w, "  no VPC")
			continue
		}
		fmt.Fprintf(w, "  VPC %s  %s\n", r.VPC.ID, r.VPC.CIDR)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIER\tAZ\tCIDR\tSUBNET")
		subnets := append([]orbit.SubnetStatus(nil), r.Subnets...)
		order := tierOrder(o, r.Region)
		sort.SliceStable(subnets, func(i, j int) bool {
			a, b := subnets[i], subnets[j]
			if order[a.Tier] != order[b.Tier] {
				return order[a.Tier] < order[b.Tier]
			}
			return a.AZ < b.AZ
		})
		for _, s := range subnets {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Tier, s.AZ, s.CIDR, s.ID)
		}
		tw.Flush()
		nats := "none"
		if len(r.NATGateways) > 0 {
			nats = strings.Join(r.NATGateways, ", ")
		}
		fmt.Fprintf(w, "  NAT gateways (%d): %s\n", len(r.NATGateways), nats)
		printECSStatus(w, r.ECS)
	}
}

// printECSStatus writes the orbit's ECS cluster in a region, if it has one.
func printECSStatus(w io.Writer, e *orbit.ECSStatus) {
	if e == nil {
		return
	}
	fmt.Fprintf(w, "  ECS cluster %s  %s  (stack %s %s)\n", e.Cluster, e.ClusterStatus, e.Stack, e.StackStatus)
	if e.ClusterStatus == orbit.StatusNotFound {
		return
	}
	providers := "none"
	if len(e.CapacityProviders) > 0 {
		providers = strings.Join(e.CapacityProviders, ", ")
	}
	fmt.Fprintf(w, "    capacity providers: %s\n", providers)
	if e.ContainerInstances != nil {
		fmt.Fprintf(w, "    container instances: %d registered\n", *e.ContainerInstances)
	}
	fmt.Fprintf(w, "    services: %d  tasks: %d running, %d pending\n", e.Services, e.RunningTasks, e.PendingTasks)
}

func tierOrder(o *elevator.Orbit, region string) map[string]int {
	order := map[string]int{}
	if r := o.Region(region); r != nil {
		for i, t := range r.Tiers {
			order[t.Name] = i
		}
	}
	return order
}

func printOutputs(w io.Writer, o *elevator.Orbit, outputs map[string]map[string]string) {
	first := true
	for _, r := range o.Regions {
		out, ok := outputs[r.Name]
		if !ok {
			continue // not asked for (--region)
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		fmt.Fprintln(w, r.Name)
		keys := make([]string, 0, len(out))
		for k := range out {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\n", k, out[k])
		}
		tw.Flush()
		if group := out[compile.BastionGroupOutput]; group != "" {
			printBastionHint(w, o.Name, r.Name, group)
		}
	}
}

// printBastionHint says how to reach an orbit's hosts through its bastion
// in a region: the bastion's agent lets in anyone granted an app or a
// service of the orbit (`elevator access grant`).
func printBastionHint(w io.Writer, orbitName, region, group string) {
	fmt.Fprintf(w, `  reach the hosts through the bastion (Auto Scaling Group %[3]s):
    elevator ssh --orbit %[1]s --app APP --service SERVICE
    ssh -J USER@BASTION-ADDRESS USER@HOST-ADDRESS   # BASTION-ADDRESS: aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names %[3]s --region %[2]s
    aws ssm start-session --target INSTANCE-ID --region %[2]s   # Session Manager, without SSH
`, orbitName, region, group)
}

// printApplied says what up did in each region, and sums it up for what.
func printApplied(w io.Writer, plans []*apply.Plan, results []*apply.Result, what string, took time.Duration) {
	changed := false
	var regions []string
	for i, r := range results {
		if r == nil {
			continue
		}
		regions = append(regions, r.Region)
		if r.Changed {
			changed = true
			fmt.Fprintf(w, "%s  %s  %s (%d change(s) applied in %s)\n", r.Region, r.Stack, r.Status, len(plans[i].Changes), r.Duration.Round(time.Millisecond))
		} else {
			fmt.Fprintf(w, "%s  %s  %s (no changes)\n", r.Region, r.Stack, r.Status)
		}
	}
	if !changed {
		fmt.Fprintf(w, "%s is up to date: no changes\n", what)
		return
	}
	fmt.Fprintf(w, "%s is up in %s (%s)\n", what, strings.Join(regions, ", "), took.Round(time.Millisecond))
}

// printReleases writes a line per release: id, state, when it was
// submitted, and the path it took.
func printReleases(w io.Writer, recs []*elevator.ReleaseRecord) {
	for _, r := range recs {
		fmt.Fprintf(w, "%s  %-13s  %s  %s\n", r.ID, r.State, r.SubmittedAt.Format(time.RFC3339), strings.Join(statePath(r.Path), " > "))
	}
}

// printAudit writes a line per audit entry.
func printAudit(w io.Writer, entries []elevator.AuditEntry) {
	for _, en := range entries {
		fmt.Fprintf(w, "%s  %-9s  %s/%s  %s  %s  by %s", en.At.Format(time.RFC3339), en.Action, en.App, en.Orbit, en.ReleaseID, en.Outcome, en.By)
		if en.Detail != "" {
			fmt.Fprintf(w, "  (%s)", en.Detail)
		}
		fmt.Fprintln(w)
	}
}

// statePath names the states of a path.
func statePath(path []elevator.ReleaseState) []string {
	names := make([]string, len(path))
	for i, s := range path {
		names[i] = string(s)
	}
	return names
}

// printRecord writes a release's record: what it is, where it went, how
// each region's services fared.
func printRecord(w io.Writer, r *elevator.ReleaseRecord) {
	fmt.Fprintf(w, "release %s  app %s  orbit %s  %s\n", r.ID, r.App, r.Orbit, r.State)
	fmt.Fprintf(w, "  path: %s\n", strings.Join(statePath(r.Path), " > "))
	end := r.EndedAt
	if end.IsZero() {
		end = r.UpdatedAt
	}
	fmt.Fprintf(w, "  submitted %s, took %s\n", r.SubmittedAt.Format(time.RFC3339), end.Sub(r.SubmittedAt).Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, reg := range r.Regions {
		for _, s := range reg.Services {
			var old []string
			for _, o := range s.Old {
				old = append(old, groupName(o.Name, o.Cluster))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\treplaced: %s\n", reg.Region, s.Service, groupName(s.Group, s.Cluster), healthLine(s), orNone(old))
		}
	}
	tw.Flush()
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.Halt != nil {
		fmt.Fprintf(w, "  halted by %s at %s: %s\n", r.Halt.By, r.Halt.At.Format(time.RFC3339), r.Halt.Reason)
	}
	if !r.GreenReadyAt.IsZero() {
		fmt.Fprintf(w, "  green is ready: %s\n", r.GreenReadyAt.Format(time.RFC3339))
	}
	for _, x := range r.Tests {
		res := "passed"
		if !x.Passed {
			res = "FAILED: " + x.Error
		}
		fmt.Fprintf(w, "  test %s/%s in %s (round %d, try %d, %.1fs): %s\n", x.Phase, x.Name, x.Region, x.Round, x.Attempt, x.Seconds, res)
	}
	if !r.TestsFailedAt.IsZero() {
		fmt.Fprintf(w, "  tests failed at %s; `elevator release retry-tests %s --orbit %s` runs them again\n", r.TestsFailedAt.Format(time.RFC3339), r.ID, r.Orbit)
	}
	for _, a := range r.Alarms {
		fmt.Fprintf(w, "  alarm %s in %s: %s -> %s at %s\n", a.Name, a.Region, orDefault(a.From, "(first look)"), a.To, a.At.Format(time.RFC3339))
	}
	for _, l := range r.Leftovers {
		fmt.Fprintf(w, "  LEFT BEHIND: %s\n", l)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	calls := 0
	for _, n := range r.Calls {
		calls += n
	}
	if calls > 0 {
		fmt.Fprintf(w, "  %d calls to AWS\n", calls)
	}
}

// groupName names a release's group in text: an Auto Scaling Group by
// its name, an ECS service as "ECS service NAME (cluster C)".
func groupName(name, cluster string) string {
	if cluster == "" || name == "" {
		return name
	}
	return "ECS service " + name + " (cluster " + cluster + ")"
}

// healthLine is a new group's last look at its health: for an Auto
// Scaling Group the healthy instances against those needed; for an ECS
// service its tasks: in service (running, container not UNHEALTHY),
// healthy against needed, and stopping or stopped (which count against
// max_terms).
func healthLine(s elevator.ReleaseServiceRecord) string {
	h := s.Health
	if s.Cluster == "" {
		return fmt.Sprintf("%d/%d healthy", h.Healthy, h.Needed)
	}
	return fmt.Sprintf("tasks: %d in service, %d/%d healthy, %d stopping or stopped", h.InService, h.Healthy, h.Needed, h.Terminating)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// printRelease writes a release document and the resources it resolved,
// for `deploy --dry-run`.
func printRelease(w io.Writer, r *elevator.Release) {
	fmt.Fprintf(w, "release %s  app %s  orbit %s  version %s  by %s\n", r.ID, r.App, r.Orbit, r.Version, r.CreatedBy)
	fmt.Fprintf(w, "  regions: %s (sequential: %v), timeout %s\n", strings.Join(r.Regions, ", "), r.Sequential, r.Timeout())
	for _, s := range r.Services {
		c := s.Capacity
		if s.ECS != nil {
			x := s.ECS
			fmt.Fprintf(w, "  service %s: ECS on %s, %d CPU units, %d MiB, %d..%d tasks, strategy %s, spread %.2f, max_terms %d (stopped tasks count)\n",
				s.Name, x.Capacity, x.CPU, x.Memory, c.Min, c.Max, orDefault(c.Strategy, elevator.StrategyAllAtOnce), c.Spread, c.MaxTerms)
			for _, p := range s.Placements {
				var secrets []string
				for _, sec := range p.Secrets {
					secrets = append(secrets, sec.Name)
				}
				fmt.Fprintf(w, "    %s: cluster %s, image %s, subnets %s, security groups %s, target groups %s, log group %s, secrets %s\n",
					p.Region, p.Cluster, p.Image, strings.Join(p.Subnets, ","), orNone(p.SecurityGroups), orNone(p.TargetGroups), orDefault(p.LogGroup, "none"), orNone(secrets))
			}
			continue
		}
		fmt.Fprintf(w, "  service %s: %s, %d..%d instances, strategy %s, spread %.2f, max_terms %d\n", s.Name, s.InstanceType, c.Min, c.Max, orDefault(c.Strategy, elevator.StrategyAllAtOnce), c.Spread, c.MaxTerms)
		for _, p := range s.Placements {
			fmt.Fprintf(w, "    %s: image %s, subnets %s, security groups %s, target groups %s, instance profile %s\n",
				p.Region, p.Image, strings.Join(p.Subnets, ","), orNone(p.SecurityGroups), orNone(p.TargetGroups), p.InstanceProfile)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
