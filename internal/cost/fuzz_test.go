package cost_test

import (
	"math"
	"testing"

	"github.com/elevatorhq/elevator/internal/cost"
)

// FuzzTemplate reads any template body: it errors or returns items, each
// with a region, a price key, a unit and a count that is not negative,
// and never panics.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{
		`{"Resources":{"N":{"Type":"AWS::EC2::NatGateway"}}}`,
		`{"Resources":{"G":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"MinSize":"2","LaunchTemplate":{"LaunchTemplateId":{"Ref":"L"}}}},"L":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"InstanceType":"t3.micro","BlockDeviceMappings":[{"Ebs":{"VolumeSize":8}},5,null]}}}}}`,
		`{"Resources":{"D":{"Type":"AWS::RDS::DBInstance","Properties":{"DBInstanceClass":"db.t3.micro","Engine":"mysql","MultiAZ":"true","AllocatedStorage":-5}}}}`,
		`{"Resources":{"C":{"Type":"AWS::ElastiCache::ReplicationGroup","Properties":{"CacheNodeType":"cache.t3.micro","NumNodeGroups":2,"ReplicasPerNodeGroup":1}}}}`,
		`{"Resources":{"G":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"LaunchTemplate":"L"}}}}`,
		`{"Resources":null}`, `[]`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := cost.Template(cost.Stack{Region: "us-east-1", Body: body, Parameters: map[string]string{"L": "ami-1"}}, func(string, string) (cost.Volume, bool) { return cost.Volume{GiB: 8}, true })
		if err != nil {
			return
		}
		for _, it := range items {
			if it.Uncounted {
				if it.Region != "us-east-1" || it.Key != "" || it.Note == "" {
					t.Fatalf("uncounted item %+v from %s", it, body)
				}
				continue
			}
			if it.Region != "us-east-1" || it.Key == "" || (it.Unit != cost.PerHour && it.Unit != cost.PerGBMonth) || !(it.Count > 0) {
				t.Fatalf("item %+v from %s", it, body)
			}
		}
		cost.Prices().Estimate(nil, items)
	})
}

// FuzzParsePriceListItem reads any GetProducts PriceList entry: it
// errors or returns an offer of one product whose prices are positive,
// keyed, in an AWS region, and never panics.
func FuzzParsePriceListItem(f *testing.F) {
	for _, seed := range []string{
		`{"product":{"productFamily":"NAT Gateway","attributes":{"regionCode":"us-east-1","usagetype":"NatGateway-Hours"},"sku":"S"},"serviceCode":"AmazonEC2","terms":{"OnDemand":{"S.T":{"priceDimensions":{"S.T.D":{"unit":"Hrs","pricePerUnit":{"USD":"0.045"}}},"effectiveDate":"2026-10-01T00:00:00Z"}}},"publicationDate":"2026-11-02T18:20:44Z"}`,
		`{"product":{"productFamily":"Storage","attributes":{"regionCode":"eu-west-1","volumeApiName":"gp3"},"sku":"S"},"terms":{"OnDemand":{"S.T":{"priceDimensions":{"S.T.D":{"unit":"GB-Mo","pricePerUnit":{"USD":"-1"}}}}}}}`,
		`{"product":{"productFamily":"NAT Gateway","attributes":{"regionCode":"us-east-1","usagetype":"NatGateway-Hours"},"sku":"S"},"terms":{"OnDemand":{"S.T":{"priceDimensions":{"S.T.D":{"unit":"Hrs","pricePerUnit":{"USD":"Inf"}}}}}}}`,
		`{"product":{"sku":"S"},"terms":{"OnDemand":null}}`, `{"product":{"sku":""}}`, `null`, `{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		o, err := cost.ParsePriceListItem([]byte(entry))
		if err != nil {
			return
		}
		if len(o.Products) != 1 {
			t.Fatalf("%d products", len(o.Products))
		}
		for _, code := range []string{"AmazonEC2", "AWSELB", "AmazonRDS", "AmazonElastiCache"} {
			for _, p := range o.OfferPrices(code) {
				if !(p.USD > 0) || math.IsInf(p.USD, 1) || p.Key == "" || p.Region == "" {
					t.Fatalf("price %+v", p)
				}
			}
		}
	})
}
