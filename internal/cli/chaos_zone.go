package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/chaos"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/spf13/cobra"
)

// zoneJSON is what `elevator chaos --az -o json` prints.
type zoneJSON struct {
	Orbit      string             `json:"orbit"`
	Region     string             `json:"region"`
	Zone       string             `json:"zone"`
	For        string             `json:"for"`
	DryRun     bool               `json:"dry_run"`
	Groups     []chaos.ZoneChoice `json:"groups"`
	Terminated []termination      `json:"terminated"`
	Restored   []string           `json:"restored"`
	Early      bool               `json:"restored_early,omitempty"`
	Tests      []chaosTest        `json:"tests,omitempty"`
	Skipped    string             `json:"tests_skipped,omitempty"`
}

// recordedOutage returns the outage recorded in the orbit's state bucket,
// or nil.
func (r *chaosRun) recordedOutage(ctx context.Context) (*chaos.Outage, error) {
	body, _, err := r.objects.Get(ctx, r.bucket, elevator.ChaosOutageKey)
	if errors.Is(err, s3.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o chaos.Outage
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", r.bucket, elevator.ChaosOutageKey, err)
	}
	if err := o.Check(); err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", r.bucket, elevator.ChaosOutageKey, err)
	}
	return &o, nil
}

func outageHeld(o *chaos.Outage) error {
	return elevator.Errorf(elevator.ECONFLICT, "orbit %s has a zone outage recorded (%s, by %s, from %s until %s): it is under way, or its run ended before putting the subnets back; run `elevator chaos restore --orbit %s` once it is not running",
		o.Orbit, o.Zone, o.By, o.Start.Format(time.RFC3339), o.Until.Format(time.RFC3339), o.Orbit)
}

