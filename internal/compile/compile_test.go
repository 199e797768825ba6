package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

func TestOrbitStacksErrors(t *testing.T) {
	facts := map[string]RegionFacts{"us-east-1": {AZs: zones("us-east-1", 3), BastionAMI: "ami-0123456789abcdef0", Agent: fakeAgentBuilds()}}
	bastion := &elevator.Bastion{Count: 1, InstanceType: "t3.micro", AllowedCIDRs: prefixes("203.0.113.0/24"), Path: "bastion"}
	privateOnly := []elevator.Tier{
		{Name: "private", Access: elevator.AccessPrivate, Path: "network.tiers[0]"},
		{Name: "data", Access: elevator.AccessIsolated, Path: "network.tiers[1]"},
	}
	tests := []struct {
		name     string
		edit     func(o *elevator.Orbit)
		facts    map[string]RegionFacts
		wantErrs []string
	}{
		{
			name: "NAT without a public tier is an error at the region's nat",
			edit: func(o *elevator.Orbit) {
				o.Regions[0].Tiers = privateOnly
				o.Regions[0].NAT = elevator.NATSingle
			},
			wantErrs: []string{`orbit.yml:6:10: regions.us-east-1.nat: "single": NAT gateways live in a public tier and us-east-1 has none; add a tier with access public, or set nat to none`},
		},
		{
			name: "a bastion without a maintenance or public tier is an error at the bastion",
			edit: func(o *elevator.Orbit) {
				o.Regions[0].Tiers = privateOnly
				o.Regions[0].NAT = elevator.NATNone
				o.Regions[0].Bastion = bastion
			},
			wantErrs: []string{`orbit.yml:21:1: bastion: a bastion runs in the tier named maintenance, or else in the first public tier, and us-east-1 has neither`},
		},
		{
			name: "a bastion without an instance type is an error",
			edit: func(o *elevator.Orbit) {
				b := *bastion
				b.InstanceType = ""
				o.Regions[0].Bastion = &b
			},
			wantErrs: []string{`orbit.yml:22:18: bastion.instance_type: a bastion needs an instance type, such as t3.micro`},
		},
		{
			name: "tier names that give the same logical IDs are an error",
			edit: func(o *elevator.Orbit) {
				o.Regions[0].Tiers[1].Name = "public-1"
				o.Regions[0].Tiers[2].Name = "public1"
			},
			wantErrs: []string{`orbit.yml:17:7: network.tiers[2]: "public1": gives the same resource names as tier public-1 (Public1); rename one of them`},
		},
		{
			name: "an orbit name too long for the state bucket is an error at the name",
			edit: func(o *elevator.Orbit) { o.Name = strings.Repeat("x", 32) },
			wantErrs: []string{
				`orbit.yml:1:7: name: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": makes the state bucket name in us-east-1 64 characters long, over S3's 63; use a shorter orbit name`,
			},
		},
		{
			name: "the same problem in several regions is reported once, with the others",
			edit: func(o *elevator.Orbit) {
				o.Regions[0].Tiers[1].Name = "public-1"
				o.Regions[0].Tiers[2].Name = "public1"
				second := o.Regions[0]
				second.Name, second.Path = "eu-west-1", "regions.eu-west-1"
				second.AZs = []string{"eu-west-1z"}
				o.Regions = append(o.Regions, second)
			},
			facts: map[string]RegionFacts{
				"us-east-1": {AZs: zones("us-east-1", 3)},
				"eu-west-1": {AZs: zones("eu-west-1", 3)},
			},
			wantErrs: []string{
				`orbit.yml:1:1: regions.eu-west-1.azs[0]: "eu-west-1z": is not an availability zone of eu-west-1`,
				`orbit.yml:17:7: network.tiers[2]: "public1": gives the same resource names as tier public-1`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOrbit(nil)
			tt.edit(o)
			f := tt.facts
			if f == nil {
				f = facts
			}
			stacks, err := OrbitStacks(o, f)
			if stacks != nil {
				t.Errorf("got %d stacks with the error", len(stacks))
			}
			assertFieldErrors(t, err, tt.wantErrs)
		})
	}
}

