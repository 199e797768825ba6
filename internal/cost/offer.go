package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// What this file reads: AWS's price list in its own format, the bulk
// offer files the generator (internal/cost/gen) reads and the PriceList
// entries the Price List Query API (pricing:GetProducts) answers, which
// are one product and its terms in that same format. Both make their
// table keys with OfferPrices, so a price means the same wherever it
// came from.

// Families are the instance families whose types the table keeps: the
// ones Elevator's manifests name in examples and docs, and their
// neighbours. Everything else is left out to keep the table small.
var Families = []string{
	"t3", "t3a", "t4g", "m5", "m6i", "m6g", "m7i", "m7g", "c5", "c6i", "c6g", "c7i", "c7g", "r5", "r6i", "r6g", "r7i", "r7g",
}

// Engines maps the price list's database engine names to Elevator's.
var Engines = map[string]string{"PostgreSQL": "postgres", "MySQL": "mysql", "Aurora PostgreSQL": "aurora-postgresql", "Aurora MySQL": "aurora-mysql"}

// sizes are the sizes the table keeps, up to 4xlarge: larger ones are
// rare enough behind Elevator's services that a smaller table wins.
var sizes = []string{"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge"}

// Keep reports whether an instance type (t3.micro, db.t3.micro,
// cache.t3.micro) is of a family and size the table keeps.
func Keep(typ string) bool {
	typ = strings.TrimPrefix(strings.TrimPrefix(typ, "db."), "cache.")
	family, size, ok := strings.Cut(typ, ".")
	return ok && slices.Contains(Families, family) && slices.Contains(sizes, size)
}

// Product is a product of the price list.
type Product struct {
	SKU           string            `json:"sku"`
	ProductFamily string            `json:"productFamily"`
	Attributes    map[string]string `json:"attributes"`
}

// Term is an on-demand term of a product.
type Term struct {
	EffectiveDate   string `json:"effectiveDate"`
	PriceDimensions map[string]struct {
		Unit         string            `json:"unit"`
		PricePerUnit map[string]string `json:"pricePerUnit"`
	} `json:"priceDimensions"`
}

// Offer is the part of an AWS offer file estimates need: products and
// their on-demand terms (SKU -> term code -> term).
type Offer struct {
	OfferCode       string             `json:"offerCode"`
	PublicationDate string             `json:"publicationDate"`
	Products        map[string]Product `json:"products"`
	Terms           struct {
		OnDemand map[string]map[string]Term `json:"OnDemand"`
	} `json:"terms"`
}

// ParsePriceListItem reads one entry of a GetProducts answer's PriceList
// (a product, its service code and its terms) as an offer of that one
// product.
func ParsePriceListItem(data []byte) (*Offer, error) {
	var it struct {
		ServiceCode     string  `json:"serviceCode"`
		PublicationDate string  `json:"publicationDate"`
		Product         Product `json:"product"`
		Terms           struct {
			OnDemand map[string]Term `json:"OnDemand"`
		} `json:"terms"`
	}
	if err := json.Unmarshal(data, &it); err != nil {
		return nil, fmt.Errorf("read a price list entry: %w", err)
	}
	if it.Product.SKU == "" {
		return nil, fmt.Errorf("read a price list entry: it names no product SKU")
	}
	o := &Offer{OfferCode: it.ServiceCode, PublicationDate: it.PublicationDate, Products: map[string]Product{it.Product.SKU: it.Product}}
	o.Terms.OnDemand = map[string]map[string]Term{it.Product.SKU: it.Terms.OnDemand}
	return o, nil
}

// OnDemand returns a SKU's on-demand price in USD per unit, the first
// non-zero dimension (on-demand terms have one), and its term's
// effective date (YYYY-MM-DD, "" when it gives none).
func (o *Offer) OnDemand(sku string) (usd float64, unit, effective string, ok bool) {
	for _, term := range o.Terms.OnDemand[sku] {
		for _, d := range term.PriceDimensions {
			v, err := strconv.ParseFloat(d.PricePerUnit["USD"], 64)
			if err == nil && v > 0 && !math.IsInf(v, 1) {
				return v, d.Unit, DateOf(term.EffectiveDate), true
			}
		}
	}
	return 0, "", "", false
}

