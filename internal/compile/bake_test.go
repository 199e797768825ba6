package compile

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// bakeStacks compiles the multi-region golden orbit (staging, in
// us-east-1, eu-west-1 and ap-southeast-2).
func bakeStacks(t *testing.T) (*elevator.Orbit, []Stack) {
	t.Helper()
	for _, c := range goldenCases(t) {
		if c.name == "multi-region" {
			return c.orbit, c.stacks
		}
	}
	t.Fatal("no multi-region golden case")
	return nil, nil
}

func TestEveryRegionHasABakeSecurityGroupWithNoWayIn(t *testing.T) {
	o, stacks := bakeStacks(t)
	for _, s := range stacks {
		sg, ok := s.Template.Resources[idBakeSG]
		if !ok {
			t.Errorf("%s: no %s", s.Region, idBakeSG)
			continue
		}
		p := sg.Properties
		if p["GroupName"] != elevator.BakeSecurityGroupName(o.Name) {
			t.Errorf("%s: GroupName = %v, want %s", s.Region, p["GroupName"], elevator.BakeSecurityGroupName(o.Name))
		}
		if fmt.Sprint(p["VpcId"]) != fmt.Sprint(Ref(idVPC)) {
			t.Errorf("%s: VpcId = %v, want the orbit's VPC", s.Region, p["VpcId"])
		}
		if in, ok := p["SecurityGroupIngress"]; ok {
			t.Errorf("%s: the bake group lets in %v", s.Region, in)
		}
		if fmt.Sprint(p["SecurityGroupEgress"]) != fmt.Sprint([]any{Props{"IpProtocol": "-1", "CidrIp": anywhere, "Description": "All traffic out"}}) {
			t.Errorf("%s: egress = %v, want all traffic out", s.Region, p["SecurityGroupEgress"])
		}
		if !hasTag(p["Tags"], elevator.TagOrbit, o.Name) {
			t.Errorf("%s: tags %v lack %s=%s", s.Region, p["Tags"], elevator.TagOrbit, o.Name)
		}
	}
}

func hasTag(tags any, key, value string) bool {
	list, _ := tags.([]Tag)
	for _, tag := range list {
		if tag.Key == key && tag.Value == value {
			return true
		}
	}
	return false
}

func TestTheBakeProfileLivesInTheHomeRegionOnly(t *testing.T) {
	o, stacks := bakeStacks(t)
	for i, s := range stacks {
		_, role := s.Template.Resources[idBakeRole]
		_, profile := s.Template.Resources[idBakeProfile]
		if home := i == 0; role != home || profile != home {
			t.Errorf("%s (home %v): bake role %v, profile %v", s.Region, home, role, profile)
		}
	}
	home := stacks[0].Template.Resources
	name, path := elevator.BakeInstanceProfileName(o.Name), elevator.BakeIAMPath(o.Name)
	if p := home[idBakeProfile].Properties; p["InstanceProfileName"] != name || p["Path"] != path ||
		fmt.Sprint(p["Roles"]) != fmt.Sprint([]any{Ref(idBakeRole)}) {
		t.Errorf("profile = %v, want %s on %s with the bake role", p, name, path)
	}
	if p := home[idBakeRole].Properties; p["RoleName"] != name || p["Path"] != path {
		t.Errorf("role is %v on %v, want %s on %s", p["RoleName"], p["Path"], name, path)
	}
	if got := fmt.Sprint(home[idBakeRole].Properties["AssumeRolePolicyDocument"]); !strings.Contains(got, "ec2.amazonaws.com") {
		t.Errorf("the bake role is assumed by %s, want EC2", got)
	}
}

