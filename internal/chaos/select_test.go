package chaos

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// group makes a group of n InService instances, ids <name>-0 ... <name>-(n-1).
func group(region, name, app string, n int) Group {
	g := Group{Region: region, Name: name, App: app, Service: "web", InService: []Instance{}}
	for i := range n {
		g.InService = append(g.InService, Instance{ID: fmt.Sprintf("%s-%d", name, i), AZ: region + "a"})
	}
	return g
}

func optOut(g Group) Group { g.OptOut = true; return g }

func TestKeepIsTheRetainageRoundedUpAndAtLeastOneUnlessTheLastMayGo(t *testing.T) {
	for _, c := range []struct {
		n, retainage int
		last         bool
		want         int
	}{
		{3, 33, false, 1},  // 0.99 -> 1
		{4, 33, false, 2},  // 1.32 -> 2
		{10, 33, false, 4}, // 3.3 -> 4
		{3, 0, false, 1},   // the last stays
		{3, 0, true, 0},    // unless told
		{1, 50, true, 1},   // 0.5 -> 1, whatever --include-last
		{5, 100, false, 5}, // everything stays
		{0, 33, false, 0},  // nothing to keep
	} {
		if got := Keep(c.n, c.retainage, c.last); got != c.want {
			t.Errorf("Keep(%d, %d%%, include-last %v) = %d, want %d", c.n, c.retainage, c.last, got, c.want)
		}
	}
}

func TestTargetRoundsToTheNearestInstanceAndTakesAtLeastOne(t *testing.T) {
	for _, c := range []struct {
		level float64
		n     int
		want  int
	}{
		{0.1, 7, 1},   // 0.7 -> 1
		{0.1, 3, 1},   // 0.3 -> 0, but at least one
		{0.25, 10, 3}, // 2.5 -> 3, halves up
		{0.5, 7, 4},   // 3.5 -> 4
		{1, 7, 7},
		{0.1, 0, 0}, // nothing eligible
	} {
		if got := Target(c.level, c.n); got != c.want {
			t.Errorf("Target(%v, %d) = %d, want %d", c.level, c.n, got, c.want)
		}
	}
}

func degraded(g Group, desired int) Group { g.Desired = desired; return g }

