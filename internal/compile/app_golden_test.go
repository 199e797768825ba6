package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// testAccount is the account the golden app stacks go into.
const testAccount = "123456789012"

// appGoldenCase is one app compiled into one orbit: its templates are
// testdata/app-<name>.<region>.golden.yml.
type appGoldenCase struct {
	name  string
	app   string // the app manifest: testdata/app-<app>.app.yml
	orbit string // the orbit manifest: testdata/app-orbit-<orbit>.yml
	// peers are the security groups of other apps' services in the orbit
	// ("app/service" -> id), the same in every region.
	peers map[string]string
}

var appGoldenCases = []appGoldenCase{
	{name: "web-https", app: "web-https", orbit: "staging"},
	{name: "private-service", app: "private-service", orbit: "staging", peers: map[string]string{
		"storefront/web":  "sg-0a1b2c3d4e5f60001",
		"storefront/api":  "sg-0a1b2c3d4e5f60002",
		"reports/web":     "sg-0a1b2c3d4e5f60003",
		"reports/builder": "sg-0a1b2c3d4e5f60004",
	}},
	{name: "worker", app: "worker", orbit: "staging"},
	// examples/deployer.yml (a link): the deployer service, given the
	// orbit's deployer and submitter policies.
	{name: "deployer", app: "deployer", orbit: "staging"},
	{name: "data", app: "data", orbit: "staging"},
	{name: "global-db", app: "global-db", orbit: "production"},
	{name: "overrides-staging", app: "overrides", orbit: "staging"},
	{name: "overrides-production", app: "overrides", orbit: "production"},
	{name: "gated", app: "gated", orbit: "staging"},
	{name: "own-repository", app: "own-repository", orbit: "staging"},
	// ECS services: web on Fargate behind a public load balancer, a
	// worker on the orbit's EC2 capacity.
	{name: "containers", app: "containers", orbit: "containers"},
}