// TestTheBakeRoleMayDoExactlyWhatABuilderNeeds evaluates the bake role's
// policy, its pseudo parameters resolved, against requests a builder
// makes and requests it must not be able to make.
func TestTheBakeRoleMayDoExactlyWhatABuilderNeeds(t *testing.T) {
	o, stacks := bakeStacks(t)
	const account = "123456789012"
	sub := strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::AccountId}", account)
	type grant struct{ action, resource string }
	var grants []grant
	policies := stacks[0].Template.Resources[idBakeRole].Properties["Policies"].([]any)
	if len(policies) != 1 {
		t.Fatalf("%d inline policies, want 1", len(policies))
	}
	for _, st := range policies[0].(Props)["PolicyDocument"].(Props)["Statement"].([]any) {
		st := st.(Props)
		if st["Effect"] != "Allow" || st["Condition"] != nil || st["NotAction"] != nil || st["NotResource"] != nil {
			t.Fatalf("statement %v: want plain Allow statements", st)
		}
		var actions, resources []any
		switch a := st["Action"].(type) {
		case string:
			actions = []any{a}
		case []any:
			actions = a
		}
		switch r := st["Resource"].(type) {
		case string:
			resources = []any{r}
		case []any:
			resources = r
		}
		for _, a := range actions {
			for _, r := range resources {
				if p, ok := r.(Props); ok {
					r = sub.Replace(p["Fn::Sub"].(string))
				}
				grants = append(grants, grant{a.(string), r.(string)})
			}
		}
	}
	allowed := func(action, resource string) bool {
		for _, g := range grants {
			pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(g.resource), `\*`, ".*") + "$"
			if g.action == action && regexp.MustCompile(pattern).MatchString(resource) {
				return true
			}
		}
		return false
	}
	object := func(region, key string) string {
		return "arn:aws:s3:::" + elevator.StateBucketName(account, region, o.Name) + "/" + key
	}
	agent := elevator.AgentObjectKey(strings.Repeat("ab", 32), "amd64")
	tests := []struct {
		name, action, resource string
		want                   bool
	}{
		{"read an agent build in the home region", "s3:GetObject", object("us-east-1", agent), true},
		{"read an agent build in another region of the orbit", "s3:GetObject", object("ap-southeast-2", agent), true},
		{"read a bake's bundle", "s3:GetObject", object("eu-west-1", elevator.BakeBundleKey("b-20261130-1")), true},
		{"write a bake's result", "s3:PutObject", object("eu-west-1", elevator.BakeResultKey("b-20261130-1")), true},
		{"open a Session Manager channel", "ssmmessages:OpenDataChannel", "*", true},
		{"register with Systems Manager", "ssm:UpdateInstanceInformation", "*", true},
		{"write a bake's bundle", "s3:PutObject", object("us-east-1", elevator.BakeBundleKey("b-1")), false},
		{"read a bake's result", "s3:GetObject", object("us-east-1", elevator.BakeResultKey("b-1")), false},
		{"write a bake's record", "s3:PutObject", object("us-east-1", elevator.BakeRecordKey("b-1")), false},
		{"read a bake's record", "s3:GetObject", object("us-east-1", elevator.BakeRecordKey("b-1")), false},
		{"write an agent build", "s3:PutObject", object("us-east-1", agent), false},
		{"read a release record", "s3:GetObject", object("us-east-1", elevator.ReleasesPrefix+"shop/r-1.json"), false},
		{"read the orbit's settings", "s3:GetObject", object("us-east-1", elevator.OrbitSettingsKey), false},
		{"read a region the orbit is not in", "s3:GetObject", object("us-west-2", agent), false},
		{"read the bucket of an orbit whose name ends in this one's", "s3:GetObject",
			"arn:aws:s3:::" + elevator.StateBucketName(account, "us-east-1", "x-"+o.Name) + "/" + agent, false},
		{"read the bucket of an orbit named after a region and this one", "s3:GetObject",
			"arn:aws:s3:::" + elevator.StateBucketName(account, "us-east-1-eu-west-1", o.Name) + "/" + agent, false},
		{"list the bucket", "s3:ListBucket", "arn:aws:s3:::" + elevator.StateBucketName(account, "us-east-1", o.Name), false},
		{"read a parameter", "ssm:GetParameter", "*", false},
		{"run instances", "ec2:RunInstances", "*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allowed(tt.action, tt.resource); got != tt.want {
				t.Errorf("%s on %s allowed = %v, want %v", tt.action, tt.resource, got, tt.want)
			}
		})
	}
}

// TestAHomeRegionOfSixZonesWithABastionFits compiles the home region of
// an orbit as `orbit up` meets it in us-east-1 (six zones, a NAT gateway
// in each, a bastion, the default tiers) and shows its template, bake
// role and all, fits CloudFormation's limit; go test -v prints how close
// it is. The orbit's name is 12 characters, the longest such a template
// fits with (each character more adds about 200 bytes: 13 characters
// measured 51,274 bytes, 20 characters 52,668, of 51,200); orbit names
// may have 20, so a longer name needs fewer zones or tiers.
func TestAHomeRegionOfSixZonesWithABastionFits(t *testing.T) {
	o, err := loadOrbit("orbit.yml", []byte(`name: e2e-abcdefgh
regions:
  us-east-1: {cidr: 10.31.0.0/16}
  us-west-2: {}
bastion:
  allowed_cidrs: [203.0.113.0/24]
`))
	if err != nil {
		t.Fatal(err)
	}
	facts := factsFor("six-zones", o)
	f := facts["us-east-1"]
	f.AZs = zones("us-east-1", 6)
	facts["us-east-1"] = f
	stacks, err := OrbitStacks(o, facts)
	if err != nil {
		t.Fatal(err)
	}
	home := stacks[0]
	if _, ok := home.Template.Resources[idBakeRole]; !ok {
		t.Fatal("the home region has no bake role: the size proves nothing")
	}
	t.Logf("home region template: %d bytes of %d", len(home.Body), MaxBodyBytes)
}
