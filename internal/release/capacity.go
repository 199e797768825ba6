package release

import (
	"math"

	"github.com/elevatorhq/elevator"
)

// CapacityStep is one step of a new group's growth: launch Launch
// instances and wait until Healthy of them are healthy.
type CapacityStep struct {
	Launch, Healthy int
}

// Desired is a service's desired capacity: the running groups' (the
// largest, if several run), or Min when none runs, bounded by Min and Max.
func Desired(c elevator.ReleaseCapacity, running []int) int {
	d := c.Min
	if len(running) > 0 {
		d = running[0]
		for _, v := range running[1:] {
			d = max(d, v)
		}
	}
	return min(max(d, c.Min), c.Max)
}

// Plan returns the capacity steps of a new group whose desired capacity is
// desired. The last step launches desired x (1 + spread) instances (at
// most Max) and needs desired x (1 - spread) of them healthy (at least one
// when desired is not 0). A canary first launches one instance; a percent
// strategy goes through its percentages of desired. Every plan of a
// strategy has the same number of steps, whatever desired is, so that
// services and regions move through them together.
func Plan(c elevator.ReleaseCapacity, desired int) []CapacityStep {
	step := func(d int) CapacityStep {
		launch := int(math.Ceil(float64(d)*(1+c.Spread) - 1e-9))
		launch = max(min(launch, c.Max), d)
		healthy := int(math.Floor(float64(d)*(1-c.Spread) + 1e-9))
		if d > 0 {
			healthy = max(healthy, 1)
		}
		return CapacityStep{Launch: launch, Healthy: min(healthy, d)}
	}
	full := step(desired)
	switch c.Strategy {
	case elevator.StrategyCanary:
		canary := CapacityStep{Launch: min(1, full.Launch), Healthy: min(1, full.Healthy)}
		return []CapacityStep{canary, full}
	case elevator.StrategyPercent:
		if len(c.Steps) == 0 {
			return []CapacityStep{full}
		}
		steps := make([]CapacityStep, len(c.Steps))
		for i, p := range c.Steps {
			d := int(math.Ceil(float64(desired*p)/100 - 1e-9))
			steps[i] = step(d)
		}
		steps[len(steps)-1] = full
		return steps
	default:
		return []CapacityStep{full}
	}
}
