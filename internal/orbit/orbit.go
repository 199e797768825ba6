// Package orbit brings orbits up and down. For each region of an orbit, in
// parallel, it looks up the facts compiling needs (zones, the VPCs already
// there, the bastion's image), compiles the region's stack, and applies it
// through a change set; it also reads orbits back from AWS for status and
// outputs.
package orbit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/compile"
)

// Network is what an orbit needs of EC2 in one region.
type Network interface {
	AvailabilityZones(ctx context.Context) ([]string, error)
	VPCs(ctx context.Context, tag, value string) ([]ec2.VPC, error)
	Subnets(ctx context.Context, vpcID string) ([]ec2.Subnet, error)
	NATGateways(ctx context.Context, vpcID string) ([]ec2.NATGateway, error)
	NewestImage(ctx context.Context, pattern string, owners []string) (string, error)
	ImageExists(ctx context.Context, id string) error
}

// Parameters reads SSM parameters in one region.
type Parameters interface {
	Parameter(ctx context.Context, name string) (string, error)
}

// Zones finds Route53 hosted zones.
type Zones interface {
	HostedZoneID(ctx context.Context, domain string) (string, error)
}

// Clients are the AWS clients of one region.
type Clients struct {
	Stacks     apply.Stacks
	Network    Network
	Parameters Parameters
	// Objects is needed when a severity has Slack (notify.go); without
	// it, up stores no agent build (agent.go).
	Objects Objects
	// Clusters is needed to remove an ECS stack (ecs.go) and to show
	// the orbit's cluster in status.
	Clusters Clusters
	// Groups is needed to remove an ECS stack's EC2 capacity
	// (ecs_drain.go).
	Groups Groups
}

// Roles lists IAM roles (a global service).
type Roles interface {
	RolesOnPath(ctx context.Context, prefix string) ([]iam.Role, error)
}

// Service runs orbit operations.
type Service struct {
	// Clients returns the clients for a region.
	Clients  func(region string) (Clients, error)
	Zones    Zones
	Progress apply.Progress
	Poller   apply.Poller
	// Roles finds the account's IAM Identity Center roles, recorded
	// with the orbit's settings; without it, or when IAM refuses, none
	// are, and sessions of one such role count as one principal.
	Roles Roles
}

// eachRegion runs fn for every region of o at once and joins the errors,
// in the order of o.Regions.
func (s *Service) eachRegion(ctx context.Context, o *elevator.Orbit, fn func(ctx context.Context, r *elevator.Region, c Clients) error) error {
	return apply.Parallel(len(o.Regions), func(i int) error {
		r := &o.Regions[i]
		c, err := s.Clients(r.Name)
		if err != nil {
			return err
		}
		return fn(ctx, r, c)
	})
}

// Facts looks up, in every region of o, what compiling o needs.
//
// A bastion image or a domain that cannot be found is reported as an
// elevator.FieldError at its field in the manifest; agent builds a bastion
// needs that are not built, as an ENOTFOUND error (see ReadAgent).
func (s *Service) Facts(ctx context.Context, o *elevator.Orbit) (map[string]compile.RegionFacts, error) {
	agent, err := orbitAgent(o)
	if err != nil {
		return nil, err
	}
	return s.facts(ctx, o, agent)
}

func (s *Service) facts(ctx context.Context, o *elevator.Orbit, agent *AgentFiles) (map[string]compile.RegionFacts, error) {
	var zoneID string
	if o.Domain != "" {
		id, err := s.Zones.HostedZoneID(ctx, o.Domain)
		if err != nil {
			if elevator.ErrorCode(err) == elevator.ENOTFOUND {
				return nil, elevator.FieldErrors{o.Source.Errorf("domain", o.Domain, "%v", err)}
			}
			return nil, err
		}
		zoneID = id
	}
	var mu sync.Mutex
	facts := map[string]compile.RegionFacts{}
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		f, err := regionFacts(ctx, o, r, c)
		if err != nil {
			return err
		}
		f.HostedZoneID = zoneID
		if agent != nil && r.Bastion != nil {
			f.Agent = agent.Builds
		}
		mu.Lock()
		facts[r.Name] = f
		mu.Unlock()
		return nil
	})
	return facts, err
}

