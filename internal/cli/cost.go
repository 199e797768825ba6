package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/cost"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// priceTable is the price table estimates use: the one shipped inside
// Elevator (tests set another).
var priceTable = cost.Prices

// deployedStack returns a stack as deployed in region, its template and
// parameters, and false when the stack does not exist yet (or exists only
// to hold a change set that made it, never executed).
func deployedStack(ctx context.Context, configs *awsConfigs, region, name string) (cost.Stack, bool, error) {
	cfg, err := configs.For(ctx, region)
	if err != nil {
		return cost.Stack{}, false, err
	}
	stacks := cloudformation.New(cfg)
	st, err := stacks.Describe(ctx, name)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return cost.Stack{}, false, nil
	}
	if err != nil {
		return cost.Stack{}, false, err
	}
	if st.Status == "REVIEW_IN_PROGRESS" {
		return cost.Stack{}, false, nil
	}
	body, err := stacks.Template(ctx, name)
	if err != nil {
		return cost.Stack{}, false, err
	}
	return cost.Stack{Region: region, Body: []byte(body), Parameters: st.Parameters}, true, nil
}

// imageVolumes reads images' root volumes with DescribeImages, once per
// image and region. An image that cannot be read leaves its volumes
// uncounted, which the estimate names with what has no price.
func imageVolumes(ctx context.Context, configs *awsConfigs) cost.Images {
	var mu sync.Mutex
	type found struct {
		v  cost.Volume
		ok bool
	}
	seen := map[[2]string]found{}
	return func(region, image string) (cost.Volume, bool) {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := seen[[2]string{region, image}]; ok {
			return f.v, f.ok
		}
		var f found
		if cfg, err := configs.For(ctx, region); err == nil {
			if img, err := ec2.New(cfg).Image(ctx, image); err == nil {
				f = found{cost.Volume{GiB: float64(img.RootVolumeGiB), Type: img.RootVolumeType, Device: img.RootDevice}, true}
			}
		}
		seen[[2]string{region, image}] = f
		return f.v, f.ok
	}
}

// stacksCost estimates what applying compiled stacks adds and removes:
// before is what each stack's deployed template has, after what the
// compiled one has. running and ran are items no stack makes (an app's
// services' instances): running count after, ran before where the stack
// exists. Either may be nil.
func stacksCost(ctx context.Context, configs *awsConfigs, stacks []compile.Stack, running, ran func(region string) []cost.Item) (*cost.Estimate, error) {
	images := imageVolumes(ctx, configs)
	var before, after []cost.Item
	for _, st := range stacks {
		items, err := cost.Template(cost.Stack{Region: st.Region, Body: st.Body, Parameters: st.Parameters}, images)
		if err != nil {
			return nil, err
		}
		after = append(after, items...)
		deployed, ok, err := deployedStack(ctx, configs, st.Region, st.Name)
		if err != nil {
			return nil, fmt.Errorf("read the deployed stack %s in %s: %w", st.Name, st.Region, err)
		}
		if running != nil {
			after = append(after, running(st.Region)...)
		}
		if !ok {
			continue
		}
		items, err = cost.Template(deployed, images)
		if err != nil {
			return nil, err
		}
		before = append(before, items...)
		if ran != nil {
			before = append(before, ran(st.Region)...)
		}
	}
	return pricesFor(ctx, configs, before, after).Estimate(before, after), nil
}

// orbitCost estimates what `orbit up` adds to and removes from the
// monthly bill of the orbit's stacks, its ECS stacks' container instances
// included.
func (o *orbitOpts) orbitCost(ctx context.Context, svc *orbit.Service) (*cost.Estimate, error) {
	stacks, err := svc.Compile(ctx, o.orbit)
	if err != nil {
		return nil, err
	}
	clusters, err := svc.ECSStacks(ctx, o.orbit)
	if err != nil {
		return nil, err
	}
	stacks = append(stacks, clusters...)
	return stacksCost(ctx, o.configs, stacks, nil, nil)
}

