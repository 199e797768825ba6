package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// appWith is an app manifest of one service, api, behind a private load
// balancer, with the YAML lines given added to the service.
func appWith(serviceLines string) string {
	return `name: billing
services:
  api:
    runtime:
      docker:
        image: ghcr.io/acme/billing
        ports: ["8443:8443"]
    port: 8443
    load_balancer:
      type: private
` + serviceLines
}

// compileManifest parses an app manifest as it is in orbit o and compiles
// it with the orbit's facts, edited by edit when it is not nil.
func compileManifest(t *testing.T, yml string, o *elevator.Orbit, peers map[string]string, edit func(map[string]AppFacts)) ([]Stack, error) {
	t.Helper()
	a, err := manifest.ParseApp("app.yml", []byte(yml), o.Name)
	if err != nil {
		t.Fatalf("parse the test's manifest:\n%v", err)
	}
	facts := orbitAppFacts(t, o, peers)
	if edit != nil {
		edit(facts)
	}
	return AppStacks(a, o, facts)
}

func mustCompileManifest(t *testing.T, yml string, o *elevator.Orbit, peers map[string]string) []Stack {
	t.Helper()
	stacks, err := compileManifest(t, yml, o, peers, nil)
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return stacks
}

func TestAppFirewallRules(t *testing.T) {
	fromLB := Props{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "SourceSecurityGroupId": Ref("PrivateLoadBalancerSecurityGroup"), "Description": "From the private load balancers"}
	peers := map[string]string{
		"storefront/web": "sg-0fac75000000000001",
		"storefront/api": "sg-0fac75000000000002",
	}
	tests := []struct {
		name  string
		rules string
		// wantIngress is the service's inline ingress after the rule from
		// its load balancer.
		wantIngress []any
		// wantResources are SecurityGroupIngress resources by logical ID.
		wantResources map[string]Props
		// wantParams are parameter values the rules need.
		wantParams map[string]string
	}{
		{
			name:  "a rule from another app's service refers to the security group looked up for it",
			rules: "      - {port: 8443, from: {app: storefront, service: web}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "SourceSecurityGroupId": Ref("PeerSecurityGroupStorefrontWeb"), "Description": "From app storefront service web"},
			},
			wantParams: map[string]string{"PeerSecurityGroupStorefrontWeb": "sg-0fac75000000000001"},
		},
		{
			name:  "a rule from every service of another app refers to each of their security groups",
			rules: "      - {port: 8443, from: {app: storefront}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "SourceSecurityGroupId": Ref("PeerSecurityGroupStorefrontApi"), "Description": "From app storefront service api"},
				Props{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "SourceSecurityGroupId": Ref("PeerSecurityGroupStorefrontWeb"), "Description": "From app storefront service web"},
			},
			wantParams: map[string]string{"PeerSecurityGroupStorefrontApi": "sg-0fac75000000000002", "PeerSecurityGroupStorefrontWeb": "sg-0fac75000000000001"},
		},
		{
			name:  "a rule from a service of the same app is an ingress resource referring to that service's security group",
			rules: "      - {port: 8443, from: {service: api}}\n",
			wantResources: map[string]Props{
				"SecurityGroupIngressApiFromApiTcp8443": {"GroupId": Ref("SecurityGroupApi"), "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "SourceSecurityGroupId": Ref("SecurityGroupApi"), "Description": "From service api"},
			},
		},
		{
			name:  "a rule from a block to a port range is exactly that range from that block",
			rules: "      - {ports: 9100-9200, from: {cidr: 10.50.0.0/16}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "tcp", "FromPort": 9100, "ToPort": 9200, "CidrIp": "10.50.0.0/16", "Description": "From 10.50.0.0/16"},
			},
		},
		{
			name:  "a udp rule keeps its protocol and its one port",
			rules: "      - {protocol: udp, port: 514, from: {cidr: 10.60.0.0/24}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "udp", "FromPort": 514, "ToPort": 514, "CidrIp": "10.60.0.0/24", "Description": "From 10.60.0.0/24"},
			},
		},
		{
			name:  "a rule for every protocol is protocol -1 without ports",
			rules: "      - {protocol: all, from: {cidr: 192.168.0.0/16}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "-1", "CidrIp": "192.168.0.0/16", "Description": "From 192.168.0.0/16"},
			},
		},
		{
			name:  "an icmp rule lets in every type and code",
			rules: "      - {protocol: icmp, from: {cidr: 10.0.0.0/8}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "CidrIp": "10.0.0.0/8", "Description": "From 10.0.0.0/8"},
			},
		},
		{
			name:  "a rule from the bastion refers to the orbit's bastion security group",
			rules: "      - {port: 22, from: bastion}\n",
			wantIngress: []any{
				Props{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "SourceSecurityGroupId": Ref("BastionSecurityGroup"), "Description": "From the bastion hosts"},
			},
		},
		{
			name:  "the same rule twice is one rule",
			rules: "      - {port: 22, from: {cidr: 10.0.0.0/8}}\n      - {port: 22, from: {cidr: 10.0.0.0/8}}\n",
			wantIngress: []any{
				Props{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8", "Description": "From 10.0.0.0/8"},
			},
		},
	}
	o := loadAppOrbit(t, "staging")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompileManifest(t, appWith("    firewall:\n"+tt.rules), o, peers)[0]
			sg := s.Template.Resources["SecurityGroupApi"].Properties
			got, _ := sg["SecurityGroupIngress"].([]any)
			want := append([]any{fromLB}, tt.wantIngress...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ingress:\n got %v\nwant %v", got, want)
			}
			gotRes := map[string]Props{}
			for id, r := range s.Template.Resources {
				if r.Type == "AWS::EC2::SecurityGroupIngress" {
					gotRes[id] = r.Properties
				}
			}
			if len(gotRes) > 0 || len(tt.wantResources) > 0 {
				if !reflect.DeepEqual(gotRes, tt.wantResources) {
					t.Errorf("ingress resources:\n got %v\nwant %v", gotRes, tt.wantResources)
				}
			}
			for name, want := range tt.wantParams {
				if got := s.Parameters[name]; got != want {
					t.Errorf("parameter %s = %q, want %q", name, got, want)
				}
				if typ := s.Template.Parameters[name].Type; typ != "AWS::EC2::SecurityGroup::Id" {
					t.Errorf("parameter %s has type %q, want AWS::EC2::SecurityGroup::Id", name, typ)
				}
			}
			if tt.name == "a rule from the bastion refers to the orbit's bastion security group" {
				facts := orbitAppFacts(t, o, nil)["us-east-1"]
				if got, want := s.Parameters["BastionSecurityGroup"], facts.Orbit["BastionSecurityGroup"]; got != want || got == "" {
					t.Errorf("BastionSecurityGroup = %q, want the orbit's output %q", got, want)
				}
			}
		})
	}
}