func regionFacts(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) (compile.RegionFacts, error) {
	var f compile.RegionFacts
	zones, err := c.Network.AvailabilityZones(ctx)
	if err != nil {
		return f, err
	}
	f.AZs = zones
	vpcs, err := c.Network.VPCs(ctx, "", "")
	if err != nil {
		return f, err
	}
	for _, v := range vpcs {
		if v.Tags[elevator.TagOrbit] == o.Name && v.Tags[elevator.TagManagedBy] == elevator.ManagedBy {
			f.CurrentCIDR = v.CIDR
			if f.CurrentAZs, err = currentZones(ctx, o, c); err != nil {
				return f, err
			}
			continue
		}
		if v.CIDR.IsValid() {
			f.OtherVPCs = append(f.OtherVPCs, v.CIDR)
		}
	}
	if r.Bastion != nil {
		ami, err := r.Bastion.AMI.Resolve(ctx, elevator.ImageSources{Images: c.Network, Parameters: c.Parameters})
		if err != nil {
			if elevator.ErrorCode(err) == elevator.ENOTFOUND {
				return f, elevator.FieldErrors{o.Source.Errorf(r.Bastion.Path+".ami", nil, "%v", err)}
			}
			return f, err
		}
		f.BastionAMI = ami
	}
	return f, nil
}

// currentZones returns the zones the orbit's stack uses now, in order, so
// that a zone AWS adds to the region later does not re-cut the subnets.
func currentZones(ctx context.Context, o *elevator.Orbit, c Clients) ([]string, error) {
	outputs, err := (&apply.Engine{Stacks: c.Stacks}).Outputs(ctx, o.StackName())
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil, nil
	}
	if err != nil || outputs["AvailabilityZones"] == "" {
		return nil, err
	}
	return strings.Split(outputs["AvailabilityZones"], ","), nil
}

// Compile looks up facts and compiles every region's stack.
func (s *Service) Compile(ctx context.Context, o *elevator.Orbit) ([]compile.Stack, error) {
	agent, err := orbitAgent(o)
	if err != nil {
		return nil, err
	}
	return s.compile(ctx, o, agent)
}

func (s *Service) compile(ctx context.Context, o *elevator.Orbit, agent *AgentFiles) ([]compile.Stack, error) {
	facts, err := s.facts(ctx, o, agent)
	if err != nil {
		return nil, err
	}
	return compile.OrbitStacks(o, facts)
}

func (s *Service) engine(c Clients) *apply.Engine {
	return &apply.Engine{Stacks: c.Stacks, Progress: s.Progress, Poller: s.Poller}
}

func spec(st compile.Stack) apply.Spec {
	return apply.Spec{Name: st.Name, Body: string(st.Body), Parameters: st.Parameters, Tags: st.Tags}
}

// targets pairs each compiled stack with its region's engine; clients[i]
// are the clients of targets[i]'s region.
func (s *Service) targets(stacks []compile.Stack) (targets []apply.Target, clients []Clients, err error) {
	for _, st := range stacks {
		c, err := s.Clients(st.Region)
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, apply.Target{Engine: s.engine(c), Spec: spec(st)})
		clients = append(clients, c)
	}
	return targets, clients, nil
}

