package chaos

import (
	"testing"
)

// FuzzSelectKeepsEveryGroupsRetainage checks, for any sizes, level,
// retainage and seed, what Select promises: it takes exactly the target
// unless the groups' limits allow fewer, no group goes below its keep,
// its last instance only with IncludeLast, and never an opted-out group.
func FuzzSelectKeepsEveryGroupsRetainage(f *testing.F) {
	f.Add(uint8(3), uint8(4), uint8(1), 0.1, 33, false, uint64(1))
	f.Add(uint8(1), uint8(0), uint8(9), 1.0, 0, true, uint64(7))
	f.Fuzz(func(t *testing.T, a, b, c uint8, level float64, retainage int, last bool, seed uint64) {
		p := Policy{Level: level, Retainage: retainage, IncludeLast: last, Seed: seed}
		if p.Check() != nil {
			return
		}
		groups := []Group{group("us-east-1", "a", "shop", int(a%40)), group("eu-west-1", "b", "shop", int(b%40)), optOut(group("us-east-1", "c", "blog", int(c%40)))}
		plan := Select(groups, p)
		limits := 0
		for _, ch := range plan.Choices {
			n := len(ch.Terminate)
			limits += ch.Limit
			if ch.Group.OptOut && n > 0 {
				t.Fatalf("opted-out group %s loses %d", ch.Group.Name, n)
			}
			if ch.Eligible-n < ch.Keep || (ch.Eligible > 0 && ch.Eligible == n && !last) {
				t.Fatalf("group %s: %d of %d go, keep %d, include-last %v", ch.Group.Name, n, ch.Eligible, ch.Keep, last)
			}
			if ch.Eligible-n < (retainage*ch.Eligible+99)/100 {
				t.Fatalf("group %s keeps %d of %d, below retainage %d%%", ch.Group.Name, ch.Eligible-n, ch.Eligible, retainage)
			}
		}
		if want := min(plan.Target, limits); plan.Total != want {
			t.Fatalf("terminates %d, want min(target %d, limits %d)", plan.Total, plan.Target, limits)
		}
	})
}
