// Package app brings an app's infrastructure up and down in an orbit: for
// each region of the orbit, in parallel, it reads the orbit's outputs and
// the security groups of other apps the firewall names, compiles the app's
// stack, and applies it through a change set.
package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
)

// Network finds security groups by tag in one region.
type Network interface {
	SecurityGroups(ctx context.Context, tags map[string]string) ([]ec2.SecurityGroup, error)
}

// Identity says which account the caller is in.
type Identity interface {
	CallerIdentity(ctx context.Context) (sts.Identity, error)
}

// LoadBalancing reads load balancers and the tags of ELBv2 resources in
// one region.
type LoadBalancing interface {
	LoadBalancers(ctx context.Context, arns []string) ([]elbv2.LoadBalancer, error)
	Tags(ctx context.Context, arns []string) (map[string]map[string]string, error)
	AddTags(ctx context.Context, arn string, tags map[string]string) error
}

// Registry finds ECR repositories in one region.
type Registry interface {
	Repository(ctx context.Context, name string) (ecr.Repository, error)
}

// Clients are the AWS clients of one region.
type Clients struct {
	Stacks        apply.Stacks
	Network       Network
	LoadBalancing LoadBalancing
	// Registry finds the app's own repositories that an earlier stack
	// kept (see keptRepositories); nil when the caller may not look (a
	// deployer reviewing a pipeline's stage), which takes none as kept.
	Registry Registry
}

// Service runs app operations.
type Service struct {
	Clients  func(region string) (Clients, error)
	Identity Identity
	Progress apply.Progress
	Poller   apply.Poller
	// Region, when set, limits plan, up, status, outputs and down to one
	// region of the orbit. Compiling still sees every region: a global
	// database's primary is the orbit's first region whichever is chosen.
	Region string
}

// region pairs an orbit region with its clients and engine.
type region struct {
	name    string
	clients Clients
	engine  *apply.Engine
}

func (s *Service) regions(o *elevator.Orbit) ([]region, error) {
	out := make([]region, 0, len(o.Regions))
	for _, r := range o.Regions {
		c, err := s.Clients(r.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, region{r.Name, c, &apply.Engine{Stacks: c.Stacks, Progress: s.Progress, Poller: s.Poller}})
	}
	return out, nil
}

// selected returns the regions a command acts in: every region of o, or
// s.Region alone.
func (s *Service) selected(o *elevator.Orbit) ([]region, error) {
	all, err := s.regions(o)
	if err != nil || s.Region == "" {
		return all, err
	}
	for _, r := range all {
		if r.name == s.Region {
			return []region{r}, nil
		}
	}
	return nil, elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region", s.Region, o.Name)
}

// Facts looks up, in every region of orbit o, what compiling app a needs:
// the orbit's outputs and the security groups of the other apps that a's
// firewall rules name. It returns ENOTFOUND when the orbit is not up in a
// region.
func (s *Service) Facts(ctx context.Context, a *elevator.App, o *elevator.Orbit) (map[string]compile.AppFacts, error) {
	regions, err := s.regions(o)
	if err != nil {
		return nil, err
	}
	id, err := s.Identity.CallerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	others := otherApps(a)
	facts := make(map[string]compile.AppFacts, len(regions))
	var mu sync.Mutex
	err = apply.Parallel(len(regions), func(i int) error {
		r := regions[i]
		outputs, err := r.engine.OrbitOutputs(ctx, o)
		if err != nil {
			return err
		}
		groups := map[string]string{}
		for _, other := range others {
			found, err := r.clients.Network.SecurityGroups(ctx, map[string]string{
				elevator.TagOrbit: o.Name, elevator.TagApp: other, elevator.TagManagedBy: elevator.ManagedBy,
			})
			if err != nil {
				return err
			}
			for _, g := range found {
				if svc := g.Tags[elevator.TagService]; svc != "" {
					groups[other+"/"+svc] = g.ID
				}
			}
		}
		inStack, err := stackResources(ctx, r.clients, a, o)
		if err != nil {
			return err
		}
		kept, err := keptRepositories(ctx, r.clients, a, o, inStack)
		if err != nil {
			return err
		}
		mu.Lock()
		facts[r.name] = compile.AppFacts{Orbit: outputs, ServiceSecurityGroups: groups, AccountID: id.Account, KeptRepositories: kept, InStack: inStack}
		mu.Unlock()
		return nil
	})
	return facts, err
}