// loseZone takes the zone away from the groups of the current releases
// in its region for --for, then gives it back.
func (r *chaosRun) loseZone(ctx context.Context) error {
	if prev, err := r.recordedOutage(ctx); err != nil {
		return err
	} else if prev != nil {
		return outageHeld(prev)
	}
	region := r.zoneRegion
	zones, err := r.instances[region].AvailabilityZones(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(zones, r.zone) {
		return elevator.Errorf(elevator.EINVALID, "--az %s: not a zone of %s for this account; its zones are %s", r.zone, region, strings.Join(zones, ", "))
	}
	choices, err := r.zonePlan(ctx)
	if err != nil {
		return err
	}
	r.progress.Done()
	out := zoneJSON{Orbit: r.orbit.Name, Region: region, Zone: r.zone, For: r.outage.String(), DryRun: true, Groups: choices,
		Terminated: []termination{}, Restored: []string{}}
	var affected []chaos.ZoneChoice
	appSet := map[string]bool{}
	for _, c := range choices {
		if c.Affected() {
			affected = append(affected, c)
			appSet[c.Group.App] = true
		}
	}
	if r.dryRun || len(affected) == 0 {
		out.DryRun = r.dryRun
		return r.printZone(out)
	}
	apps := sortedApps(appSet)
	var tests map[string]*elevator.Release
	if r.thenTest {
		if tests, err = r.testsOf(ctx, apps); err != nil {
			return err
		}
	}
	if !r.yes {
		var b strings.Builder
		printZoneChoices(&b, affected)
		if err := confirm(r.globals, fmt.Sprintf("This takes zone %s away from %d groups of orbit %s for %s (no launches there; their instances there terminated), then gives it back:\n%s",
			r.zone, len(affected), r.orbit.Name, r.outage, strings.TrimRight(b.String(), "\n")), r.orbit.Name, "orbit"); err != nil {
			return err
		}
	}
	// The locks are held, renewed, from the first one taken until the
	// zone is back (renewed with a context of their own, so Ctrl-C does
	// not stop them while the subnets are put back): no release of these
	// apps starts meanwhile. A lock lost ends the outage early.
	waitCtx, stopWait := context.WithCancel(ctx)
	locks := r.holdLocks(stopWait)
	defer func() {
		stopWait()
		locks.close()
	}()
	if err := r.lockAll(ctx, locks, apps); err != nil {
		aerr := r.auditApps(apps, func(string) (string, string) {
			return "refused", fmt.Sprintf("zone %s not taken away: %v", r.zone, err)
		})
		return errors.Join(err, aerr)
	}
	// With the locks held, the groups are read again: a release since the
	// plan shown changes the groups, and the run refuses rather than act
	// on others than those shown. The record is written from this read.
	for _, app := range apps {
		delete(r.current, app)
	}
	fresh, err := r.zonePlan(ctx)
	if err != nil {
		return err
	}
	if d := chaos.ZoneChanges(choices, fresh); d != "" {
		return elevator.Errorf(elevator.ECONFLICT, "the groups of orbit %s in %s changed since the plan (%s): a release ran meanwhile; nothing was changed, run chaos again", r.orbit.Name, region, d)
	}
	out.Groups, affected = fresh, nil
	for _, c := range fresh {
		if c.Affected() {
			affected = append(affected, c)
		}
	}
	out.DryRun = false
	rec := chaos.NewOutage(r.orbit.Name, region, r.zone, r.by, r.now(), r.outage, affected)
	body, _ := json.MarshalIndent(rec, "", "  ")
	put, err := r.objects.PutIfAbsent(ctx, r.bucket, elevator.ChaosOutageKey, "application/json", body)
	if err != nil {
		return err
	}
	if !put {
		if prev, err := r.recordedOutage(ctx); err == nil && prev != nil {
			return outageHeld(prev)
		}
		return elevator.Errorf(elevator.ECONFLICT, "another zone outage of orbit %s was recorded just now; nothing was changed", r.orbit.Name)
	}
	r.progress.Note(region, fmt.Sprintf("recorded the subnets of %d groups in s3://%s/%s", len(affected), r.bucket, elevator.ChaosOutageKey))
	var failed error
	for _, c := range affected {
		// Each group is changed only with every lock still held: a lock
		// broken since (elevator unlock) stops the run here.
		if err := locks.renewDue(ctx, true); err != nil {
			failed = err
			break
		}
		if err := r.groups[region].SetSubnets(ctx, c.Group.Name, c.Kept); err != nil {
			failed = err
			break
		}
		r.progress.Note(region, fmt.Sprintf("%s: launches only in %s now", c.Group.Name, strings.Join(c.Kept, ", ")))
		out.Terminated = append(out.Terminated, r.terminate(ctx, c.Group, c.Terminate)...)
	}
	byApp, failedOf := map[string][]string{}, map[string][]string{}
	var notTerminated int
	for _, t := range out.Terminated {
		if t.Error == "" {
			byApp[t.App] = append(byApp[t.App], t.Instance+" ("+t.Group+")")
		} else {
			notTerminated++
			failedOf[t.App] = append(failedOf[t.App], t.Instance+" ("+t.Group+"): "+t.Error)
		}
	}
	// Audited whatever happens next: the zone is away now.
	auditErr := r.auditApps(apps, func(app string) (string, string) {
		outcome := "zone-lost"
		detail := fmt.Sprintf("zone %s lost for %s: terminated %d: %s", r.zone, r.outage, len(byApp[app]), strings.Join(byApp[app], ", "))
		if len(failedOf[app]) > 0 || failed != nil {
			outcome = "zone-lost-partly"
			detail += fmt.Sprintf("; not terminated %d: %s", len(failedOf[app]), strings.Join(failedOf[app], "; "))
			if failed != nil {
				detail += fmt.Sprintf("; stopped: %v", failed)
			}
		}
		return outcome, detail
	})
	if failed == nil {
		out.Early = r.waitOutage(waitCtx, region, rec.Until)
	}
	restored, rerr := r.restore(rec)
	out.Restored = restored
	r.progress.Done()
	var errs []error
	switch {
	case rerr != nil:
		errs = append(errs, fmt.Errorf("%w; the record stays in s3://%s/%s: run `elevator chaos restore --orbit %s`", rerr, r.bucket, elevator.ChaosOutageKey, r.orbit.Name))
	case failed != nil:
		errs = append(errs, fmt.Errorf("losing zone %s: %w (the subnets were put back)", r.zone, failed))
	}
	if lerr := locks.lost(); lerr != nil {
		errs = append(errs, elevator.Errorf(elevator.ECONFLICT, "lock lost; zone %s given back early: %w", r.zone, lerr))
	} else if ctx.Err() != nil {
		errs = append(errs, elevator.Errorf(elevator.EINTERRUPTED, "interrupted: zone %s given back early", r.zone))
	}
	if notTerminated > 0 {
		errs = append(errs, elevator.Errorf(elevator.EAWS, "%d instances in zone %s were not terminated (see above)", notTerminated, r.zone))
	}
	if auditErr != nil {
		errs = append(errs, auditErr)
	}
	if len(errs) > 0 {
		if r.thenTest {
			out.Skipped = "the integration tests did not run (see the errors)"
		}
		_ = r.printZone(out)
		return r.reportedIfJSON(errors.Join(errs...))
	}
	if r.thenTest {
		var groups []chaos.Group
		for _, c := range affected {
			groups = append(groups, c.Group)
		}
		if out.Tests, err = r.runTests(ctx, tests, groups, out.Terminated); err != nil {
			_ = r.printZone(out)
			return r.reportedIfJSON(err)
		}
	}
	if err := r.printZone(out); err != nil {
		return err
	}
	return r.reportedIfJSON(testsFailed(out.Tests))
}

// zonePlan reads the groups of the current releases in the zone's region,
// the zones of their subnets, and decides what losing the zone does to
// each.
func (r *chaosRun) zonePlan(ctx context.Context) ([]chaos.ZoneChoice, error) {
	region := r.zoneRegion
	groups, err := r.findGroups(ctx)
	if err != nil {
		return nil, err
	}
	var subnets []string
	for _, g := range groups {
		subnets = append(subnets, g.Subnets...)
	}
	zoneOf := map[string]string{}
	if len(subnets) > 0 {
		found, err := r.instances[region].SubnetsByID(ctx, slices.Compact(slices.Sorted(slices.Values(subnets))))
		if err != nil {
			return nil, err
		}
		for _, s := range found {
			zoneOf[s.ID] = s.AZ
		}
	}
	for i := range groups {
		groups[i].SubnetZones = zoneOf
	}
	return chaos.LoseZone(groups, r.zone), nil
}

// waitOutage waits until the outage's end, showing how long is left; it
// reports whether it ended early (Ctrl-C, or a lock lost).
func (r *chaosRun) waitOutage(ctx context.Context, region string, until time.Time) bool {
	for {
		left := until.Sub(r.now())
		if left <= 0 {
			return false
		}
		r.progress.Note(region, fmt.Sprintf("zone %s lost: %s left (Ctrl-C gives it back now)", r.zone, left.Round(time.Second)))
		if err := r.sleep(ctx, min(left, 10*r.pollUnit())); err != nil {
			return true
		}
	}
}

// restore gives every group of the record its subnets back, and deletes
// the record once all have them. It runs even after the command's
// context ended (Ctrl-C), with a context of its own.
func (r *chaosRun) restore(rec chaos.Outage) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, ok := r.groups[rec.Region]
	if !ok {
		cfg, err := r.configs.For(ctx, rec.Region)
		if err != nil {
			return nil, err
		}
		cl = autoscaling.New(cfg)
	}
	restored, errs := r.putSubnetsBack(ctx, cl, rec)
	if len(errs) > 0 {
		return restored, elevator.Errorf(elevator.EAWS, "put the subnets back: %w", errors.Join(errs...))
	}
	if err := r.objects.Delete(ctx, r.bucket, elevator.ChaosOutageKey); err != nil {
		return restored, err
	}
	apps := map[string]bool{}
	for _, g := range rec.Groups {
		apps[g.App] = true
	}
	for _, app := range sortedApps(apps) {
		if err := r.audit(ctx, app, "zone-restored", fmt.Sprintf("zone %s given back to %s", rec.Zone, strings.Join(restored, ", "))); err != nil {
			return restored, err
		}
	}
	return restored, nil
}