// Plan previews what `up` would change in every region: the orbit's stacks,
// then the notifications stacks (see notify.go) and the ECS stacks (see
// ecs.go) where there are any. The change sets it makes to find out are
// deleted again. It refuses as Up does when the manifest drops the ecs
// section while the cluster has services.
func (s *Service) Plan(ctx context.Context, o *elevator.Orbit) ([]*apply.Plan, error) {
	stacks, err := s.Compile(ctx, o)
	if err != nil {
		return nil, err
	}
	images, err := s.ecsImages(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := checkECSStacks(o, images); err != nil {
		return nil, err
	}
	if err := s.checkECSRemovals(ctx, o); err != nil {
		return nil, err
	}
	targets, _, err := s.targets(stacks)
	if err != nil {
		return nil, err
	}
	plans, err := apply.PlanAll(ctx, targets)
	if err != nil {
		return plans, err
	}
	notes, err := s.planNotifications(ctx, o)
	plans = append(plans, notes...)
	if err != nil {
		return plans, err
	}
	clusters, err := s.planECS(ctx, o, images)
	return append(plans, clusters...), err
}

// UpResult is what `up` did in each region.
type UpResult = apply.Applied

// Up applies the orbit in every region at once: its stack, then the
// agent's builds into its state bucket (see agent.go), then its
// notifications stack (see notify.go), then its ECS stack (see ecs.go).
// A stack with no changes is left alone. An orbit with a bastion needs the
// agent built (ENOTFOUND when it is not); another stores it when it is.
// When the manifest drops the ecs section while the cluster of a region
// has services, Up changes nothing and returns an ECONFLICT error naming
// them.
func (s *Service) Up(ctx context.Context, o *elevator.Orbit) (*UpResult, error) {
	agent, err := orbitAgent(o)
	if err != nil {
		return nil, err
	}
	stacks, err := s.compile(ctx, o, agent)
	if err != nil {
		return nil, err
	}
	code, err := slackForwarderCode(o)
	if err != nil {
		return nil, err
	}
	images, err := s.ecsImages(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := checkECSStacks(o, images); err != nil {
		return nil, err
	}
	if err := s.checkECSRemovals(ctx, o); err != nil {
		return nil, err
	}
	targets, clients, err := s.targets(stacks)
	if err != nil {
		return nil, err
	}
	notes, clusters := newStackOutcome(o), newStackOutcome(o)
	res, err := apply.UpAll(ctx, targets, func(ctx context.Context, i int, r *apply.Result) error {
		if err := s.protect(ctx, o, clients[i], stacks[i].Name, r); err != nil {
			return err
		}
		// The bastion fetches its agent from the bucket the stack made,
		// trying again until it is there.
		if err := s.publishAgent(ctx, o, r.Region, clients[i], agent); err != nil {
			return err
		}
		if err := s.publishSettings(ctx, o, r.Region, clients[i]); err != nil {
			return err
		}
		var nerr error
		notes.plans[i], notes.results[i], nerr = s.upNotifications(ctx, o, &o.Regions[i], clients[i], code)
		if nerr != nil {
			return nerr
		}
		region := &o.Regions[i]
		clusters.plans[i], clusters.results[i], nerr = s.upECS(ctx, o, region, clients[i], images[region.Name])
		return nerr
	})
	notes.appendTo(res)
	clusters.appendTo(res)
	return res, err
}

// publishAgent stores the agent's builds in the state bucket of a region
// where the orbit's stack is up, unless they are there.
func (s *Service) publishAgent(ctx context.Context, o *elevator.Orbit, region string, c Clients, agent *AgentFiles) error {
	if agent == nil || c.Objects == nil {
		return nil
	}
	outputs, err := s.engine(c).Outputs(ctx, o.StackName())
	if err != nil {
		return err
	}
	bucket := outputs[compile.StateBucketOutput]
	if bucket == "" {
		return elevator.Errorf(elevator.EINTERNAL, "store the Elevator agent in %s: the orbit stack %s has no %s output", region, o.StackName(), compile.StateBucketOutput)
	}
	stored, err := PublishAgent(ctx, c.Objects, bucket, agent)
	for _, key := range stored {
		s.Progress.Note(region, fmt.Sprintf("stored the Elevator agent at s3://%s/%s", bucket, key))
	}
	return err
}

// publishSettings stores, in the state bucket of the orbit's home region,
// the orbit's settings as applied (elevator.OrbitSettingsKey): pipeline
// decisions read who holds which role, and whether a starter may approve,
// from there. Without Objects it stores nothing, and pipeline decisions
// in the orbit are refused.
func (s *Service) publishSettings(ctx context.Context, o *elevator.Orbit, region string, c Clients) error {
	if c.Objects == nil || region != o.Regions[0].Name {
		return nil
	}
	outputs, err := s.engine(c).Outputs(ctx, o.StackName())
	if err != nil {
		return err
	}
	bucket := outputs[compile.StateBucketOutput]
	if bucket == "" {
		return elevator.Errorf(elevator.EINTERNAL, "store the orbit's settings in %s: the orbit stack %s has no %s output", region, o.StackName(), compile.StateBucketOutput)
	}
	settings := o.Settings(s.Poller.Clock.Now())
	settings.IdentityCenterRoles = s.identityCenterRoles(ctx, region)
	body, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	if _, err := c.Objects.Put(ctx, bucket, elevator.OrbitSettingsKey, "application/json", body); err != nil {
		return fmt.Errorf("store the orbit's settings at s3://%s/%s: %w", bucket, elevator.OrbitSettingsKey, err)
	}
	s.Progress.Note(region, fmt.Sprintf("stored the orbit's access rules and pipeline settings at s3://%s/%s", bucket, elevator.OrbitSettingsKey))
	return nil
}

// identityCenterRoles returns the account's roles that IAM Identity Center
// made (named AWSReservedSSO_*, on elevator.IdentityCenterRolePath), as
// pathless role ARNs, or none when they cannot be listed (said in a note).
func (s *Service) identityCenterRoles(ctx context.Context, region string) []string {
	if s.Roles == nil {
		return nil
	}
	roles, err := s.Roles.RolesOnPath(ctx, elevator.IdentityCenterRolePath)
	if err != nil {
		s.Progress.Note(region, fmt.Sprintf("IAM Identity Center roles not recorded (%v): in pipelines, sessions of one such role count as one person", err))
		return nil
	}
	var out []string
	for _, r := range roles {
		if r.Path != elevator.IdentityCenterRolePath || !elevator.IsIdentityCenterRoleName(r.Name) {
			continue
		}
		// An assumed-role ARN names its role without the path.
		if i := strings.Index(r.ARN, ":role/"); i > 0 {
			out = append(out, r.ARN[:i]+":role/"+r.Name)
		}
	}
	sort.Strings(out)
	return out
}

// protect makes the stack's termination protection match the manifest. An
// endpoint that cannot set it (the emulator) gets a warning, not a failure:
// `down` refuses a protected orbit from its manifest as well.
func (s *Service) protect(ctx context.Context, o *elevator.Orbit, c Clients, stack string, r *apply.Result) error {
	st, err := c.Stacks.Describe(ctx, stack)
	if err != nil {
		return err
	}
	if st.TerminationProtection == o.Protect {
		return nil
	}
	if err := c.Stacks.SetTerminationProtection(ctx, stack, o.Protect); err != nil {
		s.Progress.Note(r.Region, fmt.Sprintf("warning: termination protection not set: %v", err))
		return nil
	}
	r.Changed = true
	return nil
}

// CheckDown says whether Down would refuse, changing nothing: an
// ECONFLICT error while the manifest or any region's stack says the orbit
// is protected, or while the orbit's ECS cluster of any region has
// services. Callers ask it before asking the user to confirm.
func (s *Service) CheckDown(ctx context.Context, o *elevator.Orbit) error {
	if o.Protect {
		pos := o.Source.At("protect")
		return elevator.Errorf(elevator.ECONFLICT, "orbit %s is protected (protect: true at %s:%d:%d); set protect: false, run `elevator orbit up`, then down", o.Name, o.Source.File, pos.Line, pos.Column)
	}
	var mu sync.Mutex
	var protected []string
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		st, err := c.Stacks.Describe(ctx, o.StackName())
		if errors.Is(err, cloudformation.ErrStackNotFound) {
			return nil // nothing to delete here
		}
		if err != nil {
			return err
		}
		if st.TerminationProtection {
			mu.Lock()
			protected = append(protected, r.Name)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(protected) > 0 {
		sort.Strings(protected)
		return elevator.Errorf(elevator.ECONFLICT, "orbit %s has termination protection on in %v; run `elevator orbit up` with protect: false first", o.Name, protected)
	}
	return s.checkClusterEmpty(ctx, o, "`elevator orbit down`")
}

// Down deletes the orbit's ECS stack (see ecs.go) and notifications stack
// (see notify.go), then its stack, in every region. It refuses, with an
// ECONFLICT error, while the manifest or any region's stack says the orbit
// is protected, or while the orbit's ECS cluster of any region has
// services. Confirming with the user is the caller's job.
func (s *Service) Down(ctx context.Context, o *elevator.Orbit) ([]*apply.Result, error) {
	if err := s.CheckDown(ctx, o); err != nil {
		return nil, err
	}
	results := make([]*apply.Result, len(o.Regions))
	notes := make([]*apply.Result, len(o.Regions))
	clusters := make([]*apply.Result, len(o.Regions))
	index := map[string]int{}
	for i, r := range o.Regions {
		index[r.Name] = i
	}
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		cluster, err := s.downECS(ctx, o, r, c)
		clusters[index[r.Name]] = cluster
		if err != nil {
			return err
		}
		note, err := s.downNotifications(ctx, o, c)
		notes[index[r.Name]] = note
		if err != nil {
			return err
		}
		if err := s.emptyStateBucket(ctx, o, r, c); err != nil {
			return err
		}
		res, err := s.engine(c).Delete(ctx, o.StackName())
		results[index[r.Name]] = res
		return err
	})
	for _, extra := range append(clusters, notes...) {
		if extra != nil {
			results = append(results, extra)
		}
	}
	return results, err
}

// emptyStateBucket deletes every object version in the orbit's state
// bucket of a region (release documents and records, halts, the audit log,
// Lambda code), which CloudFormation cannot delete while it holds any.
func (s *Service) emptyStateBucket(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) error {
	if c.Objects == nil {
		return nil
	}
	outputs, err := s.engine(c).Outputs(ctx, o.StackName())
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil
	}
	if err != nil || outputs[compile.StateBucketOutput] == "" {
		return err
	}
	n, err := c.Objects.DeletePrefix(ctx, outputs[compile.StateBucketOutput], "")
	if n > 0 {
		s.Progress.Note(r.Name, fmt.Sprintf("emptied the state bucket: %d object version(s)", n))
	}
	return err
}