// stackResources returns the logical IDs of the resources in a's stack
// in the clients' region (none when there is no stack yet): one
// ListStackResources.
func stackResources(ctx context.Context, c Clients, a *elevator.App, o *elevator.Orbit) (map[string]bool, error) {
	res, err := c.Stacks.Resources(ctx, a.StackName(o.Name))
	if err != nil && !errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil, err
	}
	inStack := make(map[string]bool, len(res))
	for _, r := range res {
		inStack[r.LogicalID] = true
	}
	return inStack, nil
}

// keptRepositories returns the names of a's own repositories in the
// clients' region that exist but are not in the app's stack (whose
// resources are inStack): kept when an earlier stack of the app was
// deleted (the stack keeps its repositories, see compile's repository).
// The app stack takes them as they are; making them again would fail on
// the name. It looks only when the stack lacks a repository: one
// DescribeRepositories per repository the stack lacks.
func keptRepositories(ctx context.Context, c Clients, a *elevator.App, o *elevator.Orbit, inStack map[string]bool) (map[string]bool, error) {
	var own []string
	for i := range a.Services {
		if s := &a.Services[i]; compile.OwnRepository(s) != nil {
			own = append(own, s.Name)
		}
	}
	if len(own) == 0 || c.Registry == nil {
		return nil, nil
	}
	kept := map[string]bool{}
	for _, svc := range own {
		if inStack[compile.RepositoryResource(svc)] {
			continue
		}
		name := elevator.AppRepositoryName(o.Name, a.Name, svc)
		_, err := c.Registry.Repository(ctx, name)
		switch {
		case err == nil:
			kept[name] = true
		case !errors.Is(err, ecr.ErrRepositoryNotFound):
			return nil, err
		}
	}
	return kept, nil
}

