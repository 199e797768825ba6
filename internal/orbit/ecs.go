package orbit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ecs"
	"github.com/elevatorhq/elevator/internal/compile"
)

// An orbit with an ecs section has an ECS stack per region (see
// compile.ECSStack): the cluster the apps' ECS services run in, and its
// EC2 capacity when the manifest asks for it. It is applied after the
// orbit's stack, whose outputs (the VPC, the private tier's subnets) it
// takes as parameters, and deleted before it. The container instances'
// image is resolved before anything changes, as the bastion's is.
//
// CloudFormation cannot delete a cluster that still has services, so
// removing the ecs section, or `orbit down`, is refused while an app's
// ECS service is in the cluster of any region: nothing is changed, in no
// region, and the error names the services.

// Clusters is what an orbit needs of ECS in one region.
type Clusters interface {
	// Cluster describes a cluster; ENOTFOUND when there is none.
	Cluster(ctx context.Context, name string) (ecs.ClusterSummary, error)
	// ClusterServices lists the services of a cluster that keep it from
	// being deleted, sorted by name; ENOTFOUND when there is no cluster.
	ClusterServices(ctx context.Context, cluster string) ([]ecs.Service, error)
}

// StatusNotFound is the status of a stack or an ECS cluster that is not
// there.
const StatusNotFound = "NOT_FOUND"

const ecsServicesListedAtMost = 5

// ecsImages resolves the container instances' image in every region of
// an orbit with EC2 capacity, by region; nil when it has none. An image
// that cannot be found is an elevator.FieldError at the manifest's
// ecs.ec2.ami.
func (s *Service) ecsImages(ctx context.Context, o *elevator.Orbit) (map[string]string, error) {
	if o.ECS == nil || o.ECS.EC2 == nil {
		return nil, nil
	}
	sel := o.ECS.EC2.AMI
	if sel.ID == "" && sel.SSMParameter == "" && sel.Name == "" {
		// The manifest gives the ECS-optimized image by default.
		return nil, elevator.Errorf(elevator.EINTERNAL, "resolve the container instances' image of orbit %s: ecs.ec2.ami is not set", o.Name)
	}
	var mu sync.Mutex
	images := map[string]string{}
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		ami, err := sel.Resolve(ctx, elevator.ImageSources{Images: c.Network, Parameters: c.Parameters})
		if err != nil {
			if elevator.ErrorCode(err) == elevator.ENOTFOUND {
				return elevator.FieldErrors{o.Source.Errorf(fieldPath(o.ECS.EC2.Path, "ami"), nil, "in %s: %v", r.Name, err)}
			}
			return err
		}
		mu.Lock()
		images[r.Name] = ami
		mu.Unlock()
		return nil
	})
	return images, err
}

// fieldPath joins a manifest path and a field under it.
func fieldPath(path, field string) string {
	if path == "" {
		return "ecs.ec2." + field
	}
	return path + "." + field
}

// ecsFacts reads what the ECS stack needs from the orbit stack's outputs
// in one region. ok is false when the orbit stack does not exist yet (a
// plan before the first up) or does not have the outputs yet.
func (s *Service) ecsFacts(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients, ami string) (f compile.ECSFacts, ok bool, err error) {
	f.AMI = ami
	if o.ECS.EC2 == nil {
		return f, true, nil // a Fargate-only cluster needs nothing of the orbit stack
	}
	outputs, err := s.engine(c).Outputs(ctx, o.StackName())
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return f, false, nil
	}
	if err != nil {
		return f, false, err
	}
	f.VPC = outputs["VpcId"]
	if _, key, found := compile.ServiceTier(o, r); found {
		f.Subnets = outputs[key]
	}
	return f, f.VPC != "" && f.Subnets != "", nil
}

// ecsStackExists reports whether the ECS stack is in a region.
func ecsStackExists(ctx context.Context, o *elevator.Orbit, c Clients) (bool, error) {
	_, err := c.Stacks.Describe(ctx, o.ECSStackName())
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return false, nil
	}
	return err == nil, err
}

