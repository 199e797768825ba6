package cost_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/cost"
	"github.com/elevatorhq/elevator/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from what the estimator returns")

// exampleOrbit reads examples/orbit.yml, with nat set to mode when mode is
// not "".
func exampleOrbit(t testing.TB, mode elevator.NATMode) *elevator.Orbit {
	t.Helper()
	file := filepath.Join("..", "..", "examples", "orbit.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode != "" {
		data = bytes.Replace(data, []byte("nat: per-az"), []byte("nat: "+mode), 1)
	}
	o, err := manifest.ParseOrbit(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// orbitStacks compiles an orbit with the facts AWS would give: zones
// zones in every region, a bastion image, the agent's builds.
func orbitStacks(t testing.TB, o *elevator.Orbit, zones int) []compile.Stack {
	t.Helper()
	facts := map[string]compile.RegionFacts{}
	for _, r := range o.Regions {
		var azs []string
		for i := range zones {
			azs = append(azs, fmt.Sprintf("%s%c", r.Name, 'a'+i))
		}
		facts[r.Name] = compile.RegionFacts{AZs: azs, BastionAMI: "ami-0123456789abcdef0",
			Agent: agentBuilds()}
	}
	stacks, err := compile.OrbitStacks(o, facts)
	if err != nil {
		t.Fatal(err)
	}
	return stacks
}

// agentBuilds are stand-ins for the agent's builds the bastion's user data
// names.
func agentBuilds() map[string]elevator.AgentBuild {
	builds := map[string]elevator.AgentBuild{}
	for _, goarch := range elevator.AgentArches {
		sha := strings.Repeat("a", 64)
		builds[goarch] = elevator.AgentBuild{Key: elevator.AgentObjectKey(sha, goarch), SHA256: sha}
	}
	return builds
}

// testImages says the bastion's image (orbitStacks) boots from 8 GiB of
// gp3, as Amazon Linux's does.
func testImages(region, image string) (cost.Volume, bool) {
	return cost.Volume{GiB: 8, Type: "gp3"}, image == "ami-0123456789abcdef0"
}

// items returns what costs in compiled stacks.
func items(t testing.TB, stacks []compile.Stack) []cost.Item {
	t.Helper()
	var all []cost.Item
	for _, st := range stacks {
		it, err := cost.Template(cost.Stack{Region: st.Region, Body: st.Body, Parameters: st.Parameters}, testImages)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, it...)
	}
	return all
}

// exampleApp reads examples/app.yml merged for the demo orbit and
// compiles it into the example orbit, whose outputs are stand-ins.
func exampleApp(t testing.TB) (*elevator.App, []compile.Stack) {
	t.Helper()
	o := exampleOrbit(t, "")
	file := filepath.Join("..", "..", "examples", "app.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := manifest.ParseApp(file, data, o.Name)
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]compile.AppFacts{}
	for _, st := range orbitStacks(t, o, 3) {
		outputs := map[string]string{}
		for key := range st.Template.Outputs {
			outputs[key] = "stand-in-" + key
		}
		facts[st.Region] = compile.AppFacts{Orbit: outputs, AccountID: "123456789012"}
	}
	stacks, err := compile.AppStacks(a, o, facts)
	if err != nil {
		t.Fatal(err)
	}
	return a, stacks
}

// goldenFiles are the golden files the tests compared, for
// TestMain to flag the ones none of them did.
var goldenFiles = map[string]bool{}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		files, _ := filepath.Glob(filepath.Join("testdata", "*.golden.*"))
		for _, f := range files {
			if !goldenFiles[f] {
				fmt.Fprintf(os.Stderr, "%s is compared by no test: remove it\n", f)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// golden compares got with testdata/name, or rewrites it with -update.
// JSON goldens are compared as values, text ones byte for byte.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	goldenFiles[path] = true
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cost -update)", err)
	}
	same := bytes.Equal(got, want)
	if strings.HasSuffix(name, ".json") {
		var g, w any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		same = reflect.DeepEqual(g, w)
	}
	if !same {
		t.Errorf("%s differs (go test ./internal/cost -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func goldens(t *testing.T, name string, e *cost.Estimate) {
	t.Helper()
	var text bytes.Buffer
	if err := e.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, name+".golden.txt", text.Bytes())
	js, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, name+".golden.json", append(js, '\n'))
}

