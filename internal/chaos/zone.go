package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// ZoneChoice is what losing a zone does to one group: the subnets it
// launches into without the zone's, and the instances it loses.
type ZoneChoice struct {
	Group Group `json:"group"`
	// Removed are the zone's subnets, taken out of the group's
	// VPCZoneIdentifier; Kept the rest, in their order.
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
	// Terminate are the group's InService instances in the zone.
	Terminate []Instance `json:"terminate"`
	// Why says why the group is left alone, or "" when it is not.
	Why string `json:"why,omitempty"`
}

// Affected reports whether the outage changes the group.
func (c ZoneChoice) Affected() bool { return c.Why == "" }

// LoseZone decides what losing zone does to each group: every group
// launching into a subnet of the zone loses that subnet and its InService
// instances there, unless the app opts out, or the zone holds all of the
// group's subnets (it would have nowhere left to launch). Groups are
// sorted by region and name.
func LoseZone(groups []Group, zone string) []ZoneChoice {
	gs := append([]Group(nil), groups...)
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].Region != gs[j].Region {
			return gs[i].Region < gs[j].Region
		}
		return gs[i].Name < gs[j].Name
	})
	out := make([]ZoneChoice, 0, len(gs))
	for _, g := range gs {
		c := ZoneChoice{Group: g, Removed: []string{}, Kept: []string{}, Terminate: []Instance{}}
		for _, s := range g.Subnets {
			if g.SubnetZones[s] == zone {
				c.Removed = append(c.Removed, s)
			} else {
				c.Kept = append(c.Kept, s)
			}
		}
		switch {
		case g.OptOut:
			c.Why = "skipped: the app opts out (chaos: false in its manifest)"
		case len(c.Removed) == 0:
			c.Why = "not in " + zone
		case len(c.Kept) == 0:
			c.Why = "skipped: all its subnets are in " + zone + ", losing it would leave the group nowhere to launch"
		}
		if c.Why != "" {
			c.Removed, c.Kept = []string{}, slices.Clone(g.Subnets)
		} else {
			for _, in := range g.InService {
				if in.AZ == zone {
					c.Terminate = append(c.Terminate, in)
				}
			}
			sort.Slice(c.Terminate, func(a, b int) bool { return c.Terminate[a].ID < c.Terminate[b].ID })
		}
		out = append(out, c)
	}
	return out
}

// ZoneChanges says how the groups a zone outage affects differ between
// two reads (the plan shown, and the groups read again under the apps'
// locks): a group affected in one and not the other, or losing other
// subnets; "" when they are the same. Instances are not compared: the
// later read's are the ones terminated.
func ZoneChanges(before, after []ZoneChoice) string {
	key := func(cs []ZoneChoice) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			if c.Affected() {
				m[c.Group.Region+"/"+c.Group.Name] = strings.Join(c.Removed, ",")
			}
		}
		return m
	}
	b, a := key(before), key(after)
	var diffs []string
	for g, removed := range b {
		switch now, ok := a[g]; {
		case !ok:
			diffs = append(diffs, g+" is no longer affected")
		case now != removed:
			diffs = append(diffs, fmt.Sprintf("%s would lose subnets %s, not %s", g, now, removed))
		}
	}
	for g := range a {
		if _, ok := b[g]; !ok {
			diffs = append(diffs, g+" is affected now")
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// Outage is the record of a zone taken away, written to the orbit's state
// bucket (elevator.ChaosOutageKey) before the first group loses a subnet
// and deleted once every group has them back: `elevator chaos restore`
// puts the subnets back from it after a run that did not end.
type Outage struct {
	Orbit  string        `json:"orbit"`
	Region string        `json:"region"`
	Zone   string        `json:"zone"`
	By     string        `json:"by"`
	Start  time.Time     `json:"start"`
	Until  time.Time     `json:"until"`
	Groups []OutageGroup `json:"groups"`
}

// OutageGroup is a group's subnets before the outage, and those the
// outage took out.
type OutageGroup struct {
	Name    string   `json:"name"`
	App     string   `json:"app"`
	Subnets []string `json:"subnets"`
	Removed []string `json:"removed"`
}

// NewOutage is the record of the choices that change a group.
func NewOutage(orbit, region, zone, by string, start time.Time, d time.Duration, cs []ZoneChoice) Outage {
	o := Outage{Orbit: orbit, Region: region, Zone: zone, By: by, Start: start.UTC(), Until: start.Add(d).UTC(), Groups: []OutageGroup{}}
	for _, c := range cs {
		if c.Affected() {
			o.Groups = append(o.Groups, OutageGroup{Name: c.Group.Name, App: c.Group.App, Subnets: slices.Clone(c.Group.Subnets), Removed: c.Removed})
		}
	}
	return o
}

// Check returns an error when the record cannot be restored from.
func (o Outage) Check() error {
	if o.Orbit == "" || o.Region == "" || o.Zone == "" {
		return fmt.Errorf("outage record: orbit, region and zone are required")
	}
	for _, g := range o.Groups {
		if g.Name == "" || len(g.Subnets) == 0 {
			return fmt.Errorf("outage record: group %q has no subnets to restore", g.Name)
		}
	}
	return nil
}