func TestAppStacksErrors(t *testing.T) {
	staging := loadAppOrbit(t, "staging")
	noBastion := loadAppOrbit(t, "staging")
	noBastion.Regions[0].Bastion = nil
	noDomain := loadAppOrbit(t, "staging")
	noDomain.Domain = ""
	privateOnly := loadAppOrbit(t, "staging")
	privateOnly.Regions[0].Tiers = []elevator.Tier{
		{Name: "private", Access: elevator.AccessPrivate},
		{Name: "data", Access: elevator.AccessIsolated},
	}
	production := loadAppOrbit(t, "production")
	https := func(cert string) string {
		return `name: shop
services:
  web:
    runtime:
      docker:
        image: ghcr.io/acme/shop
        ports: ["8080:8080"]
    port: 8080
    load_balancer:
      type: public
      listeners:
        - {protocol: HTTPS, port: 443, certificate: ` + cert + `}
`
	}
	tests := []struct {
		name     string
		manifest string
		orbit    *elevator.Orbit
		// factsOrbit is the orbit the facts are looked up for, when it is
		// not orbit.
		factsOrbit *elevator.Orbit
		peers      map[string]string
		wantErrs   []string
	}{
		{
			name:     "a rule from a service of another app that is not up is an error at the rule",
			manifest: appWith("    firewall:\n      - {port: 8443, from: {app: storefront, service: web}}\n"),
			orbit:    staging,
			peers:    map[string]string{"storefront/api": "sg-0fac75000000000002"},
			wantErrs: []string{`app.yml:12:9: services.api.firewall[0]: app storefront has no service web in orbit staging, region us-east-1: bring it up first`},
		},
		{
			name:     "a rule from another app that has no services up is an error at the rule",
			manifest: appWith("    firewall:\n      - {port: 8443, from: {app: reports}}\n"),
			orbit:    staging,
			wantErrs: []string{`app.yml:12:9: services.api.firewall[0]: app reports has no services in orbit staging, region us-east-1: bring it up first`},
		},
		{
			name:     "a missing service in each region of the orbit is an error for each region",
			manifest: appWith("    firewall:\n      - {port: 8443, from: {app: storefront, service: web}}\n"),
			orbit:    production,
			wantErrs: []string{
				`app.yml:12:9: services.api.firewall[0]: app storefront has no service web in orbit production, region us-east-1: bring it up first`,
				`app.yml:12:9: services.api.firewall[0]: app storefront has no service web in orbit production, region eu-west-1: bring it up first`,
			},
		},
		{
			name:     "a rule from the bastion where the orbit has none is an error at the rule",
			manifest: appWith("    firewall:\n      - {port: 22, from: bastion}\n"),
			orbit:    noBastion,
			wantErrs: []string{`app.yml:12:9: services.api.firewall[0]: orbit staging has no bastion in us-east-1; add one to the orbit manifest, or let a cidr in instead`},
		},
		{
			name:     "a certificate to request where the orbit has no domain is an error at the certificate",
			manifest: https("{domain: shop.example.com}"),
			orbit:    noDomain,
			wantErrs: []string{`app.yml:12:62: services.web.load_balancer.listeners[0].certificate.domain: "shop.example.com": a requested certificate is validated in the orbit's hosted zone, and orbit staging has no domain; give a certificate ARN`},
		},
		{
			name:     "a certificate outside the orbit's domain is an error, reported once for all regions",
			manifest: https("{domain: shop.example.org}"),
			orbit:    production,
			wantErrs: []string{`app.yml:12:62: services.web.load_balancer.listeners[0].certificate.domain: "shop.example.org": is not in the orbit's domain example.com, where it would be validated; give a certificate ARN for it instead`},
		},
		{
			name: "a service named like a data store is an error where their outputs clash",
			manifest: `name: cache
services:
  redis:
    runtime: {docker: {image: ghcr.io/acme/redis-proxy, ports: ["8080:8080"]}}
    port: 8080
    load_balancer: {type: private}
data:
  redis: {nodes: 1}
`,
			orbit:    staging,
			wantErrs: []string{`app.yml:8:10: data.redis: gives the name RedisEndpoint, which services.redis already gives; rename one of them`},
		},
		{
			name:       "a public load balancer in an orbit without a public tier is an error at its type",
			manifest:   https("{arn: \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"}"),
			orbit:      privateOnly,
			factsOrbit: staging,
			wantErrs:   []string{`app.yml:10:13: services.web.load_balancer.type: a public load balancer needs a public tier and orbit staging has none in us-east-1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			factsOrbit := tt.factsOrbit
			if factsOrbit == nil {
				factsOrbit = tt.orbit
			}
			a, err := manifest.ParseApp("app.yml", []byte(tt.manifest), tt.orbit.Name)
			if err != nil {
				t.Fatalf("parse the test's manifest:\n%v", err)
			}
			_, err = AppStacks(a, tt.orbit, orbitAppFacts(t, factsOrbit, tt.peers))
			var fe elevator.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want field errors", err)
			}
			var got []string
			for _, e := range fe {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.wantErrs) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.wantErrs)
			}
			if code := elevator.ErrorCode(err); code != elevator.EINVALID {
				t.Errorf("code %s, want %s", code, elevator.EINVALID)
			}
		})
	}
}

func TestAppStacksMissingFacts(t *testing.T) {
	o := loadAppOrbit(t, "staging")
	tests := []struct {
		name    string
		edit    func(map[string]AppFacts)
		wantErr string
	}{
		{
			name:    "a region without facts is an internal error",
			edit:    func(f map[string]AppFacts) { delete(f, "us-east-1") },
			wantErr: "compile app billing in orbit staging: no facts were looked up for region us-east-1",
		},
		{
			name: "orbit outputs the app needs and the facts lack are named",
			edit: func(f map[string]AppFacts) {
				delete(f["us-east-1"].Orbit, "VpcId")
				delete(f["us-east-1"].Orbit, "PrivateSubnets")
			},
			wantErr: "compile app billing in orbit staging, region us-east-1: the orbit's output VpcId, the orbit's output PrivateSubnets were not looked up",
		},
		{
			name: "a missing account id is named",
			edit: func(f map[string]AppFacts) {
				r := f["us-east-1"]
				r.AccountID = ""
				f["us-east-1"] = r
			},
			wantErr: "compile app billing in orbit staging, region us-east-1: the account id was not looked up",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileManifest(t, appWith(""), o, nil, tt.edit)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v, want %s", err, tt.wantErr)
			}
			if code := elevator.ErrorCode(err); code != elevator.EINTERNAL {
				t.Errorf("code %s, want %s", code, elevator.EINTERNAL)
			}
		})
	}
}

// TestAppSecretsNeverAppear gives an app secrets whose values are planted
// in a fake parameter store and Secrets Manager, plain env values, and a
// database, and finds none of the values, and no password, in anything the
// compiler returns.
func TestAppSecretsNeverAppear(t *testing.T) {
	store := map[string]string{ // what AWS would hold, by name
		"/ledger/signing-key":   "planted-ssm-value-3f9c1e",
		"ledger/stripe":         "sk_live_planted_51Hq8x",
		"/shared/smtp-password": "planted-smtp-hunter2",
	}
	env := map[string]string{"PLAIN_SETTING": "planted-env-value-77ab"}
	yml := `name: ledger
env:
  PLAIN_SETTING: planted-env-value-77ab
secrets:
  SIGNING_KEY: {ssm: /ledger/signing-key}
  STRIPE_KEY: {secretsmanager: ledger/stripe}
  SMTP_PASSWORD: {ssm: /shared/smtp-password}
services:
  web:
    runtime:
      docker:
        image: ghcr.io/acme/ledger
        ports: ["8080:8080"]
        env: {CONTAINER_SETTING: planted-container-env-1d2e}
    port: 8080
    load_balancer:
      type: private
data:
  database: {engine: postgres, class: db.t4g.micro, storage: 20}
`
	for _, orbit := range []string{"staging", "production"} {
		releaseHasNoSecret(t, yml, loadAppOrbit(t, orbit), store)
		stacks := mustCompileManifest(t, yml, loadAppOrbit(t, orbit), nil)
		for _, s := range stacks {
			var all bytes.Buffer
			all.Write(s.Body)
			for k, v := range s.Parameters {
				fmt.Fprintf(&all, "\n%s=%s", k, v)
			}
			for k, v := range s.Tags {
				fmt.Fprintf(&all, "\n%s=%s", k, v)
			}
			text := all.String()
			planted := []string{"planted-container-env-1d2e"}
			for _, v := range store {
				planted = append(planted, v)
			}
			for _, v := range env {
				planted = append(planted, v)
			}
			for _, v := range planted {
				if strings.Contains(text, v) {
					t.Errorf("%s %s: the value %q appears in the stack", orbit, s.Region, v)
				}
			}
			// The references are there, so the services can read them.
			for _, name := range []string{"parameter/ledger/signing-key", "secret:ledger/stripe-??????", "parameter/shared/smtp-password"} {
				if !strings.Contains(text, name) {
					t.Errorf("%s %s: the reference %s is not granted", orbit, s.Region, name)
				}
			}
			for id, r := range s.Template.Resources {
				if r.Type == "AWS::SecretsManager::Secret" {
					if _, literal := r.Properties["SecretString"]; literal {
						t.Errorf("%s %s: secret %s has a literal SecretString", orbit, s.Region, id)
					}
					if _, generated := r.Properties["GenerateSecretString"]; !generated {
						t.Errorf("%s %s: secret %s is not generated", orbit, s.Region, id)
					}
				}
				if pw, ok := r.Properties["MasterUserPassword"]; ok {
					sub, _ := pw.(Props)["Fn::Sub"].(string)
					if !strings.HasPrefix(sub, "{{resolve:secretsmanager:${DatabaseSecret}:") {
						t.Errorf("%s %s: %s's password is %v, want a dynamic reference to DatabaseSecret", orbit, s.Region, id, pw)
					}
				}
			}
			for name, p := range s.Template.Parameters {
				if strings.Contains(strings.ToLower(name), "password") || strings.Contains(strings.ToLower(p.Description), "password") {
					t.Errorf("%s %s: parameter %s carries a password", orbit, s.Region, name)
				}
			}
			for key, out := range s.Template.Outputs {
				if strings.Contains(fmt.Sprint(out.Value), "resolve:") {
					t.Errorf("%s %s: output %s resolves a secret", orbit, s.Region, key)
				}
			}
		}
	}
}

// releaseHasNoSecret builds the release document of the app of yml in
// orbit o and finds none of the secret values of store in it (as JSON, as
// the record and `deploy --dry-run -o json` hold it) nor in any user data
// as EC2 gets it (placeholders filled), the agent's configuration and
// unit files included; and finds the references the agent resolves.
func releaseHasNoSecret(t *testing.T, yml string, o *elevator.Orbit, store map[string]string) {
	t.Helper()
	a, err := manifest.ParseApp("app.yml", []byte(yml), o.Name)
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]ReleaseFacts{}
	for i := range o.Regions {
		r := &o.Regions[i]
		_, subnets, _ := ServiceTier(o, r)
		f := ReleaseFacts{Orbit: map[string]string{subnets: "subnet-a,subnet-b"}, App: map[string]string{}, Images: map[string]string{}}
		for _, svc := range a.Services {
			for _, what := range []string{"SecurityGroup", "InstanceProfile", "TargetGroup"} {
				f.App[ServiceOutput(svc.Name, what)] = what + "-" + svc.Name
			}
			f.Images[svc.Name] = "ami-0123456789abcdef0"
		}
		facts[r.Name] = f
	}
	rel, err := ReleaseDocument(ReleaseRequest{App: a, Orbit: o, Version: "1.4.2", ID: "20261123-120000-9f86d081", CreatedAt: time.Now(), Agent: fakeAgentBuilds()}, facts)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{"the release document": string(js)}
	for _, s := range rel.Services {
		for _, p := range s.Placements {
			ud := elevator.ExpandUserData(s.UserData, elevator.UserDataVars{ReleaseID: rel.ID, App: rel.App, Orbit: rel.Orbit, Service: s.Name, Region: p.Region, Version: rel.Version})
			texts["the user data of "+s.Name+" in "+p.Region] = ud
			cfg := agentConfig(t, ud)
			var refs []string
			for _, sec := range cfg.Secrets {
				refs = append(refs, sec.Name+"="+sec.SSMParameter+sec.SecretsManager)
			}
			slices.Sort(refs)
			if want := []string{"SIGNING_KEY=/ledger/signing-key", "SMTP_PASSWORD=/shared/smtp-password", "STRIPE_KEY=ledger/stripe"}; !reflect.DeepEqual(refs, want) {
				t.Errorf("%s %s: the agent resolves %v, want %v", o.Name, s.Name, refs, want)
			}
			if cfg.Database == nil || cfg.Database.Engine != "postgres" {
				t.Errorf("%s %s: the agent's database is %+v", o.Name, s.Name, cfg.Database)
			}
		}
	}
	for what, text := range texts {
		for _, v := range store {
			if strings.Contains(text, v) {
				t.Errorf("%s: the value %q appears in %s", o.Name, v, what)
			}
		}
		if strings.Contains(strings.ToLower(text), "password=") || strings.Contains(text, "resolve:secretsmanager") {
			t.Errorf("%s: %s carries a password", o.Name, what)
		}
	}
}

// TestAppIAMPaths checks every golden case: each service has exactly one
// role and one instance profile, both at /elevator/<orbit>/<app>/<service>/.
func TestAppIAMPaths(t *testing.T) {
	for _, c := range compileAppCases(t) {
		for _, s := range c.stacks {
			want := map[string]string{}
			for _, svc := range c.a.Services {
				path := elevator.IAMPath(c.o.Name, c.a.Name, svc.Name)
				if svc.Runtime.ECS != nil {
					want["TaskRole"+camel(svc.Name)] = path
					want["ExecutionRole"+camel(svc.Name)] = path
					continue
				}
				want["Role"+camel(svc.Name)] = path
				want["InstanceProfile"+camel(svc.Name)] = path
			}
			got := map[string]string{}
			for id, r := range s.Template.Resources {
				if r.Type == "AWS::IAM::Role" || r.Type == "AWS::IAM::InstanceProfile" {
					got[id], _ = r.Properties["Path"].(string)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: IAM paths\n got %v\nwant %v", c.name, s.Region, got, want)
			}
		}
	}
}

// untaggable are the resource types an app stack uses that take no tags.
var untaggable = map[string]bool{
	"AWS::IAM::InstanceProfile":                        true,
	"AWS::EC2::SecurityGroupIngress":                   true,
	"AWS::ElasticLoadBalancingV2::Listener":            true,
	"AWS::ElasticLoadBalancingV2::ListenerRule":        true,
	"AWS::ElasticLoadBalancingV2::ListenerCertificate": true,
	"AWS::Route53::RecordSet":                          true,
	"AWS::SecretsManager::SecretTargetAttachment":      true,
	"AWS::RDS::GlobalCluster":                          true,
}

// TestAppResourcesAreTagged checks every golden case: every resource that
// takes tags has Elevator's, and a service's resources name the service.
func TestAppResourcesAreTagged(t *testing.T) {
	for _, c := range compileAppCases(t) {
		for _, s := range c.stacks {
			for id, r := range s.Template.Resources {
				if untaggable[r.Type] {
					if _, ok := r.Properties["Tags"]; ok {
						t.Errorf("%s %s: %s (%s) has tags although listed as untaggable", c.name, s.Region, id, r.Type)
					}
					continue
				}
				tags, ok := r.Properties["Tags"].([]Tag)
				if !ok {
					t.Errorf("%s %s: %s (%s) has no tags", c.name, s.Region, id, r.Type)
					continue
				}
				got := map[string]string{}
				for _, tag := range tags {
					got[tag.Key] = tag.Value
				}
				want := map[string]string{elevator.TagOrbit: c.o.Name, elevator.TagApp: c.a.Name, elevator.TagRegion: s.Region, elevator.TagManagedBy: elevator.ManagedBy}
				for _, svc := range c.a.Services {
					if strings.HasSuffix(id, camel(svc.Name)) && !strings.HasPrefix(id, "Table") && !strings.HasPrefix(id, "Certificate") ||
						strings.HasPrefix(id, "Alarm"+camel(svc.Name)) {
						want[elevator.TagService] = svc.Name
					}
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s %s: %s tag %s = %q, want %q", c.name, s.Region, id, k, got[k], v)
					}
				}
				if svc, ok := got[elevator.TagService]; ok && want[elevator.TagService] != svc {
					t.Errorf("%s %s: %s is tagged with service %s", c.name, s.Region, id, svc)
				}
			}
		}
	}
}

// TestAppOutputs checks every golden case: each service has its outputs,
// and every output but a few can be resolved from the stack's resources
// (literals, Ref, Fn::Join), as apply.Outputs must on the emulator.
func TestAppOutputs(t *testing.T) {
	// getAtt lists the outputs that need Fn::GetAtt: DNS names and
	// addresses are no resource's primary id. (A service's Endpoint needs
	// it too in an orbit without a domain; the golden orbits have one.)
	getAtt := map[string]bool{
		"PublicLoadBalancerDns":  true,
		"PrivateLoadBalancerDns": true,
		"RedisEndpoint":          true,
		"DatabaseEndpoint":       true,
		"DatabaseReaderEndpoint": true,
	}
	for _, c := range compileAppCases(t) {
		for _, s := range c.stacks {
			refs := map[string]string{}
			for k, v := range s.Parameters {
				refs[k] = v
			}
			for id := range s.Template.Resources {
				refs[id] = "id-of-" + id
			}
			for _, svc := range c.a.Services {
				keys := []string{"SecurityGroup", "Role", "InstanceProfile", "InstanceProfileArn", "LogGroup"}
				if svc.Runtime.ECS != nil {
					keys = []string{"SecurityGroup", OutputTaskRole, OutputExecutionRole, OutputLogGroup}
				}
				if svc.LoadBalancer.Type != elevator.LoadBalancerNone {
					keys = append(keys, "TargetGroup", "Endpoint")
				}
				for _, k := range keys {
					if _, ok := s.Template.Outputs[camel(svc.Name)+k]; !ok {
						t.Errorf("%s %s: no output %s", c.name, s.Region, camel(svc.Name)+k)
					}
				}
			}
			for key, out := range s.Template.Outputs {
				_, resolved := resolveOutput(out.Value, refs)
				if resolved == getAtt[key] {
					t.Errorf("%s %s: output %s resolves from resources: %v, want %v", c.name, s.Region, key, resolved, !getAtt[key])
				}
			}
			if arn, ok := resolveOutput(s.Template.Outputs[camel(c.a.Services[0].Name)+"InstanceProfileArn"].Value, refs); ok {
				want := "arn:aws:iam::" + testAccount + ":instance-profile" + elevator.IAMPath(c.o.Name, c.a.Name, c.a.Services[0].Name) + "id-of-InstanceProfile" + camel(c.a.Services[0].Name)
				if arn != want {
					t.Errorf("%s %s: instance profile ARN %s, want %s", c.name, s.Region, arn, want)
				}
			}
		}
	}
}

func TestAppGlobalDatabase(t *testing.T) {
	var c compiledAppCase
	for _, cc := range compileAppCases(t) {
		if cc.name == "global-db" {
			c = cc
		}
	}
	primary, secondary := c.stacks[0].Template.Resources, c.stacks[1].Template.Resources
	if _, ok := primary["DatabaseGlobalCluster"]; !ok {
		t.Error("the first region has no global cluster")
	}
	if got := primary["DatabaseCluster"].Properties["GlobalClusterIdentifier"]; !reflect.DeepEqual(got, Ref("DatabaseGlobalCluster")) {
		t.Errorf("the writer joins %v, want the global cluster's Ref", got)
	}
	if got := primary["DatabaseSecret"].Properties["ReplicaRegions"]; !reflect.DeepEqual(got, []any{Props{"Region": "eu-west-1"}}) {
		t.Errorf("the secret is replicated to %v, want eu-west-1", got)
	}
	for _, id := range []string{"DatabaseGlobalCluster", "DatabaseSecret", "DatabaseSecretAttachment"} {
		if _, ok := secondary[id]; ok {
			t.Errorf("the second region has %s", id)
		}
	}
	cluster := secondary["DatabaseCluster"].Properties
	if got := cluster["GlobalClusterIdentifier"]; got != "elevator-production-accounts" {
		t.Errorf("the secondary cluster joins %v, want elevator-production-accounts", got)
	}
	for _, p := range []string{"MasterUsername", "MasterUserPassword"} {
		if _, ok := cluster[p]; ok {
			t.Errorf("the secondary cluster sets %s; it takes the writer's", p)
		}
	}
}

func TestAppListenerRouting(t *testing.T) {
	yml := `name: shop
services:
  api:
    runtime: {docker: {image: ghcr.io/acme/api, ports: ["9000:9000"]}}
    port: 9000
    load_balancer: {type: public, paths: ["/api/*"]}
  admin:
    runtime: {docker: {image: ghcr.io/acme/admin, ports: ["9100:9100"]}}
    port: 9100
    load_balancer: {type: public, hosts: [admin.example.com]}
  web:
    runtime: {docker: {image: ghcr.io/acme/web, ports: ["8080:8080"]}}
    port: 8080
    load_balancer: {type: public}
`
	res := mustCompileManifest(t, yml, loadAppOrbit(t, "staging"), nil)[0].Template.Resources
	if got := res["ListenerPublic80"].Properties["DefaultActions"]; !reflect.DeepEqual(got, []any{forward(&elevator.Service{Name: "web"})}) {
		t.Errorf("the listener's default action is %v, want web, the service that routes by no host and no path", got)
	}
	for id, want := range map[string]int{"ListenerRulePublic80Api": 1, "ListenerRulePublic80Admin": 2} {
		if got := res[id].Properties["Priority"]; got != want {
			t.Errorf("%s has priority %v, want %d (manifest order)", id, got, want)
		}
	}
	if _, ok := res["ListenerRulePublic80Web"]; ok {
		t.Error("the default service has a rule too")
	}
}

func TestAppStacksIsDeterministic(t *testing.T) {
	first := compileAppCases(t)
	second := compileAppCases(t)
	for i := range first {
		for j := range first[i].stacks {
			if !bytes.Equal(first[i].stacks[j].Body, second[i].stacks[j].Body) || !reflect.DeepEqual(first[i].stacks[j].Parameters, second[i].stacks[j].Parameters) {
				t.Errorf("%s %s compiles differently twice", first[i].name, first[i].stacks[j].Region)
			}
		}
	}
}
