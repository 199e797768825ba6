package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/cost"
)

// fakePriceList is a FAKE of AWS's Price List Query API (moto has none):
// it answers GetProducts (AWS JSON 1.1, as the real SDK client sends it)
// with PriceList entries in the real format, the NAT gateway products of
// us-east-1 over two pages, or AccessDeniedException when denied. Its
// prices are the test's own, not AWS's.
type fakePriceList struct {
	mu      sync.Mutex
	calls   int
	denied  bool
	filters []map[string]string // each call's ServiceCode and filters
	regions []string            // the region each call was signed for
	srv     *httptest.Server
}

// fakeNATEntry is a GetProducts PriceList entry in the real shape.
func fakeNATEntry(sku, usagetype, unit, usd string) string {
	return `{"product":{"productFamily":"NAT Gateway","attributes":{"regionCode":"us-east-1","servicecode":"AmazonEC2","usagetype":"` + usagetype + `","operation":"NatGateway","location":"US East (N. Virginia)","locationType":"AWS Region","group":"NGW:NatGateway","servicename":"Amazon Elastic Compute Cloud"},"sku":"` + sku + `"},` +
		`"serviceCode":"AmazonEC2","terms":{"OnDemand":{"` + sku + `.JRTCKXETXF":{"priceDimensions":{"` + sku + `.JRTCKXETXF.6YS6EN2CT7":{"unit":"` + unit + `","endRange":"Inf","description":"fake","appliesTo":[],"rateCode":"` + sku + `.JRTCKXETXF.6YS6EN2CT7","beginRange":"0","pricePerUnit":{"USD":"` + usd + `"}}},"sku":"` + sku + `","effectiveDate":"2026-10-01T00:00:00Z","offerTermCode":"JRTCKXETXF","termAttributes":{}}}},` +
		`"version":"20261101000000","publicationDate":"2026-11-02T18:20:44Z"}`
}