// subnetSetter is what restoring does to a region's groups: the region's
// autoscaling.Client, or a fake in tests.
type subnetSetter interface {
	Group(ctx context.Context, name string) (autoscaling.Group, error)
	SetSubnets(ctx context.Context, group string, subnets []string) error
}

// putSubnetsBack gives each group of the record its subnets back, and
// returns those it did; a group gone, or being deleted (a release
// replaced it, and AWS refuses updates to it), is skipped.
func (r *chaosRun) putSubnetsBack(ctx context.Context, cl subnetSetter, rec chaos.Outage) ([]string, []error) {
	restored := []string{}
	var errs []error
	for _, g := range rec.Groups {
		cur, err := cl.Group(ctx, g.Name)
		if err == nil && cur.Deleting() {
			r.progress.Note(rec.Region, fmt.Sprintf("%s: being deleted (by a release since), nothing to put back", g.Name))
			continue
		}
		if err == nil {
			err = cl.SetSubnets(ctx, g.Name, g.Subnets)
		}
		switch {
		case errors.Is(err, autoscaling.ErrNotFound):
			r.progress.Note(rec.Region, fmt.Sprintf("%s: gone (deleted by a release since), nothing to put back", g.Name))
		case err != nil:
			errs = append(errs, err)
		default:
			restored = append(restored, g.Name)
			r.progress.Note(rec.Region, fmt.Sprintf("%s: launches in %s again", g.Name, strings.Join(g.Subnets, ", ")))
		}
	}
	return restored, errs
}