// The example orbit brought up for the first time: nothing before.
func TestExampleOrbitEstimate(t *testing.T) {
	e := cost.Prices().Estimate(nil, items(t, orbitStacks(t, exampleOrbit(t, ""), 3)))
	goldens(t, "orbit", e)
}

// The example app brought up for the first time in the demo orbit: its
// load balancer, Redis and its services' instances at their minimum.
func TestExampleAppEstimate(t *testing.T) {
	a, stacks := exampleApp(t)
	after := items(t, stacks)
	for _, st := range stacks {
		after = append(after, cost.Services(a, []string{st.Region})...)
	}
	goldens(t, "app", cost.Prices().Estimate(nil, after))
}

// testPrices are the prices of the generator's sample offer files, so
// that these tests say what they expect whatever the shipped table says.
var testPrices = cost.NewTable("2026-11-01", "test", map[string]map[string]float64{
	"us-east-1": {"nat:hour": 0.045, "ec2:t3.micro": 0.0104, "alb:hour": 0.0225},
	"us-west-2": {"nat:hour": 0.045, "ec2:t3.micro": 0.0104, "alb:hour": 0.0225},
})

func line(e *cost.Estimate, change, region, what string) *cost.Line {
	for i, l := range e.Lines {
		if l.Change == change && l.Region == region && l.What == what {
			return &e.Lines[i]
		}
	}
	return nil
}

func TestPerAZOrbitInThreeZonesPaysForThreeNATGateways(t *testing.T) {
	e := testPrices.Estimate(nil, items(t, orbitStacks(t, exampleOrbit(t, elevator.NATPerAZ), 3)))
	for _, region := range []string{"us-east-1", "us-west-2"} {
		l := line(e, "add", region, "NAT gateway")
		if l == nil {
			t.Fatalf("no NAT gateway line in %s: %+v", region, e.Lines)
		}
		if l.Count != 3 || l.UnitPrice != 0.045 || l.Monthly != 98.55 {
			t.Errorf("%s: %+v, want 3 × 0.045 × 730 = 98.55", region, l)
		}
	}
	if l := line(e, "add", "us-east-1", "bastion: t3.micro instances"); l == nil || l.Count != 1 || l.Monthly != 7.59 {
		t.Errorf("bastion line %+v, want 1 × 0.0104 × 730 = 7.59", l)
	}
	if want := 2 * (98.55 + 7.59); e.Totals.Change != want || e.Totals.Before != 0 {
		t.Errorf("totals %+v, want a change of %.2f from 0", e.Totals, want)
	}
}

func TestNATSingleInsteadOfPerAZShowsTheSaving(t *testing.T) {
	before := items(t, orbitStacks(t, exampleOrbit(t, elevator.NATPerAZ), 3))
	after := items(t, orbitStacks(t, exampleOrbit(t, elevator.NATSingle), 3))
	e := testPrices.Estimate(before, after)
	if len(e.Lines) != 2 {
		t.Fatalf("lines %+v, want only the NAT gateways removed in each region", e.Lines)
	}
	for _, region := range []string{"us-east-1", "us-west-2"} {
		l := line(e, "remove", region, "NAT gateway")
		if l == nil || l.Count != 2 || l.Monthly != 65.7 {
			t.Errorf("%s: %+v, want 2 NAT gateways removed, 65.70 a month", region, l)
		}
	}
	if e.Totals.Change != -131.4 {
		t.Errorf("change %v, want -131.40", e.Totals.Change)
	}
	var text bytes.Buffer
	e.WriteText(&text)
	if !strings.Contains(text.String(), "-$131.40/month") {
		t.Errorf("text does not show the saving:\n%s", text.String())
	}
}