// DateOf returns the day (YYYY-MM-DD) of a price list timestamp, "" when
// it is not one.
func DateOf(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// OfferPrice is one price an offer gives, under the table's key.
type OfferPrice struct {
	Region, Key, SKU string
	USD              float64
	// Effective is the date its on-demand term took effect, YYYY-MM-DD.
	Effective string
}

// OfferPrices returns the on-demand prices of what Elevator creates in
// an offer of code (AmazonEC2, AWSELB, AmazonRDS, AmazonElastiCache), in
// AWS regions, by SKU: Linux, shared-tenancy instances; NAT gateway
// hours; gp3 and gp2 storage; Application and Network Load Balancer
// hours; single-AZ RDS instances of the engines Elevator supports and
// their gp3 and gp2 storage; Redis cache nodes. Aurora's I/O-Optimized
// instances (usage types ...IOOptimized...) are left out: the standard
// configuration is priced.
func (o *Offer) OfferPrices(code string) []OfferPrice {
	skus := make([]string, 0, len(o.Products))
	for sku := range o.Products {
		skus = append(skus, sku)
	}
	slices.Sort(skus)
	var out []OfferPrice
	for _, sku := range skus {
		prod := o.Products[sku]
		a := prod.Attributes
		region := a["regionCode"]
		// AWS regions only, not Local Zones or Wavelength Zones
		// (us-east-1-bos-1), where Elevator runs nothing.
		if !elevator.IsRegionName(region) {
			continue
		}
		usd, unit, effective, ok := o.OnDemand(sku)
		if !ok {
			continue
		}
		if key := offerKey(code, prod, unit); key != "" {
			out = append(out, OfferPrice{Region: region, Key: key, SKU: sku, USD: usd, Effective: effective})
		}
	}
	return out
}

// offerKey returns the table's key of a product priced per unit, "" when
// the table keeps no such price.
func offerKey(code string, prod Product, unit string) string {
	a := prod.Attributes
	switch {
	case code == "AmazonEC2" && prod.ProductFamily == "Compute Instance":
		if a["operatingSystem"] == "Linux" && a["tenancy"] == "Shared" && a["preInstalledSw"] == "NA" &&
			a["capacitystatus"] == "Used" && unit == "Hrs" && Keep(a["instanceType"]) {
			return "ec2:" + a["instanceType"]
		}
	case code == "AmazonEC2" && prod.ProductFamily == "NAT Gateway":
		// The classic NAT gateway's hours, not the Regional NAT gateway's
		// nor provisioned bandwidth's.
		if usage(a["usagetype"], "NatGateway-Hours") {
			return "nat:hour"
		}
	case code == "AmazonEC2" && prod.ProductFamily == "Storage":
		if v := a["volumeApiName"]; (v == "gp3" || v == "gp2") && unit == "GB-Mo" {
			return "ebs:" + v
		}
	case code == "AWSELB" && prod.ProductFamily == "Load Balancer-Application":
		if usage(a["usagetype"], "LoadBalancerUsage") {
			return "alb:hour"
		}
	case code == "AWSELB" && prod.ProductFamily == "Load Balancer-Network":
		if usage(a["usagetype"], "LoadBalancerUsage") {
			return "nlb:hour"
		}
	case code == "AmazonRDS" && prod.ProductFamily == "Database Instance":
		// Single-AZ only: the estimate counts a multi-AZ instance as
		// two (docs/cost.md).
		engine := Engines[a["databaseEngine"]]
		if engine != "" && a["deploymentOption"] == "Single-AZ" && unit == "Hrs" && Keep(a["instanceType"]) &&
			!strings.Contains(a["usagetype"], "IOOptimized") {
			return "rds:" + engine + ":single:" + a["instanceType"]
		}
	case code == "AmazonRDS" && prod.ProductFamily == "Database Storage":
		vt := rdsVolumeTypes[a["volumeType"]]
		if vt != "" && a["deploymentOption"] == "Single-AZ" && unit == "GB-Mo" &&
			(a["databaseEngine"] == "PostgreSQL" || a["databaseEngine"] == "Any" || a["databaseEngine"] == "") {
			return "rds:storage:" + vt
		}
	case code == "AmazonElastiCache" && prod.ProductFamily == "Cache Instance":
		if a["cacheEngine"] == "Redis" && unit == "Hrs" && Keep(a["instanceType"]) {
			return "cache:redis:" + a["instanceType"]
		}
	}
	return ""
}

// rdsVolumeTypes maps the price list's RDS storage volume types to the
// table's.
var rdsVolumeTypes = map[string]string{"General Purpose-GP3": "gp3", "General Purpose": "gp2"}

// usage reports whether a usage type is name, with or without the
// region's prefix (NatGateway-Hours in us-east-1, USW2-NatGateway-Hours).
func usage(usagetype, name string) bool {
	prefix, ok := strings.CutSuffix(usagetype, name)
	return ok && (prefix == "" || usagePrefix.MatchString(prefix))
}

var usagePrefix = regexp.MustCompile(`^[A-Z]{2,4}[0-9]?-$`)