func (r *chaosRun) printZone(out zoneJSON) error {
	if r.json() {
		return r.printJSON(out)
	}
	w := r.stdout
	if len(out.Groups) == 0 {
		fmt.Fprintf(w, "no groups of a current release of %s in orbit %s's region %s\n", orAll(r.app), r.orbit.Name, out.Region)
		return nil
	}
	printZoneChoices(w, out.Groups)
	if out.DryRun {
		fmt.Fprintln(w, "dry run: nothing was changed")
		return nil
	}
	printTerminated(w, out.Terminated)
	if len(out.Restored) > 0 {
		when := "after " + out.For
		if out.Early {
			when = "early"
		}
		fmt.Fprintf(w, "zone %s given back %s to %s\n", out.Zone, when, strings.Join(out.Restored, ", "))
	}
	printTests(w, out.Tests)
	if out.Skipped != "" {
		fmt.Fprintln(w, out.Skipped)
	}
	return nil
}

func printZoneChoices(w io.Writer, cs []chaos.ZoneChoice) {
	for _, c := range cs {
		line := fmt.Sprintf("%s  %s (%s/%s)", c.Group.Region, c.Group.Name, c.Group.App, c.Group.Service)
		if c.Affected() {
			var ids []string
			for _, in := range c.Terminate {
				ids = append(ids, in.ID)
			}
			line += fmt.Sprintf(": without subnets %s", strings.Join(c.Removed, " "))
			if len(ids) > 0 {
				line += ", terminate " + strings.Join(ids, " ")
			}
		} else {
			line += ": " + c.Why
		}
		fmt.Fprintln(w, line)
	}
}

func newChaosRestoreCmd(g *globals) *cobra.Command {
	o := &chaosOptions{orbitEnv: orbitEnv{globals: g, allRegions: true}}
	c := &cobra.Command{
		Use:   "restore",
		Short: "Give back the zone a chaos run took away and did not give back (it crashed)",
		Long: `Read the zone outage recorded in the orbit's state bucket by
'elevator chaos --az', put every group's subnets back as they were, and
delete the record. A group deleted since (by a release), or being
deleted, is skipped. With no outage recorded, there is nothing to do.
While a chaos run holds one of the apps' locks (its lease unexpired), it
is still running and restore refuses (exit 3) unless --force. Audited.`,
		Args: noArgs,
	}
	var force bool
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.orbitEnv.validate(); err != nil {
			return err
		}
		ctx := cmd.Context()
		r, err := o.start(ctx)
		if err != nil {
			return err
		}
		rec, err := r.recordedOutage(ctx)
		if err != nil {
			return err
		}
		if rec != nil && !force {
			if err := r.liveRun(ctx, *rec); err != nil {
				return err
			}
		}
		if rec == nil {
			if g.json() {
				return g.printJSON(map[string]any{"orbit": o.orbit.Name, "restored": []string{}})
			}
			fmt.Fprintf(g.stdout, "no zone outage recorded for orbit %s: nothing to restore\n", o.orbit.Name)
			return nil
		}
		restored, err := r.restore(*rec)
		r.progress.Done()
		if err != nil {
			return err
		}
		if g.json() {
			return g.printJSON(map[string]any{"orbit": o.orbit.Name, "zone": rec.Zone, "region": rec.Region, "restored": restored})
		}
		fmt.Fprintf(g.stdout, "zone %s given back to %d groups: %s\n", rec.Zone, len(restored), strings.Join(restored, ", "))
		return nil
	}
	o.addFlags(c)
	c.Flags().BoolVar(&force, "force", false, "restore even while a chaos run holds the apps' locks (one that no longer runs, and whose lease has not ended yet)")
	return c
}

// liveRun is an ECONFLICT error when a chaos run may still be keeping the
// zone away: a lock of one of the record's apps held, lease unexpired, by
// a chaos run. That run gives the zone back itself.
func (r *chaosRun) liveRun(ctx context.Context, rec chaos.Outage) error {
	seen := map[string]bool{}
	for _, g := range rec.Groups {
		if seen[g.App] {
			continue
		}
		seen[g.App] = true
		l, err := r.locker.Get(ctx, g.App, r.orbit.Name)
		if errors.Is(err, release.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if elevator.IsChaosRun(l.ReleaseID) && r.now().Before(l.Expires) {
			return elevator.Errorf(elevator.ECONFLICT, "a chaos run (%s, %s) holds the lock of %s in orbit %s until %s: it is still running and gives zone %s back itself; --force to restore anyway",
				l.ReleaseID, l.Holder, g.App, r.orbit.Name, l.Expires.Format(time.RFC3339), rec.Zone)
		}
	}
	return nil
}
