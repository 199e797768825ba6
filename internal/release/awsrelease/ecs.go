package awsrelease

// The ECS half of the Cloud: releases of ECS services (GroupRef.Cluster
// set, GroupSpec.ECS set) on ECS, Application Auto Scaling and
// CloudWatch. See docs/ecs.md and the Cloud interface for the model: an
// ECS service is a group, its tasks its instances.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	aas "github.com/elevatorhq/elevator/internal/aws/applicationautoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ecs"
	"github.com/elevatorhq/elevator/internal/release"
)

// servicesAPI is what the Cloud uses of ECS.
type servicesAPI interface {
	RegisterTaskDefinition(ctx context.Context, in ecs.TaskDefinitionInput) (ecs.TaskDefinition, error)
	TaskDefinitionARNs(ctx context.Context, family, status string) ([]string, error)
	Families(ctx context.Context, prefix string) ([]string, error)
	TaskDefinition(ctx context.Context, id string) (ecs.TaskDefinition, error)
	DeregisterTaskDefinition(ctx context.Context, id string) error
	DeleteTaskDefinitions(ctx context.Context, ids []string) error
	Services(ctx context.Context, cluster string, names []string) ([]ecs.Service, error)
	Service(ctx context.Context, cluster, name string) (ecs.Service, error)
	ServiceARNs(ctx context.Context, cluster string) ([]string, error)
	UpdateService(ctx context.Context, cluster, name string, u ecs.Update) (ecs.Service, error)
	DeleteService(ctx context.Context, cluster, name string) error
	Tasks(ctx context.Context, cluster, service string) ([]ecs.Task, error)
	TagResource(ctx context.Context, arn string, tags map[string]string) error
	UntagResource(ctx context.Context, arn string, keys []string) error
}

// serviceCreator creates services, on a client that retries only what
// was surely not carried out (see createRetryer): moto ignores client
// tokens and replaces a service created twice.
type serviceCreator interface {
	CreateService(ctx context.Context, in ecs.ServiceInput) (ecs.Service, error)
}

// scalingAPI is what the Cloud uses of Application Auto Scaling.
type scalingAPI interface {
	RegisterScalableTarget(ctx context.Context, t aas.Target) error
	ScalableTargets(ctx context.Context, resourceIDs []string) (map[string]aas.Target, error)
	Suspend(ctx context.Context, resourceID string, suspended bool) error
	DeregisterScalableTarget(ctx context.Context, resourceID string) error
	PutTargetTrackingPolicy(ctx context.Context, resourceID string, p aas.TargetTrackingPolicy) (string, error)
	PutStepPolicy(ctx context.Context, resourceID string, p aas.StepPolicy) (string, error)
	Policies(ctx context.Context, resourceID string) ([]string, error)
	DeletePolicy(ctx context.Context, resourceID, name string) error
	PutScheduledAction(ctx context.Context, resourceID string, a aas.ScheduledAction) error
	ScheduledActions(ctx context.Context, resourceID string) ([]string, error)
	DeleteScheduledAction(ctx context.Context, resourceID, name string) error
}

