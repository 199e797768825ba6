package manifest

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

func TestParseOrbitReadsTheExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/orbit.yml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOrbit("examples/orbit.yml", data)
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	if o.Name != "demo" || len(o.Regions) != 2 {
		t.Fatalf("got orbit %q with %d regions, want demo with 2", o.Name, len(o.Regions))
	}
	east, west := o.Regions[0], o.Regions[1]
	if east.Name != "us-east-1" || west.Name != "us-west-2" {
		t.Errorf("regions in file order: got %s, %s", east.Name, west.Name)
	}
	if east.CIDR != netip.MustParsePrefix("10.10.0.0/16") || west.CIDR.IsValid() {
		t.Errorf("cidrs: east %v (want 10.10.0.0/16), west %v (want auto)", east.CIDR, west.CIDR)
	}
	if west.NAT != elevator.NATPerAZ || west.Size != 16 || west.IPSpace != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("west network: nat %s size %d space %s", west.NAT, west.Size, west.IPSpace)
	}
	if east.Bastion == nil || east.Bastion.Count != 1 || east.Bastion.AMI.SSMParameter != DefaultBastionAMI.SSMParameter {
		t.Errorf("bastion: %+v", east.Bastion)
	}
	if got := o.Notifications[0]; got.Severity != elevator.SeverityCritical || len(got.Emails) != 1 {
		t.Errorf("critical notification: %+v", got)
	}
	if len(o.Access) != 3 || o.Access[1].Role != elevator.RoleDeployer || o.Access[1].Apps[0] != "shop" {
		t.Errorf("access: %+v", o.Access)
	}
	if pos := o.Source.At("regions.us-west-2"); pos.Line != 10 {
		t.Errorf("position of regions.us-west-2: %+v, want line 10", pos)
	}
}

func TestParseOrbitAppliesDefaultsAndOverrides(t *testing.T) {
	src := `name: prod
protect: true
regions:
  eu-west-1:
  us-east-1:
    nat: single
    azs: [us-east-1a, us-east-1b, us-east-1c]
    tiers: {private: 10.20.64.0/18}
    bastion: {count: 2}
bastion:
  allowed_cidrs: [198.51.100.0/24]
  ami: {name: "debian-12-amd64-*", owners: ["136693071363"]}
`
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	eu, us := o.Regions[0], o.Regions[1]
	if !o.Protect {
		t.Error("protect: got false")
	}
	if eu.NAT != elevator.NATPerAZ || us.NAT != elevator.NATSingle {
		t.Errorf("nat: eu %s (want per-az), us %s (want single)", eu.NAT, us.NAT)
	}
	if names := tierNames(eu.Tiers); names != "public:public private:private data:isolated" {
		t.Errorf("default tiers: %s", names)
	}
	if us.Tiers[1].CIDR != netip.MustParsePrefix("10.20.64.0/18") || eu.Tiers[1].CIDR.IsValid() {
		t.Errorf("tier override: us %v eu %v", us.Tiers[1].CIDR, eu.Tiers[1].CIDR)
	}
	if eu.Bastion.Count != 1 || us.Bastion.Count != 2 || us.Bastion.AMI.Name != "debian-12-amd64-*" {
		t.Errorf("bastion merge: eu %+v us %+v", eu.Bastion, us.Bastion)
	}
	if len(us.AZs) != 3 || len(eu.AZs) != 0 {
		t.Errorf("azs: us %v eu %v", us.AZs, eu.AZs)
	}
}

func tierNames(tiers []elevator.Tier) string {
	var s []string
	for _, t := range tiers {
		s = append(s, t.Name+":"+string(t.Access))
	}
	return strings.Join(s, " ")
}