// clusterServices lists the services in the orbit's cluster of a region,
// none when there is no cluster.
func clusterServices(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) ([]ecs.Service, error) {
	cluster := elevator.ECSClusterName(o.Name)
	if c.Clusters == nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "list the services of ECS cluster %s in %s: no ECS client", cluster, r.Name)
	}
	services, err := c.Clusters.ClusterServices(ctx, cluster)
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, nil
	}
	return services, err
}

// checkClusterEmpty refuses, with an ECONFLICT error, to delete the ECS
// stack of any region where the orbit's cluster still has services; why
// says what would delete it. Regions without the stack are not asked.
func (s *Service) checkClusterEmpty(ctx context.Context, o *elevator.Orbit, why string) error {
	busy, err := s.servicesUsing(ctx, o, func(ecs.Service) bool { return true })
	if err != nil || len(busy) == 0 {
		return err
	}
	return elevator.Errorf(elevator.ECONFLICT, "%s would delete the ECS cluster %s, which still runs the services of apps in %s; take those apps off ECS (or `elevator app down` them) first, then run it again",
		why, elevator.ECSClusterName(o.Name), busyRegions(o, busy))
}

// checkCapacityUnused refuses, with an ECONFLICT error, an orbit whose
// manifest has ecs without ec2 while a service of its cluster in any
// region runs on the EC2 capacity provider the ECS stack would delete.
func (s *Service) checkCapacityUnused(ctx context.Context, o *elevator.Orbit) error {
	if o.ECS == nil || o.ECS.EC2 != nil {
		return nil
	}
	provider := elevator.ECSCapacityProviderName(o.Name)
	busy, err := s.servicesUsing(ctx, o, func(svc ecs.Service) bool { return slices.Contains(svc.CapacityProviders, provider) })
	if err != nil || len(busy) == 0 {
		return err
	}
	return elevator.Errorf(elevator.ECONFLICT, "removing ecs.ec2 would delete the capacity provider %s, which services of apps run on in %s; move them to capacity fargate (or `elevator app down` them) first, then run it again",
		provider, busyRegions(o, busy))
}

// servicesUsing lists, by region, the names of the services of the
// orbit's cluster for which use is true, in the regions where the ECS
// stack is.
func (s *Service) servicesUsing(ctx context.Context, o *elevator.Orbit, use func(ecs.Service) bool) (map[string][]string, error) {
	var mu sync.Mutex
	busy := map[string][]string{}
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		exists, err := ecsStackExists(ctx, o, c)
		if err != nil || !exists {
			return err
		}
		services, err := clusterServices(ctx, o, r, c)
		if err != nil {
			return err
		}
		for _, svc := range services {
			if use(svc) {
				mu.Lock()
				busy[r.Name] = append(busy[r.Name], svc.Name)
				mu.Unlock()
			}
		}
		return nil
	})
	return busy, err
}

// busyRegions says which services are in the way in each region, in the
// orbit's order of regions.
func busyRegions(o *elevator.Orbit, busy map[string][]string) string {
	var where []string
	for _, r := range o.Regions {
		names := busy[r.Name]
		if len(names) == 0 {
			continue
		}
		shown := strings.Join(names[:min(len(names), ecsServicesListedAtMost)], ", ")
		if len(names) > ecsServicesListedAtMost {
			shown += fmt.Sprintf(" and %d more", len(names)-ecsServicesListedAtMost)
		}
		where = append(where, fmt.Sprintf("%s: %d service(s) (%s)", r.Name, len(names), shown))
	}
	return strings.Join(where, "; ")
}

