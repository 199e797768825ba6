package awsrelease

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	elevator "github.com/elevatorhq/elevator"
	aas "github.com/elevatorhq/elevator/internal/aws/applicationautoscaling"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/ecs"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/aws/sns"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/image"
	"github.com/elevatorhq/elevator/internal/release"
)

// The adapters' operations the Cloud uses, one small interface per AWS
// service.

type groupsAPI interface {
	Groups(ctx context.Context, tags map[string]string) ([]autoscaling.Group, error)
	Group(ctx context.Context, name string) (autoscaling.Group, error)
	SetCapacity(ctx context.Context, name string, c autoscaling.Capacity) error
	AttachTargetGroups(ctx context.Context, name string, arns []string) error
	DetachTargetGroups(ctx context.Context, name string, arns []string) error
	DeleteGroup(ctx context.Context, name string, force bool) error
	PutTargetTrackingPolicy(ctx context.Context, group string, p autoscaling.TargetTrackingPolicy) (string, error)
	PutStepPolicy(ctx context.Context, group string, p autoscaling.StepPolicy) (string, error)
	PutScheduledAction(ctx context.Context, group string, a autoscaling.ScheduledAction) error
	LifecycleHooks(ctx context.Context, group string) ([]autoscaling.LifecycleHook, error)
	PutLifecycleHook(ctx context.Context, group string, h autoscaling.LifecycleHook) error
}

// groupCreator creates groups (see createRetryer for why it is apart).
type groupCreator interface {
	CreateGroup(ctx context.Context, in autoscaling.CreateGroupInput) error
}

type computeAPI interface {
	Images(ctx context.Context, ids []string) ([]ec2.Image, error)
	SubnetsByID(ctx context.Context, ids []string) ([]ec2.Subnet, error)
	SecurityGroupsByID(ctx context.Context, ids []string) ([]ec2.SecurityGroup, error)
	CreateLaunchTemplate(ctx context.Context, in ec2.LaunchTemplateInput) (ec2.LaunchTemplate, error)
	LaunchTemplate(ctx context.Context, name string) (ec2.LaunchTemplate, error)
	LaunchTemplates(ctx context.Context, tags map[string]string) ([]ec2.LaunchTemplate, error)
	DeleteLaunchTemplate(ctx context.Context, name string) error
}

type loadBalancingAPI interface {
	TargetGroups(ctx context.Context, arns []string) ([]elbv2.TargetGroup, error)
	TargetHealth(ctx context.Context, targetGroupARN string, instanceIDs ...string) ([]elbv2.TargetHealth, error)
}

type profilesAPI interface {
	InstanceProfile(ctx context.Context, name string) (iam.InstanceProfile, error)
}

// registryAPI looks container images up in ECR.
type registryAPI interface {
	Image(ctx context.Context, repository, tag string) (ecr.Image, error)
}

type alarmsAPI interface {
	PutAlarm(ctx context.Context, a cloudwatch.Alarm) error
	Alarms(ctx context.Context, prefix string) ([]cloudwatch.Alarm, error)
	DeleteAlarms(ctx context.Context, names []string) error
}

// Cloud is the release engine's release.Cloud in one region, on Elevator's
// AWS adapters: Auto Scaling groups and their policies, EC2 launch
// templates, images, subnets and security groups, ELBv2 target groups,
// IAM instance profiles, CloudWatch alarms, the orbit's image allow list
// (DynamoDB) and the container images of services' own ECR repositories. It finds groups only with
// tag-filtered DescribeAutoScalingGroups calls, so what a release costs
// does not grow with the other groups of the account.
type Cloud struct {
	region  string
	groups  groupsAPI
	creator groupCreator
	compute computeAPI
	lb      loadBalancingAPI
	iam     profilesAPI
	alarms  alarmsAPI
	items   image.Items // the orbit's image allow list
	ecr     registryAPI

	ecs       servicesAPI    // ECS services, their task definitions and tasks (ecs.go)
	ecsCreate serviceCreator // creates services, on the create retryer
	scaling   scalingAPI     // ECS services' Application Auto Scaling

	testGroups  testGroupsAPI
	alarmStates alarmStatesAPI
	commands    commandsAPI
	topics      topicsAPI
	owner       imageOwner

	// hasECS says the orbit has an ECS cluster: without one, Groups,
	// Remains and gc make no ECS call (the deployer may not).
	hasECS bool
}