// TestParseOrbitRejects holds one bad manifest per row; each must fail with
// every listed message, position included, and nothing may be lost: a file
// with several problems reports them all.
func TestParseOrbitRejects(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"an empty file", ``,
			[]string{"orbit.yml:1:1: the file is empty"}},
		{"a list instead of a mapping", "- a\n",
			[]string{`orbit.yml:1:1: "[...]": is a list; want object`}},
		{"broken YAML", "name: [demo\n",
			[]string{"orbit.yml:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence that began at line 1, column 7)"}},
		{"a syntax error says its column", "name: demo\nregions:\n  us-east-1: {}\n  bad: x: y\n",
			[]string{"orbit.yml:4:9: invalid YAML: mapping values are not allowed in this context"}},
		{"a tab where indentation is expected", "name: demo\nregions:\n\tus-east-1: {}\n",
			[]string{"orbit.yml:3:1: invalid YAML: found character that cannot start any token"}},
		{"a second YAML document", "name: demo\nregions: {us-east-1: {}}\n---\nname: other\n",
			[]string{"orbit.yml:4:1: a second YAML document: a manifest is one document; put the second in a file of its own"}},
		{"a file over 1 MiB", "name: demo\nregions: {us-east-1: {}}\n#" + strings.Repeat("x", MaxBytes) + "\n",
			[]string{"orbit.yml:1:1: the manifest is larger than 1048576 bytes (1 MiB), the most Elevator reads"}},
		{"a missing name and regions", "protect: true\n",
			[]string{`orbit.yml:1:1: missing required field "name"`, `orbit.yml:1:1: missing required field "regions"`}},
		{"an unknown top-level key", "name: a\nregions: {us-east-1: {}}\ncolour: red\n",
			[]string{`orbit.yml:3:1: colour: unknown field "colour"; allowed here: access, account, bastion, builders, deployer, domain, ecs, images, name, network, notifications, pipelines, protect, regions`}},
		{"an unknown key in a region", "name: a\nregions:\n  us-east-1:\n    cidrs: 10.0.0.0/16\n",
			[]string{`orbit.yml:4:5: regions.us-east-1.cidrs: unknown field "cidrs"; allowed here: azs, bastion, cidr, nat, tiers`}},
		{"an upper-case name", "name: Prod\nregions: {us-east-1: {}}\n",
			[]string{`orbit.yml:1:7: name: "Prod": not allowed; want the orbit's name`}},
		{"an unknown region", "name: a\nregions:\n  us-east-7: {}\n",
			[]string{`orbit.yml:3:3: regions.us-east-7: "us-east-7": unknown AWS region; did you mean us-east-1`}},
		{"a zone of another region", "name: a\nregions:\n  us-east-1:\n    azs: [us-east-1a, eu-west-1b]\n",
			[]string{`orbit.yml:4:23: regions.us-east-1.azs[1]: "eu-west-1b": is not an availability zone of us-east-1`}},
		{"a repeated zone", "name: a\nregions:\n  us-east-1:\n    azs: [us-east-1a, us-east-1a]\n",
			[]string{`orbit.yml:4:23: regions.us-east-1.azs[1]: repeats item 0`}},
		{"a bad CIDR", "name: a\nregions:\n  us-east-1:\n    cidr: 10.0.0.300/16\n",
			[]string{`orbit.yml:4:11: regions.us-east-1.cidr: "10.0.0.300/16": not an IPv4 CIDR block`}},
		{"a CIDR with host bits", "name: a\nregions:\n  us-east-1:\n    cidr: 10.1.2.0/16\n",
			[]string{`orbit.yml:4:11: regions.us-east-1.cidr: "10.1.2.0/16": has host bits set; did you mean 10.1.0.0/16?`}},
		{"a CIDR that is not a string of the right shape", "name: a\nregions:\n  us-east-1:\n    cidr: 42\n",
			[]string{`orbit.yml:4:11: regions.us-east-1.cidr: 42: is a number; want string`}},
		{"an unknown NAT mode", "name: a\nregions: {us-east-1: {}}\nnetwork:\n  nat: sometimes\n",
			[]string{`orbit.yml:4:8: network.nat: "sometimes": must be one of: none, single, per-az`}},
		{"a VPC size out of range", "name: a\nregions: {us-east-1: {}}\nnetwork:\n  vpc_size: 8\n",
			[]string{`orbit.yml:4:13: network.vpc_size: 8: must be at least 16`}},
		{"duplicate tier names", "name: a\nregions: {us-east-1: {}}\nnetwork:\n  tiers:\n    - name: web\n    - name: web\n",
			[]string{`orbit.yml:6:13: network.tiers[1].name: "web": duplicate tier name (first at network.tiers[0])`}},
		{"a duplicate key", "name: a\nname: b\nregions: {us-east-1: {}}\n",
			[]string{`orbit.yml:2:1: name: duplicate key "name" (first at line 1, column 1)`}},
		{"overlapping tier blocks", "name: a\nregions:\n  us-east-1: {cidr: 10.0.0.0/16}\nnetwork:\n  tiers:\n    - {name: public, cidr: 10.0.0.0/18}\n    - {name: private, cidr: 10.0.32.0/19}\n",
			[]string{`orbit.yml:7:29: network.tiers[1].cidr: "10.0.32.0/19": overlaps tier public (10.0.0.0/18) in us-east-1`}},
		{"a tier outside the VPC", "name: a\nregions:\n  us-east-1:\n    cidr: 10.0.0.0/16\n    tiers: {public: 10.9.0.0/20}\n",
			[]string{`orbit.yml:5:21: regions.us-east-1.tiers.public: "10.9.0.0/20": is outside the VPC block 10.0.0.0/16 of us-east-1`}},
		{"a tier override for a tier that does not exist", "name: a\nregions:\n  us-east-1:\n    tiers: {web: 10.0.0.0/20}\n",
			[]string{`orbit.yml:4:13: regions.us-east-1.tiers.web: "web": no such tier; tiers are: public, private, data`}},
		{"a tier too small to split", "name: a\nregions: {us-east-1: {}}\nnetwork:\n  tiers:\n    - {name: public, size: 27}\n",
			[]string{`orbit.yml:5:7: network.tiers[0]: "public": tier public does not fit: a /27 block split for 2 zones gives /29 subnets`}},
		{"tiers that need more than the VPC", "name: a\nregions: {us-east-1: {}}\nnetwork:\n  vpc_size: 20\n  tiers:\n    - {name: a, size: 21}\n    - {name: b, size: 21}\n    - {name: c, size: 22}\n",
			[]string{`orbit.yml:2:11: regions.us-east-1: "us-east-1": the tiers do not fit in a /20 VPC (they need 125% of it)`}},
		{"a bastion with two image selectors and no allowed blocks", "name: a\nregions: {us-east-1: {}}\nbastion:\n  ami: {id: ami-12345678, ssm: /x}\n",
			[]string{`orbit.yml:3:1: bastion: a bastion needs allowed_cidrs`, `orbit.yml:4:8: bastion.ami: give exactly one of id, ssm or name (found 2)`}},
		{"a bad email", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  critical: {email: [not-an-address]}\n",
			[]string{`orbit.yml:4:22: notifications.critical.email[0]: "not-an-address": not allowed; want`}},
		{"an unknown severity", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  urgent: {}\n",
			[]string{`orbit.yml:4:3: notifications.urgent: unknown field "urgent"; allowed here: critical, info, warning`}},
		{"no regions", "name: a\nregions: {}\n",
			[]string{`orbit.yml:2:10: regions: needs at least 1 entry(ies)`}},
		{"merge keys", "base: &b {cidr: 10.0.0.0/16}\nname: a\nregions:\n  us-east-1:\n    <<: *b\n",
			[]string{`orbit.yml:5:5: regions.us-east-1: merge keys (<<) are not supported`}},
		{"a schema problem and a semantic problem at once", "name: a\nregions:\n  us-east-1: {nat: maybe}\n  us-north-9: {}\n",
			[]string{`orbit.yml:3:20: regions.us-east-1.nat: "maybe": must be one of`, `orbit.yml:4:3: regions.us-north-9: "us-north-9": unknown AWS region`}},
		{"a region name of the wrong shape", "name: a\nregions:\n  mars-north-1: {}\n",
			[]string{`orbit.yml:3:3: regions.mars-north-1: "mars-north-1" is not allowed as a name here; want an AWS region name such as us-east-1`}},
		{"a Slack reference that names neither a parameter nor a secret", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  critical: {slack: {}}\n",
			[]string{`orbit.yml:4:21: notifications.critical.slack: give exactly one of ssm (a parameter name such as /elevator/webhook) or secretsmanager (a secret name such as elevator/webhook) (found 0)`}},
		{"a PagerDuty reference that names both a parameter and a secret", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  warning:\n    pagerduty: {ssm: /pd/url, secretsmanager: pd}\n",
			[]string{`orbit.yml:5:16: notifications.warning.pagerduty: give exactly one of ssm`, `(found 2)`}},
		{"an SSM parameter name without its leading slash", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  info:\n    slack:\n      ssm: elevator/slack\n",
			[]string{`orbit.yml:6:12: notifications.info.slack.ssm: not allowed; want an SSM parameter name`}},
		{"a secret name with a colon, which a dynamic reference cannot hold", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  critical:\n    pagerduty: {secretsmanager: \"pd:url\"}\n",
			[]string{`orbit.yml:5:33: notifications.critical.pagerduty.secretsmanager: not allowed; want a Secrets Manager secret name`}},
		{"an unknown kind of secret store", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  critical:\n    slack: {vault: secret/slack}\n",
			[]string{`orbit.yml:5:13: notifications.critical.slack: unknown field; allowed here: secretsmanager, ssm`}},
		{"an empty Slack entry", "name: a\nregions: {us-east-1: {}}\nnotifications:\n  critical:\n    slack:\n",
			[]string{`orbit.yml:5:11: notifications.critical.slack: is empty; want object`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOrbit("orbit.yml", []byte(tt.src))
			if err == nil {
				t.Fatalf("ParseOrbit accepted it: %+v", o)
			}
			var fe elevator.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want elevator.FieldErrors: %v", err, err)
			}
			if elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("code %q, want %q", elevator.ErrorCode(err), elevator.EINVALID)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q; got:\n%s", w, msg)
				}
			}
		})
	}
}

