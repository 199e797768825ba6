package cost_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cost"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// The kinds of price the shipped table has in every region Elevator
// accepts, and the kinds it has in none: its only source, the
// ec2instances.info data, gives no NAT gateway, load balancer, EBS or
// RDS storage prices (docs/cost.md). When the table is generated from a
// source that gives them, this test fails and is changed with it.
func TestShippedTableKindsOfPricePerRegion(t *testing.T) {
	p := cost.Prices()
	has := []string{"ec2:t3.micro", "ec2:t3.small", "ec2:t4g.small", "rds:postgres:single:db.t3.micro", "rds:mysql:single:db.t3.micro", "cache:redis:cache.t3.micro"}
	lacks := []string{"nat:hour", "alb:hour", "nlb:hour", "ebs:gp3", "ebs:gp2", "rds:storage:gp3", "rds:storage:gp2"}
	for _, region := range manifest.KnownRegions() {
		// China's regions are priced in CNY, not in the table's USD;
		// ap-east-2 is newer than the data: no price at all, which the
		// estimate says (docs/cost.md)
		if strings.HasPrefix(region, "cn-") || region == "ap-east-2" {
			if p.HasRegion(region) {
				t.Errorf("%s has prices: change this test and docs/cost.md", region)
			}
			continue
		}
		for _, k := range has {
			if v, ok := p.Price(region, k); !ok || v <= 0 {
				t.Errorf("%s: no price for %s", region, k)
			}
		}
		for _, k := range lacks {
			if v, ok := p.Price(region, k); ok {
				t.Errorf("%s: %s = %v: the table now has it; change this test, docs/cost.md and the goldens", region, k, v)
			}
		}
		aurora := false
		for _, class := range []string{"db.r5.large", "db.r6g.large", "db.r6i.large", "db.r7g.large", "db.t3.medium", "db.t4g.medium", "db.r5.xlarge", "db.r6g.xlarge"} {
			_, ok := p.Price(region, "rds:aurora-postgresql:single:"+class)
			aurora = aurora || ok
		}
		if !aurora {
			t.Errorf("%s: no Aurora PostgreSQL price", region)
		}
	}
	// Aurora's standard price, where the data's two engines agree
	if v, ok := p.Price("us-east-1", "rds:aurora-postgresql:single:db.r6g.large"); !ok || v != 0.26 {
		t.Errorf("us-east-1 Aurora PostgreSQL db.r6g.large = %v %v, want 0.26", v, ok)
	}
}

