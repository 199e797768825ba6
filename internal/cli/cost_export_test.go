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

// UsePriceList makes estimates ask the Price List Query API at endpoint
// (a fake), even against the emulator, and keep its answers in cache,
// until the test ends.
func UsePriceList(t testing.TB, endpoint, cache string) {
	oldEndpoint, oldCache := priceListEndpoint, priceCachePath
	priceListEndpoint = endpoint
	priceCachePath = func() (string, error) { return cache, nil }
	t.Cleanup(func() { priceListEndpoint, priceCachePath = oldEndpoint, oldCache })
}
