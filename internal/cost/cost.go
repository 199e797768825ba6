// Package cost estimates what an orbit or an app costs a month at AWS's
// on-demand list prices, from a price table shipped inside Elevator
// (prices_gen.go), and what a plan adds to or removes from that.
//
// What is counted comes from the CloudFormation templates Elevator
// compiles (NAT gateways, load balancers, the bastion's Auto Scaling
// Group, RDS instances and their storage, ElastiCache nodes) and from
// the services' Auto Scaling Groups a release makes. It imports no AWS
// SDK: callers read deployed templates and releases and pass them in.
package cost

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// HoursPerMonth is how many hours a month has in every estimate, as in
// AWS's own pricing pages.
const HoursPerMonth = 730

// Currency is the currency of every price and estimate.
const Currency = "USD"

// Units prices are given per.
const (
	PerHour    = "hour"
	PerGBMonth = "GB-month"
)

// Item is something that costs, counted in one region: Count instances,
// nodes, gateways or load balancers priced per hour, or Count GiB priced
// per GB-month.
type Item struct {
	Region string
	What   string // what a reader is shown, such as "NAT gateway" or "service web: t3.small instances"
	Key    string // the price table's key (see Table)
	Unit   string // PerHour or PerGBMonth
	Count  float64
	// Note, when set, is said with the estimate's notes: how the item was
	// counted.
	Note string
	// Uncounted marks something that costs but could not be counted (Note
	// says why): it has no Key or Count, is named with what has no price,
	// and the totals say they leave it out.
	Uncounted bool
}

// Line is one item of an estimate with its price.
type Line struct {
	// Change is "add" or "remove".
	Change string  `json:"change"`
	Region string  `json:"region"`
	What   string  `json:"what"`
	Count  float64 `json:"count"`
	Unit   string  `json:"unit"`
	// UnitPrice is the list price per Unit; Priced is false when the
	// table has none, and then UnitPrice and Monthly are 0.
	UnitPrice float64 `json:"unit_price"`
	Monthly   float64 `json:"monthly"`
	Priced    bool    `json:"priced"`
	// Source says where the price comes from: SourceTable, or
	// SourcePriceList (AWS's Price List Query API, of PriceListDate).
	Source string `json:"source,omitempty"`
}

// Totals are monthly amounts, before and after the change.
type Totals struct {
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Change float64 `json:"change"`
	// Complete is false when something that costs has no price or could
	// not be counted: Unpriced of them are left out of the amounts, the
	// ones Excluded names.
	Complete bool     `json:"complete"`
	Unpriced int      `json:"unpriced"`
	Excluded []string `json:"excluded,omitempty"`
}

// Estimate is what a plan adds to and removes from the monthly bill.
type Estimate struct {
	Currency      string `json:"currency"`
	PricesDate    string `json:"prices_date"`
	PricesSource  string `json:"prices_source"`
	HoursPerMonth int    `json:"hours_per_month"`
	// PriceListDate is the date of the prices asked of AWS's Price List
	// Query API (the oldest of them), when a line has one.
	PriceListDate string `json:"price_list_date,omitempty"`
	// Lines are what is added and removed, by region then what.
	Lines  []Line `json:"lines"`
	Totals Totals `json:"totals"`
	// Unpriced says what has no price in the table (a region or an item):
	// it is counted in Lines but not in Totals.
	Unpriced []string `json:"unpriced,omitempty"`
	// Notes say what is not included and how things were counted.
	Notes []string `json:"notes"`
}

// notIncluded are the costs that depend on use, which a plan cannot know,
// or that the estimate does not count; every estimate says them.
var notIncluded = []string{
	"not included: data processed by NAT gateways, load balancer capacity units (LCUs), data transfer, requests, snapshots and backups, Aurora storage and I/O, DynamoDB, S3, CloudWatch metrics, alarms and Logs, SNS, SQS, Lambda, Secrets Manager, KMS keys and requests, ECR storage, Route 53, public IPv4 addresses",
	"prices are on-demand list prices (Linux, shared tenancy); savings plans, reserved instances, credits and taxes are not applied",
}

