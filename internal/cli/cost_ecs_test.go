package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cost"
)

// askedImages is a cost.Images that gives every image an 8 GiB gp3 root
// volume and records what it was asked for.
func askedImages(asked *[]string) cost.Images {
	return func(region, image string) (cost.Volume, bool) {
		*asked = append(*asked, region+" "+image)
		return cost.Volume{GiB: 8, Type: "gp3", Device: "/dev/xvda"}, true
	}
}

// ecsReleaseEstimate is what `deploy --dry-run` estimates for
// ecsRelease() over the same release before it, web's group running 3
// instances (and, were it read, api's service 5 tasks).
func ecsReleaseEstimate(asked *[]string) *cost.Estimate {
	prev := ecsRelease()
	prev.ID = "20261123-110000-5eed5eed"
	running := map[[2]string]int{{"us-east-1", "web"}: 3, {"us-east-1", "api"}: 5}
	before, after := releaseItems(prev, ecsRelease(), askedImages(asked), running)
	return cost.Prices().Estimate(before, after)
}

// TestTheReleaseEstimateLeavesECSServicesOut: an ECS service's tasks are
// not instances: the estimate prices no instance for api, asks for no
// image of it (its container image is no AMI), and says it is not
// estimated; web is priced as before.
func TestTheReleaseEstimateLeavesECSServicesOut(t *testing.T) {
	var asked []string
	est := ecsReleaseEstimate(&asked)
	for _, a := range asked {
		if strings.Contains(a, "shop-api") {
			t.Errorf("asked for api's container image as an AMI: %s", a)
		}
	}
	if !slices.Contains(asked, "us-east-1 ami-0123456789abcdef0") {
		t.Errorf("web's image was not read: %v", asked)
	}
	for _, l := range est.Lines {
		if strings.Contains(l.What, "service api") {
			t.Errorf("api is priced: %+v", l)
		}
	}
	if !slices.Contains(est.Unpriced, "us-east-1: service api: "+notEstimatedECS) || !slices.Contains(est.Totals.Excluded, "service api") {
		t.Errorf("unpriced %q, excluded %q: want api's tasks named as not estimated", est.Unpriced, est.Totals.Excluded)
	}
	// Without a release before, too.
	_, after := releaseItems(nil, ecsRelease(), askedImages(&asked), nil)
	var ecs int
	for _, it := range after {
		if it.What == "service api" && (!it.Uncounted || it.Note != notEstimatedECS) || it.Key == "ec2:" {
			t.Errorf("item %+v", it)
		}
		if it.Uncounted && it.Note == notEstimatedECS {
			ecs++
		}
	}
	if ecs != 1 {
		t.Errorf("%d items say api is not estimated, want 1: %+v", ecs, after)
	}
}

// TestTheAppPlanEstimateLeavesECSServicesOut: `app plan` counts an app's
// services at their minimum capacity; an ECS service is named as not
// estimated instead.
func TestTheAppPlanEstimateLeavesECSServicesOut(t *testing.T) {
	a := &elevator.App{Name: "shop", Services: []elevator.Service{
		{Name: "web", InstanceType: "t4g.small", Scaling: elevator.Scaling{Min: 2, Max: 4}},
		{Name: "api", Scaling: elevator.Scaling{Min: 2, Max: 10}, Runtime: elevator.Runtime{ECS: &elevator.ECS{Image: "ghcr.io/acme/api", CPU: 512, Memory: 1024, Capacity: elevator.ECSFargate}}},
	}}
	items := appServiceItems(a, "us-east-1")
	var web, api int
	for _, it := range items {
		switch {
		case it.What == "service api" && it.Uncounted && it.Note == notEstimatedECS:
			api++
		case strings.HasPrefix(it.What, "service api"):
			t.Errorf("api counted: %+v", it)
		case strings.HasPrefix(it.What, "service web") && it.Count == 2:
			web++
		}
	}
	if web != 1 || api != 1 {
		t.Errorf("items %+v: want web's 2 instances and api not estimated", items)
	}
	if len(a.Services) != 2 {
		t.Errorf("the app lost a service: %+v", a.Services)
	}
}

// writeEstimate renders est as `deploy --dry-run` does.
func writeEstimate(w *bytes.Buffer, est *cost.Estimate) {
	if err := est.WriteText(w); err != nil {
		w.WriteString(err.Error())
	}
}
