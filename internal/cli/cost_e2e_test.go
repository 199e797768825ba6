package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/cost"
)

// costPrices are list prices for the test: the NAT gateway's comes from
// the generator's sample offer file (internal/cost/gen/testdata/offers),
// since the table shipped in Elevator may lack it (docs/cost.md).
var costPrices = cost.NewTable("2026-11-01", "test", map[string]map[string]float64{
	"us-east-1": {"nat:hour": 0.045, "ec2:t3.micro": 0.0104},
})

// An orbit up with a NAT gateway per zone in three zones, then planned
// with a single one: the plan's estimate removes two NAT gateways and says
// what that saves, read against the orbit's deployed stack on moto.
func TestOrbitPlanShowsTheSavingOfASingleNATGateway(t *testing.T) {
	inAccount(t)
	body := "regions:\n  us-east-1:\n    cidr: 10.41.0.0/16\n    azs: [us-east-1a, us-east-1b, us-east-1c]\nnetwork: {nat: %s}\n"
	file, _ := manifest(t, strings.Replace(body, "%s", "per-az", 1))

	// With the table shipped in Elevator, which has no NAT gateway price
	// (docs/cost.md), the plan lists them and its totals say they leave
	// them out.
	shipped := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, shipped)
	for _, want := range []string{
		"+ us-east-1  NAT gateway  3 × no price  ?",
		"+$0.00/month (from $0.00 to $0.00) (excluding 1 item with no price: NAT gateway)",
		"not priced: us-east-1: NAT gateway: no price in the table",
	} {
		if !strings.Contains(squeeze(shipped.stdout), want) {
			t.Errorf("plan with the shipped table lacks %q:\n%s", want, shipped.stdout)
		}
	}
	shippedJSON := elevator(t, "", "orbit", "plan", "-f", file, "--output", "json")
	mustSucceed(t, shippedJSON)
	var shippedDoc struct {
		Cost cost.Estimate `json:"cost"`
	}
	if err := json.Unmarshal([]byte(shippedJSON.stdout), &shippedDoc); err != nil {
		t.Fatal(err)
	}
	if tot := shippedDoc.Cost.Totals; tot.Complete || tot.Unpriced != 1 || shippedDoc.Cost.PricesDate != cost.Prices().Date {
		t.Errorf("shipped table's totals %+v, date %s: want incomplete, 1 left out, the table's date", tot, shippedDoc.Cost.PricesDate)
	}

	cli.UsePrices(t, costPrices)

	first := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, first)
	for _, want := range []string{
		"Estimated monthly cost (on-demand list prices of 2026-11-01, USD; an estimate):",
		"+ us-east-1  NAT gateway  3 × $0.045/hour  $98.55",
		"+$98.55/month (from $0.00 to $98.55)",
		"not included: data processed by NAT gateways",
	} {
		if !strings.Contains(squeeze(first.stdout), want) {
			t.Errorf("plan of a new per-az orbit lacks %q:\n%s", want, first.stdout)
		}
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", file))

	again := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, again)
	if !strings.Contains(again.stdout, "no change: $98.55/month") {
		t.Errorf("plan of the orbit as it is:\n%s", again.stdout)
	}

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "nat: per-az", "nat: single", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	single := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, single)
	for _, want := range []string{"- us-east-1  NAT gateway  2 × $0.045/hour  -$65.70", "-$65.70/month (from $98.55 to $32.85)"} {
		if !strings.Contains(squeeze(single.stdout), want) {
			t.Errorf("plan with nat: single lacks %q:\n%s", want, single.stdout)
		}
	}

	t.Logf("plan with nat: single:\n%s", single.stdout)
	js := elevator(t, "", "orbit", "plan", "-f", file, "--output", "json")
	mustSucceed(t, js)
	var doc struct {
		Cost cost.Estimate `json:"cost"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, js.stdout)
	}
	c := doc.Cost
	if c.Currency != "USD" || c.PricesDate != "2026-11-01" || len(c.Notes) == 0 {
		t.Errorf("cost object %+v", c)
	}
	if len(c.Lines) != 1 || c.Lines[0].Change != "remove" || c.Lines[0].What != "NAT gateway" || c.Lines[0].Count != 2 || c.Totals.Change != -65.7 {
		t.Errorf("cost lines %+v totals %+v, want 2 NAT gateways removed, -65.70", c.Lines, c.Totals)
	}
}

// squeeze turns runs of spaces into two, so that the table's alignment
// does not matter to the test.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		fields := strings.Split(l, "  ")
		var kept []string
		for _, f := range fields {
			if f = strings.TrimSpace(f); f != "" {
				kept = append(kept, f)
			}
		}
		lines[i] = strings.Join(kept, "  ")
	}
	return strings.Join(lines, "\n")
}

const costApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"]}}
    instance_type: t3.micro
    port: 8080
    load_balancer: {type: public, health_check: {path: /health}}
    scaling: {min: 1, max: 3}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
    instance_type: t3.micro
`

// An app's plan counts its load balancer and, while it is not up, its
// services' instances; once up, its plan changes nothing. A release's dry
// run counts what it changes against the last successful release, read
// from the orbit's release records on moto.
func TestAppPlanAndDeployDryRunEstimateTheirChange(t *testing.T) {
	acct := inAccount(t)
	cli.UsePrices(t, cost.NewTable("2026-11-01", "test", map[string]map[string]float64{
		"us-east-1": {"alb:hour": 0.0225, "ec2:t3.micro": 0.0104},
	}))
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(costApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	flags := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}

	plan := elevator(t, "", append([]string{"app", "plan"}, flags...)...)
	mustSucceed(t, plan)
	for _, want := range []string{
		"+ us-east-1  Application Load Balancer  1 × $0.0225/hour  $16.43",
		"+ us-east-1  service web: t3.micro instances  1 × $0.0104/hour  $7.59",
		"+ us-east-1  service worker: t3.micro instances  1 × $0.0104/hour  $7.59",
		"+$31.61/month (from $0.00 to $31.61)",
	} {
		if !strings.Contains(squeeze(plan.stdout), want) {
			t.Errorf("app plan of a new app lacks %q:\n%s", want, plan.stdout)
		}
	}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	// up, with no release yet: before has its load balancer, no instance
	again := elevator(t, "", append([]string{"app", "plan"}, flags...)...)
	mustSucceed(t, again)
	if want := "+$15.18/month (from $16.43 to $31.61)"; !strings.Contains(again.stdout, want) || strings.Contains(again.stdout, "Load Balancer") {
		t.Errorf("app plan of the app up with no release lacks %q or shows its load balancer as a change:\n%s", want, again.stdout)
	}
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

	dry := elevator(t, "", append([]string{"deploy", "--version", "1.0.0", "--dry-run"}, flags...)...)
	mustSucceed(t, dry)
	if want := "+$15.18/month (from $0.00 to $15.18)"; !strings.Contains(dry.stdout, want) {
		t.Errorf("first release's dry run lacks %q:\n%s", want, dry.stdout)
	}
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...))

	// released: before counts the release's instances, and nothing changes
	kept := elevator(t, "", append([]string{"app", "plan", "--keep", "--output", "json"}, flags...)...)
	mustSucceed(t, kept)
	var keptDoc struct {
		Cost cost.Estimate `json:"cost"`
	}
	if err := json.Unmarshal([]byte(kept.stdout), &keptDoc); err != nil || len(keptDoc.Cost.Lines) != 0 || keptDoc.Cost.Totals.After != 31.61 {
		t.Errorf("app plan --keep --output json: %v, cost %+v\n%s", err, keptDoc.Cost, kept.stdout)
	}

	if err := os.WriteFile(appFile, []byte(strings.Replace(costApp, "min: 1, max: 3", "min: 3, max: 3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// before is the last release's web at 1, not the changed manifest's 3
	grown := elevator(t, "", append([]string{"app", "plan"}, flags...)...)
	mustSucceed(t, grown)
	for _, want := range []string{"+ us-east-1  service web: t3.micro instances  2 × $0.0104/hour  $15.19", "+$15.19/month (from $31.61 to $46.80)"} {
		if !strings.Contains(squeeze(grown.stdout), want) {
			t.Errorf("app plan with web's minimum raised lacks %q:\n%s", want, grown.stdout)
		}
	}
	js := elevator(t, "", append([]string{"deploy", "--version", "1.0.1", "--dry-run", "--output", "json"}, flags...)...)
	mustSucceed(t, js)
	var doc struct {
		ID   string        `json:"id"`
		Cost cost.Estimate `json:"cost"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatalf("deploy --dry-run --output json: %v\n%s", err, js.stdout)
	}
	if doc.ID == "" {
		t.Error("the dry run's JSON lost the release document's fields")
	}
	c := doc.Cost
	// before, the first release: web 1 + worker 1 = 2 instances,
	// 2 × 0.0104 × 730 = 15.184; after, web 3 + worker 1 = 4 of them,
	// 30.368; each total is rounded to the cent, and the line (2 more web
	// instances) is their difference. Their root volumes are what moto's image says (15 GiB
	// of standard EBS), which the test's table has no price for.
	if len(c.Lines) != 2 || c.Totals.Before != 15.18 || c.Totals.After != 30.37 || c.Totals.Change != 15.19 {
		t.Fatalf("second release's estimate %+v, want 2 more web instances and their volumes over the first release's 15.18", c)
	}
	if l := c.Lines[1]; l.What != "service web: t3.micro instances" || l.Change != "add" || l.Count != 2 || l.Monthly != 15.19 {
		t.Errorf("instances line %+v", l)
	}
	if l := c.Lines[0]; l.What != "service web: standard volumes" || l.Change != "add" || l.Count != 30 || l.Unit != cost.PerGBMonth || l.Priced {
		t.Errorf("volumes line %+v, want 2 × 15 GB, not priced", l)
	}

	t.Run("through a deployer the dry run reads the last release itself", func(t *testing.T) {
		url := deployerFor(t, orbit, newFakeDeployer(), domain.AccessRule{Role: domain.RoleDeployer, Principals: []string{userARN(acct)}})
		r := elevator(t, "", append([]string{"deploy", "--version", "1.0.1", "--dry-run", "--deployer", url, "--output", "json"}, flags...)...)
		mustSucceed(t, r)
		var remote struct {
			Cost cost.Estimate `json:"cost"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &remote); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if !reflect.DeepEqual(remote.Cost.Totals, c.Totals) || len(remote.Cost.Notes) != len(c.Notes) {
			t.Errorf("through a deployer: %+v, want what the in-process dry run said: %+v", remote.Cost, c)
		}
	})

	// web's group scaled out to 2: the dry run counts it as it runs (2,
	// carried over into the new group and raised to its minimum, 3), not at
	// the last release's minimum, 1
	groups, err := autoscaling.New(acct.Config("us-east-1")).Groups(context.Background(), map[string]string{domain.TagApp: "shop", domain.TagService: "web"})
	if err != nil || len(groups) != 1 {
		t.Fatalf("web's groups: %v, %v", groups, err)
	}
	if err := autoscaling.New(acct.Config("us-east-1")).SetCapacity(context.Background(), groups[0].Name, autoscaling.Capacity{Min: 1, Max: 3, Desired: 2}); err != nil {
		t.Fatal(err)
	}
	scaled := elevator(t, "", append([]string{"deploy", "--version", "1.0.1", "--dry-run"}, flags...)...)
	mustSucceed(t, scaled)
	for _, want := range []string{"+ us-east-1  service web: t3.micro instances  1 × $0.0104/hour  $7.60", "+$7.60/month (from $22.77 to $30.37)", "running groups' desired capacity"} {
		if !strings.Contains(squeeze(scaled.stdout), want) {
			t.Errorf("dry run with web scaled out lacks %q:\n%s", want, scaled.stdout)
		}
	}
}