func TestARegionMissingFromTheTableIsSaidNotFailed(t *testing.T) {
	e := testPrices.Estimate(nil, []cost.Item{
		{Region: "eu-west-1", What: "NAT gateway", Key: "nat:hour", Unit: cost.PerHour, Count: 1},
		{Region: "us-east-1", What: "service web: m7g.large instances", Key: "ec2:m7g.large", Unit: cost.PerHour, Count: 2},
		{Region: "us-east-1", What: "NAT gateway", Key: "nat:hour", Unit: cost.PerHour, Count: 1},
	})
	want := []string{"eu-west-1: the price table has no prices for this region", "us-east-1: service web: m7g.large instances: no price in the table"}
	if strings.Join(e.Unpriced, "|") != strings.Join(want, "|") {
		t.Errorf("unpriced %q, want %q", e.Unpriced, want)
	}
	if e.Totals.After != 32.85 {
		t.Errorf("after %v, want only the priced NAT gateway, 32.85", e.Totals.After)
	}
	if l := line(e, "add", "eu-west-1", "NAT gateway"); l == nil || l.Priced {
		t.Errorf("eu-west-1 line %+v, want counted but not priced", l)
	}
	var text bytes.Buffer
	e.WriteText(&text)
	if !strings.Contains(text.String(), "not priced: eu-west-1: the price table has no prices for this region") {
		t.Errorf("text:\n%s", text.String())
	}
}

