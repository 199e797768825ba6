// Package chaos decides which instances `elevator chaos` terminates on
// purpose, as Asiaq's disco_chaos did: a fraction (the level) of the
// eligible instances of an orbit's apps, chosen at random, never taking a
// group below its retainage, never its last instance unless told, and
// never an instance of an app that opts out (`chaos: false`). It also
// decides what losing a zone takes away. Deciding is a pure function of
// the groups found in AWS and the policy; the command line does the
// finding and the terminating.
package chaos

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Instance is an instance of a group that chaos may terminate.
type Instance struct {
	ID string `json:"id"`
	AZ string `json:"az"`
}

// Group is an Auto Scaling group of the current release of an app's
// service in a region.
type Group struct {
	Region    string `json:"region"`
	Name      string `json:"name"`
	App       string `json:"app"`
	Service   string `json:"service"`
	ReleaseID string `json:"release_id"`
	// OptOut says the app's manifest has `chaos: false` (the group's
	// elevator.TagChaos tag).
	OptOut bool `json:"opt_out,omitempty"`
	// InService are its InService, healthy instances: the eligible ones.
	// Others (pending, terminating, unhealthy) are neither chosen nor
	// counted towards what the group keeps.
	InService []Instance `json:"in_service"`
	// Desired is the group's desired capacity: the retainage is a share of
	// it, so that a degraded group (fewer InService than desired) keeps
	// what it has rather than losing more. Zero means unknown: the
	// InService count stands in for it.
	Desired int `json:"desired,omitempty"`
	// Subnets are its subnets (VPCZoneIdentifier), and SubnetZones the
	// zone of each: only a zone outage reads them.
	Subnets     []string          `json:"subnets,omitempty"`
	SubnetZones map[string]string `json:"-"`
}

// Policy says how much to terminate.
type Policy struct {
	// Level is the fraction of eligible instances to terminate, in (0, 1].
	Level float64
	// Retainage is the percentage of each group's eligible instances that
	// stays, 0 to 100.
	Retainage int
	// IncludeLast lets a group lose its last instance (with Retainage 0).
	IncludeLast bool
	// Seed makes the choice reproducible: the same groups, policy and
	// seed choose the same instances.
	Seed uint64
}

// Check returns an error naming the field and what is allowed when the
// policy is out of range.
func (p Policy) Check() error {
	if math.IsNaN(p.Level) || p.Level <= 0 || p.Level > 1 {
		return fmt.Errorf("--level %v: want a fraction of the eligible instances greater than 0 and at most 1, such as 0.1", p.Level)
	}
	if p.Retainage < 0 || p.Retainage > 100 {
		return fmt.Errorf("--retainage %d: want the percentage of each group that stays, 0 to 100", p.Retainage)
	}
	return nil
}

// Keep is how many of n eligible instances a group keeps: ceil(retainage%
// of n), and at least one unless includeLast. Keep never exceeds n.
func Keep(n, retainage int, includeLast bool) int {
	keep := (retainage*n + 99) / 100
	if keep < 1 && !includeLast {
		keep = 1
	}
	return min(keep, n)
}

// Target is how many of n eligible instances a level asks for: level × n
// rounded to the nearest whole instance (halves up), and at least one
// when there is any, so that a small level on a small orbit still
// terminates something. Retainage may allow fewer (see Select).
func Target(level float64, n int) int {
	if n == 0 {
		return 0
	}
	t := int(math.Floor(level*float64(n) + 0.5))
	return max(1, min(t, n))
}

// Choice is what Select decided about one group.
type Choice struct {
	Group Group `json:"group"`
	// Eligible is how many instances of the group are InService; Keep
	// how many must stay (retainage of the desired capacity, at least one
	// unless --include-last); Limit how many may go: Eligible-Keep, never
	// below 0.
	Eligible int `json:"eligible"`
	Keep     int `json:"keep"`
	Limit    int `json:"limit"`
	// Terminate are the instances chosen, sorted by id.
	Terminate []Instance `json:"terminate"`
	// Why says why the group loses nothing or is limited, for people.
	Why string `json:"why,omitempty"`
}

// Plan is what a chaos run terminates.
type Plan struct {
	Seed     uint64   `json:"seed"`
	Eligible int      `json:"eligible"` // InService instances of the groups not opted out
	Target   int      `json:"target"`   // what the level asks for
	Total    int      `json:"total"`    // what is terminated: Target, unless retainage allows fewer
	Choices  []Choice `json:"groups"`   // one per group, sorted by region and name
}

