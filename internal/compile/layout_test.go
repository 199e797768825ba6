package compile

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// testSource is where the fields of testOrbit "came from" in orbit.yml, so
// that tests can check errors point at file:line:column.
var testSource = elevator.Source{File: "orbit.yml", Positions: map[string]elevator.Pos{
	"":                             {Line: 1, Column: 1},
	"name":                         {Line: 1, Column: 7},
	"regions.us-east-1":            {Line: 3, Column: 3},
	"regions.us-east-1.cidr":       {Line: 4, Column: 11},
	"regions.us-east-1.azs":        {Line: 5, Column: 10},
	"regions.us-east-1.azs[0]":     {Line: 5, Column: 11},
	"regions.us-east-1.azs[1]":     {Line: 5, Column: 24},
	"regions.us-east-1.nat":        {Line: 6, Column: 10},
	"regions.us-east-1.tiers.data": {Line: 8, Column: 13},
	"network.tiers[0]":             {Line: 12, Column: 7},
	"network.tiers[0].cidr":        {Line: 13, Column: 13},
	"network.tiers[1]":             {Line: 14, Column: 7},
	"network.tiers[1].cidr":        {Line: 15, Column: 13},
	"network.tiers[1].size":        {Line: 16, Column: 13},
	"network.tiers[2]":             {Line: 17, Column: 7},
	"network.tiers[3]":             {Line: 18, Column: 7},
	"network.tiers[4]":             {Line: 19, Column: 7},
	"bastion":                      {Line: 21, Column: 1},
	"bastion.instance_type":        {Line: 22, Column: 18},
}}

// testOrbit is a one-region orbit with the default tiers, changed by edit.
func testOrbit(edit func(r *elevator.Region)) *elevator.Orbit {
	o := &elevator.Orbit{
		Name: "prod",
		Regions: []elevator.Region{{
			Name:    "us-east-1",
			IPSpace: netip.MustParsePrefix("10.0.0.0/8"),
			Size:    16,
			NAT:     elevator.NATPerAZ,
			Tiers: []elevator.Tier{
				{Name: "public", Access: elevator.AccessPublic, Path: "network.tiers[0]"},
				{Name: "private", Access: elevator.AccessPrivate, Path: "network.tiers[1]"},
				{Name: "data", Access: elevator.AccessIsolated, Path: "network.tiers[2]"},
			},
			Path: "regions.us-east-1",
		}},
		Source: testSource,
	}
	if edit != nil {
		edit(&o.Regions[0])
	}
	return o
}