// appCost estimates what `app up` adds and removes. The services'
// instances are made by releases, not by `app up`: after counts them at
// the manifest's minimum capacity, before as the app's last successful
// release in the orbit runs them (nothing where there is none). Where
// that release cannot be read, before leaves them out and a note says so.
func (o *appOpts) appCost(ctx context.Context) (*cost.Estimate, error) {
	svc, err := o.service(ctx)
	if err != nil {
		return nil, err
	}
	facts, err := svc.Facts(ctx, o.app, o.orbit)
	if err != nil {
		return nil, err
	}
	stacks, err := compile.AppStacks(o.app, o.orbit, facts)
	if err != nil {
		return nil, err
	}
	var mine []compile.Stack
	for _, st := range stacks {
		if o.region == "" || st.Region == o.region {
			mine = append(mine, st)
		}
	}
	var ran []cost.Item
	note := ""
	prev, err := o.lastRelease(ctx, facts)
	switch {
	case err != nil:
		note = fmt.Sprintf("the app's last successful release could not be read (%v): before leaves out its services' instances", err)
	case prev != nil:
		prev, _ = withoutECS(prev)
		ran = cost.ReleaseServices(prev, nil)
	}
	est, err := stacksCost(ctx, o.configs, mine,
		func(region string) []cost.Item { return appServiceItems(o.app, region) },
		func(region string) []cost.Item {
			var in []cost.Item
			for _, it := range ran {
				if it.Region == region {
					in = append(in, it)
				}
			}
			return in
		})
	if est != nil && note != "" {
		est.Notes = append(est.Notes, note)
	}
	return est, err
}