// Notes items carry, said only where such an item is counted.
const (
	noteRootVolumes = "instances' root volumes are counted as their image gives them, unless the launch template sizes them"
	noteMultiAZ     = "a multi-AZ RDS instance is counted as two instances (primary and standby) and twice its storage"
	noteServices    = "services are counted at their minimum capacity (scaling.min): scaling policies and scheduled actions may run more"
	noteRelease     = "a release's services are counted at their minimum capacity (capacity.min) where their running groups' desired capacity is not known: those groups may run more, and so may scaling policies and scheduled actions"
	noteRunning     = "services are counted at their running groups' desired capacity, as a release carries it over (bounded by capacity.min and max)"
)

// key identifies items that are the same thing in the same region.
type key struct{ region, what, price, unit string }

func sum(items []Item) map[key]float64 {
	m := map[key]float64{}
	for _, it := range items {
		if !it.Uncounted {
			m[key{it.Region, it.What, it.Key, it.Unit}] += it.Count
		}
	}
	return m
}

// Estimate prices before (what is deployed; nil when nothing is) and
// after (what the plan leaves) and returns what changes.
func (t *Table) Estimate(before, after []Item) *Estimate {
	e := &Estimate{Currency: Currency, PricesDate: t.Date, PricesSource: t.Source, HoursPerMonth: HoursPerMonth, Lines: []Line{}, Notes: slices.Clone(notIncluded)}
	unpriced := map[string]bool{}
	excluded := map[key]bool{} // what the totals leave out, once each
	notes := map[string]bool{}
	for _, it := range slices.Concat(before, after) {
		if it.Note != "" && !it.Uncounted && !notes[it.Note] {
			notes[it.Note] = true
			e.Notes = append(e.Notes, it.Note)
		}
		if it.Uncounted {
			unpriced[fmt.Sprintf("%s: %s: %s", it.Region, it.What, it.Note)] = true
			excluded[key{region: it.Region, what: it.What}] = true
		}
	}
	monthly := func(k key, count float64) (float64, float64, bool) {
		if !t.HasRegion(k.region) {
			unpriced[fmt.Sprintf("%s: the price table has no prices for this region", k.region)] = true
			excluded[k] = true
			return 0, 0, false
		}
		p, _, ok := t.price(k.region, k.price)
		if !ok {
			unpriced[fmt.Sprintf("%s: %s: no price in the table", k.region, k.what)] = true
			excluded[k] = true
			return 0, 0, false
		}
		if k.unit == PerHour {
			return p, p * HoursPerMonth * count, true
		}
		return p, p * count, true
	}
	// Every key's monthly amount is rounded to the cent before and after,
	// and a line's amount is the difference of those, so that the lines
	// a reader adds up give the totals shown.
	b, a := sum(before), sum(after)
	for k, n := range b {
		_, m, _ := monthly(k, n)
		e.Totals.Before += cents(m)
	}
	for k, n := range a {
		_, m, _ := monthly(k, n)
		e.Totals.After += cents(m)
	}
	keys := make([]key, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		delta := a[k] - b[k]
		if delta == 0 {
			continue
		}
		l := Line{Change: "add", Region: k.region, What: k.what, Count: delta, Unit: k.unit}
		if delta < 0 {
			l.Change, l.Count = "remove", -delta
		}
		price, was, _ := monthly(k, b[k])
		_, is, priced := monthly(k, a[k])
		l.UnitPrice, l.Priced = price, priced
		if priced {
			_, l.Source, _ = t.price(k.region, k.price)
			if l.Source == SourcePriceList {
				if d := t.looked[k.region][k.price].Date; e.PriceListDate == "" || (d != "" && d < e.PriceListDate) {
					e.PriceListDate = d
				}
			}
			l.Monthly = cents(math.Abs(cents(is) - cents(was)))
		}
		e.Lines = append(e.Lines, l)
	}
	slices.SortFunc(e.Lines, func(x, y Line) int {
		return cmp.Or(cmp.Compare(x.Region, y.Region), cmp.Compare(x.What, y.What), cmp.Compare(x.Change, y.Change))
	})
	e.Notes = append(e.Notes, t.notes...)
	for u := range unpriced {
		e.Unpriced = append(e.Unpriced, u)
	}
	slices.Sort(e.Unpriced)
	e.Totals.Before, e.Totals.After = cents(e.Totals.Before), cents(e.Totals.After)
	e.Totals.Change = cents(e.Totals.After - e.Totals.Before)
	e.Totals.Unpriced = len(excluded)
	e.Totals.Complete = len(excluded) == 0
	whats := map[string]bool{}
	for k := range excluded {
		if !whats[k.what] {
			whats[k.what] = true
			e.Totals.Excluded = append(e.Totals.Excluded, k.what)
		}
	}
	slices.Sort(e.Totals.Excluded)
	return e
}

