package manifest

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/schemas"
)

var orbitSchema = mustCompileSchema("https://github.com/elevatorhq/elevator/schemas/orbit.schema.json", schemas.Orbit)

// Defaults of an orbit manifest.
var (
	DefaultIPSpace      = netip.MustParsePrefix("10.0.0.0/8")
	DefaultVPCSize      = 16
	DefaultNAT          = elevator.NATPerAZ
	DefaultInstanceType = "t3.micro"
	// DefaultBastionAMI is the SSM parameter AWS keeps pointing at the newest
	// Amazon Linux 2023 image.
	DefaultBastionAMI = elevator.AMISelector{SSMParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}
	DefaultTiers      = []string{elevator.TierPublic, elevator.TierPrivate, elevator.TierData}
	// DefaultECSAMI and DefaultECSARM64AMI are the SSM parameters AWS keeps
	// pointing at the newest ECS-optimized Amazon Linux 2023 images: the
	// EC2 capacity of an orbit's cluster runs the arm64 one on Graviton
	// instance types.
	DefaultECSAMI      = elevator.AMISelector{SSMParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"}
	DefaultECSARM64AMI = elevator.AMISelector{SSMParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"}
	// DefaultECSTargetCapacity is the percent of an orbit's EC2 capacity
	// ECS managed scaling keeps in use.
	DefaultECSTargetCapacity = 100
)

// ParseOrbit parses and validates an orbit manifest. file names the manifest
// in messages. It returns elevator.FieldErrors listing every problem found,
// each with file:line:column, the field, the value and what is allowed.
func ParseOrbit(file string, data []byte) (*elevator.Orbit, error) {
	d := parseDocument(file, data)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	orbitSchema.validate(d)
	root, ok := d.value.(map[string]any)
	if !ok {
		return nil, d.errs.Sorted()
	}
	// The checks a schema cannot express run even when the schema found
	// problems, so that one run reports everything; a field the schema
	// already faulted gets no second message.
	schemaErrs := len(d.errs)
	b := &orbitBuilder{d: d, root: root}
	o := b.build()
	d.errs = append(d.errs[:schemaErrs], withoutFaulted(d.errs[:schemaErrs], d.errs[schemaErrs:])...)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	return o, nil
}

// withoutFaulted drops the errors about a field (or a field inside one) that
// already has an error in faulted.
func withoutFaulted(faulted, errs elevator.FieldErrors) elevator.FieldErrors {
	var out elevator.FieldErrors
next:
	for _, e := range errs {
		for _, f := range faulted {
			if e.Path == f.Path || strings.HasPrefix(e.Path, f.Path+".") || strings.HasPrefix(e.Path, f.Path+"[") {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

type orbitBuilder struct {
	d    *document
	root map[string]any
}

// errorf records a problem at path; a path ending in "#key" points at the
// key of a mapping entry rather than at its value.
func (b *orbitBuilder) errorf(path string, value any, format string, args ...any) {
	fe := b.d.source.Errorf(path, value, format, args...)
	fe.Path = strings.TrimSuffix(path, "#key")
	b.d.errs = append(b.d.errs, fe)
}

func (b *orbitBuilder) build() *elevator.Orbit {
	o := &elevator.Orbit{
		Name:    str(b.root["name"]),
		Protect: b.root["protect"] == true,
		Domain:  strings.TrimSuffix(str(b.root["domain"]), "."),
		Source:  b.d.source,
	}
	network := obj(b.root["network"])
	ipSpace := b.prefix("network.ip_space", network["ip_space"], DefaultIPSpace)
	vpcSize := intOr(network["vpc_size"], DefaultVPCSize)
	if ipSpace.IsValid() && vpcSize < ipSpace.Bits() {
		b.errorf("network.vpc_size", vpcSize, "is larger than the ip_space %s it is allocated from; want a prefix length of %d or more", ipSpace, ipSpace.Bits())
	}
	nat := elevator.NATMode(strOr(network["nat"], string(DefaultNAT)))
	tiers := b.tiers(network["tiers"], vpcSize)

	var baseBastion map[string]any
	if v, ok := b.root["bastion"]; ok {
		baseBastion = obj(v)
		if baseBastion == nil {
			baseBastion = map[string]any{}
		}
	}

	regions := obj(b.root["regions"])
	for _, name := range b.d.keys["regions"] {
		path := "regions." + name
		rv := obj(regions[name])
		r := elevator.Region{
			Name:    name,
			IPSpace: ipSpace,
			Size:    vpcSize,
			NAT:     elevator.NATMode(strOr(rv["nat"], string(nat))),
			Path:    path,
		}
		if !knownRegions[name] {
			msg := "unknown AWS region"
			if near := closestRegions(name); len(near) > 0 {
				msg += "; did you mean " + strings.Join(near, " or ") + "?"
			}
			b.errorf(path+"#key", name, "%s", msg)
		}
		if v, ok := rv["cidr"]; ok {
			r.CIDR = b.prefix(path+".cidr", v, netip.Prefix{})
		}
		for i, z := range list(rv["azs"]) {
			zone := str(z)
			if !zoneInRegion(zone, name) {
				b.errorf(fmt.Sprintf("%s.azs[%d]", path, i), zone, "is not an availability zone of %s; want a name such as %sa", name, name)
			}
			r.AZs = append(r.AZs, zone)
		}
		r.Tiers = b.regionTiers(path, tiers, obj(rv["tiers"]))
		r.Bastion = b.bastion(path, baseBastion, rv)
		b.checkRegionNetwork(&r)
		o.Regions = append(o.Regions, r)
	}

	notifications := obj(b.root["notifications"])
	for _, sev := range elevator.Severities {
		n := elevator.Notification{Severity: sev}
		path := "notifications." + string(sev)
		sevObj := obj(notifications[string(sev)])
		for _, e := range list(sevObj["email"]) {
			n.Emails = append(n.Emails, str(e))
		}
		n.PagerDuty = b.secretRef(path+".pagerduty", sevObj["pagerduty"])
		n.Slack = b.secretRef(path+".slack", sevObj["slack"])
		o.Notifications = append(o.Notifications, n)
	}
	o.Access = b.access(b.root["access"])
	o.Deployer = b.deployer(b.root["deployer"])
	o.Builders = b.builders(b.root["builders"])
	o.SelfApproval = obj(b.root["pipelines"])["self_approval"] == true
	o.Images = b.images(obj(b.root["images"]))
	o.Account = b.account(b.root["account"], o.Regions)
	if v, ok := b.root["ecs"]; ok {
		o.ECS = b.ecs("ecs", obj(v))
	}
	return o
}

// ecs reads the ecs section: the orbit's cluster, and its EC2 capacity
// when the section has ec2.
func (b *orbitBuilder) ecs(path string, m map[string]any) *elevator.OrbitECS {
	e := &elevator.OrbitECS{Path: path}
	v, ok := m["ec2"]
	if !ok {
		return e
	}
	path += ".ec2"
	c := obj(v)
	e.EC2 = &elevator.ECSCapacity{
		InstanceType:   strOr(c["instance_type"], DefaultInstanceType),
		Min:            intOr(c["min"], 0),
		Max:            intOr(c["max"], 0),
		TargetCapacity: intOr(c["target_capacity"], DefaultECSTargetCapacity),
		AMI:            DefaultECSAMI,
		Path:           path,
	}
	if arm64InstanceType(e.EC2.InstanceType) {
		e.EC2.AMI = DefaultECSARM64AMI
	}
	if a, ok := c["ami"]; ok {
		e.EC2.AMI = b.ami(path+".ami", obj(a))
	}
	if _, ok := c["max"]; ok && e.EC2.Min > e.EC2.Max {
		b.errorf(path+".min", e.EC2.Min, "is more than max (%d); want min <= max", e.EC2.Max)
	}
	return e
}

// arm64InstanceType reports whether instances of the EC2 instance type
// have Graviton (arm64) processors: a family with a g after its
// generation, such as m7g, c6gn, t4g or im4gn, and a1.
func arm64InstanceType(t string) bool {
	family, _, _ := strings.Cut(t, ".")
	if family == "a1" {
		return true
	}
	i := strings.IndexAny(family, "0123456789")
	if i < 0 {
		return false
	}
	rest := strings.TrimLeft(family[i:], "0123456789")
	return strings.HasPrefix(rest, "g")
}

// account reads the account section. The schema checks each field's form;
// the domain's checks run again here, and the role must be in the account
// id names.
func (b *orbitBuilder) account(v any, regions []elevator.Region) elevator.Account {
	m, ok := v.(map[string]any)
	if !ok {
		return elevator.Account{} // absent, or the schema has said what is wrong
	}
	a := elevator.Account{Path: "account"}
	if s, ok := m["id"].(string); ok {
		if !elevator.IsAccountID(s) {
			b.errorf("account.id", s, "want %s", elevator.AccountIDForm)
		} else {
			a.ID = s
		}
	}
	if s, ok := m["role"].(string); ok {
		if !elevator.IsRoleARN(s) {
			b.errorf("account.role", s, "want %s", elevator.RoleARNForm)
		} else {
			a.Role = s
		}
	}
	if s, ok := m["external_id"].(string); ok {
		switch {
		case !elevator.IsExternalID(s):
			b.errorf("account.external_id", s, "want %s", elevator.ExternalIDForm)
		case m["role"] == nil:
			b.errorf("account.external_id", s, "only used to assume a role; want account.role too")
		default:
			a.ExternalID = s
		}
	}
	_, hasID := m["id"]
	_, hasRole := m["role"]
	if !hasID && !hasRole && len(m) > 0 {
		b.errorf("account", nil, "want id, role or both, such as {id: \"111122223333\", role: arn:aws:iam::111122223333:role/elevator}")
	}
	if a.ID != "" && a.Role != "" && a.RoleAccount() != a.ID {
		b.errorf("account.role", a.Role, "is a role of account %s, not of account.id %s; want a role of account %s", a.RoleAccount(), a.ID, a.ID)
	}
	if a.Role != "" && len(regions) > 0 {
		if want := elevator.RegionPartition(regions[0].Name); a.RolePartition() != want {
			b.errorf("account.role", a.Role, "is a role of partition %s, and the orbit's regions are in %s; want arn:%s:iam::...", a.RolePartition(), want, want)
		}
	}
	return a
}

// images reads the images section. The schema checks each name's form
// and that stages are unique; here min_stage must be one of the stages.
func (b *orbitBuilder) images(m map[string]any) elevator.ImageSettings {
	s := elevator.ImageSettings{MinStage: str(m["min_stage"]), KMSKey: str(m["kms_key"])}
	for _, v := range list(m["stages"]) {
		s.Stages = append(s.Stages, str(v))
	}
	share := obj(m["share"])
	for _, v := range list(share["accounts"]) {
		s.ShareAccounts = append(s.ShareAccounts, str(v))
	}
	for _, v := range list(share["organizations"]) {
		s.ShareOrganizations = append(s.ShareOrganizations, str(v))
	}
	for _, v := range list(share["organizational_units"]) {
		s.ShareOUs = append(s.ShareOUs, str(v))
	}
	stages := s.Stages
	if len(stages) == 0 {
		stages = elevator.DefaultImageStages
	}
	if s.MinStage != "" && !slices.Contains(stages, s.MinStage) {
		b.errorf("images.min_stage", s.MinStage, "not one of the stages; want one of %s", strings.Join(stages, ", "))
	}
	return s
}

// deployer reads the deployer's URL. The schema checks its form; url.Parse
// runs again here so that a URL the CLI could not call is refused when the
// manifest is read, not when a release is submitted.
func (b *orbitBuilder) deployer(v any) string {
	s, ok := v.(string)
	if !ok {
		return "" // absent, or the schema has said what is wrong
	}
	if err := elevator.CheckDeployerURL(s); err != nil {
		b.errorf("deployer", s, "%v", err)
		return ""
	}
	return s
}

// builders reads the principals of other accounts that may submit
// releases. The schema checks their form; CheckBuilder runs again here so
// that the domain's rule decides.
func (b *orbitBuilder) builders(v any) []string {
	var out []string
	for i, p := range list(v) {
		s, ok := p.(string)
		if !ok {
			continue // the schema has said what is wrong
		}
		if err := elevator.CheckBuilder(s); err != nil {
			b.errorf(fmt.Sprintf("builders[%d]", i), s, "want a 12-digit account id or an IAM role or user ARN without wildcards, such as arn:aws:iam::222222222222:role/ci")
			continue
		}
		out = append(out, s)
	}
	return out
}

// access reads the access rules. The schema checks each principal's form
// and each role; CheckPrincipal runs again here so that the domain's rule,
// not only the schema's copy of it, decides.
func (b *orbitBuilder) access(v any) []elevator.AccessRule {
	var out []elevator.AccessRule
	for i, item := range list(v) {
		m := obj(item)
		path := fmt.Sprintf("access[%d]", i)
		r := elevator.AccessRule{Role: elevator.AccessRole(str(m["role"])), Path: path}
		for j, p := range list(m["principals"]) {
			s := str(p)
			if err := elevator.CheckPrincipal(s); err != nil {
				b.errorf(fmt.Sprintf("%s.principals[%d]", path, j), s, "want %s", elevator.PrincipalForms)
				continue
			}
			r.Principals = append(r.Principals, s)
		}
		for _, a := range list(m["apps"]) {
			r.Apps = append(r.Apps, str(a))
		}
		out = append(out, r)
	}
	return out
}

// secretRef reads a reference to a secret: exactly one of ssm and
// secretsmanager. A user who pastes the secret itself where its reference
// belongs must not see it echoed into a terminal or a CI log, so no error
// about the field or inside it shows the value.
func (b *orbitBuilder) secretRef(path string, v any) elevator.SecretRef {
	for _, e := range b.d.errs {
		switch {
		case e.Path == path, e.Path == path+".ssm", e.Path == path+".secretsmanager":
			e.Value = nil
		case strings.HasPrefix(e.Path, path+"."):
			// An unknown key, which may be the secret itself.
			e.Path, e.Value, e.Message = path, nil, "unknown field; allowed here: secretsmanager, ssm"
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return elevator.SecretRef{} // absent, or the schema has said what is wrong
	}
	ref := elevator.SecretRef{SSMParameter: str(m["ssm"]), SecretsManager: str(m["secretsmanager"])}
	set := 0
	for _, s := range []string{ref.SSMParameter, ref.SecretsManager} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		b.errorf(path, nil, "give exactly one of ssm (a parameter name such as /elevator/webhook) or secretsmanager (a secret name such as elevator/webhook) (found %d)", set)
		return elevator.SecretRef{}
	}
	return ref
}

// tiers reads network.tiers, or the default tiers when it is absent.
func (b *orbitBuilder) tiers(v any, vpcSize int) []elevator.Tier {
	items := list(v)
	if v == nil {
		for _, n := range DefaultTiers {
			items = append(items, map[string]any{"name": n})
		}
	}
	var out []elevator.Tier
	seen := map[string]string{}
	for i, item := range items {
		m := obj(item)
		path := fmt.Sprintf("network.tiers[%d]", i)
		if v == nil {
			path = "network.tiers"
		}
		t := elevator.Tier{
			Name:   str(m["name"]),
			Access: elevator.TierAccess(strOr(m["access"], string(defaultAccess(str(m["name"]))))),
			Size:   intOr(m["size"], 0),
			Path:   path,
		}
		if first, dup := seen[t.Name]; dup {
			b.errorf(path+".name", t.Name, "duplicate tier name (first at %s); tier names must be unique", first)
		}
		seen[t.Name] = path
		if c := str(m["cidr"]); c != "" && c != "auto" {
			t.CIDR = b.prefix(path+".cidr", c, netip.Prefix{})
		}
		if t.Size != 0 && t.Size <= vpcSize {
			b.errorf(path+".size", t.Size, "a /%d tier does not fit in a /%d VPC; want a prefix length above %d", t.Size, vpcSize, vpcSize)
		}
		out = append(out, t)
	}
	return out
}

// defaultAccess gives a tier's access from its name.
func defaultAccess(name string) elevator.TierAccess {
	switch name {
	case elevator.TierPublic, elevator.TierMaintenance:
		return elevator.AccessPublic
	case elevator.TierData, "db", "database":
		return elevator.AccessIsolated
	default:
		return elevator.AccessPrivate
	}
}

// regionTiers applies a region's explicit tier CIDRs over the orbit's tiers.
func (b *orbitBuilder) regionTiers(regionPath string, base []elevator.Tier, overrides map[string]any) []elevator.Tier {
	tiers := append([]elevator.Tier(nil), base...)
	for _, name := range b.d.keys[regionPath+".tiers"] {
		path := regionPath + ".tiers." + name
		i := tierIndex(tiers, name)
		if i < 0 {
			names := make([]string, len(tiers))
			for j, t := range tiers {
				names[j] = t.Name
			}
			b.errorf(path+"#key", name, "no such tier; tiers are: %s", strings.Join(names, ", "))
			continue
		}
		tiers[i].CIDR = b.prefix(path, overrides[name], netip.Prefix{})
		tiers[i].Path = path
	}
	return tiers
}

func tierIndex(tiers []elevator.Tier, name string) int {
	for i, t := range tiers {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// bastion merges a region's bastion fields over the orbit's.
func (b *orbitBuilder) bastion(regionPath string, base map[string]any, region map[string]any) *elevator.Bastion {
	path := "bastion"
	merged := map[string]any{}
	for k, v := range base {
		merged[k] = v
	}
	if rb, ok := region["bastion"]; ok {
		path = regionPath + ".bastion"
		for k, v := range obj(rb) {
			merged[k] = v
		}
	} else if base == nil {
		return nil
	}
	bastion := &elevator.Bastion{
		Count:        intOr(merged["count"], 1),
		InstanceType: strOr(merged["instance_type"], DefaultInstanceType),
		AMI:          DefaultBastionAMI,
		Path:         path,
	}
	if bastion.Count == 0 {
		return nil
	}
	if ami, ok := merged["ami"]; ok {
		bastion.AMI = b.ami(path+".ami", obj(ami))
	}
	for i, c := range list(merged["allowed_cidrs"]) {
		bastion.AllowedCIDRs = append(bastion.AllowedCIDRs, b.prefix(fmt.Sprintf("%s.allowed_cidrs[%d]", path, i), c, netip.Prefix{}))
	}
	if len(bastion.AllowedCIDRs) == 0 {
		b.errorf(path, nil, "a bastion needs allowed_cidrs: the blocks SSH is allowed from, such as [203.0.113.0/24]")
	}
	return bastion
}

func (b *orbitBuilder) ami(path string, m map[string]any) elevator.AMISelector {
	sel := elevator.AMISelector{ID: str(m["id"]), SSMParameter: str(m["ssm"]), Name: str(m["name"])}
	for _, o := range list(m["owners"]) {
		sel.Owners = append(sel.Owners, str(o))
	}
	set := 0
	for _, v := range []string{sel.ID, sel.SSMParameter, sel.Name} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		b.errorf(path, nil, "give exactly one of id, ssm or name (found %d)", set)
	}
	if len(sel.Owners) > 0 && sel.Name == "" {
		b.errorf(path+".owners", nil, "owners only goes with name")
	}
	return sel
}

// checkRegionNetwork finds what can be known before any AWS call: explicit
// blocks that overlap or fall outside the VPC, and tiers that cannot fit.
func (b *orbitBuilder) checkRegionNetwork(r *elevator.Region) {
	vpcBits := r.Size
	if r.CIDR.IsValid() {
		vpcBits = r.CIDR.Bits()
		if r.CIDR.Bits() < 16 || r.CIDR.Bits() > 28 {
			b.errorf(r.Path+".cidr", r.CIDR.String(), "a VPC block must be between /16 and /28")
		}
	}
	zones := len(r.AZs)
	if zones == 0 {
		zones = 2 // the least any region reports
	}
	k := SubnetBits(zones)
	var share float64 // the part of the VPC the tiers take
	for i, t := range r.Tiers {
		tierBits := t.Size
		if tierBits == 0 {
			tierBits = vpcBits + 2
		}
		if t.CIDR.IsValid() {
			tierBits = t.CIDR.Bits()
			if r.CIDR.IsValid() && !contains(r.CIDR, t.CIDR) {
				b.errorf(t.Path+cidrSuffix(t), t.CIDR.String(), "is outside the VPC block %s of %s", r.CIDR, r.Name)
			}
			for _, u := range r.Tiers[:i] {
				if u.CIDR.IsValid() && u.CIDR.Overlaps(t.CIDR) {
					b.errorf(t.Path+cidrSuffix(t), t.CIDR.String(), "overlaps tier %s (%s) in %s; tier blocks must not overlap", u.Name, u.CIDR, r.Name)
				}
			}
		}
		if tierBits+k > 28 {
			b.errorf(t.Path, t.Name, "tier %s does not fit: a /%d block split for %d zones gives /%d subnets, smaller than AWS's /28 minimum; give the tier a larger block", t.Name, tierBits, zones, tierBits+k)
		}
		if tierBits >= vpcBits {
			share += 1 / float64(uint64(1)<<(tierBits-vpcBits))
		} else {
			b.errorf(t.Path, t.Name, "tier %s (/%d) is larger than the /%d VPC in %s", t.Name, tierBits, vpcBits, r.Name)
		}
	}
	if share > 1 {
		b.errorf(r.Path+"#key", r.Name, "the tiers do not fit in a /%d VPC (they need %.0f%% of it); give tiers smaller sizes or the VPC a larger block", vpcBits, share*100)
	}
}

// SubnetBits is how many bits a tier's block is split by for n zones: enough
// for n subnets and never fewer than four, so that a region going from two
// zones to three or four keeps its subnets.
func SubnetBits(n int) int {
	if n <= 4 {
		return 2
	}
	return bits.Len(uint(n - 1))
}

func cidrSuffix(t elevator.Tier) string {
	if strings.HasPrefix(t.Path, "network.") {
		return ".cidr"
	}
	return ""
}

func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// prefix parses a CIDR field; a host address with bits set past the prefix
// is an error, with the network address suggested.
func (b *orbitBuilder) prefix(path string, v any, def netip.Prefix) netip.Prefix {
	if v == nil {
		return def
	}
	s := str(v)
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		b.errorf(path, s, "not an IPv4 CIDR block; want one such as 10.0.0.0/16")
		return netip.Prefix{}
	}
	if p.Masked() != p {
		b.errorf(path, s, "has host bits set; did you mean %s?", p.Masked())
		return netip.Prefix{}
	}
	return p
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func strOr(v any, def string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return def
}

func intOr(v any, def int) int {
	if i, ok := v.(int64); ok {
		return int(i)
	}
	return def
}
