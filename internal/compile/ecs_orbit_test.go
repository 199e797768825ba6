package compile

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// ecsGoldenPrefix starts the name of every ECS golden case, and so of its
// golden files: TestGolden leaves those files to TestECSGolden.
const ecsGoldenPrefix = "orbit-ecs-"

// ecsCase is one testdata/ecs/<name>.orbit.yml, compiled into the ECS
// stack of every region. Its golden templates are
// testdata/<name>.<region>.golden.yml, next to the orbit stacks' so that
// TestGoldenTemplatesPassCfnLint lints them too.
type ecsCase struct {
	name   string
	orbit  *elevator.Orbit
	facts  map[string]ECSFacts
	stacks []Stack
}

// ecsFacts are what the apply step would read from the orbit stack and
// resolve of the image.
func ecsFacts(region string) ECSFacts {
	return ECSFacts{
		VPC:     "vpc-0123456789abcdef0",
		Subnets: "subnet-0a" + region[:2] + "00000000000a,subnet-0b" + region[:2] + "00000000000b,subnet-0c" + region[:2] + "00000000000c",
		AMI:     "ami-0123456789abcdef0",
	}
}

func ecsCases(t *testing.T) []ecsCase {
	t.Helper()
	var cases []ecsCase
	for _, oc := range orbitCases(t, "ecs") {
		file, o := oc.file, oc.orbit
		c := ecsCase{name: oc.name, orbit: o, facts: map[string]ECSFacts{}}
		if !strings.HasPrefix(c.name, ecsGoldenPrefix) {
			t.Fatalf("%s: an ECS case's name must start with %q", file, ecsGoldenPrefix)
		}
		if o.ECS == nil {
			t.Fatalf("%s has no ecs section", file)
		}
		for i := range o.Regions {
			r := &o.Regions[i]
			c.facts[r.Name] = ecsFacts(r.Name)
			s, err := ECSStack(o, r, c.facts[r.Name])
			if err != nil {
				t.Fatalf("compile %s in %s: %v", file, r.Name, err)
			}
			c.stacks = append(c.stacks, s)
		}
		cases = append(cases, c)
	}
	return cases
}

func TestECSGolden(t *testing.T) {
	want := map[string]bool{}
	for _, c := range ecsCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.stacks {
				path := goldenPath(c.name, s.Region)
				want[path] = true
				checkGolden(t, path, s)
				checkBody(t, s)
				checkParameters(t, s)
				t.Logf("%s in %s: %d resources, %d bytes of the %d CloudFormation takes inline", s.Name, s.Region, len(s.Template.Resources), len(s.Body), MaxBodyBytes)
			}
		})
	}
	// A golden file no case writes any more (a region or a case dropped)
	// is stale.
	checkStale(t, ecsGoldenPrefix, want, "ECS golden case")
}

// TestECSStacksTakeTheirValuesAsParameters checks what the golden
// templates do not show: the stack around each body, and that what comes
// from the orbit stack or a look-up comes in as a parameter, never as an
// import or a literal.
func TestECSStacksTakeTheirValuesAsParameters(t *testing.T) {
	for _, c := range ecsCases(t) {
		t.Run(c.name, func(t *testing.T) {
			o := c.orbit
			for _, s := range c.stacks {
				if s.Name != "elevator-orbit-"+o.Name+"-ecs" || s.Name != o.ECSStackName() {
					t.Errorf("stack %s in %s", s.Name, s.Region)
				}
				wantTags := map[string]string{elevator.TagOrbit: o.Name, elevator.TagRegion: s.Region, elevator.TagManagedBy: elevator.ManagedBy}
				if !reflect.DeepEqual(s.Tags, wantTags) {
					t.Errorf("tags %v, want %v", s.Tags, wantTags)
				}
				f := c.facts[s.Region]
				body := string(s.Body)
				for _, banned := range []string{"Fn::ImportValue", "Export", f.VPC, f.AMI, "subnet-"} {
					if strings.Contains(body, banned) {
						t.Errorf("%s: the template holds %q; it must come in as a parameter", s.Region, banned)
					}
				}
				if o.ECS.EC2 == nil {
					if len(s.Parameters) != 0 {
						t.Errorf("%s: parameters %v; a Fargate-only cluster needs none", s.Region, s.Parameters)
					}
					continue
				}
				want := map[string]string{paramECSVPC: f.VPC, paramECSSubnets: f.Subnets, paramECSAMI: f.AMI}
				if !reflect.DeepEqual(s.Parameters, want) {
					t.Errorf("%s: parameters %v, want %v", s.Region, s.Parameters, want)
				}
			}
		})
	}
}

