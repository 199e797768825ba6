package compile

import (
	"fmt"

	elevator "github.com/elevatorhq/elevator"
)

// What an orbit gives `elevator image bake`: in every region, the
// security group its builders run in; in the home region, where the
// orbit's IAM resources live (IAM is global), the role and instance
// profile they run with.
const (
	idBakeSG      = "SecurityGroupBake"
	idBakeRole    = "RoleBake"
	idBakeProfile = "InstanceProfileBake"
)

// bakeSecurityGroup adds the security group of the orbit's image builders,
// named elevator.BakeSecurityGroupName, by which a bake finds it (the
// stack has no output of it: every byte of the home region's template
// counts against CloudFormation's limit). Nothing may reach a builder (it is
// driven through its user data and its bundle, and Session Manager needs
// no way in); it may reach anything, as the orbit's other groups: its
// scripts fetch from package mirrors, language registries and git hosts
// on ports of their own, and what the builder could reach beyond them is
// bounded by its role, which can only read its bundle and the agent and
// write its result.
func (b *regionBuilder) bakeSecurityGroup() {
	o := b.o
	b.securityGroup(idBakeSG, elevator.BakeSecurityGroupName(o.Name), fmt.Sprintf("Image builders of orbit %s: no way in, any way out", o.Name), nil)
	b.t.Resources[idBakeSG].Properties["GroupName"] = elevator.BakeSecurityGroupName(o.Name)
}

// bakeIdentity adds, in the home region, the role and instance profile of
// the orbit's image builders, both named elevator.BakeInstanceProfileName
// on elevator.BakeIAMPath. A builder's agent may read the agent's builds
// and bakes' bundles, and write bakes' results, in the state bucket of
// each of the orbit's regions (a builder runs in the region it bakes in,
// with the one profile), and be reached through Session Manager; nothing
// else. The buckets are named one by one: a wildcard for the region
// would also match the buckets of an orbit whose name ends in this one's.
func (b *regionBuilder) bakeIdentity() {
	o := b.o
	name := elevator.BakeInstanceProfileName(o.Name)
	objects := func(key string) []any {
		var arns []any
		for _, r := range o.Regions {
			arns = append(arns, Sub("arn:${AWS::Partition}:s3:::"+elevator.StateBucketName("${AWS::AccountId}", r.Name, o.Name)+"/"+key))
		}
		return arns
	}
	b.t.add(idBakeRole, Resource{Type: "AWS::IAM::Role", Properties: Props{
		"RoleName":                 name,
		"Path":                     elevator.BakeIAMPath(o.Name),
		"Description":              "Elevator: image builders of orbit " + o.Name,
		"AssumeRolePolicyDocument": ec2AssumeRole(),
		"Policies": []any{Props{
			"PolicyName": "elevator-bake",
			"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{
				Props{"Sid": "AgentBuilds", "Effect": "Allow", "Action": "s3:GetObject",
					"Resource": objects(elevator.AgentObjectPrefix + "*")},
				Props{"Sid": "BakeBundles", "Effect": "Allow", "Action": "s3:GetObject",
					"Resource": objects(elevator.BakeBundleKey("*"))},
				Props{"Sid": "BakeResults", "Effect": "Allow", "Action": "s3:PutObject",
					"Resource": objects(elevator.BakeResultKey("*"))},
				Props{"Sid": "SessionManager", "Effect": "Allow", "Action": SessionManagerActions, "Resource": "*"},
			}},
		}},
		"Tags": b.tags(name),
	}})
	b.t.add(idBakeProfile, Resource{Type: "AWS::IAM::InstanceProfile", Properties: Props{
		"InstanceProfileName": name,
		"Path":                elevator.BakeIAMPath(o.Name),
		"Roles":               []any{Ref(idBakeRole)},
	}})
}