func TestSelect(t *testing.T) {
	for _, c := range []struct {
		name   string
		groups []Group
		policy Policy
		total  int
		per    map[string]int    // group -> instances terminated
		why    map[string]string // group -> part of its Why
	}{
		{
			name: "a degraded group keeps the retainage of its desired capacity, not of what is left",
			// a wants 10 and has 5 InService: 50% of 10 is 5, so none of
			// them goes (of the 5 alone, 50% would let 2 go).
			groups: []Group{degraded(group("us-east-1", "a", "shop", 5), 10), degraded(group("us-east-1", "b", "shop", 4), 4)},
			policy: Policy{Level: 1, Retainage: 50},
			total:  2,
			per:    map[string]int{"a": 0, "b": 2},
			why:    map[string]string{"a": "skipped: retainage 50% of 10 desired (5 in service) keeps 5", "b": "at most 2: retainage 50% of 4 keeps 2"},
		},
		{
			name:   "a group far below its desired capacity loses nothing",
			groups: []Group{degraded(group("us-east-1", "a", "shop", 2), 9)},
			policy: Policy{Level: 1, Retainage: 33},
			total:  0,
			per:    map[string]int{"a": 0},
			why:    map[string]string{"a": "skipped: retainage 33% of 9 desired (2 in service) keeps 3"},
		},
		{
			name:   "level is a fraction of every eligible instance, retainage limits each group",
			groups: []Group{group("us-east-1", "a", "shop", 3), group("us-east-1", "b", "shop", 4)},
			policy: Policy{Level: 1, Retainage: 33},
			total:  4, // 7 asked; a keeps 1 of 3, b keeps 2 of 4
			per:    map[string]int{"a": 2, "b": 2},
			why:    map[string]string{"a": "at most 2: retainage 33% of 3 keeps 1", "b": "at most 2: retainage 33% of 4 keeps 2"},
		},
		{
			name:   "a small level still terminates one instance",
			groups: []Group{group("us-east-1", "a", "shop", 3), group("us-east-1", "b", "shop", 4)},
			policy: Policy{Level: 0.1, Retainage: 33, Seed: 7},
			total:  1,
		},
		{
			name:   "the last instance of a group stays unless --include-last",
			groups: []Group{group("us-east-1", "solo", "shop", 1), group("us-east-1", "b", "shop", 2)},
			policy: Policy{Level: 1, Retainage: 0},
			total:  1,
			per:    map[string]int{"solo": 0, "b": 1},
			why:    map[string]string{"solo": "its last instance stays (--include-last to take it)"},
		},
		{
			name:   "--include-last with no retainage takes every instance",
			groups: []Group{group("us-east-1", "solo", "shop", 1), group("us-east-1", "b", "shop", 2)},
			policy: Policy{Level: 1, Retainage: 0, IncludeLast: true},
			total:  3,
			per:    map[string]int{"solo": 1, "b": 2},
		},
		{
			name:   "an app that opts out loses nothing and does not count towards the level",
			groups: []Group{optOut(group("us-east-1", "billing", "billing", 10)), group("us-east-1", "b", "shop", 4)},
			policy: Policy{Level: 0.5, Retainage: 0},
			total:  2, // half of shop's 4, not of 14
			per:    map[string]int{"billing": 0, "b": 2},
			why:    map[string]string{"billing": "opts out (chaos: false"},
		},
		{
			name:   "a group with nothing in service is skipped and says so",
			groups: []Group{group("us-east-1", "empty", "shop", 0), group("us-east-1", "b", "shop", 4)},
			policy: Policy{Level: 0.5, Retainage: 0},
			total:  2,
			per:    map[string]int{"empty": 0, "b": 2},
			why:    map[string]string{"empty": "no InService, healthy instance"},
		},
		{
			name:   "retainage 100 keeps everything",
			groups: []Group{group("us-east-1", "a", "shop", 3)},
			policy: Policy{Level: 1, Retainage: 100},
			total:  0,
			per:    map[string]int{"a": 0},
			why:    map[string]string{"a": "retainage 100% of 3 keeps 3"},
		},
		{
			name: "groups of several apps and regions are chosen from together",
			groups: []Group{group("us-east-1", "a", "shop", 4), group("eu-west-1", "b", "shop", 4),
				group("us-east-1", "c", "blog", 4), group("eu-west-1", "d", "blog", 4)},
			policy: Policy{Level: 1, Retainage: 50},
			total:  8,
			per:    map[string]int{"a": 2, "b": 2, "c": 2, "d": 2},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Select(c.groups, c.policy)
			if p.Total != c.total {
				t.Errorf("terminates %d, want %d", p.Total, c.total)
			}
			sum := 0
			for _, ch := range p.Choices {
				g := ch.Group.Name
				sum += len(ch.Terminate)
				if len(ch.Terminate) > ch.Limit || (len(ch.Terminate) > 0 && ch.Eligible-len(ch.Terminate) < ch.Keep) {
					t.Errorf("group %s loses %d of %d, keeping fewer than %d", g, len(ch.Terminate), ch.Eligible, ch.Keep)
				}
				if want, ok := c.per[g]; ok && len(ch.Terminate) != want {
					t.Errorf("group %s loses %d, want %d", g, len(ch.Terminate), want)
				}
				if want, ok := c.why[g]; ok && !strings.Contains(ch.Why, want) {
					t.Errorf("group %s: why %q, want it to say %q", g, ch.Why, want)
				}
				for _, in := range ch.Terminate {
					if !strings.HasPrefix(in.ID, g+"-") {
						t.Errorf("group %s would terminate %s, not one of its instances", g, in.ID)
					}
				}
			}
			if sum != p.Total {
				t.Errorf("the groups lose %d in all, the plan says %d", sum, p.Total)
			}
		})
	}
}

