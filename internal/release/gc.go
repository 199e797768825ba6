package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/elevatorhq/elevator"
)

// Orphan is something an ended release left behind in a region: a group
// of a release that never served (it rolled back, or its cleanup gave
// up), or a launch template or alarm whose group is gone.
type Orphan struct {
	Region    string                `json:"region"`
	Kind      string                `json:"kind"` // "group", "launch template", "task definition" or "alarm"
	Name      string                `json:"name"`
	Cluster   string                `json:"cluster,omitempty"` // a group's ECS cluster, when it is an ECS service
	App       string                `json:"app"`
	ReleaseID string                `json:"release_id,omitempty"` // "" for an alarm whose release is not known
	Ended     elevator.ReleaseState `json:"release_state,omitempty"`
	// Removed says it was deleted (a group: its deletion started, with
	// its instances, launch template and alarms); false in a dry run or
	// when Error says why not.
	Removed bool   `json:"removed"`
	Error   string `json:"error,omitempty"`
}

// All is GC's remove that removes every orphan it finds.
func All(Orphan) bool { return true }

// Among returns GC's remove that removes only orphans in shown (the same
// region, kind and name), such as those a dry run listed.
func Among(shown []Orphan) func(Orphan) bool {
	return func(o Orphan) bool {
		return slices.ContainsFunc(shown, func(s Orphan) bool { return s.Region == o.Region && s.Kind == o.Kind && s.Name == o.Name })
	}
}

// KindGroup is the Kind of an Orphan that is an Auto Scaling group or an
// ECS service (its Cluster set).
const KindGroup = "group"

// GC finds what ended releases of an orbit left behind in every
// region of the engine (of one app when app is set; else of every app
// that has a group or a launch template in the orbit), and removes it
// when remove accepts it (nil removes nothing: a dry run), so that what is
// removed can be limited to what a person was shown; by is who asked, for
// the audit log. It never touches what
// belongs to a release that has not ended, nor anything of the release
// that holds the app's lock, nor what it cannot tie to an ended release's
// record (except alarms whose group is gone, which watch nothing). Groups
// of releases that went on to CleanUpSuccess, or whose rollback could not
// put an old group back into its target groups, are left alone: they may
// serve (old groups a cleanup left are named in its record). A
// removal that fails is named in its Orphan's Error, and makes GC
// return an EAWS error after it has tried the rest.
func (e *Engine) GC(ctx context.Context, orbit, app, by string, remove func(Orphan) bool) ([]Orphan, error) {
	if orbit == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "gc: an orbit is required")
	}
	regions := make([]string, 0, len(e.clouds))
	for r := range e.clouds {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	apps := []string{app}
	if app == "" {
		found := map[string]bool{}
		for _, reg := range regions {
			cl := e.clouds[reg]
			groups, err := cl.Groups(ctx, GroupFilter{Orbit: orbit})
			if err != nil {
				return nil, fmt.Errorf("find groups in orbit %s: %w", orbit, err)
			}
			for _, g := range groups {
				found[g.Tags[elevator.TagApp]] = true
			}
			remains, err := cl.Remains(ctx, GroupFilter{Orbit: orbit})
			if err != nil {
				return nil, fmt.Errorf("find launch templates in orbit %s: %w", orbit, err)
			}
			for _, x := range remains {
				found[x.App] = true
			}
		}
		delete(found, "")
		apps = apps[:0]
		for a := range found {
			apps = append(apps, a)
		}
		sort.Strings(apps)
	}
	var out []Orphan
	var failed []string
	for _, a := range apps {
		c := &gcApp{e: e, app: a, orbit: orbit, records: map[string]*elevator.ReleaseRecord{}}
		lock, err := e.c.Locker.Get(ctx, a, orbit)
		switch {
		case err == nil:
			c.running = lock.ReleaseID
		case !errors.Is(err, ErrNotFound):
			return out, fmt.Errorf("read the lock of %s in %s: %w", a, orbit, err)
		}
		var removed []string
		for _, reg := range regions {
			found, err := c.find(ctx, e.clouds[reg])
			if err != nil {
				return out, err
			}
			for i := range found {
				o := &found[i]
				if remove != nil && remove(*o) {
					if err := c.remove(ctx, e.clouds[reg], *o); err != nil {
						o.Error = err.Error()
						failed = append(failed, fmt.Sprintf("%s: %s %s", reg, o.Kind, o.Name))
					} else {
						o.Removed = true
						removed = append(removed, fmt.Sprintf("%s: %s %s", reg, o.Kind, o.Name))
					}
				}
				out = append(out, *o)
			}
		}
		if len(removed) > 0 {
			err := e.c.Store.Audit(ctx, elevator.AuditEntry{At: e.now(), By: by, Action: elevator.AuditGC, App: a, Orbit: orbit,
				Outcome: "removed", Detail: strings.Join(removed, "; ")})
			if err != nil {
				return out, fmt.Errorf("audit what gc removed of %s in %s: %w", a, orbit, err)
			}
		}
	}
	if len(failed) > 0 {
		return out, elevator.Errorf(elevator.EAWS, "could not remove %s", strings.Join(failed, ", "))
	}
	return out, nil
}

