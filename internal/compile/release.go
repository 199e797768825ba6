package compile

import elevator "github.com/elevatorhq/elevator"

// ServiceOutput is the key of one of a service's outputs in its app's
// stack, such as ServiceOutput("web", "TargetGroup") = "WebTargetGroup".
func ServiceOutput(service, what string) string { return camel(service) + what }

// ServiceTier is the orbit tier an app's instances run in, in region r:
// the orbit's private tier (the tier named private, else the first private
// one, else the first isolated one), and the key of the orbit output that
// holds its subnets. It returns false when r has no such tier.
func ServiceTier(o *elevator.Orbit, r *elevator.Region) (tier, output string, ok bool) {
	b := &appBuilder{o: o, r: r}
	tier, ok = b.tierFor(rolePrivate)
	if !ok {
		return "", "", false
	}
	return tier, camel(tier) + factSubnetSuffix, true
}