func TestParseOrbitReadsSecretReferencesForPagerDutyAndSlack(t *testing.T) {
	src := `name: prod
regions: {us-east-1: {}}
notifications:
  critical:
    email: [oncall@example.com]
    pagerduty: {secretsmanager: elevator/pagerduty}
    slack: {ssm: /elevator/slack/critical}
  warning:
    slack: {secretsmanager: elevator/slack-warning}
`
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	want := []elevator.Notification{
		{Severity: elevator.SeverityCritical, Emails: []string{"oncall@example.com"},
			PagerDuty: elevator.SecretRef{SecretsManager: "elevator/pagerduty"},
			Slack:     elevator.SecretRef{SSMParameter: "/elevator/slack/critical"}},
		{Severity: elevator.SeverityWarning, Slack: elevator.SecretRef{SecretsManager: "elevator/slack-warning"}},
		{Severity: elevator.SeverityInfo},
	}
	if !reflect.DeepEqual(o.Notifications, want) {
		t.Errorf("notifications:\n got %+v\nwant %+v", o.Notifications, want)
	}
	if !o.Notifications[2].PagerDuty.IsZero() || !o.Notifications[2].Slack.IsZero() {
		t.Errorf("info has no pagerduty or slack, yet its references are not zero: %+v", o.Notifications[2])
	}
}