// ecsGroups returns the ECS services of f's orbit's cluster whose tags
// match f, with their tasks: ListServices of the orbit's cluster (a
// cluster of the orbit's apps only), DescribeServices of those named like
// f's groups (ten per call), DescribeScalableTargets of those (fifty per
// call), and ListTasks and DescribeTasks per service. A missing cluster
// has none; deleted (INACTIVE) services are gone. A service's Failed is
// its primary deployment's reason when ECS gave it up, and its Settling
// why its deployments are not steady (two of them, or one in progress;
// "" while it is being deleted).
func (c *Cloud) ecsGroups(ctx context.Context, f release.GroupFilter) ([]release.Group, error) {
	cluster := elevator.ECSClusterName(f.Orbit)
	arns, err := c.ecs.ServiceARNs(ctx, cluster)
	if errors.Is(err, ecs.ErrClusterNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Services are named after their group (release.GroupName:
	// <app>-<orbit>-<service>-<short id>): only those can match.
	prefix := ""
	if f.App != "" {
		prefix = f.App + "-" + f.Orbit + "-"
		if f.Service != "" {
			prefix += f.Service + "-"
		}
	}
	var names []string
	for _, a := range arns {
		name := a[strings.LastIndexByte(a, '/')+1:]
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	services, err := c.ecs.Services(ctx, cluster, names)
	if err != nil {
		return nil, err
	}
	want := filterTags(f)
	var live []ecs.Service
	var ids []string
	for _, s := range services {
		if s.Status == ecs.StatusInactive || !hasTags(s.Tags, want) {
			continue
		}
		live = append(live, s)
		ids = append(ids, aas.ServiceTarget(cluster, s.Name))
	}
	if len(live) == 0 {
		return nil, nil
	}
	targets, err := c.scaling.ScalableTargets(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]release.Group, 0, len(live))
	for i, s := range live {
		tasks, err := c.ecs.Tasks(ctx, cluster, s.Name)
		if err != nil {
			return nil, err
		}
		g := release.Group{
			Name:     s.Name,
			Cluster:  cluster,
			Tags:     s.Tags,
			Capacity: release.Capacity{Min: s.Desired, Max: s.Desired, Desired: s.Desired},
			Deleting: s.Status == ecs.StatusDraining,
			Failed:   s.Failed(),
		}
		if _, detached := s.Tags[elevator.TagDetachedDesired]; !detached {
			// A service detached from all its target groups keeps them
			// as its load balancers, scaled to 0 (see detachService).
			g.TargetGroups = s.TargetGroups()
		}
		if !g.Deleting {
			g.Settling = s.Settling()
		}
		if t, ok := targets[ids[i]]; ok {
			g.Capacity.Min, g.Capacity.Max = t.Min, t.Max
		}
		for _, t := range tasks {
			g.Instances = append(g.Instances, release.Instance{
				ID:        t.ID,
				Lifecycle: taskLifecycle(t.LastStatus),
				Healthy:   t.Health != "UNHEALTHY",
				Target:    t.PrivateIP,
			})
		}
		out = append(out, g)
	}
	return out, nil
}

// taskLifecycle maps a task's last status to the lifecycle of an
// instance (DESIGN: stopped tasks count as terminations).
func taskLifecycle(status string) string {
	switch status {
	case "RUNNING":
		return release.LifecycleInService
	case "DEACTIVATING", "STOPPING", "DEPROVISIONING":
		return release.LifecycleTerminate
	case "STOPPED", "DELETED":
		return release.LifecycleGone
	}
	return release.LifecyclePending // PROVISIONING, PENDING, ACTIVATING
}

// filterTags are the tags a group must carry to match f.
func filterTags(f release.GroupFilter) map[string]string {
	tags := map[string]string{elevator.TagOrbit: f.Orbit}
	for k, v := range map[string]string{elevator.TagApp: f.App, elevator.TagService: f.Service, elevator.TagRelease: f.ReleaseID} {
		if v != "" {
			tags[k] = v
		}
	}
	return tags
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// capacityProvider is the capacity provider of an ECS capacity.
func capacityProvider(capacity, orbit string) (string, error) {
	switch capacity {
	case elevator.ECSFargate, "":
		return ecs.ProviderFargate, nil
	case elevator.ECSFargateSpot:
		return ecs.ProviderFargateSpot, nil
	case elevator.ECSEC2:
		return elevator.ECSCapacityProviderName(orbit), nil
	}
	return "", fmt.Errorf("unknown ECS capacity %q (want %s, %s or %s)", capacity, elevator.ECSFargate, elevator.ECSFargateSpot, elevator.ECSEC2)
}

// createService is registerAndCreateService, with a missing cluster
// said as the orbit's (EINVALID: retrying cannot help).
func (c *Cloud) createService(ctx context.Context, spec release.GroupSpec, token string) error {
	err := c.registerAndCreateService(ctx, spec, token)
	if errors.Is(err, ecs.ErrClusterNotFound) {
		// Retrying cannot help: the orbit has no cluster in the region.
		return elevator.Errorf(elevator.EINVALID, "create ECS service %s in %s: the orbit has no ECS cluster %s there (its manifest needs an `ecs:` section, then `orbit up`): %w",
			spec.Name, c.region, spec.ECS.Cluster, err)
	}
	return err
}

// registerAndCreateService registers spec's task definition, unless an
// ACTIVE revision of its family carries spec's release (an earlier try
// made it), and creates its service unless one of that name exists with
// spec's release.
func (c *Cloud) registerAndCreateService(ctx context.Context, spec release.GroupSpec, token string) error {
	e := spec.ECS
	rel := spec.Tags[elevator.TagRelease]
	what := fmt.Sprintf("create ECS service %s of cluster %s in %s", spec.Name, e.Cluster, c.region)
	provider, err := capacityProvider(e.Capacity, spec.Tags[elevator.TagOrbit])
	if err != nil {
		return elevator.Errorf(elevator.EINVALID, "%s: %v", what, err)
	}
	if len(spec.TargetGroups) > 0 && len(e.Ports) == 0 {
		return elevator.Errorf(elevator.EINVALID, "%s: it has target groups and its container no port", what)
	}
	if !spec.Absent {
		s, err := c.ecs.Service(ctx, e.Cluster, spec.Name)
		switch {
		case errors.Is(err, ecs.ErrServiceNotFound):
		case err != nil:
			return err
		case s.Tags[elevator.TagRelease] != rel:
			return elevator.Errorf(elevator.EINVALID, "%s: one of that name exists and belongs to release %q, not %s", what, s.Tags[elevator.TagRelease], rel)
		case s.Status == ecs.StatusDraining:
			return elevator.Errorf(elevator.EINVALID, "%s: it exists and is being deleted", what)
		default:
			return nil // made by an earlier try
		}
	}
	td, err := c.taskDefinition(ctx, spec)
	if err != nil {
		return err
	}
	var lbs []ecs.LoadBalancer
	for _, tg := range spec.TargetGroups {
		lbs = append(lbs, ecs.LoadBalancer{TargetGroupARN: tg, Container: e.Container, Port: e.Ports[0].Container})
	}
	_, err = c.ecsCreate.CreateService(ctx, ecs.ServiceInput{
		Cluster: e.Cluster, Name: spec.Name, TaskDefinition: td,
		Desired: spec.Capacity.Desired, CapacityProvider: provider,
		Subnets: spec.Subnets, SecurityGroups: spec.SecurityGroups,
		LoadBalancers: lbs, HealthCheckGrace: spec.HealthCheckGrace,
		Token: token, Tags: spec.Tags,
	})
	return err
}

// taskDefinition returns the ARN of an ACTIVE revision of spec's family
// tagged with spec's release, registering one when there is none: a
// retried CreateGroup does not pile up revisions.
func (c *Cloud) taskDefinition(ctx context.Context, spec release.GroupSpec) (string, error) {
	e := spec.ECS
	arns, err := c.ecs.TaskDefinitionARNs(ctx, spec.Name, "ACTIVE")
	if err != nil {
		return "", err
	}
	for _, arn := range slices.Backward(arns) {
		td, err := c.ecs.TaskDefinition(ctx, arn)
		if errors.Is(err, ecs.ErrTaskDefinitionNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if td.Tags[elevator.TagRelease] == spec.Tags[elevator.TagRelease] {
			return td.ARN, nil
		}
	}
	in := ecs.TaskDefinitionInput{
		Family: spec.Name, Container: e.Container, Image: e.Image, CPU: e.CPU, Memory: e.Memory,
		Command: e.Command, Env: e.Env, EC2: e.Capacity == elevator.ECSEC2,
		TaskRole: e.TaskRole, ExecutionRole: e.ExecutionRole,
		LogGroup: e.LogGroup, LogStreamPrefix: e.Container, Tags: spec.Tags,
	}
	for _, p := range e.Ports {
		in.Ports = append(in.Ports, ecs.Port{Container: p.Container, Protocol: p.Protocol})
	}
	for _, s := range e.Secrets {
		in.Secrets = append(in.Secrets, ecs.Secret{Name: s.Name, ValueFrom: s.ValueFrom})
	}
	td, err := c.ecs.RegisterTaskDefinition(ctx, in)
	return td.ARN, err
}

// setDesired sets a service's desired count, first widening its scalable
// target's bounds to take it (Application Auto Scaling would otherwise
// move the count back within them).
func (c *Cloud) setDesired(ctx context.Context, ref release.GroupRef, desired int, lbs *[]ecs.LoadBalancer) error {
	id := aas.ServiceTarget(ref.Cluster, ref.Name)
	targets, err := c.scaling.ScalableTargets(ctx, []string{id})
	if err != nil {
		return err
	}
	if t, ok := targets[id]; ok && (desired < t.Min || desired > t.Max) {
		t.Min, t.Max = min(t.Min, desired), max(t.Max, desired)
		if err := c.scaling.RegisterScalableTarget(ctx, t); err != nil {
			return notFound(err)
		}
	}
	_, err = c.ecs.UpdateService(ctx, ref.Cluster, ref.Name, ecs.Update{Desired: &desired, LoadBalancers: lbs})
	return notFound(err)
}

// suspendScaling suspends (or resumes) the dynamic and scheduled scaling
// of a service's scalable target; a service without one has nothing to
// suspend.
func (c *Cloud) suspendScaling(ctx context.Context, ref release.GroupRef, suspend bool) error {
	id := aas.ServiceTarget(ref.Cluster, ref.Name)
	targets, err := c.scaling.ScalableTargets(ctx, []string{id})
	if err != nil {
		return err
	}
	if t, ok := targets[id]; !ok || suspend && t.Suspended {
		return nil
	}
	return notFound(c.scaling.Suspend(ctx, id, suspend))
}

// service returns a live service, or release.ErrNotFound.
func (c *Cloud) service(ctx context.Context, ref release.GroupRef) (ecs.Service, error) {
	s, err := c.ecs.Service(ctx, ref.Cluster, ref.Name)
	return s, notFound(err)
}

// attachService adds the load balancers a service lacks, registering its
// container's first port, and gives a service that a detach scaled to 0
// its recorded desired count back.
func (c *Cloud) attachService(ctx context.Context, ref release.GroupRef, targetGroups []string) error {
	s, err := c.service(ctx, ref)
	if err != nil {
		return err
	}
	lbs := slices.Clone(s.LoadBalancers)
	have := s.TargetGroups()
	var missing []string
	for _, tg := range targetGroups {
		if !slices.Contains(have, tg) && !slices.Contains(missing, tg) {
			missing = append(missing, tg)
		}
	}
	if len(missing) > 0 {
		var container string
		var port int
		if len(lbs) > 0 {
			container, port = lbs[0].Container, lbs[0].Port
		} else {
			td, err := c.ecs.TaskDefinition(ctx, s.TaskDefinition)
			if err != nil {
				return err
			}
			if len(td.Ports) == 0 {
				return elevator.Errorf(elevator.EINVALID, "attach %s to target groups in %s: its container has no port", ref, c.region)
			}
			container, port = td.Container, td.Ports[0].Container
		}
		// Every load balancer change is a new ECS deployment (new tasks,
		// then the old ones stopped). A new service attached to its test
		// target groups alone gets the final list at once, the test ones
		// replaced, so that leaving them later changes nothing.
		if len(lbs) > 0 && !slices.ContainsFunc(lbs, func(lb ecs.LoadBalancer) bool { return !isTestTargetGroup(s, lb.TargetGroupARN) }) &&
			!slices.ContainsFunc(missing, func(tg string) bool { return isTestTargetGroup(s, tg) }) {
			lbs = nil
		}
		for _, tg := range missing {
			lbs = append(lbs, ecs.LoadBalancer{TargetGroupARN: tg, Container: container, Port: port})
		}
	}
	recorded, detached := s.Tags[elevator.TagDetachedDesired]
	switch {
	case detached:
		n, err := strconv.Atoi(recorded)
		if err != nil || n < 0 {
			return elevator.Errorf(elevator.EINVALID, "attach %s in %s: its tag %s is %q, not a desired count", ref, c.region, elevator.TagDetachedDesired, recorded)
		}
		var update *[]ecs.LoadBalancer
		if len(missing) > 0 {
			update = &lbs
		}
		if err := c.setDesired(ctx, ref, n, update); err != nil {
			return err
		}
		if err := c.suspendScaling(ctx, ref, false); err != nil {
			return err
		}
		// The tag goes last: until then, a retry does it all again.
		return notFound(c.ecs.UntagResource(ctx, s.ARN, []string{elevator.TagDetachedDesired}))
	case len(missing) > 0:
		_, err := c.ecs.UpdateService(ctx, ref.Cluster, ref.Name, ecs.Update{LoadBalancers: &lbs})
		return notFound(err)
	}
	return nil
}

// isTestTargetGroup says whether a target group (an ARN) is the test target
// group the engine makes for the service's release
// (release.TestTargetGroupName of its release and service tags).
func isTestTargetGroup(s ecs.Service, arn string) bool {
	name := arn
	if i := strings.Index(arn, ":targetgroup/"); i >= 0 {
		name = arn[i+len(":targetgroup/"):]
		name, _, _ = strings.Cut(name, "/")
	}
	rel, svc := s.Tags[elevator.TagRelease], s.Tags[elevator.TagService]
	return rel != "" && svc != "" && name == release.TestTargetGroupName(rel, svc)
}

// detachService detaches a service from target groups. Detaching it from
// test target groups only (see isTestTargetGroup) updates its load
// balancers, whatever is left. Detaching it from all of its production
// ones (an old service at cut-over) records its desired count in
// its TagDetachedDesired tag, suspends its scalable target's scaling (its
// policies and schedules would bring tasks back) and scales it to 0: ECS
// deregisters and drains each task. Its load balancers stay as they are,
// for attachService to give it its tasks back; Groups lists it with none.
// Detaching only some updates its load balancers.
func (c *Cloud) detachService(ctx context.Context, ref release.GroupRef, targetGroups []string) error {
	s, err := c.service(ctx, ref)
	if err != nil {
		return err
	}
	var keep []ecs.LoadBalancer
	for _, lb := range s.LoadBalancers {
		if !slices.Contains(targetGroups, lb.TargetGroupARN) {
			keep = append(keep, lb)
		}
	}
	testOnly := !slices.ContainsFunc(targetGroups, func(tg string) bool { return !isTestTargetGroup(s, tg) })
	if len(s.LoadBalancers) > 0 && len(keep) == 0 && !testOnly {
		if _, ok := s.Tags[elevator.TagDetachedDesired]; !ok {
			err := c.ecs.TagResource(ctx, s.ARN, map[string]string{elevator.TagDetachedDesired: strconv.Itoa(s.Desired)})
			if err != nil {
				return notFound(err)
			}
		}
		if err := c.suspendScaling(ctx, ref, true); err != nil {
			return err
		}
		if s.Desired == 0 {
			return nil
		}
		// Not setDesired: with its scaling suspended, nothing moves the
		// count back within the target's bounds, which stay those the
		// service is attached again with.
		zero := 0
		_, err := c.ecs.UpdateService(ctx, ref.Cluster, ref.Name, ecs.Update{Desired: &zero})
		return notFound(err)
	}
	if len(keep) == len(s.LoadBalancers) {
		return nil // attached to none of them
	}
	if keep == nil {
		keep = []ecs.LoadBalancer{}
	}
	_, err = c.ecs.UpdateService(ctx, ref.Cluster, ref.Name, ecs.Update{LoadBalancers: &keep})
	return notFound(err)
}

// putServiceScaling is PutScaling for an ECS service: its scalable
// target between s.Min and s.Max, then policies, alarms and scheduled
// actions, on the service's CPU (AWS/ECS, ClusterName and ServiceName).
func (c *Cloud) putServiceScaling(ctx context.Context, ref release.GroupRef, s release.Scaling) error {
	group := ref.Name
	if len(s.Policies) == 0 && len(s.Schedule) == 0 && s.Max == 0 && len(s.Alarms) == 0 {
		return nil
	}
	id := aas.ServiceTarget(ref.Cluster, ref.Name)
	if len(s.Policies) > 0 || len(s.Schedule) > 0 || s.Max > 0 {
		if s.Max < s.Min || s.Max < 1 {
			return elevator.Errorf(elevator.EINVALID, "scaling of %s in %s: max %d must be at least 1 and min %d", ref, c.region, s.Max, s.Min)
		}
		if err := c.scaling.RegisterScalableTarget(ctx, aas.Target{ResourceID: id, Min: s.Min, Max: s.Max}); err != nil {
			return notFound(err)
		}
	}
	cpu := cpuMetric{Namespace: "AWS/ECS", Dimensions: map[string]string{"ClusterName": ref.Cluster, "ServiceName": ref.Name}}
	err := c.putPolicies(ctx, ref, s, cpu,
		func(name string, target float64) error {
			_, err := c.scaling.PutTargetTrackingPolicy(ctx, id, aas.TargetTrackingPolicy{Name: name, Target: target})
			return err
		},
		func(name string, p elevator.ReleasePolicy, lower, upper float64) (string, error) {
			return c.scaling.PutStepPolicy(ctx, id, aas.StepPolicy{Name: name,
				Steps: []aas.Step{{Lower: lower, Upper: upper, Adjustment: p.Adjustment}}, Cooldown: time.Duration(p.CooldownSeconds) * time.Second})
		})
	if err != nil {
		return err
	}
	// Without policies a schedule pins the count (min = max = its count),
	// as an Auto Scaling group's scheduled desired capacity does; with
	// them it sets the minimum and the policies scale above it.
	for i, sc := range s.Schedule {
		err := c.scaling.PutScheduledAction(ctx, id, aas.ScheduledAction{Name: scheduleName(group, i), Cron: sc.Cron, Desired: sc.Desired, Max: s.Max,
			Pin: len(s.Policies) == 0})
		if err != nil {
			return notFound(err)
		}
	}
	return nil
}

// deleteService deletes a service's alarms, its scaling policies,
// scheduled actions and scalable target, its task definition's revisions
// (deregistered, then deleted), and then the service: scaled to 0 and
// deleted with force. The service goes last: while it exists the engine
// calls DeleteGroup again after a failure. A service already gone, or
// being deleted, is nil.
func (c *Cloud) deleteService(ctx context.Context, ref release.GroupRef) error {
	if err := c.deleteAlarms(ctx, ref.Name); err != nil {
		return err
	}
	id := aas.ServiceTarget(ref.Cluster, ref.Name)
	targets, err := c.scaling.ScalableTargets(ctx, []string{id})
	if err != nil {
		return err
	}
	if _, ok := targets[id]; ok {
		// AWS deletes a target's policies and actions with it; moto keeps
		// them, so they go first, by name.
		policies, err := c.scaling.Policies(ctx, id)
		if err != nil {
			return err
		}
		for _, p := range policies {
			if err := c.scaling.DeletePolicy(ctx, id, p); err != nil {
				return err
			}
		}
		actions, err := c.scaling.ScheduledActions(ctx, id)
		if err != nil {
			return err
		}
		for _, a := range actions {
			if err := c.scaling.DeleteScheduledAction(ctx, id, a); err != nil {
				return err
			}
		}
		if err := c.scaling.DeregisterScalableTarget(ctx, id); err != nil {
			return err
		}
	}
	if err := c.deleteTaskDefinitions(ctx, ref.Name); err != nil {
		return err
	}
	s, err := c.ecs.Service(ctx, ref.Cluster, ref.Name)
	if errors.Is(err, ecs.ErrServiceNotFound) || errors.Is(err, ecs.ErrClusterNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.Status == ecs.StatusDraining {
		return nil
	}
	if s.Desired > 0 {
		zero := 0
		if _, err := c.ecs.UpdateService(ctx, ref.Cluster, ref.Name, ecs.Update{Desired: &zero}); err != nil && !errors.Is(err, ecs.ErrServiceNotFound) {
			return err
		}
	}
	return c.ecs.DeleteService(ctx, ref.Cluster, ref.Name)
}

// deleteTaskDefinitions deletes a family's revisions, ACTIVE and INACTIVE
// ones (left by a step stopped between deregistering and deleting), each
// deleted right after it is deregistered.
func (c *Cloud) deleteTaskDefinitions(ctx context.Context, family string) error {
	for _, status := range []string{"ACTIVE", "INACTIVE"} {
		arns, err := c.ecs.TaskDefinitionARNs(ctx, family, status)
		if err != nil {
			return err
		}
		for _, arn := range arns {
			if err := c.deleteTaskDefinition(ctx, arn); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteAlarms deletes the alarms named after a group.
func (c *Cloud) deleteAlarms(ctx context.Context, group string) error {
	alarms, err := c.alarms.Alarms(ctx, alarmPrefix(group))
	if err != nil || len(alarms) == 0 {
		return err
	}
	names := make([]string, len(alarms))
	for i, a := range alarms {
		names[i] = a.Name
	}
	return c.alarms.DeleteAlarms(ctx, names)
}

// taskDefinitionRemains returns the task definition revisions, ACTIVE and
// INACTIVE, of f's app in f's orbit (families <app>-<orbit>-..., named
// like groups; of every app in the orbit when f names none) whose tags
// match f.
func (c *Cloud) taskDefinitionRemains(ctx context.Context, f release.GroupFilter, prefix, short string) ([]release.Remain, error) {
	families, err := c.ecs.Families(ctx, prefix)
	if err != nil {
		return nil, err
	}
	want := filterTags(f)
	var out []release.Remain
	for _, fam := range families {
		if short != "" && !strings.HasSuffix(fam, "-"+short) || f.App == "" && !strings.Contains(fam, "-"+f.Orbit+"-") {
			continue
		}
		var arns []string
		for _, status := range []string{"ACTIVE", "INACTIVE"} {
			a, err := c.ecs.TaskDefinitionARNs(ctx, fam, status)
			if err != nil {
				return nil, err
			}
			arns = append(arns, a...)
		}
		for _, arn := range arns {
			td, err := c.ecs.TaskDefinition(ctx, arn)
			if errors.Is(err, ecs.ErrTaskDefinitionNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if !hasTags(td.Tags, want) {
				continue
			}
			out = append(out, release.Remain{Kind: release.RemainTaskDefinition, Name: td.Name(), Group: td.Family,
				App: td.Tags[elevator.TagApp], ReleaseID: td.Tags[elevator.TagRelease]})
		}
	}
	return out, nil
}

// deleteTaskDefinition deregisters and deletes a revision (family:revision).
func (c *Cloud) deleteTaskDefinition(ctx context.Context, name string) error {
	if err := c.ecs.DeregisterTaskDefinition(ctx, name); err != nil {
		return err
	}
	return c.ecs.DeleteTaskDefinitions(ctx, []string{name})
}