// An Aurora instance in a template is priced by its engine and class.
func TestAuroraInstancesArePriced(t *testing.T) {
	body := `{"Resources":{"Db":{"Type":"AWS::RDS::DBInstance","Properties":{"DBInstanceClass":"db.r6g.large","Engine":"aurora-postgresql","DBClusterIdentifier":{"Ref":"Cluster"}}}}}`
	items, err := cost.Template(cost.Stack{Region: "us-east-1", Body: []byte(body)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := cost.Prices().Estimate(nil, items)
	if len(e.Lines) != 1 || !e.Lines[0].Priced || e.Lines[0].Monthly != 189.8 {
		t.Errorf("lines = %+v, want one priced Aurora line of $189.80 (0.26 × 730)", e.Lines)
	}
}

var partialTable = cost.NewTable("2026-11-01", "test", map[string]map[string]float64{"us-east-1": {"ec2:t3.micro": 0.01}})

// Totals that leave something out say so, in text and JSON.
func TestPartialTotalsSayWhatTheyLeaveOut(t *testing.T) {
	after := []cost.Item{
		{Region: "us-east-1", What: "NAT gateway", Key: "nat:hour", Unit: cost.PerHour, Count: 2},
		{Region: "us-east-1", What: "bastion: t3.micro instances", Key: "ec2:t3.micro", Unit: cost.PerHour, Count: 1},
		{Region: "us-east-1", What: "Application Load Balancer", Key: "alb:hour", Unit: cost.PerHour, Count: 1},
	}
	e := partialTable.Estimate(nil, after)
	var b strings.Builder
	e.WriteText(&b)
	if want := "+$7.30/month (from $0.00 to $7.30) (excluding 2 items with no price: Application Load Balancer, NAT gateway)"; !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
	js, _ := json.Marshal(e.Totals)
	if want := `"complete":false,"unpriced":2,"excluded":["Application Load Balancer","NAT gateway"]`; !strings.Contains(string(js), want) {
		t.Errorf("totals = %s, want %s", js, want)
	}
	// unchanged, but still left out of the totals both before and after
	e = partialTable.Estimate(after, after)
	b.Reset()
	e.WriteText(&b)
	if want := "no change: $7.30/month (excluding 2 items with no price"; !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
	e = partialTable.Estimate(nil, after[1:2])
	js, _ = json.Marshal(e.Totals)
	b.Reset()
	e.WriteText(&b)
	if !strings.Contains(string(js), `"complete":true,"unpriced":0`) || strings.Contains(b.String(), "excluding") {
		t.Errorf("complete totals: %s\n%s", js, b.String())
	}
}

// A count CloudFormation resolves (Fn::If, Ref) is said, never silent.
func TestCountsGivenByFunctionsAreSaid(t *testing.T) {
	body := `{"Resources":{
	 "AutoScalingGroupBastion":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"DesiredCapacity":{"Fn::If":["On",1,0]},"MinSize":"1","LaunchTemplate":{"LaunchTemplateId":{"Ref":"Lt"}}}},
	 "AutoScalingGroupWorker":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"DesiredCapacity":{"Ref":"N"},"MinSize":{"Ref":"Min"},"LaunchTemplate":{"LaunchTemplateId":{"Ref":"Lt"}}}},
	 "Lt":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"InstanceType":"t3.micro"}}}
	}}`
	items, err := cost.Template(cost.Stack{Region: "us-east-1", Body: []byte(body)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := partialTable.Estimate(nil, items)
	if len(e.Lines) != 1 || e.Lines[0].What != "bastion: t3.micro instances" || e.Lines[0].Count != 1 {
		t.Errorf("lines = %+v, want the bastion at its minimum size, 1", e.Lines)
	}
	if !slices.ContainsFunc(e.Notes, func(n string) bool {
		return strings.Contains(n, "bastion: its desired capacity is given by a function") && strings.Contains(n, "minimum size, 1")
	}) {
		t.Errorf("notes lack the bastion's count: %q", e.Notes)
	}
	if !slices.ContainsFunc(e.Unpriced, func(u string) bool { return strings.Contains(u, "worker: t3.micro instances") }) || e.Totals.Complete {
		t.Errorf("unpriced %q, complete %v: want the worker's group named and the totals incomplete", e.Unpriced, e.Totals.Complete)
	}
}

// A launch template's mapping of the root device takes the size and type
// its image gives where it gives none; another device's mapping does not
// hide the root volume.
func TestRootDeviceMappingFallsBackToTheImage(t *testing.T) {
	images := func(region, image string) (cost.Volume, bool) {
		return cost.Volume{GiB: 30, Type: "gp3", Device: "/dev/xvda"}, image == "ami-1"
	}
	lt := func(mappings string) string {
		return `{"Resources":{
		 "AutoScalingGroupBastion":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"MinSize":"2","LaunchTemplate":{"LaunchTemplateId":{"Ref":"Lt"}}}},
		 "Lt":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"InstanceType":"t3.micro","ImageId":"ami-1","BlockDeviceMappings":` + mappings + `}}}}}`
	}
	volumes := func(mappings string) map[string]float64 {
		items, err := cost.Template(cost.Stack{Region: "us-east-1", Body: []byte(lt(mappings))}, images)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, it := range items {
			if it.Unit == cost.PerGBMonth {
				got[it.Key] += it.Count
			}
		}
		return got
	}
	cases := []struct {
		mappings string
		want     map[string]float64
	}{
		// the root device, no size: the image's 30 GiB, of the type given
		{`[{"DeviceName":"/dev/xvda","Ebs":{"VolumeType":"gp2"}}]`, map[string]float64{"ebs:gp2": 60}},
		// the root device, no type: the image's gp3
		{`[{"DeviceName":"/dev/xvda","Ebs":{"VolumeSize":50}}]`, map[string]float64{"ebs:gp3": 100}},
		// another device: its own volume (gp2, EBS's default) and the root volume
		{`[{"DeviceName":"/dev/xvdb","Ebs":{"VolumeSize":10}}]`, map[string]float64{"ebs:gp2": 20, "ebs:gp3": 60}},
	}
	for _, c := range cases {
		if got := volumes(c.mappings); !maps(got, c.want) {
			t.Errorf("%s: volumes %v, want %v", c.mappings, got, c.want)
		}
	}
}

func maps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// An image whose root volume cannot be read is named, not silently left out.
func TestUnreadableImagesAreSaid(t *testing.T) {
	none := func(string, string) (cost.Volume, bool) { return cost.Volume{}, false }
	body := `{"Resources":{
	 "AutoScalingGroupBastion":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"MinSize":"1","LaunchTemplate":{"LaunchTemplateId":{"Ref":"Lt"}}}},
	 "Lt":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"InstanceType":"t3.micro","ImageId":"ami-gone"}}}}}`
	items, err := cost.Template(cost.Stack{Region: "us-east-1", Body: []byte(body)}, none)
	if err != nil {
		t.Fatal(err)
	}
	rel := &elevator.Release{App: "shop", Services: []elevator.ReleaseService{{Name: "web", InstanceType: "t3.micro",
		Capacity:   elevator.ReleaseCapacity{Min: 1, Max: 2},
		Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: "ami-lost"}}}}}
	items = append(items, cost.ReleaseServices(rel, none)...)
	e := partialTable.Estimate(nil, items)
	for _, want := range []string{"us-east-1: bastion: root volumes: the image ami-gone could not be read", "us-east-1: service web: root volumes: the image ami-lost could not be read"} {
		if !slices.ContainsFunc(e.Unpriced, func(u string) bool { return strings.HasPrefix(u, want) }) {
			t.Errorf("unpriced %q lacks %q", e.Unpriced, want)
		}
	}
	if e.Totals.Complete || e.Totals.Unpriced != 2 {
		t.Errorf("totals %+v, want incomplete with 2 left out", e.Totals)
	}
}

// Notes say only what applies: an orbit's NAT gateways get no note about
// services or multi-AZ databases; every estimate says what it leaves out.
func TestNotesSayOnlyWhatApplies(t *testing.T) {
	e := partialTable.Estimate(nil, []cost.Item{{Region: "us-east-1", What: "NAT gateway", Key: "nat:hour", Unit: cost.PerHour, Count: 1}})
	all := strings.Join(e.Notes, "\n")
	for _, absent := range []string{"services are counted", "multi-AZ", "root volumes"} {
		if strings.Contains(all, absent) {
			t.Errorf("notes say %q where it does not apply:\n%s", absent, all)
		}
	}
	for _, want := range []string{"Secrets Manager", "KMS", "ECR", "Lambda", "SQS", "CloudWatch metrics, alarms and Logs"} {
		if !strings.Contains(all, want) {
			t.Errorf("not included lacks %s:\n%s", want, all)
		}
	}
	app := &elevator.App{Name: "shop", Services: []elevator.Service{{Name: "web", InstanceType: "t3.micro", Scaling: elevator.Scaling{Min: 2}}}}
	e = partialTable.Estimate(nil, cost.Services(app, []string{"us-east-1"}))
	if !strings.Contains(strings.Join(e.Notes, "\n"), "services are counted at their minimum capacity") {
		t.Errorf("a service's estimate lacks how it is counted: %q", e.Notes)
	}
}
