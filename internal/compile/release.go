package compile

import elevator "github.com/elevatorhq/elevator"

// ServiceOutput is the key of one of a service's outputs in its app's
// stack, such as ServiceOutput("web", "TargetGroup") = "WebTargetGroup".
func ServiceOutput(service, what string) string { return camel(service) + what }

// ServiceSubnetsOutput is the key of the orbit output holding the subnets
// an app's instances run in, in region r: those of the orbit's private
// tier (the tier named private, else the first private one, else the first
// isolated one). It returns false when r has no such tier.
func ServiceSubnetsOutput(o *elevator.Orbit, r *elevator.Region) (string, bool) {
	b := &appBuilder{o: o, r: r}
	tier, ok := b.tierFor(rolePrivate)
	if !ok {
		return "", false
	}
	return camel(tier) + factSubnetSuffix, true
}
