package probe

import (
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxPrefixHosts is the number of addresses (a /16 in IPv4) above which a
// CIDR target needs Options.IMeanIt.
const MaxPrefixHosts = 1 << 16

// hardCap bounds a CIDR even with IMeanIt (a /8 in IPv4): beyond it the
// probe would run for days at any sensible rate.
const hardCap = 1 << 24

// Target is one host to probe, on Ports or, when a URL named it, on
// exactly one port with a known scheme.
type Target struct {
	// Host is an IP address or a host name.
	Host string
	// Port is set when the target named one (a URL or host:port).
	Port int
	// Scheme is http or https when a URL named it.
	Scheme string
}

// ParseTargets turns command-line targets (host names, IPs, host:port,
// CIDRs and http/https URLs) into targets. CIDRs larger than
// MaxPrefixHosts addresses are refused unless iMeanIt.
func ParseTargets(args []string, iMeanIt bool) ([]Target, error) {
	var out []Target
	for _, a := range args {
		ts, err := parseTarget(strings.TrimSpace(a), iMeanIt)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no target given")
	}
	return out, nil
}

func parseTarget(a string, iMeanIt bool) ([]Target, error) {
	switch {
	case a == "":
		return nil, fmt.Errorf("empty target")
	case strings.Contains(a, "://"):
		u, err := url.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", a, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("target %q: scheme %q not supported (http or https)", a, u.Scheme)
		}
		if u.User != nil {
			return nil, fmt.Errorf("target %q: credentials in URLs are not used; the probe is anonymous", redactURL(u))
		}
		host := u.Hostname()
		if host == "" {
			return nil, fmt.Errorf("target %q: no host", a)
		}
		port := 443
		if u.Scheme == "http" {
			port = 80
		}
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("target %q: bad port %q", a, p)
			}
			port = n
		}
		return []Target{{Host: host, Port: port, Scheme: u.Scheme}}, nil
	case strings.Contains(a, "/"):
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("target %q: not a CIDR: %w", a, err)
		}
		return expandPrefix(p.Masked(), iMeanIt)
	}
	if ip, err := netip.ParseAddr(a); err == nil {
		return []Target{{Host: ip.String()}}, nil
	}
	if h, p, err := net.SplitHostPort(a); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("target %q: bad port %q", a, p)
		}
		if !validHost(h) {
			return nil, fmt.Errorf("target %q: bad host %q", a, h)
		}
		return []Target{{Host: h, Port: n}}, nil
	}
	if !validHost(a) {
		return nil, fmt.Errorf("target %q: not a host, IP, CIDR or URL", a)
	}
	return []Target{{Host: a}}, nil
}

func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		ok := r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

// expandPrefix lists the addresses of p. For IPv4 prefixes shorter than
// /31 the network and broadcast addresses are left out.
func expandPrefix(p netip.Prefix, iMeanIt bool) ([]Target, error) {
	hostBits := p.Addr().BitLen() - p.Bits()
	size := new(big.Int).Lsh(big.NewInt(1), uint(hostBits))
	if size.Cmp(big.NewInt(MaxPrefixHosts)) > 0 && !iMeanIt {
		return nil, fmt.Errorf("target %s: %s addresses, more than a /16; pass --i-mean-it to probe it", p, size)
	}
	if size.Cmp(big.NewInt(hardCap)) > 0 {
		return nil, fmt.Errorf("target %s: %s addresses, more than %d even with --i-mean-it", p, size, hardCap)
	}
	n := int(size.Int64())
	out := make([]Target, 0, n)
	a := p.Addr()
	skipEnds := p.Addr().Is4() && hostBits >= 2
	for i := 0; i < n; i++ {
		if end := i == 0 || i == n-1; !skipEnds || !end {
			out = append(out, Target{Host: a.String()})
		}
		a = a.Next()
	}
	return out, nil
}

// redactURL renders u without its user information.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