func TestOrbitStacksMissingFacts(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(o *elevator.Orbit)
		facts RegionFacts
		want  string
	}{
		{
			name:  "a region without facts is an internal error",
			edit:  func(o *elevator.Orbit) { o.Regions[0].Name = "eu-west-1" },
			facts: RegionFacts{AZs: zones("us-east-1", 3)},
			want:  "no facts were looked up for region eu-west-1",
		},
		{
			name: "a bastion without its image is an internal error",
			edit: func(o *elevator.Orbit) {
				o.Regions[0].Bastion = &elevator.Bastion{Count: 1, InstanceType: "t3.micro", Path: "bastion"}
			},
			facts: RegionFacts{AZs: zones("us-east-1", 3)},
			want:  "the bastion's image was not resolved",
		},
		{
			name:  "a domain without its hosted zone is an internal error",
			edit:  func(o *elevator.Orbit) { o.Domain = "example.com" },
			facts: RegionFacts{AZs: zones("us-east-1", 3)},
			want:  "the hosted zone of example.com was not looked up",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOrbit(nil)
			tt.edit(o)
			_, err := OrbitStacks(o, map[string]RegionFacts{"us-east-1": tt.facts})
			if elevator.ErrorCode(err) != elevator.EINTERNAL || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v (code %q), want an internal error containing %q", err, elevator.ErrorCode(err), tt.want)
			}
		})
	}
}

// manyTiers is an orbit in one region of zoneCount zones with tierCount
// tiers of /20 blocks.
func manyTiers(zoneCount, tierCount int) (*elevator.Orbit, map[string]RegionFacts) {
	o := testOrbit(func(r *elevator.Region) {
		r.Tiers = []elevator.Tier{{Name: "public", Access: elevator.AccessPublic, Size: 20, Path: "network.tiers[0]"}}
		for i := 1; i < tierCount; i++ {
			r.Tiers = append(r.Tiers, elevator.Tier{Name: fmt.Sprintf("tier%d", i), Access: elevator.AccessPrivate, Size: 20, Path: fmt.Sprintf("network.tiers[%d]", i)})
		}
	})
	return o, map[string]RegionFacts{"us-east-1": {AZs: zones("us-east-1", zoneCount)}}
}

func TestBodyEncoding(t *testing.T) {
	tests := []struct {
		name         string
		zones, tiers int
		yamlTooBig   bool // the template is over MaxBodyBytes as YAML
		wantErr      string
	}{
		{name: "a template is sent as compact JSON", zones: 3, tiers: 3},
		{name: "a template too big as YAML fits as compact JSON", zones: 6, tiers: 5, yamlTooBig: true},
		{name: "a template too big as JSON is an error", zones: 16, tiers: 12, wantErr: "bytes as compact JSON, over CloudFormation's 51200-byte limit"},
		{name: "a template of too many resources is an error", zones: 16, tiers: 16, wantErr: "resources, over CloudFormation's 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, facts := manyTiers(tt.zones, tt.tiers)
			stacks, err := OrbitStacks(o, facts)
			if tt.wantErr != "" {
				if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want an invalid error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := stacks[0].Body
			yml, err := stacks[0].Template.YAML()
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, body); err != nil || !bytes.Equal(compact.Bytes(), body) {
				t.Errorf("body is not compact JSON (%v): %.80s", err, body)
			}
			if len(body) > MaxBodyBytes {
				t.Errorf("body is %d bytes", len(body))
			}
			if tooBig := len(yml) > MaxBodyBytes; tooBig != tt.yamlTooBig {
				t.Errorf("YAML is %d bytes: over the limit %v, want %v", len(yml), tooBig, tt.yamlTooBig)
			}
			if diff := yamlDiff(body, yml); diff != "" {
				t.Errorf("body and YAML differ:\n%s", diff)
			}
			t.Logf("%d bytes as JSON, %d as YAML", len(body), len(yml))
		})
	}
}

func TestOrbitStacksIsDeterministic(t *testing.T) {
	o, facts := manyTiers(4, 4)
	o.Notifications = []elevator.Notification{{Severity: elevator.SeverityCritical, Emails: []string{"b@example.com", "a@example.com"}}}
	first, err := OrbitStacks(o, facts)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := OrbitStacks(o, facts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first[0].Body, again[0].Body) {
			t.Fatal("two compilations of one orbit differ")
		}
	}
}