// Select chooses, at random from p.Seed, Target(p.Level, eligible)
// instances among the InService instances of the groups that do not opt
// out, taking from no group more than its Limit. Every instance that may
// go has the same chance: the candidates are shuffled together and taken
// in order, skipping those of a group that has reached its limit.
func Select(groups []Group, p Policy) Plan {
	gs := append([]Group(nil), groups...)
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].Region != gs[j].Region {
			return gs[i].Region < gs[j].Region
		}
		return gs[i].Name < gs[j].Name
	})
	plan := Plan{Seed: p.Seed, Choices: make([]Choice, len(gs))}
	type candidate struct {
		group int
		inst  Instance
	}
	var cands []candidate
	for i, g := range gs {
		c := Choice{Group: g, Eligible: len(g.InService), Terminate: []Instance{}}
		switch {
		case g.OptOut:
			c.Why = "skipped: the app opts out (chaos: false in its manifest)"
		case c.Eligible == 0:
			c.Why = "skipped: no InService, healthy instance"
		default:
			// The retainage is a share of the desired capacity: a group
			// already short of it loses only what exceeds that share.
			size := c.Eligible
			if g.Desired > 0 {
				size = g.Desired
			}
			c.Keep = Keep(size, p.Retainage, p.IncludeLast)
			c.Limit = max(0, c.Eligible-c.Keep)
			plan.Eligible += c.Eligible
			of := fmt.Sprintf("%d", size)
			if size != c.Eligible {
				of = fmt.Sprintf("%d desired (%d in service)", size, c.Eligible)
			}
			switch {
			case c.Limit == 0 && c.Eligible == 1 && !p.IncludeLast:
				c.Why = "skipped: its last instance stays (--include-last to take it)"
			case c.Limit == 0:
				c.Why = fmt.Sprintf("skipped: retainage %d%% of %s keeps %d", p.Retainage, of, c.Keep)
			case c.Keep > 0:
				c.Why = fmt.Sprintf("at most %d: retainage %d%% of %s keeps %d", c.Limit, p.Retainage, of, c.Keep)
			}
			ids := append([]Instance(nil), g.InService...)
			sort.Slice(ids, func(a, b int) bool { return ids[a].ID < ids[b].ID })
			for _, in := range ids {
				cands = append(cands, candidate{i, in})
			}
		}
		plan.Choices[i] = c
	}
	plan.Target = Target(p.Level, plan.Eligible)
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
	for _, c := range cands {
		if plan.Total == plan.Target {
			break
		}
		ch := &plan.Choices[c.group]
		if len(ch.Terminate) < ch.Limit {
			ch.Terminate = append(ch.Terminate, c.inst)
			plan.Total++
		}
	}
	for i := range plan.Choices {
		t := plan.Choices[i].Terminate
		sort.Slice(t, func(a, b int) bool { return t[a].ID < t[b].ID })
	}
	return plan
}

// Apps returns the apps that lose instances in the plan, sorted.
func (p Plan) Apps() []string {
	seen := map[string]bool{}
	var apps []string
	for _, c := range p.Choices {
		if len(c.Terminate) > 0 && !seen[c.Group.App] {
			seen[c.Group.App] = true
			apps = append(apps, c.Group.App)
		}
	}
	sort.Strings(apps)
	return apps
}

// Recheck is what a group chosen to lose instances loses once its app's
// lock is held, from g as read again then: of chosen, those still
// InService, and no more than its limit on that fresh inventory (the
// retainage of its desired capacity now). Another run, or the group's
// own scaling, since the plan never takes the group below its retainage.
// Why says what was left out, or is "".
func Recheck(g Group, chosen []Instance, p Policy) (terminate []Instance, why string) {
	in := map[string]bool{}
	for _, i := range g.InService {
		in[i.ID] = true
	}
	var gone []string
	for _, c := range chosen {
		if in[c.ID] {
			terminate = append(terminate, c)
		} else {
			gone = append(gone, c.ID)
		}
	}
	size := len(g.InService)
	if g.Desired > 0 {
		size = g.Desired
	}
	limit := max(0, len(g.InService)-Keep(size, p.Retainage, p.IncludeLast))
	var notes []string
	if len(gone) > 0 {
		notes = append(notes, fmt.Sprintf("no longer InService: %v", gone))
	}
	if len(terminate) > limit {
		notes = append(notes, fmt.Sprintf("%d of the %d chosen may go now: retainage %d%% of %d, %d InService", limit, len(terminate), p.Retainage, size, len(g.InService)))
		terminate = terminate[:limit]
	}
	return terminate, strings.Join(notes, "; ")
}
