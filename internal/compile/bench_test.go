package compile

import (
	"fmt"
	"os"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// BenchmarkOrbitStacks compiles 100 orbits of three regions each per
// operation: the three-region golden orbit, renamed.
func BenchmarkOrbitStacks(b *testing.B) {
	const file = "testdata/multi-region.orbit.yml"
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	base, err := loadOrbit(file, data)
	if err != nil {
		b.Fatal(err)
	}
	if len(base.Regions) != 3 {
		b.Fatalf("%s has %d regions, want 3", file, len(base.Regions))
	}
	facts := factsFor("multi-region", base)
	orbits := make([]*elevator.Orbit, 100)
	for i := range orbits {
		o := *base
		o.Name = fmt.Sprintf("orbit%d", i)
		orbits[i] = &o
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range orbits {
			if _, err := OrbitStacks(o, facts); err != nil {
				b.Fatal(err)
			}
		}
	}
}
