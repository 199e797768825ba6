// Package lookup finds, in AWS, the facts that building a release
// document needs (see compile.ReleaseDocument): in every region of the
// orbit, the orbit's and the app's stack outputs and each service's image
// (the AMI of its instances; an ECS service has none). It only reads.
package lookup

import (
	"context"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/compile"
)

// Clients are what looking up a release's facts needs in one region.
type Clients struct {
	Stacks apply.Stacks
	Images elevator.ImageLookup
	// OrbitOutputs are the orbit stack's outputs in the region when the
	// caller has read them already; nil means read them.
	OrbitOutputs map[string]string
}

// ReleaseFacts looks up, in every region of orbit o, the orbit's and the
// app's stack outputs and each service's image. It returns ENOTFOUND
// naming the region when the orbit or the app is not up there, or an image
// is missing.
func ReleaseFacts(ctx context.Context, a *elevator.App, o *elevator.Orbit, clients func(region string) (Clients, error)) (map[string]compile.ReleaseFacts, error) {
	facts := map[string]compile.ReleaseFacts{}
	var mu sync.Mutex
	err := apply.Parallel(len(o.Regions), func(i int) error {
		region := o.Regions[i].Name
		c, err := clients(region)
		if err != nil {
			return err
		}
		e := &apply.Engine{Stacks: c.Stacks}
		orbitOut, err := c.OrbitOutputs, error(nil)
		if orbitOut == nil {
			orbitOut, err = e.OrbitOutputs(ctx, o)
		}
		if err != nil {
			return err
		}
		appOut, err := e.AppOutputs(ctx, a, o)
		if err != nil {
			return err
		}
		images := map[string]string{}
		for _, svc := range a.Services {
			if svc.Runtime.ECS != nil {
				continue // tasks run a container image, no AMI
			}
			id, err := svc.AMI.Resolve(ctx, c.Images)
			if err != nil {
				if elevator.ErrorCode(err) == elevator.ENOTFOUND {
					return a.Source.Errorf(svc.Path+".ami", nil, "%v", err)
				}
				return err
			}
			images[svc.Name] = id
		}
		mu.Lock()
		facts[region] = compile.ReleaseFacts{Orbit: orbitOut, App: appOut, Images: images}
		mu.Unlock()
		return nil
	})
	return facts, err
}
