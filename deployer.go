package elevator

import (
	"fmt"
	"net/url"
)

// This file holds what the CLI and an orbit's deployer agree on: where the
// CLI finds the deployer, and the id a deployer's callers sign into every
// request (see internal/api).

// DeployerEnv names the environment variable that gives the URL of the
// deployer to go through, as the --deployer flag does.
const DeployerEnv = "ELEVATOR_DEPLOYER"

// DeployerServerID is the id the deployers of an orbit answer to:
// <orbit>-deployer. Callers sign it into every request (the
// X-Elevator-Server-Id header), so a request signed for one orbit's
// deployer cannot be replayed against another's; the replicas of one
// orbit's deployer share it.
func DeployerServerID(orbit string) string { return orbit + "-deployer" }

// CheckDeployerURL returns an EINVALID error unless s is the URL of a
// deployer: http or https, a host, no user, query or fragment.
func CheckDeployerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Errorf(EINVALID, "deployer %q: want the URL of the deployer, such as https://deployer.prod.internal", s)
	}
	return nil
}

// Deployer is where release commands go for an orbit: to the deployer at
// flag, else at env (the value of DeployerEnv), else at the orbit
// manifest's deployer URL; "" means they run in the elevator process. It
// returns an EINVALID error for a URL CheckDeployerURL refuses, naming
// where it came from.
func Deployer(flag, env string, o *Orbit) (string, error) {
	for _, c := range []struct{ from, url string }{{"--deployer", flag}, {"$" + DeployerEnv, env}} {
		if c.url == "" {
			continue
		}
		if err := CheckDeployerURL(c.url); err != nil {
			return "", fmt.Errorf("%s: %w", c.from, err)
		}
		return c.url, nil
	}
	if o != nil {
		return o.Deployer, nil // checked when the manifest was read
	}
	return "", nil
}

// OrbitPolicy names a managed policy an orbit's stack makes (in its first
// region) that a service's role may be given (Service.OrbitPolicies).
type OrbitPolicy string

// The orbit's managed policies.
const (
	// OrbitPolicyDeployer is what the orbit's deployer service needs:
	// take submissions from its queue and drive releases.
	OrbitPolicyDeployer OrbitPolicy = "deployer"
	// OrbitPolicySubmitter is what submits releases (CI): put
	// submissions, read records and the audit log.
	OrbitPolicySubmitter OrbitPolicy = "submitter"
	// OrbitPolicyAccounts is what a deployer that serves orbits in other
	// accounts needs besides: assume the roles their account sections
	// name, which must be under AccountsRolePath (the role's trust policy
	// decides who may, see docs/accounts.md). It is no managed policy of
	// the orbit stack but a statement the app stack adds to the service's
	// role.
	OrbitPolicyAccounts OrbitPolicy = "accounts"
)

// AccountsRolePath is the IAM path of the roles a deployer given the
// orbit policy accounts may assume: the roles that orbits in other
// accounts name in their account sections for deployers to use.
const AccountsRolePath = "/elevator-accounts/"

// OrbitPolicies lists the orbit policies a service may be given: the
// orbit stack's managed policies, and accounts.
var OrbitPolicies = []OrbitPolicy{OrbitPolicyDeployer, OrbitPolicySubmitter, OrbitPolicyAccounts}

// IsManaged reports whether the orbit stack has p as a managed policy.
func (p OrbitPolicy) IsManaged() bool { return p != OrbitPolicyAccounts }

// OrbitPolicyName is the name of an orbit's managed policy:
// elevator-<orbit>-<policy>, under the path OrbitPath(orbit). The name is
// fixed, so that app stacks in any region name the policy by its ARN
// without reading the first region's outputs.
func OrbitPolicyName(orbit string, p OrbitPolicy) string {
	return "elevator-" + orbit + "-" + string(p)
}
