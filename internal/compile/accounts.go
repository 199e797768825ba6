package compile

import elevator "github.com/elevatorhq/elevator"

const idAccountsPolicy = "ManagedPolicyAccounts"

// accounts adds the managed policy a deployer that serves orbits in other
// accounts is given besides the deployer policy (orbit_policies:
// [deployer, accounts]): assume their roles. Which roles those are, the
// orbits' account sections say, which this stack does not know, so it
// allows any role of another account: the role's trust policy, in the
// account that owns it, is what decides (docs/accounts.md). It never
// allows a role of the orbit's own account, where the deployer acts with
// its own role: a trust policy that trusts the whole account (its root)
// would otherwise hand the deployer that role's rights.
//
// The policy is one statement without a description and the stack has no
// output of it, so that the home region's template of six zones with a
// bastion stays under CloudFormation's size limit
// (TestAHomeRegionOfSixZonesWithABastionFits): its name is fixed
// (elevator.OrbitPolicyName), as app stacks name it. Allow with
// NotResource allows sts:AssumeRole on every role but the account's own.
func (b *regionBuilder) accounts() {
	b.t.add(idAccountsPolicy, Resource{Type: "AWS::IAM::ManagedPolicy", Properties: Props{
		"ManagedPolicyName": elevator.OrbitPolicyName(b.o.Name, elevator.OrbitPolicyAccounts),
		"Path":              elevator.OrbitPath(b.o.Name),
		"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{
			Props{"Effect": "Allow", "Action": "sts:AssumeRole", "NotResource": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*")},
		}},
	}})
}