// TestParseOrbitNeverEchoesASecretPastedForItsReference: a webhook URL put
// where its reference belongs is a secret in the wrong place; the error must
// say where it is without printing it to a terminal or a CI log.
func TestParseOrbitNeverEchoesASecretPastedForItsReference(t *testing.T) {
	const secret = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"the URL in place of the reference", "  critical: {slack: \"" + secret + "\"}\n",
			`orbit.yml:4:21: notifications.critical.slack: is a string; want object`},
		{"the URL as the parameter name", "  critical:\n    pagerduty: {ssm: \"" + secret + "\"}\n",
			`orbit.yml:5:22: notifications.critical.pagerduty.ssm: not allowed; want an SSM parameter name`},
		{"the URL as the secret name", "  warning:\n    slack:\n      secretsmanager: \"" + secret + "\"\n",
			`orbit.yml:6:23: notifications.warning.slack.secretsmanager: not allowed; want a Secrets Manager secret name`},
		{"the URL as a key", "  info:\n    slack: {\"" + secret + "\": x}\n",
			`orbit.yml:5:13: notifications.info.slack: unknown field; allowed here: secretsmanager, ssm`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOrbit("orbit.yml", []byte("name: a\nregions: {us-east-1: {}}\nnotifications:\n"+tt.src))
			if err == nil {
				t.Fatal("ParseOrbit accepted it")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message lacks %q; got:\n%s", tt.want, msg)
			}
			if strings.Contains(msg, "hooks.slack.com") {
				t.Errorf("the message shows the secret:\n%s", msg)
			}
		})
	}
}

