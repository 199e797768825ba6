// Package compile turns an orbit, and the facts looked up in AWS about its
// regions, into one CloudFormation template per region (OrbitStacks); and
// an app, with the orbit's outputs in each region, into one template per
// region of the orbit (AppStacks); and an app, with the stacks' outputs and
// the images found in each region, into the release document the release
// engine runs (ReleaseDocument). Compiling is a pure function: it makes
// no AWS call and needs no credentials, so `plan` and the tests run it
// freely. The apply step sends what it returns through change sets.
//
// Every problem found in the manifest is an elevator.FieldError positioned at
// the field's file:line:column; all problems of an orbit are reported at once.
package compile

import (
	"errors"
	"net/netip"

	elevator "github.com/elevatorhq/elevator"
)

// RegionFacts are what the apply step looked up in AWS for one region.
type RegionFacts struct {
	// AZs are the availability zones the region reports, in order.
	AZs []string
	// OtherVPCs are the blocks of the VPCs already in the account and region
	// that are not this orbit's; an allocated VPC block avoids them.
	OtherVPCs []netip.Prefix
	// CurrentCIDR is this orbit's VPC block when its stack exists, so that
	// the block never moves once allocated.
	CurrentCIDR netip.Prefix
	// CurrentAZs are this orbit's zones when its stack exists, in order (the
	// stack's AvailabilityZones output), so that a zone AWS adds later never
	// moves the subnets; see NetworkLayout. Nil means every reported zone.
	CurrentAZs []string
	// BastionAMI is the resolved image id when the region has a bastion.
	BastionAMI string
	// HostedZoneID is the orbit domain's Route53 zone, when it has a domain.
	HostedZoneID string
	// Agent are the Elevator agent's builds by Go architecture, which the
	// bastion's user data names, when the region has a bastion.
	Agent map[string]elevator.AgentBuild
}

// Stack is one region's compiled orbit: what the apply step creates or
// updates through a change set.
type Stack struct {
	Name   string // the stack name, the same in every region
	Region string
	// Body is the template to send, as compact JSON (see Template.Encode).
	Body []byte
	// Parameters holds every template parameter with its value: they are
	// always passed explicitly, never left to defaults or previous values.
	Parameters map[string]string
	// Tags are the stack's tags; CloudFormation copies them to the resources
	// that take tags.
	Tags     map[string]string
	Layout   Layout
	Template *Template // the body before encoding
}

// OrbitStacks compiles orbit o into one stack per region, in the order of
// o.Regions. facts holds what was looked up in AWS, by region name.
//
// It returns elevator.FieldErrors listing every problem of every region
// (see NetworkLayout and RegionStack), or an *elevator.Error with code
// EINTERNAL when facts lack a region or a fact the orbit needs.
func OrbitStacks(o *elevator.Orbit, facts map[string]RegionFacts) ([]Stack, error) {
	var errs elevator.FieldErrors
	seen := map[string]bool{}
	stacks := make([]Stack, 0, len(o.Regions))
	for i := range o.Regions {
		r := &o.Regions[i]
		f, ok := facts[r.Name]
		if !ok {
			return nil, elevator.Errorf(elevator.EINTERNAL, "compile orbit %s: no facts were looked up for region %s", o.Name, r.Name)
		}
		s, err := RegionStack(o, r, f)
		var fe elevator.FieldErrors
		switch {
		case err == nil:
			stacks = append(stacks, s)
		case errors.As(err, &fe):
			// Regions share most fields (the tiers, the orbit name), so the
			// same problem can come up in each: report it once.
			for _, e := range fe {
				if key := e.Error(); !seen[key] {
					seen[key] = true
					errs = append(errs, e)
				}
			}
		default:
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return stacks, nil
}

// RegionStack compiles orbit o in region r, given the facts f looked up
// there.
//
// It returns elevator.FieldErrors when the network cannot be laid out (see
// NetworkLayout), NAT is asked for without a public tier, the bastion has no
// tier to run in or no instance type, two tier names give the same logical
// IDs, or a resource name would be too long. It returns an *elevator.Error
// with code EINTERNAL when f lacks the bastion's image or agent builds or
// the domain's hosted zone, and code EINVALID when the template is over CloudFormation's limits
// (MaxBodyBytes, MaxResources).
func RegionStack(o *elevator.Orbit, r *elevator.Region, f RegionFacts) (Stack, error) {
	l, err := NetworkLayout(o, r, f)
	var errs elevator.FieldErrors
	if err != nil {
		if !errors.As(err, &errs) {
			return Stack{}, err
		}
	}
	b := newRegionBuilder(o, r, f, l)
	errs = append(errs, b.check()...)
	if len(errs) > 0 {
		return Stack{}, errs
	}
	if err := b.checkFacts(); err != nil {
		return Stack{}, err
	}
	b.build()
	if err := checkTags(b.t, stackTags(o, r)); err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: "compile orbit " + o.Name + " in " + r.Name, Err: err}
	}
	body, err := b.t.Encode()
	if err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: "compile orbit " + o.Name + " in " + r.Name, Err: err}
	}
	return Stack{
		Name:       o.StackName(),
		Region:     r.Name,
		Body:       body,
		Parameters: b.params,
		Tags:       stackTags(o, r),
		Layout:     l,
		Template:   b.t,
	}, nil
}

func stackTags(o *elevator.Orbit, r *elevator.Region) map[string]string {
	return map[string]string{elevator.TagOrbit: o.Name, elevator.TagRegion: r.Name, elevator.TagManagedBy: elevator.ManagedBy}
}