var _ release.Cloud = (*Cloud)(nil)

// WithECS says whether the orbit has an ECS cluster (Orbit.ECS != nil)
// and returns c. A Cloud of an orbit without one (the default) makes no
// ECS or task definition call to find groups or what releases left.
func (c *Cloud) WithECS(has bool) *Cloud {
	c.hasECS = has
	return c
}

// NewCloud returns the Cloud of cfg's region, of an orbit without an ECS
// cluster until WithECS says otherwise.
func NewCloud(cfg aws.Config) *Cloud {
	create := cfg.Copy()
	create.Retryer = createRetryer
	lb, cw := elbv2.New(cfg), cloudwatch.New(cfg)
	return &Cloud{
		region:      cfg.Region,
		groups:      autoscaling.New(cfg),
		creator:     autoscaling.New(create),
		compute:     ec2.New(cfg),
		lb:          lb,
		iam:         iam.New(cfg),
		alarms:      cw,
		items:       dynamodb.New(cfg),
		ecr:         ecr.New(cfg),
		ecs:         ecs.New(cfg),
		ecsCreate:   ecs.New(create),
		scaling:     aas.New(cfg),
		testGroups:  lb,
		alarmStates: cw,
		commands:    ssm.New(cfg),
		topics:      sns.New(cfg),
		owner:       &callerAccount{sts: sts.New(cfg)},
	}
}

// createRetryer is the retryer of the client that creates groups: it
// retries only answers that say the call was not carried out (throttling,
// 503 Service Unavailable), never a 500 or a broken connection, after
// which the group may exist. The SDK would resend the same
// CreateAutoScalingGroup, and moto answers a create of an existing name by
// replacing the group, orphaning its instances (create_auto_scaling_group
// in moto/autoscaling/models.py). The engine retries the whole step
// instead, and CreateGroup looks the name up first.
func createRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Retryables = []retry.IsErrorRetryable{
			retry.NoRetryCanceledError{},
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
					return aws.TrueTernary
				}
				return aws.UnknownTernary
			}),
			retry.RetryableHTTPStatusCode{Codes: map[int]struct{}{503: {}}},
		}
	})
}

// Region names the Cloud's region.
func (c *Cloud) Region() string { return c.region }