// loadApp builds a golden case's app as it is in orbit. It is the one place
// that knows how: the rest of the harness only sees the App.
func loadApp(name, orbit string) (*elevator.App, error) {
	file := filepath.Join("testdata", "app-"+name+".app.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return manifest.ParseApp(file, data, orbit)
}

// loadAppOrbit parses testdata/app-orbit-<name>.yml.
func loadAppOrbit(t testing.TB, name string) *elevator.Orbit {
	t.Helper()
	file := filepath.Join("testdata", "app-orbit-"+name+".yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	o, err := loadOrbit(file, data)
	if err != nil {
		t.Fatalf("load %s:\n%v", file, err)
	}
	return o
}

// orbitAppFacts compiles orbit o and resolves its stacks' declared outputs
// the way apply.Outputs does on the emulator, with made-up physical ids:
// so the facts an app stack gets are exactly what an orbit stack outputs.
func orbitAppFacts(t testing.TB, o *elevator.Orbit, peers map[string]string) map[string]AppFacts {
	t.Helper()
	rf := map[string]RegionFacts{}
	for _, r := range o.Regions {
		rf[r.Name] = RegionFacts{AZs: zones(r.Name, 3), BastionAMI: "ami-0123456789abcdef0", HostedZoneID: "Z0123456789ABCDEFGHIJ", Agent: fakeAgentBuilds()}
	}
	stacks, err := OrbitStacks(o, rf)
	if err != nil {
		t.Fatalf("compile orbit %s: %v", o.Name, err)
	}
	facts := map[string]AppFacts{}
	for _, s := range stacks {
		refs := map[string]string{}
		for k, v := range s.Parameters {
			refs[k] = v
		}
		for id, r := range s.Template.Resources {
			refs[id] = fakePhysicalID(o.Name, s.Region, id, r)
		}
		outputs := map[string]string{}
		for key, out := range s.Template.Outputs {
			v, ok := resolveOutput(out.Value, refs)
			if !ok {
				t.Fatalf("orbit output %s of %s cannot be resolved from resources", key, s.Region)
			}
			outputs[key] = v
		}
		facts[s.Region] = AppFacts{Orbit: outputs, ServiceSecurityGroups: peers, AccountID: testAccount}
	}
	return facts
}

// fakePhysicalID is what an orbit resource's Ref returns, made up: an id,
// a name or an ARN, by resource type.
func fakePhysicalID(orbit, region, id string, r Resource) string {
	h := sha256.Sum256([]byte(region + "/" + id))
	hexID := "0" + hex.EncodeToString(h[:])[:16]
	switch r.Type {
	case "AWS::EC2::VPC":
		return "vpc-" + hexID
	case "AWS::EC2::Subnet":
		return "subnet-" + hexID
	case "AWS::EC2::SecurityGroup":
		return "sg-" + hexID
	case "AWS::SNS::Topic":
		return "arn:aws:sns:" + region + ":" + testAccount + ":" + fmt.Sprint(r.Properties["TopicName"])
	case "AWS::S3::Bucket":
		return "elevator-" + testAccount + "-" + region + "-" + orbit
	case "AWS::DynamoDB::Table":
		return fmt.Sprint(r.Properties["TableName"])
	}
	return id + "-" + hexID
}

// resolveOutput evaluates literals, Ref and Fn::Join, as apply.Outputs does.
func resolveOutput(v any, refs map[string]string) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case map[string]any:
		if name, ok := v["Ref"].(string); ok {
			id, ok := refs[name]
			return id, ok
		}
		if args, ok := v["Fn::Join"].([]any); ok {
			var parts []string
			for _, item := range args[1].([]any) {
				s, ok := resolveOutput(item, refs)
				if !ok {
					return "", false
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, args[0].(string)), true
		}
	}
	return "", false
}

// compiledAppCase is a golden case compiled.
type compiledAppCase struct {
	appGoldenCase
	a      *elevator.App
	o      *elevator.Orbit
	facts  map[string]AppFacts
	stacks []Stack
}

func compileAppCases(t testing.TB) []compiledAppCase {
	t.Helper()
	var out []compiledAppCase
	for _, c := range appGoldenCases {
		a, err := loadApp(c.app, c.orbit)
		if err != nil {
			t.Fatalf("load app %s:\n%v", c.app, err)
		}
		o := loadAppOrbit(t, c.orbit)
		cc := compiledAppCase{appGoldenCase: c, a: a, o: o, facts: orbitAppFacts(t, o, c.peers)}
		cc.stacks, err = AppStacks(a, o, cc.facts)
		if err != nil {
			t.Fatalf("compile %s:\n%v", c.name, err)
		}
		out = append(out, cc)
	}
	return out
}

func appGoldenPath(name, region string) string {
	return filepath.Join("testdata", "app-"+name+"."+region+".golden.yml")
}

func TestAppGolden(t *testing.T) {
	want := map[string]bool{}
	for _, c := range compileAppCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.stacks {
				path := appGoldenPath(c.name, s.Region)
				want[path] = true
				checkGolden(t, path, s)
			}
		})
	}
	checkStale(t, appGoldenPrefix, want, "app golden case")
}

// TestAppGoldenStacks checks what the golden templates do not show: the
// stack around each body.
func TestAppGoldenStacks(t *testing.T) {
	for _, c := range compileAppCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if len(c.stacks) != len(c.o.Regions) {
				t.Fatalf("%d stacks for %d regions", len(c.stacks), len(c.o.Regions))
			}
			for i, s := range c.stacks {
				r := c.o.Regions[i]
				wantName := "elevator-app-" + c.o.Name + "-" + c.a.Name
				if s.Region != r.Name || s.Name != wantName {
					t.Errorf("stack %d is %s in %s, want %s in %s", i, s.Name, s.Region, wantName, r.Name)
				}
				wantTags := map[string]string{elevator.TagOrbit: c.o.Name, elevator.TagRegion: r.Name, elevator.TagApp: c.a.Name, elevator.TagManagedBy: elevator.ManagedBy}
				if !reflect.DeepEqual(s.Tags, wantTags) {
					t.Errorf("%s tags = %v, want %v", s.Region, s.Tags, wantTags)
				}
				checkParameters(t, s)
				if strings.Contains(string(s.Body), "ImportValue") {
					t.Errorf("%s: the template imports a value; app stacks take orbit values as parameters", s.Region)
				}
				checkBody(t, s)
			}
		})
	}
}

// appGoldenPrefix starts the name of every file of the app golden cases in
// testdata; TestGolden leaves them to TestAppGolden.
const appGoldenPrefix = "app-"

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
