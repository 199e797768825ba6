package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/elevatorhq/elevator/internal/release"
	"github.com/spf13/cobra"
)

func newGCCmd(g *globals) *cobra.Command {
	e := &releaseEnv{globals: g}
	var app string
	var dryRun bool
	c := &cobra.Command{
		Use:   "gc",
		Short: "Remove what ended releases left behind in an orbit: groups that never served, launch templates and alarms without a group",
		Long: `Find, in every region of the orbit, what releases that have ended left
behind, and remove it: Auto Scaling groups of releases that rolled back or
whose cleanup gave up (with their instances), and launch templates and
CloudWatch alarms whose group is gone. What belongs to a release that has
not ended, or to the release holding the app's lock, is never touched, nor
are the groups of releases that succeeded or whose rollback could not put
the old groups back (they serve). --dry-run lists without
removing; without --yes, gc lists and asks first. Removals are audited.`,
		Args: noArgs,
	}
	c.RunE = e.command(nil, func(ctx context.Context, _ []string) error {
		if g.yes && !dryRun {
			return e.printOrphans(e.engine.GC(ctx, e.orbit.Name, app, e.caller, release.All))
		}
		found, err := e.engine.GC(ctx, e.orbit.Name, app, e.caller, nil)
		if err != nil || dryRun || len(found) == 0 {
			return e.printOrphans(found, err)
		}
		var b strings.Builder
		printOrphans(&b, found)
		if err := confirm(g, fmt.Sprintf("This removes what ended releases left in orbit %s:\n%s", e.orbit.Name, strings.TrimRight(b.String(), "\n")), e.orbit.Name, "orbit"); err != nil {
			return err
		}
		// Only what the person was shown and agreed to; what turned up
		// since is listed, not removed.
		return e.printOrphans(e.engine.GC(ctx, e.orbit.Name, app, e.caller, release.Among(found)))
	})
	c.Flags().StringVar(&app, "app", "", "only this app's (default: every app in the orbit)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed; remove nothing")
	e.addFlags(c)
	return c
}

// printOrphans prints what gc found or removed, and passes err on.
func (e *releaseEnv) printOrphans(found []release.Orphan, err error) error {
	if e.json() {
		if found == nil {
			found = []release.Orphan{}
		}
		if perr := e.printJSON(found); perr != nil {
			return perr
		}
		if err != nil {
			return reported{err}
		}
		return nil
	}
	if len(found) == 0 && err == nil {
		fmt.Fprintf(e.stdout, "nothing left behind by ended releases in orbit %s\n", e.orbit.Name)
	}
	printOrphans(e.stdout, found)
	return err
}

// printOrphans writes a line per orphan: where, what, whose, and what
// became of it.
func printOrphans(w io.Writer, found []release.Orphan) {
	for _, o := range found {
		whose := "release " + o.ReleaseID + " (" + string(o.Ended) + ")"
		if o.ReleaseID == "" {
			whose = "group gone, release unknown"
		}
		done := "would remove"
		switch {
		case o.Removed:
			done = "removed"
		case o.Error != "":
			done = "not removed: " + o.Error
		}
		what := o.Kind + " " + o.Name
		if o.Kind == release.KindGroup && o.Cluster != "" {
			what = groupName(o.Name, o.Cluster)
		}
		fmt.Fprintf(w, "%s  %s  %s  %s\n", o.Region, what, whose, done)
	}
}
