package manifest

import (
	"sort"
	"strings"
)

// knownRegions lists the AWS regions Elevator accepts, so that a typo is
// caught before any AWS call.
var knownRegions = map[string]bool{
	"af-south-1": true, "ap-east-1": true, "ap-east-2": true, "ap-northeast-1": true,
	"ap-northeast-2": true, "ap-northeast-3": true, "ap-south-1": true, "ap-south-2": true,
	"ap-southeast-1": true, "ap-southeast-2": true, "ap-southeast-3": true, "ap-southeast-4": true,
	"ap-southeast-5": true, "ap-southeast-7": true, "ca-central-1": true, "ca-west-1": true,
	"eu-central-1": true, "eu-central-2": true, "eu-north-1": true, "eu-south-1": true,
	"eu-south-2": true, "eu-west-1": true, "eu-west-2": true, "eu-west-3": true,
	"il-central-1": true, "me-central-1": true, "me-south-1": true, "mx-central-1": true,
	"sa-east-1": true, "us-east-1": true, "us-east-2": true, "us-west-1": true,
	"us-west-2": true, "us-gov-east-1": true, "us-gov-west-1": true,
	"cn-north-1": true, "cn-northwest-1": true,
}

// closestRegions suggests the known regions nearest to a misspelt name.
func closestRegions(name string) []string {
	type scored struct {
		name string
		d    int
	}
	var all []scored
	for r := range knownRegions {
		all = append(all, scored{r, editDistance(name, r)})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].d != all[j].d {
			return all[i].d < all[j].d
		}
		return all[i].name < all[j].name
	})
	var out []string
	for _, s := range all[:3] {
		if s.d <= 3 {
			out = append(out, s.name)
		}
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// zoneInRegion reports whether an availability zone name belongs to region:
// us-east-1a, or a local zone such as us-west-2-lax-1a.
func zoneInRegion(zone, region string) bool {
	rest, ok := strings.CutPrefix(zone, region)
	if !ok || rest == "" {
		return false
	}
	if len(rest) == 1 {
		return rest[0] >= 'a' && rest[0] <= 'z'
	}
	return rest[0] == '-'
}

// KnownRegions returns the AWS regions Elevator accepts, sorted.
func KnownRegions() []string {
	out := make([]string, 0, len(knownRegions))
	for r := range knownRegions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