// Describe returns the resources of a kind with these ids that exist, with
// their tags (and path, for instance profiles). An id that does not exist
// is left out. It returns EINVALID for an unknown kind and the adapters'
// errors (EAWS) for failures.
func (c *Cloud) Describe(ctx context.Context, kind release.ResourceKind, ids []string) ([]release.Resource, error) {
	var out []release.Resource
	add := func(id string, tags map[string]string) {
		out = append(out, release.Resource{Kind: kind, ID: id, Tags: tags})
	}
	switch kind {
	case release.KindImage:
		images, err := c.compute.Images(ctx, ids)
		if err != nil {
			return nil, err
		}
		account := ""
		if len(images) > 0 {
			if account, err = c.owner.Account(ctx); err != nil {
				return nil, err
			}
		}
		for _, x := range images {
			out = append(out, release.Resource{Kind: kind, ID: x.ID, Tags: x.Tags, Public: x.Public, Foreign: x.OwnerID != account, Deprecated: x.Deprecated})
		}
	case release.KindSubnet:
		subnets, err := c.compute.SubnetsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, x := range subnets {
			add(x.ID, x.Tags)
		}
	case release.KindSecurityGroup:
		sgs, err := c.compute.SecurityGroupsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, x := range sgs {
			add(x.ID, x.Tags)
		}
	case release.KindTargetGroup:
		tgs, err := c.lb.TargetGroups(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, x := range tgs {
			add(x.ARN, x.Tags)
		}
	case release.KindInstanceProfile:
		for _, id := range ids {
			p, err := c.iam.InstanceProfile(ctx, id)
			if errors.Is(err, iam.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, release.Resource{Kind: kind, ID: id, Path: p.Path})
		}
	case release.KindContainerImage:
		// One DescribeImages per repository and tag: a release has one
		// version, so one call per repository.
		for _, id := range ids {
			i := strings.LastIndex(id, ":")
			if i < 0 {
				return nil, elevator.Errorf(elevator.EINVALID, "describe container image %q in %s: want <repository>:<tag>", id, c.region)
			}
			_, err := c.ecr.Image(ctx, id[:i], id[i+1:])
			if errors.Is(err, ecr.ErrImageNotFound) || errors.Is(err, ecr.ErrRepositoryNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			add(id, nil)
		}
	default:
		return nil, elevator.Errorf(elevator.EINVALID, "describe %q resources in %s: not a kind of resource a release uses", kind, c.region)
	}
	return out, nil
}

// AllowedImages returns those of images that orbit's image allow list in
// the Cloud's region has for app: one GetItem per image, by its exact key
// (see internal/image). A region whose orbit stack predates allow lists
// allows none. Other errors are the adapter's (EAWS).
func (c *Cloud) AllowedImages(ctx context.Context, orbit, app string, images []string) ([]string, error) {
	list := image.AllowList{Orbit: orbit, Items: c.items}
	var out []string
	for _, id := range images {
		ok, err := list.Allows(ctx, app, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// Groups returns the groups whose tags match every non-empty field of f:
// the Auto Scaling groups found with one tag-filtered
// DescribeAutoScalingGroups (a page per 50 groups), then the ECS services
// of the orbit's cluster (see ecsGroups). It returns EINVALID when f has
// no orbit.
func (c *Cloud) Groups(ctx context.Context, f release.GroupFilter) ([]release.Group, error) {
	if f.Orbit == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "find groups in %s: an orbit is required", c.region)
	}
	tags := filterTags(f)
	// The ECS services are looked up concurrently with
	// DescribeAutoScalingGroups, when the orbit has a cluster.
	var services []release.Group
	var serr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c.hasECS {
			services, serr = c.ecsGroups(ctx, f)
		}
	}()
	found, err := c.groups.Groups(ctx, tags)
	<-done
	if err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	out := make([]release.Group, 0, len(found)+len(services))
	for _, g := range found {
		out = append(out, group(g))
	}
	return append(out, services...), nil
}

func group(g autoscaling.Group) release.Group {
	out := release.Group{
		Name:         g.Name,
		Tags:         g.Tags,
		Capacity:     release.Capacity{Min: g.Min, Max: g.Max, Desired: g.Desired},
		TargetGroups: g.TargetGroupARNs,
		Deleting:     g.Deleting(),
	}
	for _, in := range g.Instances {
		out.Instances = append(out.Instances, release.Instance{
			ID:        in.ID,
			Lifecycle: string(in.LifecycleState),
			Healthy:   in.HealthStatus == autoscaling.Healthy,
		})
	}
	return out
}

// metadataHops keeps IMDSv2 tokens on the instance (GroupSpec's contract).
const metadataHops = 1

// CreateGroup makes spec's launch template (with token as its client
// token) and its group, and the group's lifecycle hooks. A template or
// group of that name that carries spec's release id is taken as made by
// an earlier try, and what is missing is completed; one of another release
// is an EINVALID error, which the engine does not retry. Other errors are
// the adapters' (EAWS), and safe to retry.
//
// A spec with ECS makes an ECS service instead (see createService).
func (c *Cloud) CreateGroup(ctx context.Context, spec release.GroupSpec, token string) error {
	if spec.ECS != nil {
		return c.createService(ctx, spec, token)
	}
	rel := spec.Tags[elevator.TagRelease]
	lt, err := c.compute.CreateLaunchTemplate(ctx, ec2.LaunchTemplateInput{
		Name:             spec.Name,
		ImageID:          spec.ImageID,
		InstanceType:     spec.InstanceType,
		SecurityGroupIDs: spec.SecurityGroups,
		InstanceProfile:  spec.InstanceProfile,
		UserData:         []byte(spec.UserData),
		Tags:             spec.Tags,
		MetadataHopLimit: metadataHops,
		// The token is derived from the release, state, region and
		// service: a create retried after a lost answer returns the
		// template the first try made (in AWS; moto ignores tokens and
		// answers AlreadyExists, handled below).
		ClientToken: token,
	})
	if errors.Is(err, ec2.ErrLaunchTemplateExists) {
		lt, err = c.compute.LaunchTemplate(ctx, spec.Name)
		if err == nil && lt.Tags[elevator.TagRelease] != rel {
			return elevator.Errorf(elevator.EINVALID, "create launch template %s in %s: one of that name exists and belongs to release %q, not %s",
				spec.Name, c.region, lt.Tags[elevator.TagRelease], rel)
		}
	}
	if err != nil {
		return err
	}
	hc := autoscaling.HealthCheckEC2
	if spec.HealthCheckELB {
		hc = autoscaling.HealthCheckELB
	}
	var hooks []autoscaling.LifecycleHook
	for _, h := range spec.Hooks {
		hooks = append(hooks, autoscaling.LifecycleHook{
			Name:                  h.Name,
			Transition:            autoscaling.LifecycleTransition(h.Transition),
			Heartbeat:             time.Duration(h.HeartbeatSeconds) * time.Second,
			DefaultResult:         autoscaling.LifecycleResult(h.DefaultResult),
			NotificationTargetARN: h.TopicARN,
			RoleARN:               h.RoleARN,
		})
	}
	version := ""
	if lt.DefaultVersion > 0 {
		version = strconv.FormatInt(lt.DefaultVersion, 10)
	}
	err = c.creator.CreateGroup(ctx, autoscaling.CreateGroupInput{
		Name:                   spec.Name,
		LaunchTemplateID:       lt.ID,
		LaunchTemplateVersion:  version,
		SubnetIDs:              spec.Subnets,
		TargetGroupARNs:        spec.TargetGroups,
		Min:                    spec.Capacity.Min,
		Max:                    spec.Capacity.Max,
		Desired:                spec.Capacity.Desired,
		HealthCheckType:        hc,
		HealthCheckGracePeriod: spec.HealthCheckGrace,
		Tags:                   spec.Tags,
		LifecycleHooks:         hooks,
		Absent:                 spec.Absent,
	})
	if errors.Is(err, autoscaling.ErrGroupExists) {
		g, gerr := c.groups.Group(ctx, spec.Name)
		switch {
		case gerr != nil:
			return gerr
		case g.Tags[elevator.TagRelease] != rel:
			return elevator.Errorf(elevator.EINVALID, "create auto scaling group %s in %s: one of that name exists and belongs to release %q, not %s",
				spec.Name, c.region, g.Tags[elevator.TagRelease], rel)
		case g.Deleting():
			return elevator.Errorf(elevator.EINVALID, "create auto scaling group %s in %s: it exists and is being deleted", spec.Name, c.region)
		}
		err = nil
	}
	if err != nil || len(hooks) == 0 {
		return err
	}
	// Hooks given at creation are in place in AWS; moto 5.2.5 drops them,
	// and a group made by an earlier try may lack them: put what is missing.
	have, err := c.groups.LifecycleHooks(ctx, spec.Name)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if !hasHook(have, h.Name) {
			if err := c.groups.PutLifecycleHook(ctx, spec.Name, h); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasHook(hooks []autoscaling.LifecycleHook, name string) bool {
	for _, h := range hooks {
		if h.Name == name {
			return true
		}
	}
	return false
}

// notFound turns the adapters' "no such group" into release.ErrNotFound,
// keeping their message.
func notFound(err error) error {
	if errors.Is(err, autoscaling.ErrNotFound) || errors.Is(err, ecs.ErrServiceNotFound) || errors.Is(err, ecs.ErrClusterNotFound) {
		return engineNotFound{err}
	}
	return err
}

// SetCapacity sets a group's size (an ECS service's desired count);
// release.ErrNotFound for a missing group.
func (c *Cloud) SetCapacity(ctx context.Context, ref release.GroupRef, cp release.Capacity) error {
	if ref.ECS() {
		// Looked up first: AWS refuses to update a deleted service, moto
		// updates it.
		if _, err := c.service(ctx, ref); err != nil {
			return err
		}
		return c.setDesired(ctx, ref, cp.Desired, nil)
	}
	group := ref.Name
	return notFound(c.groups.SetCapacity(ctx, group, autoscaling.Capacity{Min: cp.Min, Max: cp.Max, Desired: cp.Desired}))
}

// AttachTargetGroups attaches a group to target groups; release.ErrNotFound
// for a missing group. Attaching an attached group is nil.
func (c *Cloud) AttachTargetGroups(ctx context.Context, ref release.GroupRef, targetGroups []string) error {
	if ref.ECS() {
		return c.attachService(ctx, ref, targetGroups)
	}
	group := ref.Name
	err := c.groups.AttachTargetGroups(ctx, group, targetGroups)
	return c.settle(ctx, group, err, func(attached []string) bool {
		for _, tg := range targetGroups {
			if !slices.Contains(attached, tg) {
				return false
			}
		}
		return true
	})
}

// DetachTargetGroups detaches a group from target groups;
// release.ErrNotFound for a missing group. Detaching a detached group is
// nil. (moto 5.2.5 refuses to detach a group again, with InvalidTarget;
// so may a retry whose first answer was lost.)
func (c *Cloud) DetachTargetGroups(ctx context.Context, ref release.GroupRef, targetGroups []string) error {
	if ref.ECS() {
		return c.detachService(ctx, ref, targetGroups)
	}
	group := ref.Name
	err := c.groups.DetachTargetGroups(ctx, group, targetGroups)
	return c.settle(ctx, group, err, func(attached []string) bool {
		for _, tg := range targetGroups {
			if slices.Contains(attached, tg) {
				return false
			}
		}
		return true
	})
}

// settle decides what a failed attach or detach means: the group is
// looked up, and the failure stands only while the group exists and
// done (given its target groups) is false. A missing group is
// release.ErrNotFound. (moto 5.2.5 answers an attach or detach of a
// missing group with a 500, not a not-found error.)
func (c *Cloud) settle(ctx context.Context, group string, err error, done func(attached []string) bool) error {
	if err == nil || errors.Is(err, autoscaling.ErrNotFound) {
		return notFound(err)
	}
	g, gerr := c.groups.Group(ctx, group)
	switch {
	case errors.Is(gerr, autoscaling.ErrNotFound):
		return notFound(gerr)
	case gerr != nil:
		return err
	case done(g.TargetGroupARNs):
		return nil
	}
	return err
}

// Targets returns the targets registered with a target group and their
// health.
func (c *Cloud) Targets(ctx context.Context, targetGroup string) ([]release.Target, error) {
	health, err := c.lb.TargetHealth(ctx, targetGroup)
	if err != nil {
		return nil, err
	}
	out := make([]release.Target, 0, len(health))
	for _, h := range health {
		out = append(out, release.Target{InstanceID: h.InstanceID, State: string(h.State)})
	}
	return out, nil
}

// policyInfix follows the group's name in the names of its policies and
// alarms.
const policyInfix = "-policy-"

// Names of what PutScaling puts on a group: the group's name, the kind
// and the index in the release, so that putting them again replaces them
// and DeleteGroup (and Remains) find the alarms by prefix.
func policyName(group string, i int) string   { return fmt.Sprintf("%s-policy-%d", group, i) }
func scheduleName(group string, i int) string { return fmt.Sprintf("%s-schedule-%d", group, i) }
func alarmPrefix(group string) string         { return group + policyInfix }
func alarmName(group string, i int) string    { return fmt.Sprintf("%s-policy-alarm-%d", group, i) }

// defaultPeriods is how many minutes in a row a step policy's alarm must
// breach when the release does not say.
const defaultPeriods = 3

// PutScaling puts a group's scaling policies, with a CloudWatch alarm on
// the group's average CPU for each step policy, the service's CPU alarms
// (which notify topics), and its scheduled actions (cron in UTC). It returns EINVALID for a policy type it does not know.
func (c *Cloud) PutScaling(ctx context.Context, ref release.GroupRef, s release.Scaling) error {
	if ref.ECS() {
		return c.putServiceScaling(ctx, ref, s)
	}
	group := ref.Name
	cpu := cpuMetric{Namespace: "AWS/EC2", Dimensions: map[string]string{"AutoScalingGroupName": group}}
	err := c.putPolicies(ctx, ref, s, cpu,
		func(name string, target float64) error {
			_, err := c.groups.PutTargetTrackingPolicy(ctx, group, autoscaling.TargetTrackingPolicy{Name: name, Target: target})
			return err
		},
		func(name string, p elevator.ReleasePolicy, lower, upper float64) (string, error) {
			return c.groups.PutStepPolicy(ctx, group, autoscaling.StepPolicy{Name: name,
				Steps: []autoscaling.Step{{Lower: lower, Upper: upper, Adjustment: p.Adjustment}}, Warmup: time.Duration(p.CooldownSeconds) * time.Second})
		})
	if err != nil {
		return err
	}
	for i, sc := range s.Schedule {
		desired := sc.Desired
		if err := c.groups.PutScheduledAction(ctx, group, autoscaling.ScheduledAction{Name: scheduleName(group, i), Recurrence: sc.Cron, Desired: &desired}); err != nil {
			return notFound(err)
		}
	}
	return nil
}

// cpuMetric is the CPUUtilization metric of a group's alarms: AWS/EC2
// by AutoScalingGroupName, or AWS/ECS by ClusterName and ServiceName.
type cpuMetric struct {
	Namespace  string
	Dimensions map[string]string
}

// putPolicies puts s's policies, with target to put a target tracking one
// and step a step policy (one step between lower and upper, returning its
// ARN) and the alarm that invokes it when the CPU is above (scale up) or
// below (scale down) the threshold; then s's alarms on the CPU.
func (c *Cloud) putPolicies(ctx context.Context, ref release.GroupRef, s release.Scaling, cpu cpuMetric,
	target func(name string, target float64) error,
	step func(name string, p elevator.ReleasePolicy, lower, upper float64) (string, error)) error {
	group := ref.Name
	for i, p := range s.Policies {
		name := policyName(group, i)
		var err error
		switch p.Type {
		case elevator.PolicyCPUTarget:
			err = target(name, p.Target)
		case elevator.PolicyCPUScaleUp, elevator.PolicyCPUScaleDown:
			lower, upper, cmp := 0.0, math.Inf(1), cloudwatch.GreaterThan
			if p.Type == elevator.PolicyCPUScaleDown {
				lower, upper, cmp = math.Inf(-1), 0, cloudwatch.LessThan
			}
			var arn string
			if arn, err = step(name, p, lower, upper); err == nil {
				periods := p.Periods
				if periods <= 0 {
					periods = defaultPeriods
				}
				err = c.alarms.PutAlarm(ctx, cloudwatch.Alarm{
					Name:        name,
					Description: fmt.Sprintf("%s: %s at %v%% CPU (Elevator)", group, p.Type, p.Threshold),
					Namespace:   cpu.Namespace, Metric: "CPUUtilization", Dimensions: cpu.Dimensions,
					Period: time.Minute, EvaluationPeriods: periods,
					Threshold: p.Threshold, Comparison: cmp, Actions: []string{arn},
				})
			}
		default:
			err = elevator.Errorf(elevator.EINVALID, "scaling policy %d of %s: unknown type %q", i, ref, p.Type)
		}
		if err != nil {
			return notFound(err)
		}
	}
	for i, a := range s.Alarms {
		err := c.alarms.PutAlarm(ctx, cloudwatch.Alarm{
			Name:        alarmName(group, i),
			Description: fmt.Sprintf("%s: %s, average CPU at %v%% or more (Elevator)", group, a.Name, a.Threshold),
			Namespace:   cpu.Namespace, Metric: "CPUUtilization", Dimensions: cpu.Dimensions,
			Period: time.Duration(a.PeriodSeconds) * time.Second, EvaluationPeriods: a.Evaluations,
			Threshold: a.Threshold, Comparison: cloudwatch.GreaterThanOrEqual,
			Actions: a.Actions, OKActions: a.Actions,
		})
		if err != nil {
			return notFound(err)
		}
	}
	return nil
}

// DeleteGroup deletes a group's step policy alarms and its launch
// template, then the group with its instances (AWS deletes its policies,
// scheduled actions and hooks with it). The group goes last: while it
// exists the engine calls DeleteGroup again after a failure, so nothing
// is left behind once it is gone. A group already gone is nil.
func (c *Cloud) DeleteGroup(ctx context.Context, ref release.GroupRef) error {
	if ref.ECS() {
		return c.deleteService(ctx, ref)
	}
	group := ref.Name
	if err := c.deleteAlarms(ctx, group); err != nil {
		return err
	}
	if err := c.compute.DeleteLaunchTemplate(ctx, group); err != nil {
		return err
	}
	return c.groups.DeleteGroup(ctx, group, true)
}

// Remains returns the launch templates carrying f's tags; when the orbit
// has an ECS cluster, the task definition revisions (ACTIVE and INACTIVE)
// of its ECS services carrying f's tags (of every app when f names none);
// and, when f names an app, the alarms named after the app's groups in
// f's orbit (of f's release only, when f has one: its short id is in the
// group's name). It
// returns EINVALID when f has no orbit, and the adapters' errors (EAWS).
func (c *Cloud) Remains(ctx context.Context, f release.GroupFilter) ([]release.Remain, error) {
	if f.Orbit == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "find what releases left in %s: an orbit is required", c.region)
	}
	lts, err := c.compute.LaunchTemplates(ctx, filterTags(f))
	if err != nil {
		return nil, err
	}
	var out []release.Remain
	for _, lt := range lts {
		out = append(out, release.Remain{Kind: release.RemainLaunchTemplate, Name: lt.Name, Group: lt.Name, App: lt.Tags[elevator.TagApp], ReleaseID: lt.Tags[elevator.TagRelease]})
	}
	// Task definition families and alarms are named after their group,
	// <app>-<orbit>-<service>-<short id>[-policy-...] (see alarmPrefix).
	prefix, short := "", ""
	if f.App != "" {
		prefix = f.App + "-" + f.Orbit + "-"
		if f.Service != "" {
			prefix += f.Service + "-"
		}
	}
	if i := strings.LastIndexByte(f.ReleaseID, '-'); i >= 0 {
		short = f.ReleaseID[i+1:]
	}
	if c.hasECS {
		tds, err := c.taskDefinitionRemains(ctx, f, prefix, short)
		if err != nil {
			return nil, err
		}
		out = append(out, tds...)
	}
	if f.App == "" {
		return out, nil
	}
	// Alarms carry no tags to filter by.
	alarms, err := c.alarms.Alarms(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for _, a := range alarms {
		group, _, ok := strings.Cut(a.Name, policyInfix)
		if !ok {
			continue // not one of a release's
		}
		if d := a.Dimensions["AutoScalingGroupName"]; d != "" {
			group = d
		}
		if f.ReleaseID != "" && !strings.HasSuffix(group, "-"+short) {
			continue
		}
		out = append(out, release.Remain{Kind: release.RemainAlarm, Name: a.Name, Group: group, App: f.App, ReleaseID: f.ReleaseID})
	}
	return out, nil
}

// DeleteRemain deletes a launch template, an alarm or a task definition
// revision (deregistered, then deleted); one already gone is nil. It returns EINVALID for another kind, and the adapters' errors
// (EAWS).
func (c *Cloud) DeleteRemain(ctx context.Context, r release.Remain) error {
	switch r.Kind {
	case release.RemainLaunchTemplate:
		return c.compute.DeleteLaunchTemplate(ctx, r.Name)
	case release.RemainAlarm:
		return c.alarms.DeleteAlarms(ctx, []string{r.Name})
	case release.RemainTaskDefinition:
		return c.deleteTaskDefinition(ctx, r.Name)
	}
	return elevator.Errorf(elevator.EINVALID, "delete %s in %s: not something a release makes", r, c.region)
}