func TestTheSameSeedChoosesTheSameInstancesAndOthersDiffer(t *testing.T) {
	groups := []Group{group("us-east-1", "a", "shop", 10), group("eu-west-1", "b", "shop", 10)}
	chosen := func(seed uint64) []string {
		var ids []string
		for _, c := range Select(groups, Policy{Level: 0.3, Retainage: 0, Seed: seed}).Choices {
			for _, in := range c.Terminate {
				ids = append(ids, in.ID)
			}
		}
		return ids
	}
	first := chosen(42)
	if len(first) != 6 {
		t.Fatalf("chose %v, want 6 instances", first)
	}
	// Given in another order, the groups choose the same.
	reversed := []Group{groups[1], groups[0]}
	var again []string
	for _, c := range Select(reversed, Policy{Level: 0.3, Retainage: 0, Seed: 42}).Choices {
		for _, in := range c.Terminate {
			again = append(again, in.ID)
		}
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("seed 42 chose %v, then %v", first, again)
	}
	differ := false
	for seed := uint64(1); seed < 20 && !differ; seed++ {
		differ = !reflect.DeepEqual(chosen(seed), first)
	}
	if !differ {
		t.Errorf("19 other seeds all chose %v: the choice is not random", first)
	}
}

func TestEveryInstanceThatMayGoIsSometimesChosen(t *testing.T) {
	groups := []Group{group("us-east-1", "a", "shop", 3), group("us-east-1", "b", "shop", 5)}
	seen := map[string]int{}
	for seed := range uint64(400) {
		for _, c := range Select(groups, Policy{Level: 0.25, Retainage: 0, Seed: seed}).Choices {
			for _, in := range c.Terminate {
				seen[in.ID]++
			}
		}
	}
	for _, g := range groups {
		for _, in := range g.InService {
			// 2 of 8 chosen each time: about 100 of 400 each.
			if seen[in.ID] < 50 || seen[in.ID] > 150 {
				t.Errorf("%s chosen %d times in 400 runs, want about 100", in.ID, seen[in.ID])
			}
		}
	}
}

func TestPolicyCheckNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{Level: 0, Retainage: 33}, "--level 0:"},
		{Policy{Level: 1.5, Retainage: 33}, "--level 1.5:"},
		{Policy{Level: -0.1, Retainage: 33}, "--level -0.1:"},
		{Policy{Level: 0.1, Retainage: -1}, "--retainage -1:"},
		{Policy{Level: 0.1, Retainage: 101}, "--retainage 101:"},
	} {
		err := c.p.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %q", c.p, err, c.want)
		}
	}
	if err := (Policy{Level: 1, Retainage: 100}).Check(); err != nil {
		t.Errorf("level 1, retainage 100: %v", err)
	}
}

