package cost_test

import (
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cost"
)

// ECS services are not priced: the estimate counts the app's instances
// and says the ECS services' tasks are not included, in the app's and in
// a release's estimate.
func TestECSServicesAreListedAsNotIncluded(t *testing.T) {
	a := &elevator.App{Name: "shop", Services: []elevator.Service{
		{Name: "web", Runtime: elevator.Runtime{ECS: &elevator.ECS{Image: "nginx", CPU: 256, Memory: 512, Capacity: elevator.ECSFargate}}, Scaling: elevator.Scaling{Min: 2, Max: 4}},
		{Name: "worker", InstanceType: "t3.micro", Runtime: elevator.Runtime{Docker: &elevator.Docker{Image: "worker"}}, Scaling: elevator.Scaling{Min: 1, Max: 1}},
	}}
	rel := &elevator.Release{Services: []elevator.ReleaseService{
		{Name: "web", ECS: &elevator.ReleaseECS{Capacity: elevator.ECSFargate, CPU: 256, Memory: 512}, Capacity: elevator.ReleaseCapacity{Min: 2, Max: 4},
			Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: "nginx:1.27"}}},
		{Name: "worker", InstanceType: "t3.micro", Capacity: elevator.ReleaseCapacity{Min: 1, Max: 1},
			Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: "ami-1"}}},
	}}
	for name, items := range map[string][]cost.Item{
		"the app's services": cost.Services(a, []string{"us-east-1"}),
		"a release":          cost.ReleaseServices(rel, nil),
	} {
		t.Run(name, func(t *testing.T) {
			e := testPrices.Estimate(nil, items)
			if !slices.Contains(e.Totals.Excluded, "service web: ECS tasks") || e.Totals.Complete {
				t.Errorf("totals %+v, want the ECS service excluded", e.Totals)
			}
			if !slices.ContainsFunc(e.Unpriced, func(s string) bool {
				return strings.Contains(s, "service web: ECS tasks") && strings.Contains(s, "not included")
			}) {
				t.Errorf("unpriced %q, want service web's tasks not included", e.Unpriced)
			}
			if l := line(e, "add", "us-east-1", "service worker: t3.micro instances"); l == nil || !l.Priced || l.Monthly == 0 {
				t.Errorf("worker line %+v, want its instance priced", l)
			}
			if e.Totals.After != 7.59 {
				t.Errorf("after %v, want only the worker's t3.micro (7.59)", e.Totals.After)
			}
		})
	}
}
