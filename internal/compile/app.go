package compile

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// AppFacts are what the apply step looked up in AWS for one region of the
// orbit an app goes into.
type AppFacts struct {
	// Orbit holds the orbit stack's outputs in the region, by output key:
	// VpcId, VpcCidr, AvailabilityZones, <TierCamel>Subnets (comma-joined
	// subnet ids, such as PublicSubnets), PublicLoadBalancerSecurityGroup,
	// PrivateLoadBalancerSecurityGroup, BastionSecurityGroup (when the
	// region has a bastion), <SeverityCamel>Topic (CriticalTopic, ...),
	// StateBucket, and HostedZoneId and Domain when the orbit has a domain.
	Orbit map[string]string
	// ServiceSecurityGroups maps "app/service" to the security group of a
	// service of another app in the same orbit and region, for the firewall
	// rules that let another app's services in. Elevator tags those groups
	// with elevator.TagOrbit, elevator.TagApp and elevator.TagService, so
	// they can be looked up.
	ServiceSecurityGroups map[string]string
	// AccountID is the AWS account the stacks go into.
	AccountID string
	// KeptRepositories has the names of the app's own ECR repositories
	// (elevator.AppRepositoryName) that exist in the region but not in
	// the app's stack: kept by an earlier stack of the app when it was
	// deleted. The stack takes them as they are instead of making them.
	KeptRepositories map[string]bool
	// InStack has the logical IDs of the resources of the app's stack in
	// the region as it is now (none before the first `app up`): what
	// shows a service moving between instances and ECS.
	InStack map[string]bool
}

// Orbit outputs an app stack takes as parameters, by the output's key. An
// app stack never imports the orbit's exports: imports would freeze them,
// and some CloudFormation implementations (moto) cannot import into a stack
// made through change sets.
const (
	factVPC          = "VpcId"
	factVPCCIDR      = "VpcCidr"
	factPublicLBSG   = "PublicLoadBalancerSecurityGroup"
	factPrivateLBSG  = "PrivateLoadBalancerSecurityGroup"
	factBastionSG    = "BastionSecurityGroup"
	factStateBucket  = "StateBucket"
	factHostedZone   = "HostedZoneId"
	factTopicSuffix  = "Topic"   // <SeverityCamel>Topic
	factSubnetSuffix = "Subnets" // <TierCamel>Subnets
)

// Parameters of an app stack that are not named after the orbit output
// they take their value from: the subnets of a role, whatever the tier
// that plays it is called in the orbit.
const (
	paramPublicSubnets  = "PublicSubnets"  // public load balancers, public databases
	paramPrivateSubnets = "PrivateSubnets" // private load balancers
	paramDataSubnets    = "DataSubnets"    // Redis and databases
	paramPeerSG         = "PeerSecurityGroup"
)

// Subnet roles: which tier of the orbit an app's resource goes in.
const (
	rolePublic  = elevator.TierPublic
	rolePrivate = elevator.TierPrivate
	roleData    = elevator.TierData
)

// logRetentionDays is how long a service's logs are kept.
const logRetentionDays = 30