// FuzzParseOrbit checks that no input panics, and that an accepted manifest
// is usable: a name and at least one region, each with tiers.
func FuzzParseOrbit(f *testing.F) {
	if data, err := os.ReadFile("../../examples/orbit.yml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("name: a\nregions: {us-east-1: {cidr: 10.0.0.0/16, tiers: {public: 10.0.0.0/20}}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\nnetwork: {tiers: [{name: x, size: 17}]}\nbastion: {allowed_cidrs: [1.2.3.0/24]}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\nnotifications: {critical: {slack: {ssm: /s}, pagerduty: {secretsmanager: p}}, info: {slack: {}}}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\npipelines: {self_approval: true}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\nimages: {stages: [a, b], min_stage: b, kms_key: alias/k, share: {accounts: [\"111122223333\"]}}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\naccount: {id: \"111122223333\", role: \"arn:aws:iam::111122223333:role/p/e\", external_id: ab}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\necs: {}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\necs:\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\necs: {ec2: {instance_type: m7g.large, min: 1, max: 10, target_capacity: 80}}\n"))
	f.Add([]byte("name: a\nregions: {us-east-1: }\necs: {ec2: {min: 3, max: 2, ami: {name: \"x-*\", owners: [amazon]}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseOrbit("fuzz.yml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no message")
			}
			return
		}
		if o.Name == "" || len(o.Regions) == 0 {
			t.Fatalf("accepted an orbit without a name or regions: %+v", o)
		}
		if err := o.Account.Check(); err != nil {
			t.Fatalf("accepted an account the domain refuses: %v", err)
		}
		for _, r := range o.Regions {
			if len(r.Tiers) == 0 {
				t.Fatalf("region %s has no tiers", r.Name)
			}
		}
		if e := o.ECS; e != nil && e.EC2 != nil {
			c := e.EC2
			if c.Min < 0 || c.Max < 1 || c.Min > c.Max || c.TargetCapacity < 1 || c.TargetCapacity > 100 || c.InstanceType == "" {
				t.Fatalf("accepted ECS capacity %+v", c)
			}
			if n := boolCount(c.AMI.ID != "", c.AMI.SSMParameter != "", c.AMI.Name != ""); n != 1 {
				t.Fatalf("ECS capacity image %+v has %d selectors", c.AMI, n)
			}
		}
	})
}

// TestEveryKnownRegionIsARegionName: an orbit the manifest accepts must be
// one the release engine accepts too.
func TestEveryKnownRegionIsARegionName(t *testing.T) {
	for r := range knownRegions {
		if !elevator.IsRegionName(r) {
			t.Errorf("known region %q is not a region name to elevator.IsRegionName", r)
		}
	}
}

func TestParseOrbitTakesAByteOrderMarkAndWindowsLineEnds(t *testing.T) {
	data := "\ufeffname: demo\r\nregions:\r\n  us-east-1: {cidr: 10.1.0.0/16}\r\n"
	o, err := ParseOrbit("orbit.yml", []byte(data))
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	if o.Name != "demo" || len(o.Regions) != 1 || o.Regions[0].Name != "us-east-1" {
		t.Errorf("orbit %+v", o)
	}
	bad := "\ufeffname: demo\r\nregions:\r\n  us-east-1: {cidr: 10.1.2.0/16}\r\n"
	_, err = ParseOrbit("orbit.yml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "orbit.yml:3:21:") {
		t.Errorf("an error after a BOM and CRLF lines: %v; want it at line 3, column 21", err)
	}
}

func TestReadFileRefusesAFileOverTheLimitWithoutReadingItAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse 50 MiB file: ReadFile reads at most MaxBytes+1 of it.
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadFile(path)
	if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "big.yml:1:1: the manifest is larger than 1048576 bytes") {
		t.Errorf("ReadFile of 50 MiB: %v", err)
	}
	small := filepath.Join(t.TempDir(), "orbit.yml")
	if err := os.WriteFile(small, []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(small); err != nil || string(data) != "name: x\n" {
		t.Errorf("ReadFile of a small file: %q, %v", data, err)
	}
}

func TestParseOrbitReadsAccessRules(t *testing.T) {
	src := `name: prod
regions: {us-east-1: {}}
access:
  - {role: admin, principals: ["arn:aws:iam::111111111111:role/ops"]}
  - role: deployer
    principals: ["arn:aws:iam::222222222222:role/ci-*", "arn:aws:sts::222222222222:assumed-role/build/*"]
    apps: [shop]
`
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	want := []elevator.AccessRule{
		{Role: elevator.RoleAdmin, Principals: []string{"arn:aws:iam::111111111111:role/ops"}, Path: "access[0]"},
		{Role: elevator.RoleDeployer, Principals: []string{"arn:aws:iam::222222222222:role/ci-*", "arn:aws:sts::222222222222:assumed-role/build/*"},
			Apps: []string{"shop"}, Path: "access[1]"},
	}
	if !reflect.DeepEqual(o.Access, want) {
		t.Fatalf("access:\n got %+v\nwant %+v", o.Access, want)
	}
	if got := o.RoleOf("arn:aws:sts::222222222222:assumed-role/ci-main/run-42", "shop"); got != elevator.RoleDeployer {
		t.Errorf("role of a CI session in shop: %q, want deployer", got)
	}
	if got := o.RoleOf("arn:aws:sts::222222222222:assumed-role/ci-main/run-42", "cart"); got != "" {
		t.Errorf("role of a CI session in cart: %q, want none", got)
	}
}