func TestLogicalIDs(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *elevator.Orbit)
		azs  []string
		want []string // logical IDs that must be in the template
		not  []string // and ones that must not
	}{
		{
			name: "subnets are named by tier and zone letter",
			want: []string{"SubnetPublicA", "SubnetPrivateC", "SubnetRouteTableAssociationDataB", "RouteTablePrivateB", "NatGatewayC", "EipNatC", "RouteDefaultPrivateC"},
		},
		{
			name: "zones that do not end in distinct letters are numbered",
			azs:  []string{"use1-az1", "use1-az4"},
			want: []string{"SubnetPublicAz1", "SubnetPublicAz2", "AvailabilityZoneAz2"},
			not:  []string{"SubnetPublicAz3"},
		},
		{
			name: "a single NAT gateway is the first zone's, so per-az keeps it",
			edit: func(o *elevator.Orbit) { o.Regions[0].NAT = elevator.NATSingle },
			want: []string{"NatGatewayA", "RouteDefaultPrivateC"},
			not:  []string{"NatGatewayB"},
		},
		{
			name: "without NAT private route tables stay, without routes",
			edit: func(o *elevator.Orbit) { o.Regions[0].NAT = elevator.NATNone },
			want: []string{"RouteTablePrivateA", "InternetGateway"},
			not:  []string{"NatGatewayA", "RouteDefaultPrivateA"},
		},
		{
			name: "subscriptions are named by address, and by hash when addresses collide",
			edit: func(o *elevator.Orbit) {
				o.Notifications = []elevator.Notification{
					{Severity: elevator.SeverityCritical, Emails: []string{"oncall@example.com", "a.b@example.com", "a-b@example.com", "oncall@example.com"}},
				}
			},
			want: []string{"SubscriptionCriticalOncallExampleCom", "SubscriptionCriticalEmail" + shortHash("a.b@example.com"), "SubscriptionCriticalEmail" + shortHash("a-b@example.com"), "TopicCritical"},
			not:  []string{"TopicWarning"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOrbit(nil)
			if tt.edit != nil {
				tt.edit(o)
			}
			azs := tt.azs
			if azs == nil {
				azs = zones("us-east-1", 3)
			}
			stacks, err := OrbitStacks(o, map[string]RegionFacts{"us-east-1": {AZs: azs}})
			if err != nil {
				t.Fatal(err)
			}
			res := stacks[0].Template.Resources
			params := stacks[0].Template.Parameters
			for _, id := range tt.want {
				_, isRes := res[id]
				_, isParam := params[id]
				if !isRes && !isParam {
					t.Errorf("no %s", id)
				}
			}
			for _, id := range tt.not {
				if _, ok := res[id]; ok {
					t.Errorf("unexpected %s", id)
				}
			}
			if n := countType(res, "AWS::SNS::Subscription"); len(o.Notifications) == 1 && n != 3 {
				t.Errorf("%d subscriptions, want one per distinct address (3)", n)
			}
		})
	}
}

func countType(res map[string]Resource, typ string) int {
	n := 0
	for _, r := range res {
		if r.Type == typ {
			n++
		}
	}
	return n
}

func TestEncodeIntrinsics(t *testing.T) {
	tpl := &Template{
		AWSTemplateFormatVersion: "2010-09-09",
		Resources: map[string]Resource{"B": {Type: "AWS::S3::Bucket", Properties: Props{
			"BucketName": Sub("x-${AWS::Region}"),
			"Tags":       []Tag{{Key: "k", Value: "v"}},
		}}},
		Outputs: map[string]Output{"O": {Value: Join(",", []any{Ref("B"), GetAtt("B", "Arn")})}},
	}
	body, err := tpl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"AWSTemplateFormatVersion":"2010-09-09",` +
		`"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":{"Fn::Sub":"x-${AWS::Region}"},"Tags":[{"Key":"k","Value":"v"}]}}},` +
		`"Outputs":{"O":{"Value":{"Fn::Join":[",",[{"Ref":"B"},{"Fn::GetAtt":["B","Arn"]}]]}}}}`
	if string(body) != want {
		t.Errorf("body =\n%s\nwant\n%s", body, want)
	}
	yml, err := tpl.YAML()
	if err != nil {
		t.Fatal(err)
	}
	wantYAML := `AWSTemplateFormatVersion: "2010-09-09"
Resources:
  B:
    Type: AWS::S3::Bucket
    Properties:
      BucketName:
        Fn::Sub: x-${AWS::Region}
      Tags:
        - Key: k
          Value: v
Outputs:
  O:
    Value:
      Fn::Join:
        - ','
        - - Ref: B
          - Fn::GetAtt:
              - B
              - Arn
`
	if string(yml) != wantYAML {
		t.Errorf("YAML =\n%s\nwant\n%s", yml, wantYAML)
	}
}
