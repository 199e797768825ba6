package cost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Where a line's price comes from (Line.Source).
const (
	SourceTable     = "table"          // the price table shipped inside Elevator
	SourcePriceList = "price-list-api" // AWS's Price List Query API, asked when the table has no price
)

// LookupKeys are the keys the Price List Query API (pricing:GetProducts)
// is asked for when the table has no price for them in a region: the
// shipped table has none of them (docs/cost.md).
var LookupKeys = []string{"nat:hour", "alb:hour", "nlb:hour", "ebs:gp3", "ebs:gp2", "rds:storage:gp3", "rds:storage:gp2"}

// Looked is a price the Price List Query API gave.
type Looked struct {
	USD float64 `json:"usd"`
	// Date is the date of the price: the answer's publication date, else
	// its on-demand term's effective date (YYYY-MM-DD).
	Date string `json:"date"`
	// Fetched is when it was asked, for the cache.
	Fetched time.Time `json:"fetched"`
}

// Fetch asks the Price List Query API for key's price in region. An
// error that wraps ErrDenied means the caller may not ask it at all.
type Fetch func(ctx context.Context, region, key string) (Looked, error)

// ErrDenied is the error a Fetch wraps when pricing:GetProducts is denied.
var ErrDenied = errors.New("pricing:GetProducts denied")

// Lookup bounds and caches the questions asked of the Price List Query
// API.
type Lookup struct {
	Fetch Fetch
	// Cache is the file answers are kept in ("" keeps none), for CacheFor.
	Cache    string
	CacheFor time.Duration
	// Timeout bounds all the questions of one estimate.
	Timeout time.Duration
	Now     func() time.Time
}

// LookupCacheFor is how long a cached price is used, and LookupTimeout
// how long an estimate waits for the Price List Query API in all.
const (
	LookupCacheFor = 30 * 24 * time.Hour
	LookupTimeout  = 10 * time.Second
)

// CachePath is the per-user cache of prices the Price List Query API
// gave: <user cache dir>/elevator/prices.json.
func CachePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "elevator", "prices.json"), nil
}

// cacheFile is the cache's format: "key region" -> price.
type cacheFile struct {
	Prices map[string]Looked `json:"prices"`
}

// Missing returns the region and key pairs items need that t has no
// price for and the Price List Query API can give, sorted.
func (t *Table) Missing(items ...[]Item) [][2]string {
	seen := map[[2]string]bool{}
	var out [][2]string
	for _, it := range slices.Concat(items...) {
		p := [2]string{it.Region, it.Key}
		if it.Uncounted || seen[p] || !slices.Contains(LookupKeys, it.Key) {
			continue
		}
		seen[p] = true
		if _, ok := t.prices[it.Region][it.Key]; !ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmpStr(a[0], b[0])
		}
		return cmpStr(a[1], b[1])
	})
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// LookUp returns t with the prices items need that t lacks, as the
// cache or the Price List Query API give them. It never fails: what it
// cannot price stays without a price, and the returned table's notes
// (said under its estimates) say why. A cache that cannot be read is
// ignored and written again.
func (t *Table) LookUp(ctx context.Context, l Lookup, items ...[]Item) *Table {
	missing := t.Missing(items...)
	if len(missing) == 0 || l.Fetch == nil {
		return t
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	out := &Table{Date: t.Date, Source: t.Source, prices: t.prices, looked: map[string]map[string]Looked{}, notes: slices.Clone(t.notes)}
	cache := cacheFile{Prices: map[string]Looked{}}
	if l.Cache != "" {
		if data, err := os.ReadFile(l.Cache); err == nil && json.Unmarshal(data, &cache) != nil {
			cache = cacheFile{Prices: map[string]Looked{}} // corrupt: ignored, written again below
		}
		if cache.Prices == nil {
			cache.Prices = map[string]Looked{}
		}
	}
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	changed := false
	// failed is why asking stopped: a denial or the time bound, after
	// which nothing more is asked; errs are the other failures, each of
	// which leaves one price out.
	var failed error
	var errs []string
	for _, p := range missing {
		region, key := p[0], p[1]
		ck := key + " " + region
		if c, ok := cache.Prices[ck]; ok && now().Sub(c.Fetched) < l.CacheFor && c.USD > 0 {
			out.set(region, key, c)
			continue
		}
		if failed != nil {
			continue
		}
		got, err := l.Fetch(ctx, region, key)
		if err != nil {
			if errors.Is(err, ErrDenied) || ctx.Err() != nil {
				failed = err
			} else {
				errs = append(errs, err.Error())
			}
			continue
		}
		got.Fetched = now()
		cache.Prices[ck] = got
		changed = true
		out.set(region, key, got)
	}
	switch {
	case errors.Is(failed, ErrDenied):
		out.notes = append(out.notes, "pricing:GetProducts denied: grant it to price NAT gateways, load balancers and volumes")
	case failed != nil:
		errs = append(errs, failed.Error())
	}
	if len(errs) > 0 {
		out.notes = append(out.notes, fmt.Sprintf("AWS's Price List Query API could not be asked (%s): what the table has no price for stays without one", strings.Join(errs, "; ")))
	}
	if changed && l.Cache != "" {
		for k, c := range cache.Prices {
			if now().Sub(c.Fetched) >= l.CacheFor {
				delete(cache.Prices, k)
			}
		}
		if err := writeCache(l.Cache, cache); err != nil {
			out.notes = append(out.notes, fmt.Sprintf("the prices asked of AWS's Price List Query API could not be cached: %v", err))
		}
	}
	return out
}

func (t *Table) set(region, key string, l Looked) {
	if t.looked[region] == nil {
		t.looked[region] = map[string]Looked{}
	}
	t.looked[region][key] = l
}

// writeCache writes the cache through a file renamed into place, so that
// a reader never sees half of it.
func writeCache(path string, c cacheFile) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".prices-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