func newFakePriceList(t *testing.T, denied bool) *fakePriceList {
	f := &fakePriceList{denied: denied}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ServiceCode string
			NextToken   string
			Filters     []struct{ Field, Value, Type string }
		}
		if r.Header.Get("X-Amz-Target") != "AWSPriceListService.GetProducts" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "not GetProducts", http.StatusBadRequest)
			return
		}
		got := map[string]string{"ServiceCode": in.ServiceCode}
		for _, fl := range in.Filters {
			got[fl.Field] = fl.Value
		}
		f.mu.Lock()
		f.calls++
		f.filters = append(f.filters, got)
		if _, scope, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
			if parts := strings.Split(scope, "/"); len(parts) > 3 {
				f.regions = append(f.regions, parts[2]+"/"+parts[3])
			}
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if f.denied {
			w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/dev is not authorized to perform: pricing:GetProducts"}`))
			return
		}
		var list []string
		next := ""
		if in.ServiceCode == "AmazonEC2" && got["productFamily"] == "NAT Gateway" && got["regionCode"] == "us-east-1" {
			if in.NextToken == "" {
				list, next = []string{fakeNATEntry("FAKENATBYTES0001", "NatGateway-Bytes", "GB", "0.0450000000")}, "page-2"
			} else {
				list = []string{fakeNATEntry("FAKENATHOURS0001", "NatGateway-Hours", "Hrs", "0.0450000000")}
			}
		}
		out := map[string]any{"FormatVersion": "aws_v1", "PriceList": list}
		if next != "" {
			out["NextToken"] = next
		}
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePriceList) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// A per-zone NAT orbit over three zones, planned with the shipped table
// (no NAT gateway price): the estimate asks the Price List Query API
// (a fake, through the real SDK client) and prices three NAT gateways,
// marked as priced from it with its date; a second plan reads the cache
// and asks nothing.
func TestCostPlanPricesNATGatewaysFromThePriceList(t *testing.T) {
	inAccount(t)
	fake := newFakePriceList(t, false)
	cache := filepath.Join(t.TempDir(), "elevator", "prices.json")
	cli.UsePriceList(t, fake.srv.URL, cache)
	file, _ := manifest(t, "regions:\n  us-east-1:\n    cidr: 10.42.0.0/16\n    azs: [us-east-1a, us-east-1b, us-east-1c]\nnetwork: {nat: per-az}\n")

	plan := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, plan)
	for _, want := range []string{
		"Estimated monthly cost (on-demand list prices of " + cost.Prices().Date + ", USD; an estimate):",
		"+ us-east-1  NAT gateway  3 × $0.045/hour (Price List API)  $98.55",
		"+$98.55/month (from $0.00 to $98.55)",
		"prices marked (Price List API) were asked of AWS's Price List Query API, prices of 2026-11-02, not the shipped table of " + cost.Prices().Date,
	} {
		if !strings.Contains(squeeze(plan.stdout), want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	if strings.Contains(plan.stdout, "not priced") {
		t.Errorf("plan leaves something unpriced:\n%s", plan.stdout)
	}
	if n := fake.count(); n != 2 {
		t.Errorf("GetProducts called %d times, want 2 (two pages of NAT gateway products)", n)
	}
	for i, f := range fake.filters {
		if f["ServiceCode"] != "AmazonEC2" || f["productFamily"] != "NAT Gateway" || f["regionCode"] != "us-east-1" {
			t.Errorf("call %d asked %v", i, f)
		}
	}
	for i, r := range fake.regions {
		if r != "us-east-1/pricing" {
			t.Errorf("call %d signed for %s, want us-east-1/pricing", i, r)
		}
	}
	data, err := os.ReadFile(cache)
	if err != nil || !strings.Contains(string(data), `"nat:hour us-east-1"`) {
		t.Fatalf("cache %s: %v\n%s", cache, err, data)
	}

	js := elevator(t, "", "orbit", "plan", "-f", file, "--output", "json")
	mustSucceed(t, js)
	if n := fake.count(); n != 2 {
		t.Errorf("GetProducts called %d times after a second plan, want still 2 (read from the cache)", n)
	}
	var doc struct {
		Cost cost.Estimate `json:"cost"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, js.stdout)
	}
	c := doc.Cost
	if len(c.Lines) != 1 || c.Lines[0].Source != cost.SourcePriceList || c.Lines[0].Count != 3 || c.Lines[0].Monthly != 98.55 || !c.Totals.Complete {
		t.Errorf("cost lines %+v totals %+v, want 3 NAT gateways priced from the Price List API, complete", c.Lines, c.Totals)
	}
	if c.PriceListDate != "2026-11-02" || c.PricesDate != cost.Prices().Date {
		t.Errorf("price_list_date %q prices_date %q", c.PriceListDate, c.PricesDate)
	}

	// --no-price-lookup asks nothing, even with nothing cached.
	cli.UsePriceList(t, fake.srv.URL, filepath.Join(t.TempDir(), "prices.json"))
	off := elevator(t, "", "orbit", "plan", "-f", file, "--no-price-lookup")
	mustSucceed(t, off)
	if n := fake.count(); n != 2 || !strings.Contains(squeeze(off.stdout), "3 × no price") {
		t.Errorf("--no-price-lookup: %d calls, want 2:\n%s", n, off.stdout)
	}
}

// Denied pricing:GetProducts (a fake answering AccessDeniedException):
// the plan succeeds, the NAT gateways stay without a price and a note
// says what to grant.
func TestCostPlanWhenPriceListDenied(t *testing.T) {
	inAccount(t)
	fake := newFakePriceList(t, true)
	cache := filepath.Join(t.TempDir(), "prices.json")
	cli.UsePriceList(t, fake.srv.URL, cache)
	file, _ := manifest(t, "regions:\n  us-east-1:\n    cidr: 10.43.0.0/16\n    azs: [us-east-1a, us-east-1b, us-east-1c]\nnetwork: {nat: per-az}\n")

	plan := elevator(t, "", "orbit", "plan", "-f", file, "--output", "json")
	mustSucceed(t, plan)
	var doc struct {
		Cost cost.Estimate `json:"cost"`
	}
	if err := json.Unmarshal([]byte(plan.stdout), &doc); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, plan.stdout)
	}
	c := doc.Cost
	if len(c.Lines) != 1 || c.Lines[0].Priced || c.Totals.Complete || c.PriceListDate != "" {
		t.Errorf("cost lines %+v totals %+v, want the NAT gateways unpriced", c.Lines, c.Totals)
	}
	const note = "pricing:GetProducts denied: grant it to price NAT gateways, load balancers and volumes"
	found := false
	for _, n := range c.Notes {
		found = found || n == note
	}
	if !found {
		t.Errorf("notes %q lack %q", c.Notes, note)
	}
	if fake.count() == 0 {
		t.Error("the fake was never asked")
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("a denied answer was cached: %v", err)
	}
}

// A corrupt cache is ignored: the price is asked again (of a fake) and
// the cache written anew.
func TestCostPlanRewritesACorruptPriceCache(t *testing.T) {
	inAccount(t)
	fake := newFakePriceList(t, false)
	cache := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(cache, []byte(`{"prices": {"nat:hour us-east-1": {"usd": "half`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli.UsePriceList(t, fake.srv.URL, cache)
	file, _ := manifest(t, "regions:\n  us-east-1:\n    cidr: 10.44.0.0/16\n    azs: [us-east-1a, us-east-1b, us-east-1c]\nnetwork: {nat: per-az}\n")

	plan := elevator(t, "", "orbit", "plan", "-f", file)
	mustSucceed(t, plan)
	if !strings.Contains(squeeze(plan.stdout), "3 × $0.045/hour (Price List API)  $98.55") || fake.count() != 2 {
		t.Errorf("plan over a corrupt cache (%d calls):\n%s", fake.count(), plan.stdout)
	}
	var c struct {
		Prices map[string]cost.Looked `json:"prices"`
	}
	data, _ := os.ReadFile(cache)
	if err := json.Unmarshal(data, &c); err != nil || c.Prices["nat:hour us-east-1"].USD != 0.045 {
		t.Errorf("cache not written anew: %v\n%s", err, data)
	}
}
