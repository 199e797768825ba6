// Command gen writes internal/cost's price table, prices_gen.go, from
// AWS's public Price List bulk offer files (on-demand terms) and, for what
// they do not give, from the ec2instances.info data shipped by the Go
// module github.com/cristim/ec2-instances-info (itself made from the same
// price list). It is run by hand through `go generate ./internal/cost`
// (see docs/cost.md) and its output is committed.
//
//	go run ./internal/cost/gen [-offers DIR|URL] [-ec2info DIR|MODULE@VERSION [-ec2info-date YYYY-MM-DD]] -out FILE
//
// -offers reads the bulk offer files of offer codes AmazonEC2, AWSELB,
// AmazonRDS and AmazonElastiCache: from a directory, <code>.json and
// <code>/*.json (regional offer files); from a URL, the regional offer
// files <URL>/offers/v1.0/aws/<code>/current/region_index.json lists. A
// code with no file is skipped with a note. -ec2info reads instances.json, rds-instances.json
// and elasticache-instances.json from the module's data directory, or
// from module@version, which is downloaded.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cost"
)

// prices is the table being built: region -> key -> USD per unit.
type prices map[string]map[string]float64

func (p prices) set(region, key string, usd float64) {
	// AWS regions only, not Local Zones or Wavelength Zones
	// (us-east-1-bos-1), where Elevator runs nothing.
	if !elevator.IsRegionName(region) {
		return
	}
	if p[region] == nil {
		p[region] = map[string]float64{}
	}
	p[region][key] = usd
}

// readOffers adds what the offer files give to p and returns the oldest
// publication date among them. Two products that give one key different
// prices (a product the filters below do not tell apart) are an error:
// the table would otherwise hold whichever came last.
func readOffers(src string, p prices, notes io.Writer) (string, error) {
	date := ""
	seen := map[string]string{} // region and key -> the SKU that gave its price
	for _, code := range []string{"AmazonEC2", "AWSELB", "AmazonRDS", "AmazonElastiCache"} {
		files, err := offerFiles(src, code)
		if err != nil {
			return "", err
		}
		if len(files) == 0 {
			fmt.Fprintf(notes, "no %s offer file in %s; skipped\n", code, src)
			continue
		}
		for _, f := range files {
			o, err := loadOffer(f)
			if err != nil {
				return "", fmt.Errorf("read %s offer file %s: %w", code, f, err)
			}
			if d := cost.DateOf(o.PublicationDate); d != "" && (date == "" || d < date) {
				date = d
			}
			if err := addOffer(o, code, p, seen); err != nil {
				return "", fmt.Errorf("%s offer file %s: %w", code, f, err)
			}
		}
	}
	return date, nil
}

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// offerFiles lists the offer files of code in src. In a directory they are
// <code>.json, the whole offer, and <code>/*.json, offer files of single
// regions (the same format). At a URL they are the regional offer files
// the offer's region index lists, as AWS advises: the whole EC2 offer is
// too big to read at once.
func offerFiles(src, code string) ([]string, error) {
	if !isURL(src) {
		var files []string
		whole := filepath.Join(src, code+".json")
		if _, err := os.Stat(whole); err == nil {
			files = append(files, whole)
		}
		regional, err := filepath.Glob(filepath.Join(src, code, "*.json"))
		return append(files, regional...), err
	}
	base := strings.TrimSuffix(src, "/")
	r, err := open(base + "/offers/v1.0/aws/" + code + "/current/region_index.json")
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var index struct {
		Regions map[string]struct {
			RegionCode        string `json:"regionCode"`
			CurrentVersionURL string `json:"currentVersionUrl"`
		} `json:"regions"`
	}
	if err := json.NewDecoder(r).Decode(&index); err != nil {
		return nil, fmt.Errorf("read the %s region index: %w", code, err)
	}
	var files []string
	for region, ref := range index.Regions {
		if elevator.IsRegionName(region) && ref.CurrentVersionURL != "" {
			files = append(files, base+ref.CurrentVersionURL)
		}
	}
	slices.Sort(files)
	return files, nil
}

// open opens a file or fetches a URL; a missing one is os.ErrNotExist.
func open(name string) (io.ReadCloser, error) {
	if !isURL(name) {
		return os.Open(name)
	}
	resp, err := http.Get(name)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, os.ErrNotExist
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch %s: %s", name, resp.Status)
	}
	return resp.Body, nil
}