// AppStacks compiles app a into one stack per region of orbit o, in the
// order of o.Regions, each named a.StackName(o.Name). facts holds what was
// looked up in AWS, by region name. Compiling makes no AWS call.
//
// Every value that comes from the orbit is a template parameter whose value
// is in Stack.Parameters; no template imports an export. Environment values
// and secret values never appear: secrets are granted by reference.
//
// cpu alarms are not compiled here: they watch each release's Auto Scaling
// Group, so the release engine creates them with the group. When the app
// has a global database, the stack of o's first region creates the global
// cluster and must be applied before the others.
//
// It returns elevator.FieldErrors listing every problem found in any region
// (each reported once), such as a firewall rule naming another app's service
// that facts lack, or a bastion in a region without one; or an
// *elevator.Error with code EINTERNAL when facts lack a region or an orbit
// output the app needs, and code EINVALID when a template is over
// CloudFormation's limits.
func AppStacks(a *elevator.App, o *elevator.Orbit, facts map[string]AppFacts) ([]Stack, error) {
	var errs elevator.FieldErrors
	seen := map[string]bool{}
	stacks := make([]Stack, 0, len(o.Regions))
	var internal error
	for i := range o.Regions {
		r := &o.Regions[i]
		f, ok := facts[r.Name]
		if !ok {
			return nil, elevator.Errorf(elevator.EINTERNAL, "compile app %s in orbit %s: no facts were looked up for region %s", a.Name, o.Name, r.Name)
		}
		s, err := AppRegionStack(a, o, r, f)
		var fe elevator.FieldErrors
		switch {
		case err == nil:
			stacks = append(stacks, s)
		case errors.As(err, &fe):
			// Regions share the app, so most problems come up in each:
			// report each once.
			for _, e := range fe {
				if key := e.Error(); !seen[key] {
					seen[key] = true
					errs = append(errs, e)
				}
			}
		case internal == nil:
			internal = err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if internal != nil {
		return nil, internal
	}
	return stacks, nil
}

// AppRegionStack compiles app a in region r of orbit o, given the facts f
// looked up there. It returns the errors AppStacks describes.
func AppRegionStack(a *elevator.App, o *elevator.Orbit, r *elevator.Region, f AppFacts) (Stack, error) {
	b := newAppBuilder(a, o, r, f)
	b.build()
	if len(b.errs) > 0 {
		return Stack{}, b.errs
	}
	if len(b.missing) > 0 {
		return Stack{}, elevator.Errorf(elevator.EINTERNAL, "compile app %s in orbit %s, region %s: %s %s not looked up",
			a.Name, o.Name, r.Name, strings.Join(b.missing, ", "), plural(len(b.missing), "was", "were"))
	}
	tags := map[string]string{elevator.TagOrbit: o.Name, elevator.TagRegion: r.Name, elevator.TagApp: a.Name, elevator.TagManagedBy: elevator.ManagedBy}
	if err := checkTags(b.t, tags); err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: "compile app " + a.Name + " in orbit " + o.Name + ", region " + r.Name, Err: err}
	}
	body, err := b.t.Encode()
	if err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: "compile app " + a.Name + " in orbit " + o.Name + ", region " + r.Name, Err: err}
	}
	return Stack{
		Name:       a.StackName(o.Name),
		Region:     r.Name,
		Body:       body,
		Parameters: b.params,
		Tags:       tags,
		Template:   b.t,
	}, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// appBuilder builds one region's template of an app.
type appBuilder struct {
	a *elevator.App
	o *elevator.Orbit
	r *elevator.Region
	f AppFacts
	t *Template
	// params holds the value of every parameter in t.
	params map[string]string
	// svcID is each service's logical ID part, by service name.
	svcID map[string]string
	// owner is the manifest field that gave each logical ID, parameter and
	// output key, to report two fields that give the same one.
	owner map[string]string
	// dbSecret is what grants and outputs name the database's master
	// secret: its ARN (a Ref) where this stack creates it, else its name.
	dbSecret any
	errs     elevator.FieldErrors
	missing  []string // orbit outputs the app needs and the facts lack
}

func newAppBuilder(a *elevator.App, o *elevator.Orbit, r *elevator.Region, f AppFacts) *appBuilder {
	b := &appBuilder{
		a: a, o: o, r: r, f: f,
		t: &Template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description: fmt.Sprintf("Elevator app %s in orbit %s, %s: security groups, load balancers, DNS, instance profiles, logs, alarms and data stores. Managed by elevator; change the app manifest, not this stack.",
				a.Name, o.Name, r.Name),
			Parameters: map[string]Parameter{},
			Resources:  map[string]Resource{},
			Outputs:    map[string]Output{},
		},
		params: map[string]string{},
		svcID:  make(map[string]string, len(a.Services)),
		owner:  map[string]string{},
	}
	for _, s := range a.Services {
		b.svcID[s.Name] = camel(s.Name)
	}
	return b
}

