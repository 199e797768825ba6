// Package autoscaling is Elevator's adapter for Amazon EC2 Auto Scaling: the
// groups a release creates, sizes, attaches to target groups and deletes,
// and their scaling policies, scheduled actions and lifecycle hooks, in
// Elevator's own types. Nothing above it sees an SDK type.
//
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping ErrNotFound and an *awserr.NotFoundError naming the group,
// ECONFLICT wrapping ErrGroupExists or ErrGroupBusy, EINVALID for a request
// the adapter refuses to send, and the codes awserr gives every service
// (EINTERRUPTED when the context was cancelled, EAWS for a refused or
// failed call). Check the sentinels with errors.Is.
//
// The package counts and retries nothing itself: the SDK retries transient
// failures, and the release engine decides what to do with the rest.
package autoscaling

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is the cause of the ENOTFOUND error returned for a group
// that does not exist.
var ErrNotFound = errors.New("auto scaling group not found")

// ErrGroupExists is the cause of the ECONFLICT error CreateGroup returns when
// a group of that name exists already. A caller that creates groups under
// names it derives from a release treats it as "done already".
var ErrGroupExists = errors.New("auto scaling group already exists")

// ErrGroupBusy is the cause of the ECONFLICT error returned when AWS refuses
// a change because the group has a scaling activity in progress or, for a
// delete without force, still has instances.
var ErrGroupBusy = errors.New("auto scaling group is busy")

// api lists the Auto Scaling operations Elevator uses.
type api interface {
	DescribeAutoScalingGroups(context.Context, *autoscalingsdk.DescribeAutoScalingGroupsInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DescribeAutoScalingGroupsOutput, error)
	CreateAutoScalingGroup(context.Context, *autoscalingsdk.CreateAutoScalingGroupInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.CreateAutoScalingGroupOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscalingsdk.UpdateAutoScalingGroupInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.UpdateAutoScalingGroupOutput, error)
	DeleteAutoScalingGroup(context.Context, *autoscalingsdk.DeleteAutoScalingGroupInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DeleteAutoScalingGroupOutput, error)
	AttachLoadBalancerTargetGroups(context.Context, *autoscalingsdk.AttachLoadBalancerTargetGroupsInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.AttachLoadBalancerTargetGroupsOutput, error)
	DetachLoadBalancerTargetGroups(context.Context, *autoscalingsdk.DetachLoadBalancerTargetGroupsInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DetachLoadBalancerTargetGroupsOutput, error)
	PutScalingPolicy(context.Context, *autoscalingsdk.PutScalingPolicyInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.PutScalingPolicyOutput, error)
	DescribePolicies(context.Context, *autoscalingsdk.DescribePoliciesInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DescribePoliciesOutput, error)
	PutScheduledUpdateGroupAction(context.Context, *autoscalingsdk.PutScheduledUpdateGroupActionInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.PutScheduledUpdateGroupActionOutput, error)
	PutLifecycleHook(context.Context, *autoscalingsdk.PutLifecycleHookInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.PutLifecycleHookOutput, error)
	DescribeLifecycleHooks(context.Context, *autoscalingsdk.DescribeLifecycleHooksInput, ...func(*autoscalingsdk.Options)) (*autoscalingsdk.DescribeLifecycleHooksOutput, error)
	inventoryAPI  // what groups launch, for image inventories (inventory.go)
	chaosAPI      // terminating instances on purpose (chaos.go)
	protectionAPI // scale-in protection (protection.go)
}

// Client talks to Auto Scaling in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client {
	return &Client{api: autoscalingsdk.NewFromConfig(cfg), region: cfg.Region}
}

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// LifecycleState is where an instance is in its group's lifecycle, such as
// Pending, InService or Terminating:Wait.
type LifecycleState string

