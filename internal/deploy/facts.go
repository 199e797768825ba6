package deploy

import (
	"context"
	"sort"
	"strings"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/release"
)

// Clients are what looking up a release's facts needs in one region.
type Clients struct {
	Stacks apply.Stacks
	Images elevator.ImageLookup
}

// Facts looks up, in every region of orbit o, the orbit's and the app's
// stack outputs and each service's image. It returns ENOTFOUND naming the
// region when the orbit or the app is not up there, or an image is
// missing.
func Facts(ctx context.Context, a *elevator.App, o *elevator.Orbit, clients func(region string) (Clients, error)) (map[string]RegionFacts, error) {
	facts := map[string]RegionFacts{}
	var mu sync.Mutex
	err := apply.Parallel(len(o.Regions), func(i int) error {
		region := o.Regions[i].Name
		c, err := clients(region)
		if err != nil {
			return err
		}
		e := &apply.Engine{Stacks: c.Stacks}
		orbitOut, err := e.OrbitOutputs(ctx, o)
		if err != nil {
			return err
		}
		appOut, err := e.AppOutputs(ctx, a, o)
		if err != nil {
			return err
		}
		images := map[string]string{}
		for _, svc := range a.Services {
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
		facts[region] = RegionFacts{Orbit: orbitOut, App: appOut, Images: images}
		mu.Unlock()
		return nil
	})
	return facts, err
}

// Tagger tags EC2 resources in one region.
type Tagger interface {
	Image(ctx context.Context, id string) (ec2.Image, error)
	Tag(ctx context.Context, id string, tags map[string]string) error
}

// AllowImage tags image id so that releases of app into orbit may use it:
// it adds app to the image's elevator:allow:<orbit> tag (a comma-separated
// list), keeping what it allowed before. The tag pairs the app with the
// orbit, so allowing shop in production and billing in test never lets
// billing into production. It returns the tags it set.
func AllowImage(ctx context.Context, t Tagger, id, app, orbit string) (map[string]string, error) {
	img, err := t.Image(ctx, id)
	if err != nil {
		return nil, err
	}
	key := release.TagAllow + orbit
	tags := map[string]string{key: addToList(img.Tags[key], app)}
	return tags, t.Tag(ctx, id, tags)
}

func addToList(list, v string) string {
	var items []string
	for _, it := range strings.Split(list, ",") {
		if it = strings.TrimSpace(it); it != "" {
			if it == v || it == "*" {
				return list
			}
			items = append(items, it)
		}
	}
	items = append(items, v)
	sort.Strings(items)
	return strings.Join(items, ",")
}