func (b *appBuilder) build() {
	if b.f.AccountID == "" && len(b.a.Services) > 0 {
		b.missing = append(b.missing, "the account id") // instance profile ARNs
	}
	b.checkServiceNames()
	b.checkOrbitECS()
	b.databaseSecretRef()
	for i := range b.a.Services {
		b.service(&b.a.Services[i])
	}
	b.loadBalancers()
	for i := range b.a.Services {
		b.alarms(&b.a.Services[i])
	}
	b.redis()
	b.database()
	b.tables()
}

func (b *appBuilder) errorf(path string, value any, format string, args ...any) {
	b.errs = append(b.errs, b.a.Source.Errorf(path, value, format, args...))
}

// checkOrbitECS reports the app's ECS services the orbit has no cluster,
// or no EC2 capacity, for (manifest.CheckECSOrbit): what to add is in the
// orbit manifest; and the secrets ECS cannot give them (checkECSSecrets).
func (b *appBuilder) checkOrbitECS() {
	var fe elevator.FieldErrors
	if err := manifest.CheckECSOrbit(b.a, b.o); errors.As(err, &fe) {
		b.errs = append(b.errs, fe...)
	}
	b.errs = append(b.errs, checkECSSecrets(b.a)...)
	for i := range b.a.Services {
		b.checkRuntimeSwitch(&b.a.Services[i])
	}
}

// checkServiceNames reports services whose names give no logical ID, or
// the same one.
func (b *appBuilder) checkServiceNames() {
	byID := map[string]string{}
	for _, s := range b.a.Services {
		id := b.svcID[s.Name]
		switch other, dup := byID[id]; {
		case id == "":
			b.errorf(s.Path, s.Name, "a service name needs a letter or a digit")
		case dup:
			b.errorf(s.Path, s.Name, "gives the same resource names as service %s (%s); rename one of them", other, id)
		}
		byID[id] = s.Name
	}
}

// claim records that the manifest field at path gives the name key (a
// logical ID, parameter or output key), and reports false, with a field
// error, when another field already gave it.
func (b *appBuilder) claim(key, path string) bool {
	if other, dup := b.owner[key]; dup {
		if other != path {
			b.errorf(path, nil, "gives the name %s, which %s already gives; rename one of them", strings.TrimPrefix(key, outputPrefix), describePath(other))
		}
		return false
	}
	b.owner[key] = path
	return true
}

// outputPrefix keeps output keys apart from logical IDs in appBuilder.owner.
const outputPrefix = "output:"

func describePath(path string) string {
	if path == "" {
		return "the app"
	}
	return path
}

// add puts a resource in the template, unless its logical ID is taken.
func (b *appBuilder) add(id, path string, r Resource) {
	if b.claim(id, path) {
		b.t.add(id, r)
	}
}

// output declares an output. Outputs are not exported: app stacks are read
// by Elevator, never imported by other stacks.
func (b *appBuilder) output(key, path, description string, value any) {
	if b.claim(outputPrefix+key, path) {
		b.t.Outputs[key] = Output{Description: description, Value: value}
	}
}

// param declares a parameter taking the orbit output fact, and returns a
// Ref to it. A fact the facts lack is recorded as missing.
func (b *appBuilder) param(name, typ, description, fact string) any {
	if _, ok := b.t.Parameters[name]; !ok {
		b.t.Parameters[name] = Parameter{Type: typ, Description: description}
		v := b.f.Orbit[fact]
		if v == "" {
			b.missing = append(b.missing, "the orbit's output "+fact)
		}
		b.params[name] = v
	}
	return Ref(name)
}

func (b *appBuilder) vpc() any {
	return b.param(factVPC, "AWS::EC2::VPC::Id", "The orbit's VPC", factVPC)
}