func TestECSResourcesWithAndWithoutEC2(t *testing.T) {
	fargate := []string{idECSCluster, idECSProviders}
	ec2 := append(slices.Clone(fargate), idECSInstanceRole, idECSInstanceProfile, idECSInstanceSG, idECSLaunchTemplate, idECSGroup, idECSCapacityProvider)
	tests := []struct {
		name      string
		ecs       *elevator.OrbitECS
		resources []string
		providers []any
		outputs   []string
	}{
		{"fargate only", &elevator.OrbitECS{}, fargate,
			[]any{"FARGATE", "FARGATE_SPOT"}, []string{ECSClusterOutput, ECSClusterARNOutput}},
		{"with EC2 capacity", &elevator.OrbitECS{EC2: &elevator.ECSCapacity{InstanceType: "c7i.xlarge", Min: 1, Max: 4}}, ec2,
			[]any{"FARGATE", "FARGATE_SPOT", Ref(idECSCapacityProvider)}, []string{ECSClusterOutput, ECSClusterARNOutput, ECSCapacityProviderOutput, ECSGroupOutput}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testECSOrbit(tt.ecs)
			s, err := ECSStack(o, &o.Regions[0], ecsFacts("us-east-1"))
			if err != nil {
				t.Fatal(err)
			}
			var ids, outputs []string
			for id := range s.Template.Resources {
				ids = append(ids, id)
			}
			for key := range s.Template.Outputs {
				outputs = append(outputs, key)
			}
			if !sameSet(ids, tt.resources) {
				t.Errorf("resources %v, want %v", ids, tt.resources)
			}
			if !sameSet(outputs, tt.outputs) {
				t.Errorf("outputs %v, want %v", outputs, tt.outputs)
			}
			res := s.Template.Resources
			cluster := res[idECSCluster].Properties
			if cluster["ClusterName"] != "elevator-shop" || !reflect.DeepEqual(cluster["ClusterSettings"], []any{Props{"Name": "containerInsights", "Value": "enabled"}}) {
				t.Errorf("cluster %v", cluster)
			}
			assoc := res[idECSProviders].Properties
			if !reflect.DeepEqual(assoc["CapacityProviders"], tt.providers) {
				t.Errorf("capacity providers %v, want %v", assoc["CapacityProviders"], tt.providers)
			}
			if !reflect.DeepEqual(assoc["DefaultCapacityProviderStrategy"], []any{Props{"CapacityProvider": "FARGATE", "Weight": 1}}) {
				t.Errorf("default strategy %v, want FARGATE", assoc["DefaultCapacityProviderStrategy"])
			}
		})
	}
}