// RegionStatus is an orbit's state in one region, read back from AWS.
type RegionStatus struct {
	Region      string            `json:"region"`
	Stack       string            `json:"stack"`
	Status      string            `json:"status"`
	Reason      string            `json:"reason,omitempty"`
	VPC         *VPCStatus        `json:"vpc,omitempty"`
	Subnets     []SubnetStatus    `json:"subnets"`
	NATGateways []string          `json:"nat_gateways"`
	Outputs     map[string]string `json:"outputs,omitempty"`
	// ECS is the orbit's ECS cluster (see ecs.go), when the orbit has one
	// or its stack is still there.
	ECS *ECSStatus `json:"ecs,omitempty"`
}

// VPCStatus is the orbit's VPC in a region.
type VPCStatus struct {
	ID   string       `json:"id"`
	CIDR netip.Prefix `json:"cidr"`
}

// SubnetStatus is one subnet of the orbit's VPC.
type SubnetStatus struct {
	Tier string       `json:"tier"`
	AZ   string       `json:"az"`
	CIDR netip.Prefix `json:"cidr"`
	ID   string       `json:"id"`
}

// Status reads the orbit back from AWS in every region: its stack, its VPC,
// subnets by tier and zone, NAT gateways, and its ECS cluster. A region
// without the stack has Status NOT_FOUND.
func (s *Service) Status(ctx context.Context, o *elevator.Orbit) ([]RegionStatus, error) {
	out := make([]RegionStatus, len(o.Regions))
	index := map[string]int{}
	for i, r := range o.Regions {
		index[r.Name] = i
	}
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		rs, err := regionStatus(ctx, o, r, c)
		out[index[r.Name]] = rs
		return err
	})
	return out, err
}