// subnets returns a Ref to the parameter holding the subnets of role
// (rolePublic, rolePrivate, roleData), and false, with a field error at
// path, when the orbit has no tier for it in this region.
func (b *appBuilder) subnets(role, path, what string) (any, bool) {
	tier, ok := b.tierFor(role)
	if !ok {
		b.errorf(path, nil, "%s needs a %s tier and orbit %s has none in %s", what, role, b.o.Name, b.r.Name)
		return nil, false
	}
	name := map[string]string{rolePublic: paramPublicSubnets, rolePrivate: paramPrivateSubnets, roleData: paramDataSubnets}[role]
	return b.param(name, "List<AWS::EC2::Subnet::Id>", "Subnets of the orbit's tier "+tier+", in zone order", camel(tier)+factSubnetSuffix), true
}

// tierFor chooses the orbit tier that plays role in this region: the tier
// named after the role, else the first tier of the access it needs. Data
// stores go in an isolated tier, else in the private one.
func (b *appBuilder) tierFor(role string) (string, bool) {
	access := func(t elevator.Tier) elevator.TierAccess {
		if t.Access == "" {
			return elevator.AccessPrivate
		}
		return t.Access
	}
	byName := func(name string, allowed ...elevator.TierAccess) (string, bool) {
		for _, t := range b.r.Tiers {
			if t.Name == name {
				for _, a := range allowed {
					if access(t) == a {
						return t.Name, true
					}
				}
			}
		}
		return "", false
	}
	byAccess := func(a elevator.TierAccess) (string, bool) {
		for _, t := range b.r.Tiers {
			if access(t) == a {
				return t.Name, true
			}
		}
		return "", false
	}
	inner := []elevator.TierAccess{elevator.AccessPrivate, elevator.AccessIsolated}
	switch role {
	case rolePublic:
		if name, ok := byName(rolePublic, elevator.AccessPublic); ok {
			return name, true
		}
		return byAccess(elevator.AccessPublic)
	case rolePrivate:
		if name, ok := byName(rolePrivate, inner...); ok {
			return name, true
		}
		if name, ok := byAccess(elevator.AccessPrivate); ok {
			return name, true
		}
		return byAccess(elevator.AccessIsolated)
	default:
		if name, ok := byName(roleData, inner...); ok {
			return name, true
		}
		if name, ok := byAccess(elevator.AccessIsolated); ok {
			return name, true
		}
		return b.tierFor(rolePrivate)
	}
}

// tags returns the elevator tags of a resource of the app, of service svc
// when svc is not "", with a Name tag when name is not "", sorted by key.
func (b *appBuilder) tags(name, svc string) []Tag {
	tags := make([]Tag, 0, 6)
	if name != "" {
		tags = append(tags, Tag{"Name", name})
	}
	tags = append(tags,
		Tag{elevator.TagApp, b.a.Name},
		Tag{elevator.TagManagedBy, elevator.ManagedBy},
		Tag{elevator.TagOrbit, b.o.Name},
		Tag{elevator.TagRegion, b.r.Name},
	)
	if svc != "" {
		tags = append(tags, Tag{elevator.TagService, svc})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}

// resourceName is the Name tag of an app's resource: <orbit>-<app>[-part].
func (b *appBuilder) resourceName(part string) string {
	if part == "" {
		return b.o.Name + "-" + b.a.Name
	}
	return b.o.Name + "-" + b.a.Name + "-" + part
}

// dnsName is a service's name in the orbit's domain, or "" when the orbit
// has none.
func (b *appBuilder) dnsName(svc string) string {
	if b.o.Domain == "" {
		return ""
	}
	return svc + "." + b.a.Name + "." + b.o.Name + "." + strings.TrimSuffix(b.o.Domain, ".")
}

// partition is the AWS partition of a region, so that outputs can spell
// ARNs out of literals and Refs.
func partition(region string) string { return elevator.RegionPartition(region) }