// cents rounds an amount to the cent, so that the lines a reader adds up
// give the totals shown.
func cents(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return r
}

// Services returns the instances of an app's services in each of the
// orbit's regions, at their minimum capacity.
func Services(a *elevator.App, regions []string) []Item {
	var items []Item
	for _, r := range regions {
		for _, s := range a.Services {
			if s.Runtime.ECS != nil {
				items = append(items, ecsServiceItem(r, s.Name))
				continue
			}
			it := serviceItem(r, s.Name, s.InstanceType, s.Scaling.Min)
			it.Note = noteServices
			items = append(items, it)
		}
	}
	return items
}

// ReleaseServices returns the instances a release runs: each service's
// minimum capacity in each region it places the service in, and their
// root volumes as their image gives them (images may be nil: none
// counted). An image images cannot read leaves its volumes uncounted,
// which the estimate says.
func ReleaseServices(rel *elevator.Release, images Images) []Item {
	return ReleaseServicesAt(rel, images, nil)
}

// Counts returns how many instances a release's service runs in a region
// (its group's desired capacity, read back), and false when that is not
// known.
type Counts func(region, service string, c elevator.ReleaseCapacity) (int, bool)

// ReleaseServicesAt is ReleaseServices with each service counted as
// counts says where it knows (counts may be nil), else at its minimum.
func ReleaseServicesAt(rel *elevator.Release, images Images, counts Counts) []Item {
	var items []Item
	for _, s := range rel.Services {
		for _, p := range s.Placements {
			if s.ECS != nil {
				items = append(items, ecsServiceItem(p.Region, s.Name))
				continue
			}
			n, note := s.Capacity.Min, noteRelease
			if counts != nil {
				if c, ok := counts(p.Region, s.Name, s.Capacity); ok {
					n, note = c, noteRunning
				}
			}
			it := serviceItem(p.Region, s.Name, s.InstanceType, n)
			it.Note = note
			items = append(items, it)
			if images == nil || p.Image == "" || n == 0 {
				continue
			}
			if v, ok := rootVolume(images, p.Region, p.Image); ok {
				items = append(items, v.item(p.Region, "service "+s.Name, float64(n)))
			} else {
				items = append(items, unreadableImage(p.Region, "service "+s.Name, p.Image))
			}
		}
	}
	return items
}

// ecsServiceItem is the tasks of an ECS service, which the estimate does
// not price (Fargate's vCPU and memory hours, or the orbit's EC2 capacity,
// which its own stack counts): the estimate says they are not included.
func ecsServiceItem(region, service string) Item {
	return Item{Region: region, What: "service " + service + ": ECS tasks", Uncounted: true,
		Note: "ECS tasks are not priced: not included"}
}

// unreadableImage is the root volumes of an owner's instances whose image
// could not be read.
func unreadableImage(region, owner, image string) Item {
	return Item{Region: region, What: owner + ": root volumes", Uncounted: true,
		Note: fmt.Sprintf("the image %s could not be read (DescribeImages): its root volume is not counted", image)}
}

// Volume is an image's root volume: what an instance launched from it
// boots from unless its launch template says otherwise.
type Volume struct {
	GiB  float64
	Type string // gp3, gp2, ...; "" is gp2, EBS's default
	// Device is the root device's name (/dev/xvda): a launch template's
	// mapping of that device replaces what it gives.
	Device string
}

// Images returns the root volume of an image in a region, and false when
// it is not known.
type Images func(region, image string) (Volume, bool)

func rootVolume(images Images, region, image string) (Volume, bool) {
	if images == nil || image == "" {
		return Volume{}, false
	}
	v, ok := images(region, image)
	if v.Type == "" {
		v.Type = "gp2"
	}
	return v, ok && v.GiB > 0
}

// item is count instances' worth of the volume.
func (v Volume) item(region, owner string, count float64) Item {
	return Item{Region: region, What: fmt.Sprintf("%s: %s volumes", owner, v.Type), Key: "ebs:" + v.Type, Unit: PerGBMonth, Count: v.GiB * count, Note: noteRootVolumes}
}

// Stack is a CloudFormation template and the values of its parameters.
type Stack struct {
	Region     string
	Body       []byte
	Parameters map[string]string
}