func TestTemplateCountsDataStoresAndLaunchTemplateVolumes(t *testing.T) {
	body := `{"Resources":{
	 "Db":{"Type":"AWS::RDS::DBInstance","Properties":{"DBInstanceClass":"db.t4g.medium","Engine":"postgres","MultiAZ":true,"AllocatedStorage":"50","StorageType":"gp3"}},
	 "Cache":{"Type":"AWS::ElastiCache::ReplicationGroup","Properties":{"CacheNodeType":"cache.t4g.small","NumCacheClusters":2}},
	 "Nlb":{"Type":"AWS::ElasticLoadBalancingV2::LoadBalancer","Properties":{"Type":"network"}},
	 "AutoScalingGroupWorker":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"MinSize":"2","LaunchTemplate":{"LaunchTemplateId":{"Ref":"Lt"},"Version":"1"}}},
	 "Lt":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"InstanceType":"m6i.large","BlockDeviceMappings":[{"DeviceName":"/dev/xvda","Ebs":{"VolumeSize":20}}]}}},
	 "Sized":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"MinSize":{"Ref":"Min"},"LaunchTemplate":{"LaunchTemplateId":{"Ref":"Elsewhere"}}}},
	 "AutoScalingGroupBastion":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"DesiredCapacity":3,"MinSize":"1","LaunchTemplate":{"LaunchTemplateName":{"Ref":"BastionLt"}}}},
	 "BastionLt":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"InstanceType":"t4g.nano","ImageId":{"Ref":"Ami"}}}}
	}}`
	got, err := cost.Template(cost.Stack{Region: "eu-west-1", Body: []byte(body), Parameters: map[string]string{"Ami": "ami-1"}}, func(region, image string) (cost.Volume, bool) {
		return cost.Volume{GiB: 30}, region == "eu-west-1" && image == "ami-1"
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []cost.Item{
		{Region: "eu-west-1", What: "bastion: t4g.nano instances", Key: "ec2:t4g.nano", Unit: cost.PerHour, Count: 3},
		{Region: "eu-west-1", What: "bastion: gp2 volumes", Key: "ebs:gp2", Unit: cost.PerGBMonth, Count: 90, Note: "instances' root volumes are counted as their image gives them, unless the launch template sizes them"},
		{Region: "eu-west-1", What: "worker: m6i.large instances", Key: "ec2:m6i.large", Unit: cost.PerHour, Count: 2},
		// no type and no image to take it from: EBS's default, gp2
		{Region: "eu-west-1", What: "worker: gp2 volumes", Key: "ebs:gp2", Unit: cost.PerGBMonth, Count: 40},
		{Region: "eu-west-1", What: "ElastiCache Redis cache.t4g.small nodes", Key: "cache:redis:cache.t4g.small", Unit: cost.PerHour, Count: 2},
		{Region: "eu-west-1", What: "RDS postgres db.t4g.medium (multi-AZ: primary and standby)", Key: "rds:postgres:single:db.t4g.medium", Unit: cost.PerHour, Count: 2,
			Note: "a multi-AZ RDS instance is counted as two instances (primary and standby) and twice its storage"},
		{Region: "eu-west-1", What: "RDS gp3 storage", Key: "rds:storage:gp3", Unit: cost.PerGBMonth, Count: 100},
		{Region: "eu-west-1", What: "Network Load Balancer", Key: "nlb:hour", Unit: cost.PerHour, Count: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items\n got %+v\nwant %+v", got, want)
	}
	if _, err := cost.Template(cost.Stack{Region: "eu-west-1", Body: []byte("Resources: [")}, nil); err == nil {
		t.Error("a body that is not JSON was taken")
	}
}

func TestShippedTableHasItsDateAndTheFamiliesElevatorUses(t *testing.T) {
	p := cost.Prices()
	if p.Date == "" || p.Source == "" {
		t.Errorf("date %q, source %q", p.Date, p.Source)
	}
	for _, k := range []string{"ec2:t3.micro", "ec2:t4g.small", "ec2:m5.large", "ec2:m6i.large", "ec2:m7g.large", "ec2:c5.large", "ec2:c6i.large", "ec2:r5.large", "ec2:r6i.large",
		"rds:postgres:single:db.t4g.medium", "rds:mysql:single:db.t3.micro", "cache:redis:cache.t3.micro"} {
		if v, ok := p.Price("us-east-1", k); !ok || v <= 0 {
			t.Errorf("us-east-1 %s: %v %v", k, v, ok)
		}
	}
}

func BenchmarkEstimateExampleOrbit(b *testing.B) {
	perAZ := orbitStacks(b, exampleOrbit(b, elevator.NATPerAZ), 3)
	single := orbitStacks(b, exampleOrbit(b, elevator.NATSingle), 3)
	table := cost.Prices()
	var size int64
	for i := range perAZ {
		size += int64(len(perAZ[i].Body) + len(single[i].Body))
	}
	b.SetBytes(size) // the four templates read per estimate
	b.ReportAllocs()
	for b.Loop() {
		var before, after []cost.Item
		for i := range perAZ {
			x, _ := cost.Template(cost.Stack{Region: perAZ[i].Region, Body: perAZ[i].Body, Parameters: perAZ[i].Parameters}, testImages)
			y, _ := cost.Template(cost.Stack{Region: single[i].Region, Body: single[i].Body, Parameters: single[i].Parameters}, testImages)
			before, after = append(before, x...), append(after, y...)
		}
		table.Estimate(before, after)
	}
}

// BenchmarkPriceItems is the pricing alone, once the templates are read.
func BenchmarkPriceItems(b *testing.B) {
	before := items(b, orbitStacks(b, exampleOrbit(b, elevator.NATPerAZ), 3))
	after := items(b, orbitStacks(b, exampleOrbit(b, elevator.NATSingle), 3))
	a, _ := exampleApp(b)
	after = append(after, cost.Services(a, []string{"us-east-1", "us-west-2"})...)
	table := cost.Prices()
	b.ReportAllocs()
	for b.Loop() {
		table.Estimate(before, after)
	}
}