func zones(region string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = region + string(rune('a'+i))
	}
	return out
}

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func TestNetworkLayout(t *testing.T) {
	three := RegionFacts{AZs: zones("us-east-1", 3)}
	tests := []struct {
		name  string
		edit  func(r *elevator.Region)
		facts RegionFacts
		// want are the expected blocks: "vpc", each tier's name, and
		// "<tier> subnets" (comma-separated, in zone order); and "azs".
		want map[string]string
		// wantErrs are substrings of the error, one per problem; each
		// names its file:line:column.
		wantErrs []string
	}{
		{
			name:  "an explicit VPC block is used even where other VPCs are",
			edit:  func(r *elevator.Region) { r.CIDR = netip.MustParsePrefix("10.10.0.0/16") },
			facts: RegionFacts{AZs: three.AZs, OtherVPCs: prefixes("10.10.0.0/16"), CurrentCIDR: netip.MustParsePrefix("10.20.0.0/16")},
			want: map[string]string{
				"vpc":             "10.10.0.0/16",
				"public":          "10.10.0.0/18",
				"private":         "10.10.64.0/18",
				"data":            "10.10.128.0/18",
				"public subnets":  "10.10.0.0/20,10.10.16.0/20,10.10.32.0/20",
				"private subnets": "10.10.64.0/20,10.10.80.0/20,10.10.96.0/20",
				"data subnets":    "10.10.128.0/20,10.10.144.0/20,10.10.160.0/20",
			},
		},
		{
			name:  "an allocated VPC block is the first one clear of the other VPCs",
			facts: RegionFacts{AZs: three.AZs, OtherVPCs: prefixes("10.0.0.0/16", "10.1.128.0/20", "10.2.0.0/15", "172.31.0.0/16", "fd00::/8")},
			want:  map[string]string{"vpc": "10.4.0.0/16", "public": "10.4.0.0/18"},
		},
		{
			name: "an allocated VPC block is aligned on its own size",
			edit: func(r *elevator.Region) {
				r.IPSpace = netip.MustParsePrefix("192.168.0.0/16")
				r.Size = 20
			},
			facts: RegionFacts{AZs: three.AZs, OtherVPCs: prefixes("192.168.0.0/24", "192.168.17.0/24")},
			want:  map[string]string{"vpc": "192.168.32.0/20", "public": "192.168.32.0/22", "public subnets": "192.168.32.0/24,192.168.33.0/24,192.168.34.0/24"},
		},
		{
			name:  "the current VPC block is kept even when a lower one is free",
			facts: RegionFacts{AZs: three.AZs, CurrentCIDR: netip.MustParsePrefix("10.9.0.0/16")},
			want:  map[string]string{"vpc": "10.9.0.0/16", "data": "10.9.128.0/18"},
		},
		{
			name: "no free VPC block is an error that counts the blocks tried",
			edit: func(r *elevator.Region) {
				r.IPSpace = netip.MustParsePrefix("10.0.0.0/14")
			},
			facts:    RegionFacts{AZs: three.AZs, OtherVPCs: prefixes("10.0.0.0/15", "10.2.0.0/16", "10.3.0.0/24")},
			wantErrs: []string{`orbit.yml:3:3: regions.us-east-1: "us-east-1": no free /16 block in the ip_space 10.0.0.0/14: all 4 blocks tried overlap VPCs already in us-east-1; use a larger ip_space or give the region an explicit cidr`},
		},
		{
			name:     "an explicit VPC block outside AWS's sizes is an error",
			edit:     func(r *elevator.Region) { r.CIDR = netip.MustParsePrefix("10.0.0.0/12") },
			facts:    three,
			wantErrs: []string{`orbit.yml:4:11: regions.us-east-1.cidr: "10.0.0.0/12": a VPC block must be between /16 and /28`},
		},
		{
			name:  "one zone still cuts each tier in four",
			facts: RegionFacts{AZs: zones("us-east-1", 1)},
			want:  map[string]string{"public subnets": "10.0.0.0/20", "private subnets": "10.0.64.0/20"},
		},
		{
			name:  "two zones cut each tier in four",
			facts: RegionFacts{AZs: zones("us-east-1", 2)},
			want:  map[string]string{"public subnets": "10.0.0.0/20,10.0.16.0/20"},
		},
		{
			name:  "three zones keep the subnets of two and add one",
			facts: RegionFacts{AZs: zones("us-east-1", 3)},
			want:  map[string]string{"public subnets": "10.0.0.0/20,10.0.16.0/20,10.0.32.0/20"},
		},
		{
			name:  "four zones fill the four subnets",
			facts: RegionFacts{AZs: zones("us-east-1", 4)},
			want:  map[string]string{"public subnets": "10.0.0.0/20,10.0.16.0/20,10.0.32.0/20,10.0.48.0/20", "data subnets": "10.0.128.0/20,10.0.144.0/20,10.0.160.0/20,10.0.176.0/20"},
		},
		{
			name:  "five zones cut each tier in eight",
			facts: RegionFacts{AZs: zones("us-east-1", 5)},
			want:  map[string]string{"public subnets": "10.0.0.0/21,10.0.8.0/21,10.0.16.0/21,10.0.24.0/21,10.0.32.0/21"},
		},
		{
			name:  "six zones cut each tier in eight",
			facts: RegionFacts{AZs: zones("us-east-1", 6)},
			want:  map[string]string{"private subnets": "10.0.64.0/21,10.0.72.0/21,10.0.80.0/21,10.0.88.0/21,10.0.96.0/21,10.0.104.0/21"},
		},
		{
			name:  "the manifest's zones are used in its order",
			edit:  func(r *elevator.Region) { r.AZs = []string{"us-east-1c", "us-east-1a"} },
			facts: three,
			want:  map[string]string{"azs": "us-east-1c,us-east-1a", "public subnets": "10.0.0.0/20,10.0.16.0/20"},
		},
		{
			name:  "a zone AWS adds joins the current zones when the cut stays the same",
			facts: RegionFacts{AZs: zones("us-east-1", 4), CurrentAZs: zones("us-east-1", 3)},
			want:  map[string]string{"azs": "us-east-1a,us-east-1b,us-east-1c,us-east-1d", "public subnets": "10.0.0.0/20,10.0.16.0/20,10.0.32.0/20,10.0.48.0/20"},
		},
		{
			name:  "a zone AWS adds stays out when it would cut every tier again",
			facts: RegionFacts{AZs: zones("us-east-1", 6), CurrentAZs: zones("us-east-1", 4)},
			want:  map[string]string{"azs": "us-east-1a,us-east-1b,us-east-1c,us-east-1d", "public subnets": "10.0.0.0/20,10.0.16.0/20,10.0.32.0/20,10.0.48.0/20"},
		},
		{
			name:  "the current zones keep their places whatever order AWS reports",
			facts: RegionFacts{AZs: zones("us-east-1", 3), CurrentAZs: []string{"us-east-1c", "us-east-1a"}},
			want:  map[string]string{"azs": "us-east-1c,us-east-1a,us-east-1b"},
		},
		{
			name:  "the manifest's zones win over the current ones",
			edit:  func(r *elevator.Region) { r.AZs = zones("us-east-1", 5) },
			facts: RegionFacts{AZs: zones("us-east-1", 6), CurrentAZs: zones("us-east-1", 4)},
			want:  map[string]string{"azs": "us-east-1a,us-east-1b,us-east-1c,us-east-1d,us-east-1e", "public subnets": "10.0.0.0/21,10.0.8.0/21,10.0.16.0/21,10.0.24.0/21,10.0.32.0/21"},
		},
		{
			name:     "an unknown zone is an error that lists the region's zones",
			edit:     func(r *elevator.Region) { r.AZs = []string{"us-east-1a", "us-east-1z"} },
			facts:    three,
			wantErrs: []string{`orbit.yml:5:24: regions.us-east-1.azs[1]: "us-east-1z": is not an availability zone of us-east-1; its zones are us-east-1a, us-east-1b, us-east-1c`},
		},
		{
			name:     "a region without zones is an error",
			facts:    RegionFacts{},
			wantErrs: []string{`orbit.yml:3:3: regions.us-east-1: "us-east-1": AWS reports no availability zones in us-east-1`},
		},
		{
			name: "auto tiers go around an explicit tier listed after them",
			edit: func(r *elevator.Region) {
				r.CIDR = netip.MustParsePrefix("10.0.0.0/16")
				r.Tiers[1].CIDR = netip.MustParsePrefix("10.0.0.0/18")
			},
			facts: three,
			want:  map[string]string{"public": "10.0.64.0/18", "private": "10.0.0.0/18", "data": "10.0.128.0/18"},
		},
		{
			name: "tier sizes are honoured and each block is aligned on its size",
			edit: func(r *elevator.Region) {
				r.Tiers[0].Size = 20
				r.Tiers[1].Size = 18
				r.Tiers[2].Size = 24
			},
			facts: three,
			want: map[string]string{
				"public":         "10.0.0.0/20",
				"private":        "10.0.64.0/18",
				"data":           "10.0.16.0/24",
				"public subnets": "10.0.0.0/22,10.0.4.0/22,10.0.8.0/22",
				"data subnets":   "10.0.16.0/26,10.0.16.64/26,10.0.16.128/26",
			},
		},
		{
			name: "an explicit tier outside the VPC is an error that names the VPC block",
			edit: func(r *elevator.Region) {
				r.Tiers[1].CIDR = netip.MustParsePrefix("10.1.0.0/20")
			},
			facts:    RegionFacts{AZs: three.AZs, CurrentCIDR: netip.MustParsePrefix("10.0.0.0/16")},
			wantErrs: []string{`orbit.yml:15:13: network.tiers[1].cidr: "10.1.0.0/20": is outside the VPC block 10.0.0.0/16 of us-east-1; give the region an explicit cidr that holds it, or set the tier's cidr to auto`},
		},
		{
			name: "a region's tier override is reported at the override",
			edit: func(r *elevator.Region) {
				r.Tiers[2].CIDR = netip.MustParsePrefix("192.168.0.0/20")
				r.Tiers[2].Path = "regions.us-east-1.tiers.data"
			},
			facts:    three,
			wantErrs: []string{`orbit.yml:8:13: regions.us-east-1.tiers.data: "192.168.0.0/20": is outside the VPC block 10.0.0.0/16`},
		},
		{
			name: "a tier that does not fit after the others is an error",
			edit: func(r *elevator.Region) {
				r.Tiers = append(r.Tiers,
					elevator.Tier{Name: "maintenance", Access: elevator.AccessPublic, Path: "network.tiers[3]"},
					elevator.Tier{Name: "cache", Access: elevator.AccessPrivate, Path: "network.tiers[4]"},
				)
			},
			facts: three,
			wantErrs: []string{`orbit.yml:19:7: network.tiers[4]: 18: tier cache does not fit: no free /18 block is left in the VPC block 10.0.0.0/16 of us-east-1 after ` +
				`public 10.0.0.0/18, private 10.0.64.0/18, data 10.0.128.0/18, maintenance 10.0.192.0/18; give tiers smaller sizes or the region a larger VPC`},
		},
		{
			name: "subnets smaller than /28 are an error",
			edit: func(r *elevator.Region) {
				r.CIDR = netip.MustParsePrefix("10.0.0.0/24")
				r.Tiers[1].Size = 27
			},
			facts:    three,
			wantErrs: []string{`orbit.yml:16:13: network.tiers[1].size: 27: tier private does not fit: a /27 block cut into 4 subnets for 3 zones gives /29 subnets, smaller than AWS's /28 minimum; give the tier a /26 block or larger, or the region a larger VPC`},
		},
		{
			name: "overlapping tiers are an error that names both",
			edit: func(r *elevator.Region) {
				r.Tiers[0].CIDR = netip.MustParsePrefix("10.0.0.0/18")
				r.Tiers[1].CIDR = netip.MustParsePrefix("10.0.32.0/19")
			},
			facts:    three,
			wantErrs: []string{`orbit.yml:15:13: network.tiers[1].cidr: "10.0.32.0/19": overlaps tier public (10.0.0.0/18) in us-east-1; tier blocks must not overlap`},
		},
		{
			name: "every problem of a region is reported at once",
			edit: func(r *elevator.Region) {
				r.AZs = []string{"us-east-1q"}
				r.Tiers[1].CIDR = netip.MustParsePrefix("10.0.32.0/19")
				r.Tiers[0].CIDR = netip.MustParsePrefix("10.0.0.0/18")
				r.Tiers[2].CIDR = netip.MustParsePrefix("10.3.0.0/18")
			},
			facts: three,
			wantErrs: []string{
				`orbit.yml:5:11: regions.us-east-1.azs[0]: "us-east-1q": is not an availability zone`,
				`orbit.yml:15:13: network.tiers[1].cidr: "10.0.32.0/19": overlaps tier public`,
				`orbit.yml:17:7: network.tiers[2]: "10.3.0.0/18": is outside the VPC block 10.0.0.0/16`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOrbit(tt.edit)
			l, err := NetworkLayout(o, &o.Regions[0], tt.facts)
			if len(tt.wantErrs) > 0 {
				assertFieldErrors(t, err, tt.wantErrs)
				return
			}
			if err != nil {
				t.Fatalf("NetworkLayout: %v", err)
			}
			got := blocks(l)
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %s, want %s", k, got[k], want)
				}
			}
		})
	}
}