// The lifecycle states a release engine reasons about. AWS has more (warm
// pools, standby, root volume replacement); they come through unchanged.
const (
	Pending            LifecycleState = "Pending"
	PendingWait        LifecycleState = "Pending:Wait"
	PendingProceed     LifecycleState = "Pending:Proceed"
	Quarantined        LifecycleState = "Quarantined"
	InService          LifecycleState = "InService"
	Terminating        LifecycleState = "Terminating"
	TerminatingWait    LifecycleState = "Terminating:Wait"
	TerminatingProceed LifecycleState = "Terminating:Proceed"
	TerminatingRetain  LifecycleState = "Terminating:Retained"
	Terminated         LifecycleState = "Terminated"
	Detaching          LifecycleState = "Detaching"
	Detached           LifecycleState = "Detached"
	EnteringStandby    LifecycleState = "EnteringStandby"
	Standby            LifecycleState = "Standby"
)

// Pending reports whether the instance is still launching (Pending,
// Pending:Wait, Pending:Proceed).
func (s LifecycleState) Pending() bool { return strings.HasPrefix(string(s), "Pending") }

// Terminating reports whether the instance is on its way out of the group
// or gone (Terminating, Terminating:Wait, Terminating:Proceed,
// Terminating:Retained, Terminated). A new group whose instances terminate
// before they serve is the signal Odin halted a release on.
func (s LifecycleState) Terminating() bool {
	return strings.HasPrefix(string(s), "Terminat")
}

// HealthStatus is what Auto Scaling thinks of an instance: Healthy or
// Unhealthy (from EC2 status checks, or the load balancer's when the group's
// health check type is ELB).
type HealthStatus string

// The health statuses.
const (
	Healthy   HealthStatus = "Healthy"
	Unhealthy HealthStatus = "Unhealthy"
)

// Instance is one instance of a group.
type Instance struct {
	ID             string
	AZ             string
	LifecycleState LifecycleState
	HealthStatus   HealthStatus
	InstanceType   string
	// LaunchTemplate is the template and version the instance was launched
	// from (empty when AWS does not say).
	LaunchTemplate LaunchTemplate
	// ProtectedFromScaleIn is true when scale-in may not terminate it.
	ProtectedFromScaleIn bool
}

// LaunchTemplate names an EC2 launch template and one of its versions: a
// number, "$Latest" or "$Default".
type LaunchTemplate struct {
	ID, Name, Version string
}

// HealthCheckType says whose health checks replace a group's instances:
// EC2 status checks only, or the load balancer's as well.
type HealthCheckType string

// The health check types.
const (
	HealthCheckEC2 HealthCheckType = "EC2"
	HealthCheckELB HealthCheckType = "ELB"
)

// Group is an Auto Scaling group.
type Group struct {
	Name, ARN              string
	Min, Max, Desired      int
	LaunchTemplate         LaunchTemplate
	SubnetIDs              []string
	AZs                    []string
	TargetGroupARNs        []string
	HealthCheckType        HealthCheckType
	HealthCheckGracePeriod time.Duration
	Instances              []Instance
	Tags                   map[string]string
	CreatedTime            time.Time
	// Status is empty for a live group and "Delete in progress" while AWS
	// deletes it. (moto never sets it: its deletes are immediate.)
	Status string
}

// Deleting reports whether AWS is deleting the group.
func (g Group) Deleting() bool { return g.Status != "" }

// InService returns the instances that are InService and Healthy.
func (g Group) InService() []Instance {
	var in []Instance
	for _, i := range g.Instances {
		if i.LifecycleState == InService && i.HealthStatus == Healthy {
			in = append(in, i)
		}
	}
	return in
}

// Terminating returns the instances that are terminating or terminated.
func (g Group) Terminating() []Instance {
	var out []Instance
	for _, i := range g.Instances {
		if i.LifecycleState.Terminating() {
			out = append(out, i)
		}
	}
	return out
}

