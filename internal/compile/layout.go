package compile

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Limits AWS puts on VPC and subnet blocks.
const (
	largestVPC      = 16 // the shortest prefix a VPC block may have
	smallestSubnet  = 28 // the longest prefix a VPC or subnet block may have
	minSubnetsPerAZ = 2  // a tier is always cut into at least 1<<2 subnets
)

// Subnet is one tier's subnet in one availability zone.
type Subnet struct {
	Tier   string
	Access elevator.TierAccess
	AZ     string
	CIDR   netip.Prefix
}

// TierBlock is the block a tier's subnets are cut from.
type TierBlock struct {
	Name   string
	Access elevator.TierAccess
	CIDR   netip.Prefix
}

// Layout is how an orbit's VPC is cut in one region.
type Layout struct {
	Region string
	VPC    netip.Prefix
	AZs    []string
	// Tiers are in the order of Region.Tiers.
	Tiers []TierBlock
	// Subnets are tier by tier in the order of Tiers, and zone by zone in the
	// order of AZs within a tier.
	Subnets []Subnet
}

// TierSubnets returns the subnets of the tier called name, in zone order.
func (l Layout) TierSubnets(name string) []Subnet {
	var out []Subnet
	for _, s := range l.Subnets {
		if s.Tier == name {
			out = append(out, s)
		}
	}
	return out
}

// NetworkLayout decides the VPC block, the availability zones and every
// subnet of orbit o in region r, given the facts f looked up in the region.
//
// The VPC block is r.CIDR when set, else f.CurrentCIDR when the stack exists
// (so that it never moves), else the first block of r.Size bits in r.IPSpace
// clear of f.OtherVPCs. Each tier gets a block (its own, or one allocated
// after the tiers before it), cut into 1<<k equal subnets with k =
// max(2, ceil(log2(zones))) so that growing from two zones to four keeps
// every subnet where it is; subnet i goes to zone i.
//
// The zones are r.AZs when set. Else they are every zone the region
// reports, except that once the stack exists (f.CurrentAZs) its zones keep
// their places and a zone AWS adds later joins only if it does not change k:
// a region going from four zones to five would otherwise cut every tier
// again and replace every subnet. Listing the zones in the manifest is how
// to take them all then.
//
// It returns elevator.FieldErrors, positioned in o's manifest, when no VPC
// block is left, a zone is unknown, a tier lies outside the VPC, overlaps
// another or does not fit, or subnets would be smaller than /28.
func NetworkLayout(o *elevator.Orbit, r *elevator.Region, f RegionFacts) (Layout, error) {
	var errs elevator.FieldErrors
	src := o.Source
	azs, azErrs := regionAZs(src, r, f)
	errs = append(errs, azErrs...)
	vpc, err := vpcBlock(src, r, f)
	if err != nil {
		return Layout{}, append(errs, err)
	}
	tiers, tierErrs := tierBlocks(src, r, vpc, len(azs))
	errs = append(errs, tierErrs...)
	if len(errs) > 0 {
		return Layout{}, errs
	}

	l := Layout{Region: r.Name, VPC: vpc, AZs: azs, Tiers: tiers}
	subnetBits := subnetBitsFor(len(azs))
	l.Subnets = make([]Subnet, 0, len(tiers)*len(azs))
	for _, t := range tiers {
		for i, az := range azs {
			l.Subnets = append(l.Subnets, Subnet{
				Tier:   t.Name,
				Access: t.Access,
				AZ:     az,
				CIDR:   nthBlock(t.CIDR, t.CIDR.Bits()+subnetBits, uint64(i)),
			})
		}
	}
	return l, nil
}

// subnetBitsFor is k: a tier's block is cut into 1<<k subnets for n zones.
// It is never less than 2, so that going from two zones to three or four
// does not cut the blocks again.
func subnetBitsFor(n int) int {
	return max(minSubnetsPerAZ, bits.Len(uint(max(n, 1)-1)))
}

