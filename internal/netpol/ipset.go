package netpol

import (
	"net/netip"
	"sort"
)

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ lo, hi netip.Addr }

// ipSet is a set of addresses: sorted, disjoint, non-adjacent ranges.
type ipSet []addrRange

// prefixRange returns the range of p's addresses.
func prefixRange(p netip.Prefix) addrRange {
	p = p.Masked()
	lo := p.Addr()
	b := lo.AsSlice()
	bits := p.Bits()
	for i := range b {
		for k := 0; k < 8; k++ {
			if i*8+k >= bits {
				b[i] |= 0x80 >> k
			}
		}
	}
	hi, _ := netip.AddrFromSlice(b)
	return addrRange{lo: lo, hi: hi}
}

// union returns s ∪ {r}.
func (s ipSet) union(r addrRange) ipSet {
	out := append(ipSet{}, s...)
	out = append(out, r)
	sort.Slice(out, func(i, j int) bool { return out[i].lo.Less(out[j].lo) })
	merged := out[:0]
	for _, x := range out {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			if last.hi.Is4() == x.lo.Is4() && (!last.hi.Less(x.lo) || last.hi.Next() == x.lo) {
				if last.hi.Less(x.hi) {
					last.hi = x.hi
				}
				continue
			}
		}
		merged = append(merged, x)
	}
	return merged
}

// minus returns s \ r.
func (s ipSet) minus(r addrRange) ipSet {
	var out ipSet
	for _, x := range s {
		if x.hi.Less(r.lo) || r.hi.Less(x.lo) || x.lo.Is4() != r.lo.Is4() {
			out = append(out, x)
			continue
		}
		if x.lo.Less(r.lo) {
			out = append(out, addrRange{lo: x.lo, hi: r.lo.Prev()})
		}
		if r.hi.Less(x.hi) {
			out = append(out, addrRange{lo: r.hi.Next(), hi: x.hi})
		}
	}
	return out
}

// blockSet returns the addresses of an ipBlock.
func blockSet(b *Block) ipSet {
	s := ipSet{}.union(prefixRange(b.CIDR))
	for _, ex := range b.Except {
		s = s.minus(prefixRange(ex))
	}
	return s
}

// Coverage says how much of an endpoint a grant reaches.
type Coverage int

// Coverage values, ordered.
const (
	// None: no address of the endpoint.
	None Coverage = iota
	// Partial: some but not all addresses of a CIDR endpoint.
	Partial
	// Full: every address (always the case for pod endpoints).
	Full
)

// String names the coverage as a verdict.
func (c Coverage) String() string {
	switch c {
	case Full:
		return "allowed"
	case Partial:
		return "partial"
	}
	return "denied"
}

// covers reports how much of r the set holds.
func (s ipSet) covers(r addrRange) Coverage {
	rest := ipSet{r}
	for _, x := range s {
		rest = rest.minus(x)
	}
	switch {
	case len(rest) == 0:
		return Full
	case len(rest) == 1 && rest[0] == r:
		return None
	}
	return Partial
}
