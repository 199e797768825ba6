package release

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator"
)

// TestGCRemovesWhatEndedReleasesLeftAndNothingElse: in an orbit
// where one release serves, one ended FailureDirty with its group left,
// one ended FailureClean with a launch template left (as before
// cleanup found templates by tag), an alarm watches a group that is
// gone, and a release is under way (its launch template made, its group
// not yet), a dry run names exactly the three orphans, and a real run
// removes them and leaves the rest alone.
func TestGCRemovesWhatEndedReleasesLeftAndNothingElse(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		c := w.clouds["us-east-1"]
		e := w.engine("engine-1")
		serving := w.release()
		assertPath(t, w.run(e, serving), happyPath)

		dirty := w.release(func(r *elevator.Release) { r.Version = "2.0.0" })
		c.neverHealthy = true
		c.failAlways("DeleteGroup", errThrottled)
		if rec := w.run(e, dirty); rec.State != FD {
			t.Fatalf("dirty release ended %s", rec.State)
		}
		c.clearFaults("DeleteGroup")

		failed := w.release(func(r *elevator.Release) { r.Version = "3.0.0" })
		assertPath(t, w.run(e, failed), rolledBack)
		c.neverHealthy = false
		planted := w.plant(c, GroupName(failed, "web"), map[string]string{elevator.TagApp: app, elevator.TagOrbit: orbit, elevator.TagService: "web", elevator.TagRelease: failed.ID})
		c.mu.Lock()
		c.alarms["shop-prod-web-0badf00d-policy-alarm-0"] = "shop-prod-web-0badf00d"
		c.mu.Unlock()

		running := w.release(func(r *elevator.Release) { r.Version = "4.0.0" })
		ctx, crash := context.WithCancel(context.Background())
		defer crash()
		c.hook = func(op string) {
			if op == w.beforeGroup() {
				crash()
			}
		}
		if rec, err := e.Run(ctx, running.ID, w.submit(e, running)); err == nil || rec.State != D {
			t.Fatalf("running release: %v in %s, want it stopped in Deploy holding the lock", err, rec.State)
		}
		c.hook = nil

		want := []string{
			"alarm shop-prod-web-0badf00d-policy-alarm-0 ",
			"group " + GroupName(dirty, "web") + " " + dirty.ID,
			planted + " " + failed.ID,
		}
		names := func(os []Orphan) []string {
			var out []string
			for _, o := range os {
				out = append(out, o.Kind+" "+o.Name+" "+o.ReleaseID)
			}
			slices.Sort(out)
			return out
		}
		before := c.remains()
		found, err := e.GC(context.Background(), orbit, "", "ops", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(found); !slices.Equal(got, want) {
			t.Errorf("dry run found %q, want %q", got, want)
		}
		if after := c.remains(); !slices.Equal(after, before) {
			t.Errorf("a dry run changed %v into %v", before, after)
		}

		// Only what was shown is removed: nothing shown, nothing removed.
		if none, err := e.GC(context.Background(), orbit, app, "ops", Among(nil)); err != nil || len(none) != len(want) || slices.ContainsFunc(none, func(o Orphan) bool { return o.Removed }) {
			t.Errorf("removing among nothing: %+v, %v; want all found and none removed", none, err)
		}
		if after := c.remains(); !slices.Equal(after, before) {
			t.Errorf("removing among nothing changed %v into %v", before, after)
		}

		removed, err := e.GC(context.Background(), orbit, app, "ops", Among(found))
		if err != nil {
			t.Fatal(err)
		}
		if got := names(removed); !slices.Equal(got, want) {
			t.Errorf("removed %q, want %q", got, want)
		}
		for _, o := range removed {
			if !o.Removed {
				t.Errorf("%+v not removed", o)
			}
		}
		if g, _, _ := c.group(GroupName(dirty, "web")); !g.Deleting {
			t.Errorf("the dirty release's group is not being deleted")
		}
		if g, _, ok := c.group(GroupName(serving, "web")); !ok || g.Deleting {
			t.Errorf("the serving group was touched")
		}
		wantLeft := []string{w.made(GroupName(serving, "web")), w.made(GroupName(running, "web"))}
		slices.Sort(wantLeft)
		if got := c.remains(); !slices.Equal(got, wantLeft) {
			t.Errorf("left %v, want the serving and the running release's templates %v", got, wantLeft)
		}
		if !slices.ContainsFunc(w.store.audits(), func(a elevator.AuditEntry) bool {
			return a.Action == elevator.AuditGC && a.By == "ops" && strings.Contains(a.Detail, GroupName(dirty, "web"))
		}) {
			t.Error("the removal is not audited")
		}
		again, err := e.GC(context.Background(), orbit, "", "ops", nil)
		if err != nil || len(again) != 0 {
			t.Errorf("after removal: %v, %v; want nothing", names(again), err)
		}
	})
}

// TestGCLeavesTheGroupsOfARollbackThatCouldNotPutTheOldOnesBack: a
// release fails at cut-over after taking the old group out of its target
// group, and its rollback cannot put it back: it ends FailureDirty with
// its own group serving. GC leaves that group alone.
func TestGCLeavesTheGroupsOfARollbackThatCouldNotPutTheOldOnesBack(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		c := w.clouds["us-east-1"]
		e := w.engine("engine-1")
		rel := w.release()
		c.hook = func(op string) {
			if op == "DetachTargetGroups" {
				c.failAlways("Targets", errThrottled)
				c.failAlways("AttachTargetGroups", errThrottled)
			}
		}
		rec := w.run(e, rel)
		c.hook = nil
		c.clearFaults("Targets")
		c.clearFaults("AttachTargetGroups")
		if rec.State != FD || !detached(rec, "us-east-1") {
			t.Fatalf("ended %s (path %v, leftovers %v), want FailureDirty with the old group detached", rec.State, rec.Path, rec.Leftovers)
		}
		found, err := e.GC(context.Background(), orbit, app, "ops", All)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range found {
			if o.Kind == KindGroup {
				t.Errorf("gc took %+v", o)
			}
		}
		if g, _, ok := c.group(GroupName(rel, "web")); !ok || g.Deleting {
			t.Errorf("the serving group of the dirty release was touched")
		}
	})
}