func loadOffer(name string) (*cost.Offer, error) {
	r, err := open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	o := &cost.Offer{}
	if err := json.NewDecoder(r).Decode(o); err != nil {
		return nil, err
	}
	return o, nil
}

// addOffer keeps the prices cost.OfferPrices finds in an offer of code.
// seen records which SKU gave each region's key, to find conflicts.
func addOffer(o *cost.Offer, code string, p prices, seen map[string]string) error {
	var conflicts []string
	for _, op := range o.OfferPrices(code) {
		if other, ok := seen[op.Region+" "+op.Key]; ok && p[op.Region][op.Key] != op.USD {
			conflicts = append(conflicts, fmt.Sprintf("%s %s: SKU %s gives %v, SKU %s gives %v", op.Region, op.Key, other, p[op.Region][op.Key], op.SKU, op.USD))
			continue
		}
		seen[op.Region+" "+op.Key] = op.SKU
		p.set(op.Region, op.Key, op.USD)
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("products that give one price different values (refine the filters): %s", strings.Join(conflicts, "; "))
	}
	return nil
}

// ec2info is one entry of the ec2instances.info data: an instance type
// and its prices per region, per operating system or engine.
type ec2info struct {
	InstanceType string                                `json:"instance_type"`
	Pricing      map[string]map[string]json.RawMessage `json:"pricing"`
}

// readEC2Info adds to p what the ec2instances.info data gives and p does
// not have yet: Linux on-demand instances, single-AZ RDS PostgreSQL,
// MySQL and Aurora instances (see aurora), Redis cache nodes.
func readEC2Info(dir string, p prices, notes io.Writer) error {
	files := []struct{ file, os, key string }{
		{"instances.json", "linux", "ec2:%s"},
		{"rds-instances.json", "PostgreSQL", "rds:postgres:single:%s"},
		{"rds-instances.json", "MySQL", "rds:mysql:single:%s"},
		{"elasticache-instances.json", "Redis", "cache:redis:%s"},
	}
	loaded := map[string][]ec2info{}
	load := func(file string) ([]ec2info, error) {
		if list, ok := loaded[file]; ok {
			return list, nil
		}
		var list []ec2info
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		loaded[file] = list
		return list, nil
	}
	fill := func(region, key string, usd float64) {
		if _, have := p[region][key]; !have {
			p.set(region, key, usd)
		}
	}
	for _, f := range files {
		list, err := load(f.file)
		if err != nil {
			return err
		}
		for _, it := range list {
			if !cost.Keep(it.InstanceType) {
				continue
			}
			key := fmt.Sprintf(f.key, it.InstanceType)
			for region, byOS := range it.Pricing {
				if usd, ok := onDemandOf(byOS, f.os); ok {
					fill(region, key, usd)
				}
			}
		}
	}
	list, err := load("rds-instances.json")
	if err != nil {
		return err
	}
	left := 0
	for _, it := range list {
		if !cost.Keep(it.InstanceType) {
			continue
		}
		for region, byOS := range it.Pricing {
			pg, okPG := onDemandOf(byOS, "Aurora PostgreSQL")
			my, okMy := onDemandOf(byOS, "Aurora MySQL")
			if !okPG || !okMy {
				continue
			}
			if pg != my {
				left++
				continue
			}
			fill(region, "rds:aurora-postgresql:single:"+it.InstanceType, pg)
			fill(region, "rds:aurora-mysql:single:"+it.InstanceType, my)
		}
	}
	if left > 0 {
		fmt.Fprintf(notes, "ec2info: left out the Aurora prices of %d class and region pairs whose Aurora PostgreSQL and Aurora MySQL prices differ\n", left)
	}
	return nil
}

// aurora: the ec2instances.info data gives each Aurora engine one
// on-demand price per class and region, and for many pairs one engine's
// is the I/O-Optimized configuration's (about 1.3 times the other's)
// with nothing saying which. Aurora's standard prices are kept only
// where both engines' agree; the others are left out (no price), never
// guessed.

// onDemandOf returns the on-demand price an ec2instances.info pricing
// entry gives for an operating system or engine.
func onDemandOf(byOS map[string]json.RawMessage, name string) (float64, bool) {
	raw, ok := byOS[name]
	if !ok {
		return 0, false
	}
	var od struct {
		OnDemand json.RawMessage `json:"ondemand"`
	}
	if json.Unmarshal(raw, &od) != nil || len(od.OnDemand) == 0 {
		return 0, false
	}
	usd, err := strconv.ParseFloat(strings.Trim(string(od.OnDemand), `"`), 64)
	return usd, err == nil && usd > 0
}