// gcApp is what GC knows of one app in an orbit.
type gcApp struct {
	e          *Engine
	app, orbit string
	running    string // the release holding the lock, if any
	records    map[string]*elevator.ReleaseRecord
}

// ended returns the record of a release when it has ended, else nil (not
// ended, running, unknown).
func (c *gcApp) ended(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	if id == "" || id == c.running {
		return nil, nil
	}
	rec, ok := c.records[id]
	if !ok {
		var err error
		rec, err = c.e.c.Store.Record(ctx, id)
		if errors.Is(err, ErrNotFound) {
			rec, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read record of release %s: %w", id, err)
		}
		c.records[id] = rec
	}
	if rec == nil || !rec.State.Ended() || rec.App != c.app || rec.Orbit != c.orbit {
		return nil, nil
	}
	return rec, nil
}

// find lists the app's orphans in a region.
func (c *gcApp) find(ctx context.Context, cl Cloud) ([]Orphan, error) {
	// Every group of the orbit: alarms are found by a name prefix that
	// another app's name may share (app "shop" in orbit "prod" and app
	// "shop-prod"), so an alarm is an orphan only when no group at all
	// has its group's name.
	all, err := cl.Groups(ctx, GroupFilter{Orbit: c.orbit})
	if err != nil {
		return nil, fmt.Errorf("find groups in %s: %w", c.orbit, err)
	}
	var groups []Group
	for _, g := range all {
		if g.Tags[elevator.TagApp] == c.app {
			groups = append(groups, g)
		}
	}
	remains, err := cl.Remains(ctx, GroupFilter{App: c.app, Orbit: c.orbit})
	if err != nil {
		return nil, fmt.Errorf("find launch templates, task definitions and alarms of %s in %s: %w", c.app, c.orbit, err)
	}
	var out []Orphan
	orphan := func(kind, name, cluster, id string, rec *elevator.ReleaseRecord) {
		o := Orphan{Region: cl.Region(), Kind: kind, Name: name, Cluster: cluster, App: c.app, ReleaseID: id}
		if rec != nil {
			o.Ended = rec.State
		}
		out = append(out, o)
	}
	for _, g := range groups {
		rec, err := c.ended(ctx, g.ReleaseID())
		if err != nil {
			return nil, err
		}
		if rec == nil || g.Deleting || slices.Contains(rec.Path, elevator.StateCleanUpSuccess) || detached(rec, cl.Region()) {
			continue // not ended, going already, or it may serve
		}
		orphan(KindGroup, g.Name, g.Cluster, g.ReleaseID(), rec)
	}
	templates := map[string]string{} // group name -> release, from launch templates and task definitions
	for _, x := range remains {
		if x.Kind == RemainLaunchTemplate || x.Kind == RemainTaskDefinition {
			templates[x.Group] = x.ReleaseID
		}
	}
	for _, x := range remains {
		if _, ok := byName(all, x.Group); ok {
			continue // with its group, orphan or not
		}
		id := x.ReleaseID
		if id == "" {
			id = templates[x.Group]
		}
		if c.running != "" && strings.HasSuffix(x.Group, "-"+c.running[strings.LastIndexByte(c.running, '-')+1:]) {
			continue // named after the running release's groups
		}
		rec, err := c.ended(ctx, id)
		if err != nil {
			return nil, err
		}
		if rec == nil && (x.Kind != RemainAlarm || id != "") {
			continue // not ended, or not known to have
		}
		orphan(string(x.Kind), x.Name, "", id, rec)
	}
	return out, nil
}

// detached says whether a release left an old group out of its target
// groups in a region: its rollback could not put it back, so the
// release's own groups are what serves there.
func detached(rec *elevator.ReleaseRecord, region string) bool {
	for _, rr := range rec.Regions {
		if rr.Region != region {
			continue
		}
		for _, sr := range rr.Services {
			for _, old := range sr.Old {
				if old.Detached {
					return true
				}
			}
		}
	}
	return false
}

// remove deletes an orphan.
func (c *gcApp) remove(ctx context.Context, cl Cloud, o Orphan) error {
	if o.Kind == KindGroup {
		return cl.DeleteGroup(ctx, GroupRef{Name: o.Name, Cluster: o.Cluster})
	}
	err := cl.DeleteRemain(ctx, Remain{Kind: RemainKind(o.Kind), Name: o.Name, App: o.App, ReleaseID: o.ReleaseID})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