func TestECSCapacityOfEC2(t *testing.T) {
	o := testECSOrbit(&elevator.OrbitECS{EC2: &elevator.ECSCapacity{InstanceType: "c7i.xlarge", Min: 2, Max: 6}})
	s, err := ECSStack(o, &o.Regions[0], ecsFacts("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	res := s.Template.Resources
	group := res[idECSGroup].Properties
	if group["MinSize"] != "2" || group["MaxSize"] != "6" || group["NewInstancesProtectedFromScaleIn"] != true {
		t.Errorf("group %v: want 2 to 6, protected from scale-in", group)
	}
	if _, ok := group["DesiredCapacity"]; ok {
		t.Error("the group has a desired capacity; it is ECS managed scaling's to set")
	}
	if !reflect.DeepEqual(group["VPCZoneIdentifier"], Ref(paramECSSubnets)) {
		t.Errorf("group subnets %v", group["VPCZoneIdentifier"])
	}
	provider := res[idECSCapacityProvider].Properties
	want := Props{
		"AutoScalingGroupArn":          Ref(idECSGroup),
		"ManagedScaling":               Props{"Status": "ENABLED", "TargetCapacity": 100},
		"ManagedTerminationProtection": "ENABLED",
	}
	if provider["Name"] != "elevator-shop-ec2" || !reflect.DeepEqual(provider["AutoScalingGroupProvider"], want) {
		t.Errorf("capacity provider %v, want %v (target capacity defaults to 100)", provider, want)
	}
	data := res[idECSLaunchTemplate].Properties["LaunchTemplateData"].(Props)
	if data["MetadataOptions"].(Props)["HttpTokens"] != "required" {
		t.Errorf("metadata options %v: want IMDSv2 required", data["MetadataOptions"])
	}
	// The user data names the cluster by reference: CloudFormation then
	// deletes the group (which takes the launch template) before the
	// cluster, which it cannot delete while instances are registered.
	if ud, _ := data["UserData"].(Props)["Fn::Base64"].(Props)["Fn::Sub"].(string); !strings.Contains(ud, "/etc/ecs/ecs.config") || !strings.Contains(ud, "\nECS_CLUSTER=${"+idECSCluster+"}\n") {
		t.Errorf("user data does not name the stack's cluster in ecs.config:\n%v", data["UserData"])
	}
	if !reflect.DeepEqual(group["LaunchTemplate"].(Props)["LaunchTemplateId"], Ref(idECSLaunchTemplate)) {
		t.Errorf("the group's launch template %v, want the stack's", group["LaunchTemplate"])
	}
	managedTag := Props{"Key": elevator.TagAmazonECSManaged, "Value": "", "PropagateAtLaunch": true}
	if tags := group["Tags"].([]any); !slices.ContainsFunc(tags, func(tag any) bool { return reflect.DeepEqual(tag, managedTag) }) {
		t.Errorf("group tags %v lack %v, which ECS managed scaling needs kept", tags, managedTag)
	}
	if data["InstanceType"] != "c7i.xlarge" || !reflect.DeepEqual(data["ImageId"], Ref(paramECSAMI)) {
		t.Errorf("launch template data %v", data)
	}
	role := res[idECSInstanceRole].Properties
	if role["Path"] != elevator.ECSInstanceIAMPath("shop") || res[idECSInstanceProfile].Properties["Path"] != elevator.ECSInstanceIAMPath("shop") {
		t.Errorf("role path %v, profile path %v: want the orbit's ECS path", role["Path"], res[idECSInstanceProfile].Properties["Path"])
	}
	if _, named := role["RoleName"]; named {
		t.Error("the role has a name: IAM is global, so every region's stack would make the same one")
	}
	managed := role["ManagedPolicyArns"].([]any)
	if len(managed) != 2 || !strings.HasSuffix(managed[0].(Props)["Fn::Sub"].(string), "/AmazonEC2ContainerServiceforEC2Role") || !strings.HasSuffix(managed[1].(Props)["Fn::Sub"].(string), "/AmazonSSMManagedInstanceCore") {
		t.Errorf("managed policies %v", managed)
	}
	if _, in := res[idECSInstanceSG].Properties["SecurityGroupIngress"]; in {
		t.Error("the container instances' security group lets something in; tasks have interfaces of their own")
	}
}

func TestECSStackRefusals(t *testing.T) {
	ec2 := &elevator.OrbitECS{EC2: &elevator.ECSCapacity{InstanceType: "m7g.large", Max: 2, Path: "ecs.ec2"}}
	t.Run("an orbit without an ecs section has no stack", func(t *testing.T) {
		o := testECSOrbit(nil)
		if HasECSStack(o) {
			t.Error("HasECSStack is true")
		}
		if _, err := ECSStack(o, &o.Regions[0], ECSFacts{}); elevator.ErrorCode(err) != elevator.EINTERNAL {
			t.Errorf("got %v, want EINTERNAL", err)
		}
	})
	t.Run("a Fargate-only cluster needs no facts", func(t *testing.T) {
		o := testECSOrbit(&elevator.OrbitECS{})
		if _, err := ECSStack(o, &o.Regions[0], ECSFacts{}); err != nil {
			t.Error(err)
		}
	})
	t.Run("EC2 capacity needs every fact", func(t *testing.T) {
		o := testECSOrbit(ec2)
		_, err := ECSStack(o, &o.Regions[0], ECSFacts{VPC: "vpc-1"})
		if elevator.ErrorCode(err) != elevator.EINTERNAL || !strings.Contains(err.Error(), "the private tier's subnets, the container instances' image not looked up") {
			t.Errorf("got %v, want EINTERNAL naming the missing facts", err)
		}
	})
	t.Run("EC2 capacity needs a tier for its instances", func(t *testing.T) {
		o := testECSOrbit(ec2)
		o.Regions[0].Tiers = []elevator.Tier{{Name: "public", Access: elevator.AccessPublic}}
		_, err := ECSStack(o, &o.Regions[0], ecsFacts("us-east-1"))
		var errs elevator.FieldErrors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Path != "ecs.ec2" || !strings.Contains(errs[0].Message, "add a tier named private") {
			t.Errorf("got %v, want one field error at ecs.ec2", err)
		}
	})
	// The orbit makes no VPC endpoints: instances with no route out could
	// never register, and managed scaling would launch up to max for
	// nothing.
	for name, tt := range map[string]struct {
		tiers []elevator.Tier
		nat   elevator.NATMode
		says  string
	}{
		"EC2 capacity in an isolated tier": {[]elevator.Tier{{Name: "public", Access: elevator.AccessPublic}, {Name: "data", Access: elevator.AccessIsolated}}, elevator.NATSingle,
			"its tier data in us-east-1 is isolated (no route out of the VPC)"},
		"EC2 capacity without NAT": {testECSOrbit(nil).Regions[0].Tiers, elevator.NATNone,
			"us-east-1 has nat: none, so its tier private has no route out"},
	} {
		t.Run(name, func(t *testing.T) {
			o := testECSOrbit(ec2)
			o.Regions[0].Tiers, o.Regions[0].NAT = tt.tiers, tt.nat
			_, err := ECSStack(o, &o.Regions[0], ecsFacts("us-east-1"))
			var errs elevator.FieldErrors
			if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Path != "ecs.ec2" || !strings.Contains(errs[0].Message, "container instances to reach ECS") || !strings.Contains(errs[0].Message, tt.says) {
				t.Errorf("got %v, want one field error at ecs.ec2 saying %q", err, tt.says)
			}
		})
	}
	t.Run("EC2 capacity with NAT in a private tier", func(t *testing.T) {
		o := testECSOrbit(ec2)
		o.Regions[0].NAT = elevator.NATPerAZ
		if _, err := ECSStack(o, &o.Regions[0], ecsFacts("us-east-1")); err != nil {
			t.Error(err)
		}
	})
}

// testECSOrbit is an orbit in us-east-1 with the default tiers.
func testECSOrbit(ecs *elevator.OrbitECS) *elevator.Orbit {
	return &elevator.Orbit{Name: "shop", ECS: ecs, Regions: []elevator.Region{{Name: "us-east-1", Tiers: []elevator.Tier{
		{Name: "public", Access: elevator.AccessPublic},
		{Name: "private", Access: elevator.AccessPrivate},
		{Name: "data", Access: elevator.AccessIsolated},
	}}}}
}
