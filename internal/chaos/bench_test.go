package chaos

import (
	"fmt"
	"testing"
)

// BenchmarkSelect chooses among 10,000 instances in 200 groups of 50 over
// two regions: what a large orbit's run decides before its first call.
func BenchmarkSelect(b *testing.B) {
	var groups []Group
	for i := range 200 {
		region := "us-east-1"
		if i%2 == 1 {
			region = "eu-west-1"
		}
		groups = append(groups, group(region, fmt.Sprintf("g%03d", i), fmt.Sprintf("app%d", i%20), 50))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := Select(groups, Policy{Level: 0.1, Retainage: 33, Seed: uint64(i)})
		if p.Total != 1000 {
			b.Fatalf("chose %d, want 1000", p.Total)
		}
	}
}