func regionStatus(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) (RegionStatus, error) {
	rs := RegionStatus{Region: r.Name, Stack: o.StackName(), Status: StatusNotFound, Subnets: []SubnetStatus{}, NATGateways: []string{}}
	st, err := c.Stacks.Describe(ctx, o.StackName())
	switch {
	case err == nil:
		rs.Status, rs.Reason = string(st.Status), st.Reason
	case !errors.Is(err, cloudformation.ErrStackNotFound):
		return rs, err
	}
	vpcs, err := c.Network.VPCs(ctx, elevator.TagOrbit, o.Name)
	if err != nil {
		return rs, err
	}
	for _, v := range vpcs {
		if v.Tags[elevator.TagManagedBy] != elevator.ManagedBy {
			continue
		}
		rs.VPC = &VPCStatus{ID: v.ID, CIDR: v.CIDR}
		subnets, err := c.Network.Subnets(ctx, v.ID)
		if err != nil {
			return rs, err
		}
		for _, sn := range subnets {
			rs.Subnets = append(rs.Subnets, SubnetStatus{Tier: sn.Tags[elevator.TagTier], AZ: sn.AZ, CIDR: sn.CIDR, ID: sn.ID})
		}
		nats, err := c.Network.NATGateways(ctx, v.ID)
		if err != nil {
			return rs, err
		}
		for _, n := range nats {
			rs.NATGateways = append(rs.NATGateways, n.ID)
		}
		break
	}
	rs.ECS, err = ecsStatus(ctx, o, r, c)
	return rs, err
}

// Outputs returns the outputs of the orbit's stack in every region, by
// region.
func (s *Service) Outputs(ctx context.Context, o *elevator.Orbit) (map[string]map[string]string, error) {
	var mu sync.Mutex
	out := map[string]map[string]string{}
	err := s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		outputs, err := s.engine(c).Outputs(ctx, o.StackName())
		if err != nil {
			return err
		}
		mu.Lock()
		out[r.Name] = outputs
		mu.Unlock()
		return nil
	})
	return out, err
}
