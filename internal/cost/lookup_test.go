package cost_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator/internal/cost"
)

// natItems are three NAT gateways in us-east-1 and one in eu-west-1.
var natItems = []cost.Item{
	{Region: "us-east-1", What: "NAT gateway", Key: "nat:hour", Unit: cost.PerHour, Count: 3},
	{Region: "eu-west-1", What: "NAT gateway", Key: "nat:hour", Unit: cost.PerHour, Count: 1},
	{Region: "us-east-1", What: "bastion: t3.micro instances", Key: "ec2:t3.micro", Unit: cost.PerHour, Count: 1},
}

// A fake Fetch: it counts calls and prices NAT gateways at usd.
func fakeFetch(calls *int, usd float64, err error) cost.Fetch {
	return func(_ context.Context, region, key string) (cost.Looked, error) {
		*calls++
		if err != nil {
			return cost.Looked{}, err
		}
		return cost.Looked{USD: usd, Date: "2026-11-02"}, nil
	}
}

// Only what the table lacks and the Price List API gives is asked, once
// per region and key; the cache answers for 30 days, then it is asked
// again.
func TestLookUpAsksWhatTheTableLacksAndCaches(t *testing.T) {
	table := cost.NewTable("2025-05-28", "test", map[string]map[string]float64{"us-east-1": {"ec2:t3.micro": 0.0104}})
	cache := filepath.Join(t.TempDir(), "elevator", "prices.json")
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	calls := 0
	l := cost.Lookup{Fetch: fakeFetch(&calls, 0.045, nil), Cache: cache, CacheFor: cost.LookupCacheFor, Now: func() time.Time { return now }}

	e := table.LookUp(context.Background(), l, natItems).Estimate(nil, natItems)
	if calls != 2 {
		t.Errorf("%d calls, want 2 (NAT gateway hours in two regions; the instance is in the table)", calls)
	}
	if !e.Totals.Complete || e.Totals.After != 131.4+7.59 || e.PriceListDate != "2026-11-02" {
		t.Errorf("totals %+v price list date %q", e.Totals, e.PriceListDate)
	}
	for _, l := range e.Lines {
		want := cost.SourcePriceList
		if strings.Contains(l.What, "t3.micro") {
			want = cost.SourceTable
		}
		if l.Source != want {
			t.Errorf("%s %s: source %q, want %q", l.Region, l.What, l.Source, want)
		}
	}

	now = now.Add(29 * 24 * time.Hour)
	table.LookUp(context.Background(), l, natItems)
	if calls != 2 {
		t.Errorf("%d calls after 29 days, want 2 (cached)", calls)
	}
	now = now.Add(2 * 24 * time.Hour)
	table.LookUp(context.Background(), l, natItems)
	if calls != 4 {
		t.Errorf("%d calls after 31 days, want 4 (asked again)", calls)
	}
}

// Any failure leaves the items without a price and says why; the first
// denial stops asking.
func TestLookUpFailuresLeaveNoPrice(t *testing.T) {
	table := cost.NewTable("2025-05-28", "test", map[string]map[string]float64{"us-east-1": {"ec2:t3.micro": 0.0104}})
	for _, tc := range []struct {
		err   error
		note  string
		calls int
	}{
		{fmt.Errorf("%w: not authorized", cost.ErrDenied), "pricing:GetProducts denied: grant it to price NAT gateways, load balancers and volumes", 1},
		{errors.New("connection refused"), "AWS's Price List Query API could not be asked (connection refused; connection refused)", 2},
	} {
		calls := 0
		e := table.LookUp(context.Background(), cost.Lookup{Fetch: fakeFetch(&calls, 0, tc.err), CacheFor: cost.LookupCacheFor}, natItems).Estimate(nil, natItems)
		if calls != tc.calls || e.Totals.Complete || e.Totals.Unpriced != 2 {
			t.Errorf("%v: %d calls, totals %+v", tc.err, calls, e.Totals)
		}
		if !strings.Contains(strings.Join(e.Notes, "\n"), tc.note) {
			t.Errorf("%v: notes %q lack %q", tc.err, e.Notes, tc.note)
		}
	}
}

// The questions of one estimate are bounded in time: a Price List API
// that never answers (a fake that waits for the bound) is asked once,
// and the note says it timed out.
func TestLookUpIsBounded(t *testing.T) {
	calls := 0
	hang := func(ctx context.Context, region, key string) (cost.Looked, error) {
		calls++
		<-ctx.Done()
		return cost.Looked{}, ctx.Err()
	}
	table := cost.NewTable("2025-05-28", "test", nil)
	e := table.LookUp(context.Background(), cost.Lookup{Fetch: hang, Timeout: 50 * time.Millisecond, CacheFor: cost.LookupCacheFor}, natItems).Estimate(nil, natItems)
	if calls != 1 || e.Totals.Complete {
		t.Errorf("%d calls, totals %+v", calls, e.Totals)
	}
	if !strings.Contains(strings.Join(e.Notes, "\n"), "could not be asked (context deadline exceeded)") {
		t.Errorf("notes %q", e.Notes)
	}
}

// A corrupt cache is ignored and written again.
func TestLookUpCorruptCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(cache, []byte("\x00not json"), 0o600)
	calls := 0
	table := cost.NewTable("2025-05-28", "test", nil)
	e := table.LookUp(context.Background(), cost.Lookup{Fetch: fakeFetch(&calls, 0.045, nil), Cache: cache, CacheFor: cost.LookupCacheFor}, natItems[:1]).Estimate(nil, natItems[:1])
	if calls != 1 || !e.Totals.Complete {
		t.Errorf("%d calls, totals %+v", calls, e.Totals)
	}
	data, _ := os.ReadFile(cache)
	if !strings.Contains(string(data), `"nat:hour us-east-1"`) {
		t.Errorf("cache not written anew:\n%s", data)
	}
}

// A GetProducts PriceList entry reads as an offer of one product whose
// price the generator's rules key.
func TestParsePriceListItem(t *testing.T) {
	entry := `{"product":{"productFamily":"Load Balancer-Network","attributes":{"regionCode":"eu-west-1","usagetype":"EU-LoadBalancerUsage","operation":"LoadBalancing:Network"},"sku":"FAKESKU1"},"serviceCode":"AWSELB",` +
		`"terms":{"OnDemand":{"FAKESKU1.JRTCKXETXF":{"priceDimensions":{"FAKESKU1.JRTCKXETXF.6YS6EN2CT7":{"unit":"Hrs","pricePerUnit":{"USD":"0.0252000000"}}},"sku":"FAKESKU1","effectiveDate":"2026-10-01T00:00:00Z"}}},"publicationDate":"2026-11-02T18:20:44Z"}`
	o, err := cost.ParsePriceListItem([]byte(entry))
	if err != nil {
		t.Fatal(err)
	}
	got := o.OfferPrices("AWSELB")
	if len(got) != 1 || got[0].Key != "nlb:hour" || got[0].Region != "eu-west-1" || got[0].USD != 0.0252 || got[0].Effective != "2026-10-01" || cost.DateOf(o.PublicationDate) != "2026-11-02" {
		t.Errorf("prices %+v, publication %q", got, o.PublicationDate)
	}
	for _, bad := range []string{`{`, `{"product":{}}`, `[]`} {
		if _, err := cost.ParsePriceListItem([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