// Groups returns the groups carrying every tag in tags (key -> value). AWS
// filters them (Filters tag:<key>), so the call costs the same however many
// other groups the region has; moto 5.2.5 implements the same filters
// (describe_auto_scaling_groups in moto/autoscaling/models.py). It returns
// EINVALID for an empty tags: that would list every group in the region.
func (c *Client) Groups(ctx context.Context, tags map[string]string) ([]Group, error) {
	if len(tags) == 0 {
		return nil, elevator.Errorf(elevator.EINVALID, "find auto scaling groups in %s: no tags to find them by", c.region)
	}
	in := &autoscalingsdk.DescribeAutoScalingGroupsInput{}
	for _, k := range sortedKeys(tags) {
		in.Filters = append(in.Filters, autoscalingtypes.Filter{Name: aws.String("tag:" + k), Values: []string{tags[k]}})
	}
	return c.describe(ctx, in, "describe auto scaling groups")
}

// Group returns the group called name, or an ENOTFOUND error wrapping
// ErrNotFound.
func (c *Client) Group(ctx context.Context, name string) (Group, error) {
	groups, err := c.describe(ctx, &autoscalingsdk.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}}, "describe auto scaling group "+name)
	if err != nil {
		return Group{}, err
	}
	if len(groups) == 0 {
		return Group{}, awserr.NotFound("auto scaling group", name, c.region, ErrNotFound)
	}
	return groups[0], nil
}

func (c *Client) describe(ctx context.Context, in *autoscalingsdk.DescribeAutoScalingGroupsInput, doing string) ([]Group, error) {
	var groups []Group
	p := autoscalingsdk.NewDescribeAutoScalingGroupsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(doing, "", err)
		}
		for _, g := range out.AutoScalingGroups {
			groups = append(groups, group(g))
		}
	}
	return groups, nil
}