func TestLosingAZoneTakesItsSubnetsAndInstancesFromEveryGroupThatCanLoseThem(t *testing.T) {
	zones := map[string]string{"s-a": "us-east-1a", "s-b": "us-east-1b", "s-c": "us-east-1c"}
	mk := func(name string, subnets ...string) Group {
		return Group{Region: "us-east-1", Name: name, App: "shop", Subnets: subnets, SubnetZones: zones,
			InService: []Instance{{ID: name + "-1", AZ: "us-east-1a"}, {ID: name + "-2", AZ: "us-east-1b"}}}
	}
	cs := LoseZone([]Group{mk("web", "s-a", "s-b", "s-c"), mk("only-a", "s-a"), optOut(mk("billing", "s-a", "s-b")), mk("bc", "s-b", "s-c")}, "us-east-1a")
	got := map[string]ZoneChoice{}
	for _, c := range cs {
		got[c.Group.Name] = c
	}
	if c := got["web"]; !c.Affected() || !reflect.DeepEqual(c.Removed, []string{"s-a"}) || !reflect.DeepEqual(c.Kept, []string{"s-b", "s-c"}) ||
		len(c.Terminate) != 1 || c.Terminate[0].ID != "web-1" {
		t.Errorf("web: %+v", c)
	}
	if c := got["only-a"]; c.Affected() || !strings.Contains(c.Why, "nowhere to launch") || len(c.Terminate) != 0 {
		t.Errorf("only-a: %+v", c)
	}
	if c := got["billing"]; c.Affected() || !strings.Contains(c.Why, "opts out") || len(c.Terminate) != 0 {
		t.Errorf("billing: %+v", c)
	}
	if c := got["bc"]; c.Affected() || len(c.Terminate) != 0 {
		t.Errorf("bc: %+v", c)
	}
	o := NewOutage("demo", "us-east-1", "us-east-1a", "me", testTime, 0, cs)
	if len(o.Groups) != 1 || o.Groups[0].Name != "web" || !reflect.DeepEqual(o.Groups[0].Subnets, []string{"s-a", "s-b", "s-c"}) || o.Check() != nil {
		t.Errorf("the record keeps only web's subnets: %+v (%v)", o, o.Check())
	}
}

var testTime = time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)

func TestRecheckKeepsTheRetainageOfTheGroupAsItIsNow(t *testing.T) {
	chosen := []Instance{{ID: "a-0"}, {ID: "a-1"}}
	for _, c := range []struct {
		name string
		now  Group
		want int
		why  string
	}{
		{"unchanged", degraded(group("us-east-1", "a", "shop", 4), 4), 2, ""},
		// Another run took a-2 and a-3 meanwhile: 2 left of 4 desired,
		// retainage 50% keeps 2, so none of the chosen may go.
		{"another run took two", degraded(Group{Region: "us-east-1", Name: "a", InService: []Instance{{ID: "a-0"}, {ID: "a-1"}}}, 4), 0, "0 of the 2 chosen may go now"},
		{"one chosen is gone", degraded(Group{Region: "us-east-1", Name: "a", InService: []Instance{{ID: "a-1"}, {ID: "a-2"}, {ID: "a-3"}, {ID: "a-4"}}}, 4), 1, "no longer InService: [a-0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := Recheck(c.now, chosen, Policy{Level: 1, Retainage: 50})
			if len(got) != c.want || !strings.Contains(why, c.why) {
				t.Errorf("Recheck = %v, %q; want %d, %q", got, why, c.want, c.why)
			}
		})
	}
}

func TestZoneChangesNamesTheGroupsAffectedDifferently(t *testing.T) {
	g := func(name string, subnets ...string) Group {
		x := group("us-east-1", name, "shop", 2)
		x.Subnets, x.SubnetZones = subnets, map[string]string{"s-a": "us-east-1a", "s-b": "us-east-1b", "s-c": "us-east-1a"}
		return x
	}
	plan := LoseZone([]Group{g("web", "s-a", "s-b"), g("worker", "s-b")}, "us-east-1a")
	if d := ZoneChanges(plan, LoseZone([]Group{g("worker", "s-b"), g("web", "s-a", "s-b")}, "us-east-1a")); d != "" {
		t.Errorf("the same groups read again: %q, want no change", d)
	}
	// Released since: web's new group, in other subnets; worker now in the zone.
	again := LoseZone([]Group{g("web2", "s-a", "s-b"), g("worker", "s-c", "s-b"), g("web", "s-a", "s-c", "s-b")}, "us-east-1a")
	want := "us-east-1/web would lose subnets s-a,s-c, not s-a; us-east-1/web2 is affected now; us-east-1/worker is affected now"
	if d := ZoneChanges(plan, again); d != want {
		t.Errorf("ZoneChanges = %q\nwant          %q", d, want)
	}
}