func serviceItem(region, service, instanceType string, count int) Item {
	return Item{Region: region, What: fmt.Sprintf("service %s: %s instances", service, instanceType), Key: "ec2:" + instanceType, Unit: PerHour, Count: float64(count)}
}

// template is the part of a CloudFormation template the estimate reads.
// Properties are decoded only for the resource types that cost: the
// templates are mostly policies, subnets and user data.
type template struct {
	Resources map[string]struct {
		Type       string
		Properties json.RawMessage
	}
}

// costs are the resource types whose properties the estimate reads.
var costs = map[string]bool{
	"AWS::EC2::NatGateway": true, "AWS::ElasticLoadBalancingV2::LoadBalancer": true, "AWS::AutoScaling::AutoScalingGroup": true,
	"AWS::RDS::DBInstance": true, "AWS::ElastiCache::ReplicationGroup": true, "AWS::ElastiCache::CacheCluster": true,
}

// properties decodes a resource's properties; nil when they are not an
// object.
func properties(raw json.RawMessage) map[string]any {
	var p map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &p) != nil {
		return nil
	}
	return p
}

// Template returns what costs in a stack's CloudFormation template
// Elevator compiled (JSON). A count, type or size given by a function,
// which only CloudFormation resolves, is skipped: the templates Elevator
// writes give them literally. An Auto Scaling Group's launch template's
// image (a literal or a parameter) gives its instances' root volumes,
// through images, unless the launch template sizes them; images may be
// nil. It returns an error only for a body that is not a JSON template.
func Template(st Stack, images Images) ([]Item, error) {
	region := st.Region
	var t template
	if err := json.Unmarshal(st.Body, &t); err != nil {
		return nil, fmt.Errorf("read the template in %s: %w", region, err)
	}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var items []Item
	addNoted := func(what, key, unit string, count float64, note string) {
		if count > 0 {
			items = append(items, Item{Region: region, What: what, Key: key, Unit: unit, Count: count, Note: note})
		}
	}
	add := func(what, key, unit string, count float64) { addNoted(what, key, unit, count, "") }
	for _, id := range ids {
		res := t.Resources[id]
		if !costs[res.Type] {
			continue
		}
		p := properties(res.Properties)
		switch res.Type {
		case "AWS::EC2::NatGateway":
			add("NAT gateway", "nat:hour", PerHour, 1)
		case "AWS::ElasticLoadBalancingV2::LoadBalancer":
			switch typ, _ := str(p["Type"]); typ {
			case "network":
				add("Network Load Balancer", "nlb:hour", PerHour, 1)
			case "", "application":
				add("Application Load Balancer", "alb:hour", PerHour, 1)
			}
		case "AWS::AutoScaling::AutoScalingGroup":
			lt := launchTemplate(t, p["LaunchTemplate"])
			typ, ok := str(lt["InstanceType"])
			if !ok {
				continue
			}
			name := strings.ToLower(strings.TrimPrefix(id, "AutoScalingGroup"))
			what := fmt.Sprintf("%s: %s instances", name, typ)
			n, ok := num(p["DesiredCapacity"])
			note := ""
			if !ok {
				// A desired capacity given by a function (Fn::If, Ref)
				// only CloudFormation resolves: the minimum size stands in.
				min, minOK := num(p["MinSize"])
				switch {
				case !minOK && p["MinSize"] != nil:
					items = append(items, Item{Region: region, What: what, Uncounted: true,
						Note: "its desired capacity and minimum size are given by functions CloudFormation resolves: not counted"})
					continue
				case p["DesiredCapacity"] != nil:
					note = fmt.Sprintf("%s: %s: its desired capacity is given by a function CloudFormation resolves: counted at its minimum size, %s",
						region, name, strconv.FormatFloat(min, 'f', -1, 64))
				}
				n = min
			}
			addNoted(what, "ec2:"+typ, PerHour, n, note)
			items = append(items, volumes(st, lt, images, name, n)...)
		case "AWS::RDS::DBInstance":
			class, ok := str(p["DBInstanceClass"])
			engine, _ := str(p["Engine"])
			if !ok || engine == "" {
				continue
			}
			n, what, note := 1.0, fmt.Sprintf("RDS %s %s", engine, class), ""
			if multi, _ := str(p["MultiAZ"]); multi == "true" {
				n, what, note = 2, what+" (multi-AZ: primary and standby)", noteMultiAZ
			}
			addNoted(what, "rds:"+engine+":single:"+class, PerHour, n, note)
			if size, ok := num(p["AllocatedStorage"]); ok {
				st, ok := str(p["StorageType"])
				if !ok {
					st = "gp2"
				}
				add(fmt.Sprintf("RDS %s storage", st), "rds:storage:"+st, PerGBMonth, size*n)
			}
		case "AWS::ElastiCache::ReplicationGroup":
			typ, ok := str(p["CacheNodeType"])
			if !ok {
				continue
			}
			n, ok := num(p["NumCacheClusters"])
			if !ok {
				groups, ok := num(p["NumNodeGroups"])
				if !ok {
					groups = 1
				}
				replicas, _ := num(p["ReplicasPerNodeGroup"])
				n = groups * (replicas + 1)
			}
			add("ElastiCache Redis "+typ+" nodes", "cache:redis:"+typ, PerHour, n)
		case "AWS::ElastiCache::CacheCluster":
			typ, ok := str(p["CacheNodeType"])
			if engine, _ := str(p["Engine"]); !ok || (engine != "redis" && engine != "valkey") {
				continue
			}
			n, ok := num(p["NumCacheNodes"])
			if !ok {
				n = 1
			}
			add("ElastiCache Redis "+typ+" nodes", "cache:redis:"+typ, PerHour, n)
		}
	}
	return items, nil
}