// otherApps lists the other apps a's firewall rules name, sorted.
func otherApps(a *elevator.App) []string {
	seen := map[string]bool{}
	for _, svc := range a.Services {
		for _, rule := range svc.Firewall {
			if rule.App != "" && rule.App != a.Name {
				seen[rule.App] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// targets compiles the app's stack for every region.
func (s *Service) targets(ctx context.Context, a *elevator.App, o *elevator.Orbit) ([]apply.Target, error) {
	facts, err := s.Facts(ctx, a, o)
	if err != nil {
		return nil, err
	}
	stacks, err := compile.AppStacks(a, o, facts)
	if err != nil {
		return nil, err
	}
	regions, err := s.regions(o)
	if err != nil {
		return nil, err
	}
	byRegion := map[string]*apply.Engine{}
	for _, r := range regions {
		byRegion[r.name] = r.engine
	}
	var targets []apply.Target
	for _, st := range stacks {
		if s.Region != "" && st.Region != s.Region {
			continue
		}
		targets = append(targets, apply.Target{Engine: byRegion[st.Region], Spec: apply.Spec{Name: st.Name, Body: string(st.Body), Parameters: st.Parameters, Tags: st.Tags}})
	}
	return targets, nil
}

// Plan previews what `up` would change in every region of the orbit.
func (s *Service) Plan(ctx context.Context, a *elevator.App, o *elevator.Orbit) ([]*apply.Plan, error) {
	targets, err := s.targets(ctx, a, o)
	if err != nil {
		return nil, err
	}
	return apply.PlanAll(ctx, targets)
}

// Up creates or updates the app's infrastructure in every region at once;
// an app with a global database first applies the orbit's first region,
// whose stack creates the global cluster the other regions join.
func (s *Service) Up(ctx context.Context, a *elevator.App, o *elevator.Orbit) (*apply.Applied, error) {
	targets, err := s.targets(ctx, a, o)
	if err != nil {
		return nil, err
	}
	tag := func(ctx context.Context, i int, r *apply.Result) error {
		return s.ensureTags(ctx, targets[i])
	}
	if db := a.Data.Database; db == nil || !db.Global || len(targets) < 2 {
		return apply.UpAll(ctx, targets, tag)
	}
	first, err := apply.UpAll(ctx, targets[:1], tag)
	if err != nil {
		return first, err
	}
	rest, err := apply.UpAll(ctx, targets[1:], func(ctx context.Context, i int, r *apply.Result) error {
		return tag(ctx, i+1, r)
	})
	if rest != nil {
		first.Plans = append(first.Plans, rest.Plans...)
		first.Results = append(first.Results, rest.Results...)
	}
	return first, err
}

// RegionStatus is the app's stack in one region, its load balancers read
// back from AWS, and what the stack exports.
type RegionStatus struct {
	Region        string               `json:"region"`
	Stack         string               `json:"stack"`
	Status        string               `json:"status"`
	Reason        string               `json:"reason,omitempty"`
	LoadBalancers []elbv2.LoadBalancer `json:"load_balancers"`
	Outputs       map[string]string    `json:"outputs,omitempty"`
}

// Status reads the app's stack in every region; a region without it has
// status NOT_FOUND.
func (s *Service) Status(ctx context.Context, a *elevator.App, o *elevator.Orbit) ([]RegionStatus, error) {
	regions, err := s.selected(o)
	if err != nil {
		return nil, err
	}
	out := make([]RegionStatus, len(regions))
	err = apply.Parallel(len(regions), func(i int) error {
		r := regions[i]
		rs := RegionStatus{Region: r.name, Stack: a.StackName(o.Name), Status: "NOT_FOUND"}
		st, err := r.clients.Stacks.Describe(ctx, rs.Stack)
		if errors.Is(err, cloudformation.ErrStackNotFound) {
			out[i] = rs
			return nil
		}
		if err != nil {
			return err
		}
		rs.Status, rs.Reason = string(st.Status), st.Reason
		if rs.Outputs, err = r.engine.Outputs(ctx, rs.Stack); err != nil {
			return err
		}
		arns, err := resourcesOfType(ctx, r.clients.Stacks, rs.Stack, typeLoadBalancer)
		if err != nil {
			return err
		}
		if rs.LoadBalancers, err = r.clients.LoadBalancing.LoadBalancers(ctx, arns); err != nil {
			return err
		}
		out[i] = rs
		return nil
	})
	return out, err
}

// Outputs returns the outputs of the app's stack by region.
func (s *Service) Outputs(ctx context.Context, a *elevator.App, o *elevator.Orbit) (map[string]map[string]string, error) {
	st, err := s.Status(ctx, a, o)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, r := range st {
		if r.Status == "NOT_FOUND" {
			return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s is not up in orbit %s in %s", a.Name, o.Name, r.Region)
		}
		out[r.Region] = r.Outputs
	}
	return out, nil
}

// DataStores names the data stores app a owns, for messages: "redis",
// "database", "table carts".
func DataStores(a *elevator.App) []string {
	var names []string
	if a.Data.Redis != nil {
		names = append(names, "redis")
	}
	if a.Data.Database != nil {
		names = append(names, "database")
	}
	for _, t := range a.Data.Tables {
		names = append(names, "table "+t.Name)
	}
	return names
}

// Down deletes the app's stack in every region of the orbit. It refuses,
// with an ECONFLICT error, when the app owns data stores and deleteData is
// false; RDS databases keep a final snapshot either way.
func (s *Service) Down(ctx context.Context, a *elevator.App, o *elevator.Orbit, deleteData bool) ([]*apply.Result, error) {
	if stores := DataStores(a); len(stores) > 0 && !deleteData {
		return nil, elevator.Errorf(elevator.ECONFLICT, "app %s owns data stores in orbit %s (%s) that `app down` would delete; pass --delete-data to delete them (databases keep a final snapshot)", a.Name, o.Name, strings.Join(stores, ", "))
	}
	regions, err := s.selected(o)
	if err != nil {
		return nil, err
	}
	results := make([]*apply.Result, len(regions))
	err = apply.Parallel(len(regions), func(i int) error {
		res, err := regions[i].engine.Delete(ctx, a.StackName(o.Name))
		results[i] = res
		if err != nil {
			return fmt.Errorf("delete app %s in %s: %w", a.Name, regions[i].name, err)
		}
		for j := range a.Services {
			if svc := &a.Services[j]; compile.OwnRepository(svc) != nil && s.Progress != nil {
				s.Progress.Note(regions[i].name, "kept ECR repository "+elevator.AppRepositoryName(o.Name, a.Name, svc.Name)+
					" and its images: the next `app up` takes it back; `aws ecr delete-repository --force` deletes it")
			}
		}
		return nil
	})
	return results, err
}
