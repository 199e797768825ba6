package cli

import (
	"testing"

	"github.com/elevatorhq/elevator/internal/cost"
)

// UsePrices makes the command line's estimates use table until the test
// ends.
func UsePrices(t testing.TB, table *cost.Table) {
	old := priceTable
	priceTable = func() *cost.Table { return table }
	t.Cleanup(func() { priceTable = old })
}