// planECS previews the ECS stack in every region: a change set when the
// orbit stack is there to give it parameters, else the resources it would
// add; and its removal when it exists and is no longer wanted. Regions
// with nothing to do have no plan. images are the container instances'
// images by region (see ecsImages).
func (s *Service) planECS(ctx context.Context, o *elevator.Orbit, images map[string]string) ([]*apply.Plan, error) {
	plans := make([]*apply.Plan, len(o.Regions))
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		i := regionIndex(o, r.Name)
		if !compile.HasECSStack(o) {
			p, err := stackRemovalPlan(ctx, c, o.ECSStackName())
			plans[i] = p
			return err
		}
		f, ready, err := s.ecsFacts(ctx, o, r, c, images[r.Name])
		if err != nil {
			return err
		}
		if !ready {
			placeholder := "(from " + o.StackName() + ")"
			st, err := compile.ECSStack(o, r, compile.ECSFacts{VPC: placeholder, Subnets: placeholder, AMI: f.AMI})
			plans[i] = stackAdditionPlan(st)
			return err
		}
		st, err := compile.ECSStack(o, r, f)
		if err != nil {
			return err
		}
		p, err := previewStack(ctx, s.engine(c), st)
		plans[i] = p
		return err
	})
	return nonNilPlans(plans), err
}

// upECS brings one region's ECS stack in line with o, once the orbit's
// stack there is up, or deletes it when o has no ecs section any more
// (Up checked first that its cluster has no services). It returns nil
// plan and result when there was nothing to do.
func (s *Service) upECS(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients, ami string) (*apply.Plan, *apply.Result, error) {
	e := s.engine(c)
	name := o.ECSStackName()
	if !compile.HasECSStack(o) {
		p, err := stackRemovalPlan(ctx, c, name)
		if p == nil || err != nil {
			return nil, nil, err
		}
		if err := s.drainECSCapacity(ctx, o, r, c); err != nil {
			return p, nil, err
		}
		s.Progress.Note(r.Name, name+": the orbit has no ecs section; deleting the stack and its cluster")
		res, err := deleteStack(ctx, e, name, p)
		return p, res, err
	}
	f, ready, err := s.ecsFacts(ctx, o, r, c, ami)
	if err != nil {
		return nil, nil, err
	}
	if !ready {
		return nil, nil, elevator.Errorf(elevator.EINTERNAL, "apply %s in %s: the orbit stack %s has no VPC or private subnets outputs", name, r.Name, o.StackName())
	}
	st, err := compile.ECSStack(o, r, f)
	if err != nil {
		return nil, nil, err
	}
	p, err := e.Plan(ctx, spec(st))
	if err != nil {
		return nil, nil, err
	}
	if !p.NoChanges && o.ECS.EC2 == nil {
		// The update drops the EC2 capacity when the stack has some.
		if err := s.drainECSCapacity(ctx, o, r, c); err != nil {
			_ = e.Discard(context.WithoutCancel(ctx), p)
			return p, nil, err
		}
	}
	res, err := s.executePlan(ctx, e, r.Name, name, p)
	return p, res, err
}

// downECS deletes one region's ECS stack, its EC2 capacity drained
// first. It returns nil when there was none.
func (s *Service) downECS(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) (*apply.Result, error) {
	if err := s.drainECSCapacity(ctx, o, r, c); err != nil {
		return nil, err
	}
	res, err := s.engine(c).Delete(ctx, o.ECSStackName())
	if err != nil {
		return res, err
	}
	if res == nil || !res.Changed {
		return nil, nil
	}
	return res, nil
}

// ECSStatus is the orbit's ECS cluster in a region, read back from AWS.
type ECSStatus struct {
	Stack       string `json:"stack"`
	StackStatus string `json:"stack_status"`
	Cluster     string `json:"cluster"`
	// ClusterStatus is ECS's (ACTIVE, PROVISIONING, ...), or NOT_FOUND.
	ClusterStatus     string   `json:"cluster_status"`
	CapacityProviders []string `json:"capacity_providers"`
	// ContainerInstances counts the EC2 instances registered with the
	// cluster; nil when the cluster has no EC2 capacity.
	ContainerInstances *int `json:"container_instances,omitempty"`
	Services           int  `json:"services"`
	RunningTasks       int  `json:"running_tasks"`
	PendingTasks       int  `json:"pending_tasks"`
}

