package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The files under testdata/offers are AWS bulk offer files in exactly
// the price list's format, trimmed to a few products each, with products
// the table must leave out next to each one it keeps (Windows, dedicated
// tenancy, capacity reservations, SQL Server, a family Elevator does not
// use, NAT data processed, a Regional NAT gateway, LCUs, Oracle, multi-AZ
// RDS, Aurora I/O-Optimized, Memcached, a product with no on-demand term).
func TestOffersGiveWhatElevatorCreatesAndNothingElse(t *testing.T) {
	p := prices{}
	date, err := readOffers("testdata/offers", p, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if date != "2026-11-01" {
		t.Errorf("date = %q, want the offer files' publication date 2026-11-01", date)
	}
	want := map[string]map[string]float64{
		"us-east-1": {
			"ec2:t3.micro":                    0.0104,
			"nat:hour":                        0.045,
			"ebs:gp3":                         0.08,
			"ebs:gp2":                         0.10,
			"alb:hour":                        0.0225,
			"nlb:hour":                        0.0225,
			"rds:postgres:single:db.t3.micro": 0.018,
			// the standard Aurora instance, not the I/O-Optimized one
			// (usage type InstanceUsageIOOptimized:db.r6g.large, $0.338),
			// which the same filters would otherwise take for the same key
			"rds:aurora-postgresql:single:db.r6g.large": 0.26,
			"rds:storage:gp3":            0.115,
			"cache:redis:cache.t3.micro": 0.017,
		},
		"us-west-2": {
			"ec2:t3.micro": 0.0104,
			"ec2:m5.large": 0.096,
		},
		// from AmazonEC2/us-east-2.json, a regional offer file
		"us-east-2": {
			"nat:hour": 0.045,
		},
	}
	for region, keys := range want {
		for k, v := range keys {
			if got, ok := p[region][k]; !ok || got != v {
				t.Errorf("%s %s = %v (present %v), want %v", region, k, got, ok, v)
			}
		}
		if len(p[region]) != len(keys) {
			t.Errorf("%s has %d prices, want %d: %v", region, len(p[region]), len(keys), p[region])
		}
	}
	if len(p) != len(want) {
		t.Errorf("regions = %d, want %d", len(p), len(want))
	}
}

// At a URL the generator reads each offer's region index and the
// regional offer files it lists, and skips Local Zones.
func TestOffersAreReadFromAPriceListURLToo(t *testing.T) {
	var fetched []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched = append(fetched, r.URL.Path)
		rest, ok := strings.CutPrefix(r.URL.Path, "/offers/v1.0/aws/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		code, file, _ := strings.Cut(rest, "/")
		switch file {
		case "current/region_index.json":
			fmt.Fprintf(w, `{"formatVersion":"v1.0","publicationDate":"2026-11-01T00:00:00Z","regions":{
				"us-east-1":{"regionCode":"us-east-1","currentVersionUrl":"/offers/v1.0/aws/%[1]s/20261101000000/us-east-1/index.json"},
				"us-east-1-bos-1":{"regionCode":"us-east-1-bos-1","currentVersionUrl":"/offers/v1.0/aws/%[1]s/20261101000000/us-east-1-bos-1/index.json"}}}`, code)
		case "20261101000000/us-east-1/index.json":
			http.ServeFile(w, r, filepath.Join("testdata/offers", code+".json"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p := prices{}
	if _, err := readOffers(srv.URL, p, io.Discard); err != nil {
		t.Fatal(err)
	}
	if p["us-east-1"]["nat:hour"] != 0.045 || p["us-east-1"]["alb:hour"] != 0.0225 || p["us-east-1"]["cache:redis:cache.t3.micro"] != 0.017 {
		t.Errorf("prices read over HTTP: %v", p["us-east-1"])
	}
	for _, f := range fetched {
		if strings.Contains(f, "bos-1") {
			t.Errorf("fetched a Local Zone's offer file %s", f)
		}
	}
}

// testdata/ec2info holds entries of github.com/cristim/ec2-instances-info's
// data files, trimmed to three types and two regions.
func TestEC2InfoFillsWhatTheOffersDidNotGive(t *testing.T) {
	p := prices{}
	p.set("us-east-1", "ec2:t3.micro", 0.5) // from offer files: kept
	var notes strings.Builder
	if err := readEC2Info("testdata/ec2info", p, &notes); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		region, key string
		want        float64
	}{
		{"us-east-1", "ec2:t3.micro", 0.5},
		{"eu-west-1", "ec2:t3.micro", 0.0114},
		{"us-east-1", "ec2:m5.large", 0.096},
		{"eu-west-1", "rds:postgres:single:db.t3.micro", 0.02},
		{"eu-west-1", "rds:mysql:single:db.t3.micro", 0.018},
		{"us-east-1", "cache:redis:cache.t3.micro", 0.017},
		{"us-east-1", "rds:aurora-postgresql:single:db.r6g.large", 0.26},
		{"us-east-1", "rds:aurora-mysql:single:db.r6g.large", 0.26},
	}
	for _, c := range checks {
		if got := p[c.region][c.key]; got != c.want {
			t.Errorf("%s %s = %v, want %v", c.region, c.key, got, c.want)
		}
	}
	if _, ok := p["us-east-1"]["ec2:x2iedn.xlarge"]; ok {
		t.Error("x2iedn is not a family the table keeps")
	}
	// In eu-west-1 the data gives Aurora MySQL $0.372 and Aurora
	// PostgreSQL $0.286 for db.r6g.large (one of them the I/O-Optimized
	// price): neither is kept, and the generator says so.
	for _, k := range []string{"rds:aurora-postgresql:single:db.r6g.large", "rds:aurora-mysql:single:db.r6g.large"} {
		if v, ok := p["eu-west-1"][k]; ok {
			t.Errorf("eu-west-1 %s = %v, want no price where the Aurora engines disagree", k, v)
		}
	}
	if !strings.Contains(notes.String(), "left out the Aurora prices of 1 class") {
		t.Errorf("notes = %q, want the Aurora prices left out", notes.String())
	}
}

// Two products that pass the same filters with different prices are an
// error, not whichever the map gave last.
func TestOffersWithTwoPricesForOneKeyFail(t *testing.T) {
	dir := t.TempDir()
	body, err := os.ReadFile("testdata/offers/AWSELB.json")
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	products := o["products"].(map[string]any)
	terms := o["terms"].(map[string]any)["OnDemand"].(map[string]any)
	var alb string
	for sku, p := range products {
		if p.(map[string]any)["productFamily"] == "Load Balancer-Application" &&
			p.(map[string]any)["attributes"].(map[string]any)["usagetype"] == "LoadBalancerUsage" {
			alb = sku
		}
	}
	if alb == "" {
		t.Fatal("no ALB hour in the sample")
	}
	// a copy of the ALB hour under another SKU, at another price
	copyOf := func(v any) any {
		b, _ := json.Marshal(v)
		var c any
		json.Unmarshal(bytes.ReplaceAll(b, []byte(alb), []byte("ZZZZZZZZZZZZZZZZ")), &c)
		return c
	}
	products["ZZZZZZZZZZZZZZZZ"] = copyOf(products[alb])
	term := copyOf(terms[alb])
	b, _ := json.Marshal(term)
	json.Unmarshal(bytes.ReplaceAll(b, []byte(`"0.0225000000"`), []byte(`"0.0300000000"`)), &term)
	terms["ZZZZZZZZZZZZZZZZ"] = term
	body, _ = json.Marshal(o)
	if !bytes.Contains(body, []byte(`"0.0300000000"`)) {
		t.Fatal("the copy's price was not changed; the sample's ALB price is not 0.0225000000")
	}
	if err := os.WriteFile(filepath.Join(dir, "AWSELB.json"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = readOffers(dir, prices{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "us-east-1 alb:hour") {
		t.Fatalf("err = %v, want the conflicting ALB hour named", err)
	}
}

func TestRunWritesGoSourceWithTheDate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prices_gen.go")
	if err := run("testdata/offers", "", "", out); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`pricesDate   = "2026-11-01"`, `"nat:hour":`, `"us-west-2": {`, "package cost", "AWS Price List bulk offer files published 2026-11-01"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated source lacks %s:\n%s", want, src)
		}
	}
	if err := run("", "testdata/ec2info", "last week", out); err == nil {
		t.Error("a date that is not YYYY-MM-DD was taken")
	}
	if err := run("", "testdata/ec2info", "", out); err == nil {
		t.Error("ec2info data in a directory was taken with no date")
	}
	if err := run("", "", "", out); err == nil {
		t.Error("no source was taken")
	}
}

// Offer files and ec2instances.info data together: the source names
// both, each with its date, and the table's date is the older one.
func TestRunNamesBothSourcesAndShowsTheOlderDate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prices_gen.go")
	if err := run("testdata/offers", "testdata/ec2info", "2025-05-28", out); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`pricesDate   = "2025-05-28"`, "offer files published 2026-11-01", "ec2instances.info data (made from AWS's Price List) of 2025-05-28"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated source lacks %s:\n%s", want, src[:min(len(src), 600)])
		}
	}
}