// volumes returns the EBS volumes of n instances of a launch template:
// its block device mappings, and the root volume of its image (a literal
// or a parameter) unless a mapping replaces it. A mapping of the root
// device without a size or a type takes the image's; another mapping
// without a type is gp2, EBS's default.
func volumes(st Stack, lt map[string]any, images Images, owner string, n float64) []Item {
	if n <= 0 {
		return nil
	}
	image, _ := str(lt["ImageId"])
	if ref, ok := lt["ImageId"].(map[string]any); ok {
		param, _ := ref["Ref"].(string)
		image = st.Parameters[param]
	}
	var items []Item
	root, rootOK := rootVolume(images, st.Region, image)
	if !rootOK && images != nil && image != "" {
		items = append(items, unreadableImage(st.Region, owner, image))
	}
	rootMapped := false
	for _, m := range list(lt["BlockDeviceMappings"]) {
		mapping, _ := m.(map[string]any)
		ebs, ok := mapping["Ebs"].(map[string]any)
		if !ok {
			continue // an instance store volume, or NoDevice
		}
		device, _ := str(mapping["DeviceName"])
		size, sized := num(ebs["VolumeSize"])
		vt, typed := str(ebs["VolumeType"])
		if rootOK && device == root.Device {
			rootMapped = true
			if !sized {
				size, sized = root.GiB, true
			}
			if !typed {
				vt, typed = root.Type, true
			}
		}
		if !typed {
			vt = "gp2"
		}
		what := fmt.Sprintf("%s: %s volumes", owner, vt)
		if !sized {
			items = append(items, Item{Region: st.Region, What: what, Uncounted: true,
				Note: fmt.Sprintf("the volume %s has no size in the launch template and its image's is not known: not counted", device)})
			continue
		}
		if size*n > 0 {
			items = append(items, Item{Region: st.Region, What: what, Key: "ebs:" + vt, Unit: PerGBMonth, Count: size * n})
		}
	}
	if rootOK && !rootMapped {
		items = append(items, root.item(st.Region, owner, n))
	}
	return items
}

// launchTemplate returns the LaunchTemplateData of the launch template an
// Auto Scaling Group's LaunchTemplate property refers to, in the same
// template; nil when it refers to anything else.
func launchTemplate(t template, ref any) map[string]any {
	spec, _ := ref.(map[string]any)
	for _, field := range []string{"LaunchTemplateId", "LaunchTemplateName"} {
		v, _ := spec[field].(map[string]any)
		id, _ := v["Ref"].(string)
		if id == "" {
			continue
		}
		if res, ok := t.Resources[id]; ok && res.Type == "AWS::EC2::LaunchTemplate" {
			data, _ := properties(res.Properties)["LaunchTemplateData"].(map[string]any)
			return data
		}
	}
	return nil
}

// str returns a literal value as a string: strings, numbers and booleans.
func str(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// num returns a literal number, written as a number or a string.
func num(v any) (float64, bool) {
	s, ok := str(v)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	return n, err == nil && n >= 0
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