// ecsStatus reads the orbit's cluster in a region, or returns nil when the
// orbit has no ecs section and no ECS stack is left there.
func ecsStatus(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) (*ECSStatus, error) {
	es := &ECSStatus{Stack: o.ECSStackName(), StackStatus: StatusNotFound, Cluster: elevator.ECSClusterName(o.Name), ClusterStatus: StatusNotFound, CapacityProviders: []string{}}
	st, err := c.Stacks.Describe(ctx, es.Stack)
	switch {
	case err == nil:
		es.StackStatus = string(st.Status)
	case !errors.Is(err, cloudformation.ErrStackNotFound):
		return nil, err
	case o.ECS == nil:
		return nil, nil
	}
	if c.Clusters == nil {
		return es, nil
	}
	cl, err := c.Clusters.Cluster(ctx, es.Cluster)
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return es, nil
	}
	if err != nil {
		return nil, err
	}
	es.ClusterStatus = cl.Status
	es.CapacityProviders = cl.CapacityProviders
	es.Services, es.RunningTasks, es.PendingTasks = cl.ActiveServices, cl.RunningTasks, cl.PendingTasks
	if (o.ECS != nil && o.ECS.EC2 != nil) || slices.Contains(cl.CapacityProviders, elevator.ECSCapacityProviderName(o.Name)) {
		n := cl.RegisteredInstances
		es.ContainerInstances = &n
	}
	return es, nil
}

// ECSStacks compiles the ECS stack of every region of o, in region order,
// for estimates: the container instances' image resolved, and the orbit
// stack's outputs where it is up, else placeholders. It returns none for
// an orbit without an ecs section.
func (s *Service) ECSStacks(ctx context.Context, o *elevator.Orbit) ([]compile.Stack, error) {
	if !compile.HasECSStack(o) {
		return nil, nil
	}
	images, err := s.ecsImages(ctx, o)
	if err != nil {
		return nil, err
	}
	stacks := make([]compile.Stack, len(o.Regions))
	err = s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		f, ready, err := s.ecsFacts(ctx, o, r, c, images[r.Name])
		if err != nil {
			return err
		}
		if !ready {
			placeholder := "(from " + o.StackName() + ")"
			f.VPC, f.Subnets = placeholder, placeholder
		}
		st, err := compile.ECSStack(o, r, f)
		stacks[regionIndex(o, r.Name)] = st
		return err
	})
	return stacks, err
}

// checkECSRemovals refuses what the manifest's ecs section would have the
// ECS stack delete while services use it: the cluster when the section is
// gone, the EC2 capacity provider when ec2 is.
func (s *Service) checkECSRemovals(ctx context.Context, o *elevator.Orbit) error {
	if o.ECS == nil {
		return s.checkClusterEmpty(ctx, o, "removing the ecs section")
	}
	return s.checkCapacityUnused(ctx, o)
}

// checkECSStacks compiles o's ECS stack of every region with placeholders
// for the orbit stack's outputs, so that what the manifest gets wrong
// there (EC2 capacity in a region with no tier for it) is refused before
// anything changes. It returns the field errors of every region.
func checkECSStacks(o *elevator.Orbit, images map[string]string) error {
	if !compile.HasECSStack(o) {
		return nil
	}
	var errs elevator.FieldErrors
	for i := range o.Regions {
		r := &o.Regions[i]
		placeholder := "(from " + o.StackName() + ")"
		_, err := compile.ECSStack(o, r, compile.ECSFacts{VPC: placeholder, Subnets: placeholder, AMI: images[r.Name]})
		var fe elevator.FieldErrors
		switch {
		case errors.As(err, &fe):
			errs = append(errs, fe...)
		case err != nil:
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
