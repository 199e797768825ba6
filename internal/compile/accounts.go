package compile

import (
	"slices"

	elevator "github.com/elevatorhq/elevator"
)

// accountsStatement is what a service given the orbit policy accounts
// (orbit_policies: [deployer, accounts]), a deployer serving orbits in
// other accounts, adds to its role's own inline policy: assume the roles
// those orbits' account sections name. Which roles those are this stack
// does not know, so it allows the roles under the path Elevator keeps for
// them (elevator.AccountsRolePath) in any account: the role's trust
// policy, in the account that owns it, is what decides (docs/accounts.md).
// A role of any other path, such as an orbit's own roles under
// /elevator/<orbit>/, stays out of reach.
//
// It is compiled into the app stack, not the orbit stack, whose home
// region's template is near CloudFormation's size limit
// (TestAHomeRegionOfSixZonesWithABastionFits).
func accountsStatement(s *elevator.Service) (Props, bool) {
	if !slices.Contains(s.OrbitPolicies, elevator.OrbitPolicyAccounts) {
		return nil, false
	}
	return Props{
		"Sid":      "OtherAccountsRoles",
		"Effect":   "Allow",
		"Action":   "sts:AssumeRole",
		"Resource": Sub("arn:${AWS::Partition}:iam::*:role" + elevator.AccountsRolePath + "*"),
	}, true
}