// ec2InfoDir returns the data directory -ec2info names and the date of
// its data: a directory (date ""), or module@version of
// github.com/cristim/ec2-instances-info, which the go command downloads
// into its module cache (pinned by the version given), dated by the
// version's commit time.
func ec2InfoDir(info string) (dir, date string, err error) {
	if !strings.HasPrefix(info, "github.com/") {
		return info, "", nil
	}
	out, err := exec.Command("go", "mod", "download", "-json", info).Output()
	if err != nil {
		return "", "", fmt.Errorf("go mod download %s: %w", info, err)
	}
	var mod struct{ Dir, Info, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", "", fmt.Errorf("go mod download %s: %s", info, mod.Error)
	}
	var v struct{ Time time.Time }
	if data, err := os.ReadFile(mod.Info); err == nil && json.Unmarshal(data, &v) == nil && !v.Time.IsZero() {
		date = v.Time.UTC().Format(time.DateOnly)
	}
	return filepath.Join(mod.Dir, "data"), date, nil
}

// write writes the table as Go source.
func write(w io.Writer, p prices, date, source string) error {
	var b strings.Builder
	b.WriteString("// Code generated by internal/cost/gen; DO NOT EDIT.\n\npackage cost\n\n")
	fmt.Fprintf(&b, "// pricesDate is the date of the prices below; pricesSource says where\n// they come from.\nconst (\n\tpricesDate   = %q\n\tpricesSource = %q\n)\n\n", date, source)
	b.WriteString("// prices are on-demand list prices in USD, per region: per hour for\n// instances, nodes, NAT gateways and load balancers, per GB-month for storage.\nvar prices = map[string]map[string]float64{\n")
	regions := make([]string, 0, len(p))
	for r := range p {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, r := range regions {
		fmt.Fprintf(&b, "\t%q: {\n", r)
		keys := make([]string, 0, len(p[r]))
		for k := range p[r] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "\t\t%q: %s,\n", k, strconv.FormatFloat(p[r][k], 'g', -1, 64))
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		return err
	}
	_, err = w.Write(src)
	return err
}

func main() {
	offers := flag.String("offers", "", "directory of AWS bulk offer files (<code>.json), or the price list's base URL")
	info := flag.String("ec2info", "", "data directory of github.com/cristim/ec2-instances-info, or module@version, for what the offer files do not give")
	date := flag.String("ec2info-date", "", "the date of the -ec2info data when it is a directory, YYYY-MM-DD")
	out := flag.String("out", "prices_gen.go", "the file to write")
	flag.Parse()
	if err := run(*offers, *info, *date, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// run writes the table. Its source names each source read with its
// date; its date is the oldest of those, so that no price is shown as
// newer than it is.
func run(offers, info, infoDate, out string) error {
	if offers == "" && info == "" {
		return fmt.Errorf("give -offers, -ec2info or both")
	}
	p := prices{}
	var dates, sources []string
	if offers != "" {
		d, err := readOffers(offers, p, os.Stderr)
		if err != nil {
			return err
		}
		if d == "" {
			return fmt.Errorf("-offers %s: no offer file gives a publicationDate", offers)
		}
		dates = append(dates, d)
		sources = append(sources, fmt.Sprintf("AWS Price List bulk offer files published %s", d))
	}
	if info != "" {
		dir, d, err := ec2InfoDir(info)
		if err != nil {
			return err
		}
		if d == "" {
			d = infoDate
		}
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return fmt.Errorf("-ec2info-date %q: give the date of the data in %s as YYYY-MM-DD", d, info)
		}
		if err := readEC2Info(dir, p, os.Stderr); err != nil {
			return err
		}
		dates = append(dates, d)
		what := "ec2instances.info data (made from AWS's Price List) of " + d + " in " + dir
		if strings.HasPrefix(info, "github.com/") {
			what = "ec2instances.info data (made from AWS's Price List) of " + d + " shipped by the Go module " + strings.Replace(info, "@", " ", 1)
		}
		if offers != "" {
			what += ", for what the offer files did not give"
		}
		sources = append(sources, what)
	}
	if len(p) == 0 {
		return fmt.Errorf("no prices found")
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := write(f, p, slices.Min(dates), strings.Join(sources, "; ")); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