// regionAZs returns the zones the region uses: the manifest's, each checked
// against what the region reports; or the current zones followed by any new
// zone that fits in the same cut; or every zone the region reports.
func regionAZs(src elevator.Source, r *elevator.Region, f RegionFacts) ([]string, elevator.FieldErrors) {
	reported := f.AZs
	if len(reported) == 0 {
		return nil, elevator.FieldErrors{src.Errorf(r.Path, r.Name, "AWS reports no availability zones in %s; check that the region is enabled for the account", r.Name)}
	}
	if len(r.AZs) == 0 {
		if len(f.CurrentAZs) == 0 {
			return reported, nil
		}
		azs := append([]string(nil), f.CurrentAZs...)
		k := subnetBitsFor(len(azs))
		for _, az := range reported {
			if !contains(azs, az) && subnetBitsFor(len(azs)+1) == k {
				azs = append(azs, az)
			}
		}
		return azs, nil
	}
	var errs elevator.FieldErrors
	seen := make(map[string]bool, len(r.AZs))
	for i, az := range r.AZs {
		path := fmt.Sprintf("%s.azs[%d]", r.Path, i)
		switch {
		case seen[az]:
			errs = append(errs, src.Errorf(path, az, "is listed twice; list each zone once"))
		case !contains(reported, az):
			errs = append(errs, src.Errorf(path, az, "is not an availability zone of %s; its zones are %s", r.Name, strings.Join(reported, ", ")))
		}
		seen[az] = true
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r.AZs, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// vpcBlock picks the region's VPC block.
func vpcBlock(src elevator.Source, r *elevator.Region, f RegionFacts) (netip.Prefix, *elevator.FieldError) {
	if r.CIDR.IsValid() {
		if msg := checkVPCBlock(r.CIDR); msg != "" {
			return netip.Prefix{}, src.Errorf(fieldPath(src, r.Path, "cidr"), r.CIDR.String(), "%s", msg)
		}
		return r.CIDR, nil
	}
	if f.CurrentCIDR.IsValid() {
		// The stack exists: its VPC keeps its block whatever else changed.
		return f.CurrentCIDR.Masked(), nil
	}
	space := r.IPSpace
	switch {
	case !space.IsValid() || !space.Addr().Is4():
		return netip.Prefix{}, src.Errorf(r.Path, r.Name, "has neither a cidr nor an IPv4 ip_space to allocate the VPC block from; set one of them")
	case r.Size < largestVPC || r.Size > smallestSubnet:
		return netip.Prefix{}, src.Errorf(r.Path, r.Size, "a VPC block must be between /%d and /%d; set the vpc_size in that range", largestVPC, smallestSubnet)
	case r.Size < space.Bits():
		return netip.Prefix{}, src.Errorf(r.Path, r.Size, "a /%d VPC block does not fit in the ip_space %s; set a vpc_size of %d or more", r.Size, space, space.Bits())
	}
	block, ok := firstFree(space.Masked(), r.Size, f.OtherVPCs)
	if !ok {
		return netip.Prefix{}, src.Errorf(r.Path, r.Name, "no free /%d block in the ip_space %s: all %d blocks tried overlap VPCs already in %s; use a larger ip_space or give the region an explicit cidr",
			r.Size, space.Masked(), uint64(1)<<(r.Size-space.Bits()), r.Name)
	}
	return block, nil
}

// checkVPCBlock says what is wrong with an explicit VPC block, or "".
func checkVPCBlock(p netip.Prefix) string {
	switch {
	case !p.Addr().Is4():
		return "a VPC block must be IPv4"
	case p.Bits() < largestVPC || p.Bits() > smallestSubnet:
		return fmt.Sprintf("a VPC block must be between /%d and /%d", largestVPC, smallestSubnet)
	case p != p.Masked():
		return fmt.Sprintf("has host bits set; did you mean %s?", p.Masked())
	}
	return ""
}

// tierBlocks gives every tier its block: explicit blocks first, then auto
// blocks in tier order, each at the first aligned position clear of the
// explicit blocks and of the auto blocks before it.
func tierBlocks(src elevator.Source, r *elevator.Region, vpc netip.Prefix, zones int) ([]TierBlock, elevator.FieldErrors) {
	var errs elevator.FieldErrors
	k := subnetBitsFor(zones)
	blocks := make([]TierBlock, len(r.Tiers))
	taken := make([]netip.Prefix, 0, len(r.Tiers))
	owner := make([]int, 0, len(r.Tiers)) // the tier of each taken block
	seen := make(map[string]string, len(r.Tiers))

	for i, t := range r.Tiers {
		blocks[i] = TierBlock{Name: t.Name, Access: t.Access}
		if first, dup := seen[t.Name]; dup {
			errs = append(errs, src.Errorf(fieldPath(src, t.Path, "name"), t.Name, "duplicate tier name (first at %s); tier names must be unique", first))
		}
		seen[t.Name] = t.Path
		if !t.CIDR.IsValid() {
			continue
		}
		path := fieldPath(src, t.Path, "cidr")
		p := t.CIDR
		switch {
		case !p.Addr().Is4():
			errs = append(errs, src.Errorf(path, p.String(), "a tier block must be IPv4"))
			continue
		case p != p.Masked():
			errs = append(errs, src.Errorf(path, p.String(), "has host bits set; did you mean %s?", p.Masked()))
			continue
		case !inside(vpc, p):
			errs = append(errs, src.Errorf(path, p.String(), "is outside the VPC block %s of %s; give the region an explicit cidr that holds it, or set the tier's cidr to auto", vpc, r.Name))
			continue
		case p.Bits()+k > smallestSubnet:
			errs = append(errs, src.Errorf(path, p.String(), "cut into %d subnets for %d zones gives /%d subnets, smaller than AWS's /%d minimum; give tier %s a /%d block or larger",
				1<<k, zones, p.Bits()+k, smallestSubnet, t.Name, smallestSubnet-k))
			continue
		}
		for j, q := range taken {
			if q.Overlaps(p) {
				u := r.Tiers[owner[j]]
				errs = append(errs, src.Errorf(path, p.String(), "overlaps tier %s (%s) in %s; tier blocks must not overlap", u.Name, q, r.Name))
			}
		}
		blocks[i].CIDR = p
		taken = append(taken, p)
		owner = append(owner, i)
	}

	for i, t := range r.Tiers {
		if t.CIDR.IsValid() {
			continue
		}
		size, path := t.Size, fieldPath(src, t.Path, "size")
		if size == 0 {
			size, path = vpc.Bits()+2, t.Path // a quarter of the VPC
		}
		switch {
		case size < vpc.Bits():
			errs = append(errs, src.Errorf(path, size, "a /%d tier does not fit in the /%d VPC block %s of %s; want a prefix length of %d or more", size, vpc.Bits(), vpc, r.Name, vpc.Bits()))
			continue
		case size+k > smallestSubnet:
			errs = append(errs, src.Errorf(path, size, "tier %s does not fit: a /%d block cut into %d subnets for %d zones gives /%d subnets, smaller than AWS's /%d minimum; give the tier a /%d block or larger, or the region a larger VPC",
				t.Name, size, 1<<k, zones, size+k, smallestSubnet, smallestSubnet-k))
			continue
		}
		p, ok := firstFree(vpc, size, taken)
		if !ok {
			errs = append(errs, src.Errorf(path, size, "tier %s does not fit: no free /%d block is left in the VPC block %s of %s after %s; give tiers smaller sizes or the region a larger VPC",
				t.Name, size, vpc, r.Name, describeTaken(r.Tiers, taken, owner)))
			continue
		}
		blocks[i].CIDR = p
		taken = append(taken, p)
		owner = append(owner, i)
	}
	return blocks, errs
}

func describeTaken(tiers []elevator.Tier, taken []netip.Prefix, owner []int) string {
	parts := make([]string, len(taken))
	for i, p := range taken {
		parts[i] = fmt.Sprintf("%s %s", tiers[owner[i]].Name, p)
	}
	if len(parts) == 0 {
		return "no other tier"
	}
	return strings.Join(parts, ", ")
}

// fieldPath is base.field when the manifest has that field, else base: a
// problem points at the field the user wrote, or at the thing it is about
// when the value came from a default (or from an override that is itself
// the value, such as regions.us-east-1.tiers.public).
func fieldPath(src elevator.Source, base, field string) string {
	p := base + "." + field
	if _, ok := src.Positions[p]; ok {
		return p
	}
	return base
}

// inside reports whether inner lies entirely in outer.
func inside(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// firstFree returns the first block of length bits in space, aligned on its
// own size, that overlaps none of taken. IPv6 blocks in taken are ignored.
func firstFree(space netip.Prefix, bits int, taken []netip.Prefix) (netip.Prefix, bool) {
	size := uint64(1) << (32 - bits)
	start := addrValue(space.Addr())
	end := start + uint64(1)<<(32-space.Bits())
	for a := start; a+size <= end; {
		next := uint64(0)
		for _, t := range taken {
			if !t.Addr().Is4() {
				continue
			}
			ts := addrValue(t.Masked().Addr())
			te := ts + uint64(1)<<(32-t.Bits())
			if ts < a+size && a < te {
				next = max(next, te)
			}
		}
		if next == 0 {
			return netip.PrefixFrom(valueAddr(a), bits), true
		}
		// Skip to the first aligned block past every block in the way.
		a = (next + size - 1) / size * size
	}
	return netip.Prefix{}, false
}

// nthBlock returns the i-th block of length bits inside p.
func nthBlock(p netip.Prefix, bits int, i uint64) netip.Prefix {
	return netip.PrefixFrom(valueAddr(addrValue(p.Addr())+i<<(32-bits)), bits)
}

func addrValue(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func valueAddr(v uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