// lastRelease returns the app's newest successful release in the orbit,
// read from the orbit's release records (its state bucket is one of the
// orbit's facts), or nil when there is none.
func (o *appOpts) lastRelease(ctx context.Context, facts map[string]compile.AppFacts) (*elevator.Release, error) {
	var cfgs []aws.Config
	for _, r := range o.orbit.Regions {
		cfg, err := o.configs.For(ctx, r.Name)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	bucket := facts[o.orbit.Regions[0].Name].Orbit[compile.StateBucketOutput]
	if bucket == "" {
		return nil, fmt.Errorf("the orbit's state bucket is not known")
	}
	b, err := awsrelease.New(awsrelease.Config{Orbit: o.orbit.Name, AWS: cfgs, Bucket: bucket, ECS: o.orbit.ECS != nil})
	if err != nil {
		return nil, err
	}
	return lastSuccess(ctx, b.Store, o.app.Name)
}

// releaseCost estimates what a release changes in the services'
// instances: before is the app's newest successful release in the orbit
// (nothing when there is none). Through a deployer the caller may not be
// allowed to read the orbit's release records: then before is nothing
// and a note says why.
func (e *releaseEnv) releaseCost(ctx context.Context, rel *elevator.Release) (*cost.Estimate, error) {
	images := imageVolumes(ctx, e.configs)
	var before, after []cost.Item
	var note string
	store, err := e.releaseStore(ctx)
	if err == nil {
		var prev *elevator.Release
		if prev, err = lastSuccess(ctx, store, rel.App); prev != nil {
			before, after = releaseItems(prev, rel, images, e.runningDesired(ctx, prev))
		}
	}
	if before == nil && after == nil {
		_, after = releaseItems(nil, rel, images, nil)
	}
	if err != nil {
		if !e.remote() {
			return nil, err
		}
		note = fmt.Sprintf("the app's current release could not be read (%v): the estimate counts this release's instances as added", err)
	}
	est := pricesFor(ctx, e.configs, before, after).Estimate(before, after)
	if note != "" {
		est.Notes = append(est.Notes, note)
	}
	return est, nil
}

// releaseItems are the instances of release prev (nil when there is
// none), counted at running (the desired capacity of its groups, by
// region and service; nil when not known), and those of rel, which
// carries that capacity over. ECS services are left out of both: their
// tasks are not instances, and an uncounted item of rel's says so.
func releaseItems(prev, rel *elevator.Release, images cost.Images, running map[[2]string]int) (before, after []cost.Item) {
	rel, ecs := withoutECS(rel)
	if prev == nil {
		return nil, append(cost.ReleaseServices(rel, images), ecs...)
	}
	prev, _ = withoutECS(prev)
	before = cost.ReleaseServicesAt(prev, images, func(region, service string, _ elevator.ReleaseCapacity) (int, bool) {
		n, ok := running[[2]string{region, service}]
		return n, ok
	})
	after = cost.ReleaseServicesAt(rel, images, func(region, service string, c elevator.ReleaseCapacity) (int, bool) {
		n, ok := running[[2]string{region, service}]
		return release.Desired(c, []int{n}), ok
	})
	return before, append(after, ecs...)
}

// notEstimatedECS is why an ECS service's tasks have no price: they are
// not instances of an instance type (Fargate is priced by vCPU and GB
// hours, EC2 capacity is the orbit's).
const notEstimatedECS = "ECS tasks, not estimated"

// withoutECS returns rel without its ECS services (a copy when it has
// some), and an uncounted item for each of them in each region.
func withoutECS(rel *elevator.Release) (*elevator.Release, []cost.Item) {
	var keep []elevator.ReleaseService
	var ecs []cost.Item
	for _, s := range rel.Services {
		if s.ECS == nil {
			keep = append(keep, s)
			continue
		}
		for _, p := range s.Placements {
			ecs = append(ecs, cost.Item{Region: p.Region, What: "service " + s.Name, Uncounted: true, Note: notEstimatedECS})
		}
	}
	if ecs == nil {
		return rel, nil
	}
	c := *rel
	c.Services = keep
	return &c, ecs
}

// appServiceItems are the instances of app a's services in region, at
// their minimum capacity; an ECS service is an uncounted item.
func appServiceItems(a *elevator.App, region string) []cost.Item {
	c := *a
	c.Services = nil
	var ecs []cost.Item
	for _, s := range a.Services {
		if s.Runtime.ECS != nil {
			ecs = append(ecs, cost.Item{Region: region, What: "service " + s.Name, Uncounted: true, Note: notEstimatedECS})
			continue
		}
		c.Services = append(c.Services, s)
	}
	return append(cost.Services(&c, []string{region}), ecs...)
}

// runningDesired reads the desired capacity of the groups a release made,
// by region and service: one DescribeAutoScalingGroups per group. A group
// that cannot be read (gone, or the caller may not read it) is left out,
// and its service is counted at its minimum. ECS services are not read:
// the estimate leaves them out.
func (e *releaseEnv) runningDesired(ctx context.Context, rel *elevator.Release) map[[2]string]int {
	running := map[[2]string]int{}
	for _, s := range rel.Services {
		if s.ECS != nil {
			continue
		}
		for _, p := range s.Placements {
			cfg, err := e.configs.For(ctx, p.Region)
			if err != nil {
				continue
			}
			if g, err := autoscaling.New(cfg).Group(ctx, release.GroupName(rel, s.Name)); err == nil {
				running[[2]string{p.Region, s.Name}] = g.Desired
			}
		}
	}
	return running
}

// releaseStore is where the orbit keeps its release records: the
// engine's, or, through a deployer, one opened for reading them.
func (e *releaseEnv) releaseStore(ctx context.Context) (*awsrelease.Store, error) {
	if e.backend != nil {
		return e.backend.Store, nil
	}
	var cfgs []aws.Config
	for _, r := range e.orbit.Regions {
		cfg, err := e.configs.For(ctx, r.Name)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	bucket := e.orbitOutputs[cfgs[0].Region][compile.StateBucketOutput]
	b, err := awsrelease.New(awsrelease.Config{Orbit: e.orbit.Name, AWS: cfgs, Bucket: bucket, ECS: e.orbit.ECS != nil})
	if err != nil {
		return nil, err
	}
	return b.Store, nil
}

// releasePages is what lastSuccess reads: pages of an app's release
// records, newest first, and release documents (awsrelease.Store).
type releasePages interface {
	Page(ctx context.Context, app string, limit int, before string) ([]*elevator.ReleaseRecord, string, error)
	Release(ctx context.Context, id string) ([]byte, string, error)
}

// releasePage is how many records lastSuccess reads at a time.
const releasePage = 50

// lastSuccess returns the newest release of app that ended in Success,
// or nil when none did: it reads the app's records a page at a time,
// newest first, until one succeeded or there are no more.
func lastSuccess(ctx context.Context, store releasePages, app string) (*elevator.Release, error) {
	before := ""
	for {
		recs, next, err := store.Page(ctx, app, releasePage, before)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.State != elevator.StateSuccess {
				continue
			}
			body, _, err := store.Release(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			return elevator.ParseRelease(body)
		}
		if next == "" {
			return nil, nil
		}
		before = next
	}
}

// printCost writes an estimate after a plan, or says on stderr why there
// is none: the estimate never fails the plan it follows.
func (g *globals) printCost(est *cost.Estimate, err error) {
	if err != nil {
		fmt.Fprintf(g.stderr, "no cost estimate: %v\n", err)
		return
	}
	fmt.Fprintln(g.stdout)
	est.WriteText(g.stdout)
}

// costJSON is the cost object of a plan's JSON answer: the estimate, or
// why there is none.
func costJSON(est *cost.Estimate, err error) any {
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	return est
}