func group(g autoscalingtypes.AutoScalingGroup) Group {
	out := Group{
		Name:                   aws.ToString(g.AutoScalingGroupName),
		ARN:                    aws.ToString(g.AutoScalingGroupARN),
		Min:                    int(aws.ToInt32(g.MinSize)),
		Max:                    int(aws.ToInt32(g.MaxSize)),
		Desired:                int(aws.ToInt32(g.DesiredCapacity)),
		LaunchTemplate:         launchTemplate(g.LaunchTemplate),
		AZs:                    g.AvailabilityZones,
		TargetGroupARNs:        g.TargetGroupARNs,
		HealthCheckType:        HealthCheckType(aws.ToString(g.HealthCheckType)),
		HealthCheckGracePeriod: time.Duration(aws.ToInt32(g.HealthCheckGracePeriod)) * time.Second,
		Tags:                   make(map[string]string, len(g.Tags)),
		CreatedTime:            aws.ToTime(g.CreatedTime),
		Status:                 aws.ToString(g.Status),
	}
	if out.LaunchTemplate == (LaunchTemplate{}) && g.MixedInstancesPolicy != nil && g.MixedInstancesPolicy.LaunchTemplate != nil {
		out.LaunchTemplate = launchTemplate(g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification)
	}
	if ids := aws.ToString(g.VPCZoneIdentifier); ids != "" {
		out.SubnetIDs = strings.Split(ids, ",")
	}
	for _, t := range g.Tags {
		out.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for _, i := range g.Instances {
		out.Instances = append(out.Instances, Instance{
			ID:                   aws.ToString(i.InstanceId),
			AZ:                   aws.ToString(i.AvailabilityZone),
			LifecycleState:       LifecycleState(i.LifecycleState),
			HealthStatus:         HealthStatus(aws.ToString(i.HealthStatus)),
			InstanceType:         aws.ToString(i.InstanceType),
			LaunchTemplate:       launchTemplate(i.LaunchTemplate),
			ProtectedFromScaleIn: aws.ToBool(i.ProtectedFromScaleIn),
		})
	}
	return out
}

func launchTemplate(lt *autoscalingtypes.LaunchTemplateSpecification) LaunchTemplate {
	if lt == nil {
		return LaunchTemplate{}
	}
	return LaunchTemplate{ID: aws.ToString(lt.LaunchTemplateId), Name: aws.ToString(lt.LaunchTemplateName), Version: aws.ToString(lt.Version)}
}

// CreateGroupInput describes a group to create.
type CreateGroupInput struct {
	Name string
	// Absent says the caller has just found no group called Name, so
	// CreateGroup does not look it up again (see CreateGroup).
	Absent bool
	// LaunchTemplateID and LaunchTemplateVersion say what the group
	// launches. An empty version means the template's default version.
	LaunchTemplateID      string
	LaunchTemplateVersion string
	SubnetIDs             []string
	TargetGroupARNs       []string
	Min, Max, Desired     int
	// HealthCheckType is HealthCheckEC2 when empty.
	HealthCheckType        HealthCheckType
	HealthCheckGracePeriod time.Duration
	// Tags are put on the group and propagated to the instances it launches.
	Tags map[string]string
	// LifecycleHooks are created with the group, so that even its first
	// instances pause at them. (moto 5.2.5 ignores hooks given at creation;
	// PutLifecycleHook adds them to a group that exists.)
	LifecycleHooks []LifecycleHook
}

// CreateGroup creates a group. Auto Scaling takes no idempotency token: the
// group's name, unique in its region, plays that part. So CreateGroup first
// looks the name up, and returns an ECONFLICT error wrapping ErrGroupExists
// when the group exists already, as it does when AWS answers AlreadyExists
// to a create that raced it. A caller that derives the name from its release
// can therefore call CreateGroup again after any failure and treat
// ErrGroupExists as done, after checking with Group that the group is not
// being deleted. (The look-up also matters on moto, whose create silently
// replaces an existing group and orphans its instances.) A caller that
// has just looked the name up itself sets in.Absent to skip the look-up.
// Other failures are EAWS errors.
func (c *Client) CreateGroup(ctx context.Context, in CreateGroupInput) error {
	if !in.Absent {
		switch _, err := c.Group(ctx, in.Name); {
		case err == nil:
			return elevator.Errorf(elevator.ECONFLICT, "create auto scaling group %s in %s: %w", in.Name, c.region, ErrGroupExists)
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	req := &autoscalingsdk.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(in.Name),
		LaunchTemplate: &autoscalingtypes.LaunchTemplateSpecification{
			LaunchTemplateId: aws.String(in.LaunchTemplateID),
			Version:          optional(in.LaunchTemplateVersion),
		},
		VPCZoneIdentifier:      aws.String(strings.Join(in.SubnetIDs, ",")),
		TargetGroupARNs:        in.TargetGroupARNs,
		MinSize:                aws.Int32(int32(in.Min)),
		MaxSize:                aws.Int32(int32(in.Max)),
		DesiredCapacity:        aws.Int32(int32(in.Desired)),
		HealthCheckType:        optional(string(in.HealthCheckType)),
		HealthCheckGracePeriod: aws.Int32(int32(in.HealthCheckGracePeriod / time.Second)),
	}
	for _, k := range sortedKeys(in.Tags) {
		req.Tags = append(req.Tags, autoscalingtypes.Tag{
			Key: aws.String(k), Value: aws.String(in.Tags[k]),
			ResourceId: aws.String(in.Name), ResourceType: aws.String("auto-scaling-group"),
			PropagateAtLaunch: aws.Bool(true),
		})
	}
	for _, h := range in.LifecycleHooks {
		req.LifecycleHookSpecificationList = append(req.LifecycleHookSpecificationList, autoscalingtypes.LifecycleHookSpecification{
			LifecycleHookName:     aws.String(h.Name),
			LifecycleTransition:   aws.String(string(h.Transition)),
			HeartbeatTimeout:      seconds(h.Heartbeat),
			DefaultResult:         optional(string(h.DefaultResult)),
			NotificationTargetARN: optional(h.NotificationTargetARN),
			RoleARN:               optional(h.RoleARN),
			NotificationMetadata:  optional(h.Metadata),
		})
	}
	_, err := c.api.CreateAutoScalingGroup(ctx, req)
	return c.fail("create auto scaling group "+in.Name, in.Name, err)
}

// Capacity is a group's size: its bounds and the number of instances it
// aims for.
type Capacity struct {
	Min, Max, Desired int
}

// SetCapacity sets a group's min, max and desired sizes in one call. It
// returns an ENOTFOUND error wrapping ErrNotFound for a missing group,
// ECONFLICT wrapping ErrGroupBusy when a scaling activity is in progress,
// and EAWS for other failures.
func (c *Client) SetCapacity(ctx context.Context, name string, capacity Capacity) error {
	_, err := c.api.UpdateAutoScalingGroup(ctx, &autoscalingsdk.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		MinSize:              aws.Int32(int32(capacity.Min)),
		MaxSize:              aws.Int32(int32(capacity.Max)),
		DesiredCapacity:      aws.Int32(int32(capacity.Desired)),
	})
	return c.fail("set capacity of auto scaling group "+name, name, err)
}

// AttachTargetGroups adds target groups to a group; its instances are
// registered with them. Attaching one that is attached already is a no-op.
// Errors are as for SetCapacity.
func (c *Client) AttachTargetGroups(ctx context.Context, name string, arns []string) error {
	_, err := c.api.AttachLoadBalancerTargetGroups(ctx, &autoscalingsdk.AttachLoadBalancerTargetGroupsInput{
		AutoScalingGroupName: aws.String(name), TargetGroupARNs: arns,
	})
	return c.fail("attach target groups to auto scaling group "+name, name, err)
}

// DetachTargetGroups removes target groups from a group; its instances are
// deregistered (and drain). Detaching one that is not attached is a no-op.
// Errors are as for SetCapacity.
func (c *Client) DetachTargetGroups(ctx context.Context, name string, arns []string) error {
	_, err := c.api.DetachLoadBalancerTargetGroups(ctx, &autoscalingsdk.DetachLoadBalancerTargetGroupsInput{
		AutoScalingGroupName: aws.String(name), TargetGroupARNs: arns,
	})
	return c.fail("detach target groups from auto scaling group "+name, name, err)
}

// DeleteGroup starts deleting a group. With force it also terminates the
// group's instances; without, AWS refuses while instances remain (ECONFLICT
// wrapping ErrGroupBusy). A group that does not exist, or is being deleted
// already, counts as deleted: DeleteGroup returns nil. Other failures are
// EAWS errors.
func (c *Client) DeleteGroup(ctx context.Context, name string, force bool) error {
	_, err := c.api.DeleteAutoScalingGroup(ctx, &autoscalingsdk.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(force),
	})
	if missing.Is(err) || pendingDelete.Is(err) {
		return nil
	}
	return c.fail("delete auto scaling group "+name, name, err)
}

// Auto Scaling's answers about a group that does not exist: a
// ValidationError whose message says "not found" (e.g. "AutoScalingGroup
// name not found - ..."), and about a group being deleted already
// ("AutoScalingGroup ... is pending delete").
var (
	missing       = awserr.Match{Code: "ValidationError", Message: "not found", Err: ErrNotFound}
	pendingDelete = awserr.Match{Code: "ValidationError", Message: "pending delete"}
)

// codes are Auto Scaling's answers that mean more than a failed call.
var codes = awserr.Codes{
	NotFound: []awserr.Match{missing},
	Conflict: []awserr.Match{
		{Code: "AlreadyExists", Err: ErrGroupExists},
		{Code: "ResourceInUse", Err: ErrGroupBusy},
		{Code: "ScalingActivityInProgress", Err: ErrGroupBusy},
	},
}

// fail translates the error of a call on the group called group ("" when
// the call names no one group).
func (c *Client) fail(doing, group string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: "auto scaling group", Name: group}, err)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