func TestParseOrbitRejectsBadAccessRules(t *testing.T) {
	tests := []struct {
		name, access string
		want         string
	}{
		{"an unknown role", `[{role: owner, principals: ["arn:aws:iam::111111111111:role/ops"]}]`,
			`orbit.yml:3:17: access[0].role: "owner": must be one of: viewer, deployer, approver, admin`},
		{"a principal with a wildcard account", `[{role: admin, principals: ["arn:aws:iam::*:role/ops"]}]`,
			`orbit.yml:3:37: access[0].principals[0]: "arn:aws:iam::*:role/ops": not allowed; want an IAM or STS ARN with a 12-digit account id`},
		{"a principal of another service", `[{role: admin, principals: ["arn:aws:s3:::bucket"]}]`,
			`orbit.yml:3:37: access[0].principals[0]: "arn:aws:s3:::bucket": not allowed`},
		{"no principals", `[{role: admin, principals: []}]`,
			`orbit.yml:3:36: access[0].principals: needs at least 1 item(s)`},
		{"a missing role", `[{principals: ["arn:aws:iam::111111111111:role/ops"]}]`,
			`orbit.yml:3:10: access[0]: missing required field "role"`},
		{"a bad app name", `[{role: viewer, principals: ["arn:aws:iam::111111111111:role/ops"], apps: [Shop]}]`,
			`orbit.yml:3:84: access[0].apps[0]: "Shop": not allowed; want an app name`},
		{"an unknown field", `[{role: viewer, principals: ["arn:aws:iam::111111111111:role/ops"], app: shop}]`,
			`access[0].app: unknown field "app"; allowed here: apps, principals, role`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: prod\nregions: {us-east-1: {}}\naccess: " + tt.access + "\n"
			_, err := ParseOrbit("orbit.yml", []byte(src))
			if err == nil {
				t.Fatal("ParseOrbit accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseOrbitReadsBuilders(t *testing.T) {
	src := "name: prod\nregions: {us-east-1: {}}\nbuilders: [\"222222222222\", \"arn:aws:iam::333333333333:role/ci/main\", \"arn:aws-cn:iam::444444444444:user/ci\"]\n"
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"222222222222", "arn:aws:iam::333333333333:role/ci/main", "arn:aws-cn:iam::444444444444:user/ci"}
	if !reflect.DeepEqual(o.Builders, want) {
		t.Errorf("builders %q, want %q", o.Builders, want)
	}
}

func TestParseOrbitRejectsBadBuilders(t *testing.T) {
	tests := []struct {
		name, builders string
		want           string
	}{
		{"a wildcard role", `["arn:aws:iam::222222222222:role/ci-*"]`,
			`orbit.yml:3:12: builders[0]: "arn:aws:iam::222222222222:role/ci-*": not allowed; want a 12-digit account id, such as 222222222222, or an IAM role or user ARN without wildcards`},
		{"an assumed-role session", `["arn:aws:sts::222222222222:assumed-role/ci/build-7"]`,
			`orbit.yml:3:12: builders[0]: "arn:aws:sts::222222222222:assumed-role/ci/build-7": not allowed`},
		{"a short account id", `["22222222222"]`, `orbit.yml:3:12: builders[0]: "22222222222": not allowed`},
		{"an unquoted account id", `[222222222222]`, `orbit.yml:3:12: builders[0]: 222222222222: is a number; want string`},
		{"the same builder twice", `["222222222222", "222222222222"]`, `orbit.yml:3:28: builders[1]: repeats item 0`},
		{"an empty list", `[]`, `orbit.yml:3:11: builders: needs at least 1 item(s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: prod\nregions: {us-east-1: {}}\nbuilders: " + tt.builders + "\n"
			_, err := ParseOrbit("orbit.yml", []byte(src))
			if err == nil {
				t.Fatal("ParseOrbit accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseOrbitReadsTheDeployersURL(t *testing.T) {
	tests := []struct {
		name, deployer string
		want           string // the URL read, or part of the error
	}{
		{"an https URL", "https://deployer.prod.internal", "https://deployer.prod.internal"},
		{"an http URL with a port and a path", "http://10.0.0.5:8080/elevator", "http://10.0.0.5:8080/elevator"},
		{"no URL", "", ""},
		{"a URL of another scheme", "ftp://deployer", `orbit.yml:3:11: deployer: "ftp://deployer": not allowed; want the URL of the orbit's deployer`},
		{"a URL with a query", "https://deployer/?x=1", `deployer: "https://deployer/?x=1": not allowed`},
		{"a host alone", "deployer.prod.internal", `deployer: "deployer.prod.internal": not allowed`},
		{"a URL with a user", "https://me@deployer", `deployer: "https://me@deployer": not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: prod\nregions: {us-east-1: {}}\n"
			if tt.deployer != "" {
				src += "deployer: " + tt.deployer + "\n"
			}
			o, err := ParseOrbit("orbit.yml", []byte(src))
			if strings.Contains(tt.want, ": ") {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Deployer != tt.want {
				t.Errorf("deployer %q, want %q", o.Deployer, tt.want)
			}
		})
	}
}

func TestParseOrbitReadsDashboardPrincipals(t *testing.T) {
	src := `name: prod
regions: {us-east-1: {}}
access:
  - {role: viewer, principals: ["email:*@example.com"]}
  - {role: approver, principals: ["group:ops", "email:alice@example.com", "arn:aws:iam::111111111111:role/ops"], apps: [shop]}
`
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	if got := o.RoleOfAny(elevator.UserPrincipals("bob@example.com", true, []string{"ops"}), "shop"); got != elevator.RoleApprover {
		t.Errorf("role of bob in group ops: %q, want approver", got)
	}
	if got := o.RoleOf("arn:aws:sts::111111111111:assumed-role/ops/x", "shop"); got != elevator.RoleApprover {
		t.Errorf("an IAM role next to OIDC principals: %q, want approver", got)
	}
	bad := []struct{ principal, want string }{
		{`"email:Alice@example.com"`, `orbit.yml:3:37: access[0].principals[0]: "email:Alice@example.com": not allowed; want an IAM or STS ARN`},
		{`"email:*@*"`, `orbit.yml:3:37: access[0].principals[0]: "email:*@*": not allowed`},
		{`"group:*"`, `orbit.yml:3:37: access[0].principals[0]: "group:*": not allowed`},
		{`"alice@example.com"`, `group:NAME`},
	}
	for _, b := range bad {
		src := "name: prod\nregions: {us-east-1: {}}\naccess: [{role: admin, principals: [" + b.principal + "]}]\n"
		_, err := ParseOrbit("orbit.yml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("principal %s: error %v, want it to contain %q", b.principal, err, b.want)
		}
	}
}

func TestTheSchemaChecksPrincipalsAsTheDomainDoes(t *testing.T) {
	raw, err := os.ReadFile("../../schemas/orbit.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs struct {
			Rule struct {
				Properties struct {
					Principals struct {
						Items struct {
							Pattern string `json:"pattern"`
						} `json:"items"`
					} `json:"principals"`
				} `json:"properties"`
			} `json:"access_rule"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Defs.Rule.Properties.Principals.Items.Pattern; got != elevator.PrincipalPattern {
		t.Fatalf("schema principal pattern\n%s\nwant elevator.PrincipalPattern\n%s", got, elevator.PrincipalPattern)
	}
}

func TestParseOrbitReadsWhetherPipelinesMaySelfApprove(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
		want        bool
	}{
		{"not said", "", false},
		{"allowed", "pipelines: {self_approval: true}\n", true},
		{"refused", "pipelines:\n  self_approval: false\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\n"+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			if o.SelfApproval != tt.want {
				t.Errorf("SelfApproval = %v, want %v", o.SelfApproval, tt.want)
			}
		})
	}
}

func TestParseOrbitRejectsABadPipelinesSection(t *testing.T) {
	for _, tt := range []struct{ name, section, want string }{
		{"a word for a boolean", "pipelines:\n  self_approval: yes\n", `orbit.yml:4:18: pipelines.self_approval: "yes": is a string; want boolean`},
		{"an unknown setting", "pipelines:\n  self_approve: true\n", `orbit.yml:4:3: pipelines.self_approve: unknown field "self_approve"; allowed here: self_approval`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\n"+tt.section))
			if err == nil {
				t.Fatal("ParseOrbit accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseOrbitReadsTheImagesSection(t *testing.T) {
	src := "name: prod\nregions: {us-east-1: {}}\nimages:\n" +
		"  stages: [untested, tested, production]\n" +
		"  min_stage: tested\n" +
		"  kms_key: alias/images\n" +
		"  share:\n" +
		"    accounts: [\"111122223333\"]\n" +
		"    organizations: [\"arn:aws:organizations::111122223333:organization/o-abc123def4\"]\n" +
		"    organizational_units: [\"arn:aws:organizations::111122223333:ou/o-abc123def4/ou-ab12-cdef3456\"]\n"
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := elevator.ImageSettings{
		Stages:             []string{"untested", "tested", "production"},
		MinStage:           "tested",
		KMSKey:             "alias/images",
		ShareAccounts:      []string{"111122223333"},
		ShareOrganizations: []string{"arn:aws:organizations::111122223333:organization/o-abc123def4"},
		ShareOUs:           []string{"arn:aws:organizations::111122223333:ou/o-abc123def4/ou-ab12-cdef3456"},
	}
	if !reflect.DeepEqual(o.Images, want) {
		t.Errorf("images\n%+v\nwant\n%+v", o.Images, want)
	}
	if got := o.ImageStageIndex("production"); got != 2 {
		t.Errorf("ImageStageIndex(production) = %d, want 2", got)
	}
}

func TestParseOrbitWithoutImagesHasTheDefaultStages(t *testing.T) {
	o, err := ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\nimages: {min_stage: tested}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.ImageStages(), elevator.DefaultImageStages) || o.Images.MinStage != "tested" {
		t.Errorf("stages %v, min_stage %q; want %v and tested", o.ImageStages(), o.Images.MinStage, elevator.DefaultImageStages)
	}
}

func TestParseOrbitRejectsABadImagesSection(t *testing.T) {
	for _, tt := range []struct{ name, section, want string }{
		{"a min_stage that is not a stage", "images:\n  stages: [untested, tested]\n  min_stage: prod\n",
			`orbit.yml:5:14: images.min_stage: "prod": not one of the stages; want one of untested, tested`},
		{"a min_stage that is not a default stage", "images: {min_stage: approved}\n",
			`orbit.yml:3:21: images.min_stage: "approved": not one of the stages; want one of untested, tested`},
		{"the same stage twice", "images:\n  stages: [untested, tested, untested]\n",
			`orbit.yml:4:30: images.stages[2]: repeats item 0`},
		{"no stages", "images: {stages: []}\n", `orbit.yml:3:18: images.stages: needs at least 1 item(s)`},
		{"an upper-case stage", "images: {stages: [Tested]}\n", `orbit.yml:3:19: images.stages[0]: "Tested": not allowed; want an image stage`},
		{"a short account id", "images: {share: {accounts: [\"11112222333\"]}}\n",
			`orbit.yml:3:29: images.share.accounts[0]: "11112222333": not allowed; want a 12-digit account id`},
		{"an unquoted account id", "images: {share: {accounts: [111122223333]}}\n",
			`orbit.yml:3:29: images.share.accounts[0]: 111122223333: is a number; want string`},
		{"an account for an organization", "images: {share: {organizations: [\"111122223333\"]}}\n",
			`orbit.yml:3:34: images.share.organizations[0]: "111122223333": not allowed; want an organization ARN`},
		{"an organization for an organizational unit", "images: {share: {organizational_units: [\"arn:aws:organizations::111122223333:organization/o-abc123def4\"]}}\n",
			`orbit.yml:3:41: images.share.organizational_units[0]: "arn:aws:organizations::111122223333:organization/o-abc123def4": not allowed; want an organizational unit ARN`},
		{"a bad key", "images: {kms_key: my-key}\n", `orbit.yml:3:19: images.kms_key: "my-key": not allowed`},
		// A single-region key exists in one region: CopyImage into the
		// orbit's other regions could not use it.
		{"a single-region key id", "images: {kms_key: 1234abcd-12ab-34cd-56ef-1234567890ab}\n",
			`orbit.yml:3:19: images.kms_key: "1234abcd-12ab-34cd-56ef-1234567890ab": not allowed; want the KMS key that copies of an image to the orbit's other regions are encrypted with, which must exist in each of those regions: alias/NAME`},
		{"a single-region key ARN", "images: {kms_key: \"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\"}\n",
			`orbit.yml:3:19: images.kms_key: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab": not allowed`},
		{"an alias ARN", "images: {kms_key: \"arn:aws:kms:us-east-1:111122223333:alias/images\"}\n",
			`orbit.yml:3:19: images.kms_key: "arn:aws:kms:us-east-1:111122223333:alias/images": not allowed`},
		{"an unknown setting", "images: {min_stages: tested}\n", `orbit.yml:3:10: images.min_stages: unknown field "min_stages"; allowed here: kms_key, min_stage, share, stages`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\n"+tt.section))
			if err == nil {
				t.Fatal("ParseOrbit accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}