// blocks flattens a layout the way TestNetworkLayout's want does.
func blocks(l Layout) map[string]string {
	m := map[string]string{"vpc": l.VPC.String(), "azs": strings.Join(l.AZs, ",")}
	for _, t := range l.Tiers {
		m[t.Name] = t.CIDR.String()
		var subnets []string
		for _, s := range l.TierSubnets(t.Name) {
			subnets = append(subnets, s.CIDR.String())
		}
		m[t.Name+" subnets"] = strings.Join(subnets, ",")
	}
	return m
}

// assertFieldErrors checks err is elevator.FieldErrors with one problem per
// wanted substring, in order of position.
func assertFieldErrors(t *testing.T, err error, want []string) {
	t.Helper()
	fe, ok := err.(elevator.FieldErrors)
	if !ok {
		t.Fatalf("error = %v (%T), want elevator.FieldErrors", err, err)
	}
	got := fe.Sorted()
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(got[i].Error(), w) {
			t.Errorf("problem %d:\n got: %s\nwant: %s", i, got[i], w)
		}
	}
}

func TestNetworkLayoutSubnets(t *testing.T) {
	o := testOrbit(nil)
	l, err := NetworkLayout(o, &o.Regions[0], RegionFacts{AZs: zones("us-east-1", 2)})
	if err != nil {
		t.Fatal(err)
	}
	want := []Subnet{
		{Tier: "public", Access: elevator.AccessPublic, AZ: "us-east-1a", CIDR: netip.MustParsePrefix("10.0.0.0/20")},
		{Tier: "public", Access: elevator.AccessPublic, AZ: "us-east-1b", CIDR: netip.MustParsePrefix("10.0.16.0/20")},
		{Tier: "private", Access: elevator.AccessPrivate, AZ: "us-east-1a", CIDR: netip.MustParsePrefix("10.0.64.0/20")},
		{Tier: "private", Access: elevator.AccessPrivate, AZ: "us-east-1b", CIDR: netip.MustParsePrefix("10.0.80.0/20")},
		{Tier: "data", Access: elevator.AccessIsolated, AZ: "us-east-1a", CIDR: netip.MustParsePrefix("10.0.128.0/20")},
		{Tier: "data", Access: elevator.AccessIsolated, AZ: "us-east-1b", CIDR: netip.MustParsePrefix("10.0.144.0/20")},
	}
	if !reflect.DeepEqual(l.Subnets, want) {
		t.Errorf("subnets =\n%v\nwant\n%v", l.Subnets, want)
	}
	if got, want := l.AZs, []string{"us-east-1a", "us-east-1b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AZs = %v, want %v", got, want)
	}
}

