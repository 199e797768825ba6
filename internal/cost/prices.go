package cost

//go:generate go run ./gen -ec2info github.com/cristim/ec2-instances-info@v0.0.0-20250528091325-32acf84f42eb -out prices_gen.go

// Table is a price table: on-demand list prices in USD per region, of
// what Elevator creates. Keys name the thing and its unit:
//
//	ec2:<instance type>                      per instance-hour (Linux, shared tenancy)
//	ebs:gp3, ebs:gp2                         per GB-month
//	nat:hour                                 per NAT gateway-hour
//	alb:hour, nlb:hour                       per load balancer-hour
//	rds:<engine>:single:<class>              per DB instance-hour (single-AZ)
//	rds:storage:gp3, rds:storage:gp2         per GB-month (single-AZ)
//	cache:redis:<node type>                  per node-hour
type Table struct {
	// Date is the date of the prices, YYYY-MM-DD; Source says where they
	// come from.
	Date, Source string
	prices       map[string]map[string]float64
	// looked are prices AWS's Price List Query API gave for what prices
	// lacks (see LookUp), and notes say what could not be looked up.
	looked map[string]map[string]Looked
	notes  []string
}

// Prices is the table shipped inside Elevator, made by `go generate
// ./internal/cost` (docs/cost.md).
func Prices() *Table {
	return &Table{Date: pricesDate, Source: pricesSource, prices: prices}
}

// NewTable makes a table of the given prices, region -> key -> USD.
func NewTable(date, source string, p map[string]map[string]float64) *Table {
	return &Table{Date: date, Source: source, prices: p}
}

// Price returns the price of key in region, and false when the table has
// none.
func (t *Table) Price(region, key string) (float64, bool) {
	v, _, ok := t.price(region, key)
	return v, ok
}

// price returns the price of key in region and where it comes from
// (SourceTable or SourcePriceList).
func (t *Table) price(region, key string) (float64, string, bool) {
	if v, ok := t.prices[region][key]; ok {
		return v, SourceTable, true
	}
	if l, ok := t.looked[region][key]; ok {
		return l.USD, SourcePriceList, true
	}
	return 0, "", false
}

// HasRegion reports whether the table has any price for region.
func (t *Table) HasRegion(region string) bool {
	return len(t.prices[region]) > 0 || len(t.looked[region]) > 0
}
