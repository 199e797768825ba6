package compile

import (
	"fmt"
	"os"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// BenchmarkAppStacks compiles 200 apps into an orbit of three regions per
// operation: the golden apps that need no bastion (data stores, a global
// database, overrides, another app's firewall rules), renamed, in the
// three-region golden orbit given a domain.
func BenchmarkAppStacks(b *testing.B) {
	const file = "testdata/multi-region.orbit.yml"
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	o, err := loadOrbit(file, data)
	if err != nil {
		b.Fatal(err)
	}
	o.Domain = "example.com"
	if len(o.Regions) != 3 {
		b.Fatalf("%s has %d regions, want 3", file, len(o.Regions))
	}
	peers := map[string]string{"storefront/web": "sg-0a1b2c3d4e5f60001", "reports/web": "sg-0a1b2c3d4e5f60003"}
	facts := orbitAppFacts(b, o, peers)
	var bases []*elevator.App
	for _, name := range []string{"data", "global-db", "overrides", "private-service"} {
		a, err := loadApp(name, o.Name)
		if err != nil {
			b.Fatal(err)
		}
		bases = append(bases, a)
	}
	apps := make([]*elevator.App, 200)
	for i := range apps {
		a := *bases[i%len(bases)]
		a.Name = fmt.Sprintf("%s%d", a.Name, i)
		apps[i] = &a
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range apps {
			if _, err := AppStacks(a, o, facts); err != nil {
				b.Fatal(err)
			}
		}
	}
}