func TestSubnetBitsFor(t *testing.T) {
	for n, want := range map[int]int{1: 2, 2: 2, 3: 2, 4: 2, 5: 3, 6: 3, 8: 3, 9: 4, 16: 4, 17: 5} {
		if got := subnetBitsFor(n); got != want {
			t.Errorf("subnetBitsFor(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestZoneSuffixes(t *testing.T) {
	tests := []struct {
		name string
		azs  []string
		want []string
	}{
		{"zones ending in a letter are named by it", []string{"us-east-1a", "us-east-1c", "us-east-1f"}, []string{"A", "C", "F"}},
		{"zones whose letters collide are numbered", []string{"us-west-2a", "us-west-2-lax-1a"}, []string{"Az1", "Az2"}},
		{"zone ids ending in a digit are numbered", []string{"use1-az1", "use1-az2"}, []string{"Az1", "Az2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := zoneSuffixes(tt.azs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("zoneSuffixes(%v) = %v, want %v", tt.azs, got, tt.want)
			}
		})
	}
}

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{
		"public":            "Public",
		"db-internal":       "DbInternal",
		"tier2-a":           "Tier2A",
		"alice@example.com": "AliceExampleCom",
		"---":               "",
	} {
		if got := camel(in); got != want {
			t.Errorf("camel(%q) = %q, want %q", in, got, want)
		}
	}
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
