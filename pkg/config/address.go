package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// ParseExclusion parses one entry of the exclude list. The accepted forms are
//
//	127.0.0.1             an IPv4 address (a /32), any port
//	127.0.0.0/8           an IPv4 prefix, any port
//	127.0.0.53:53         an IPv4 address and a port
//	127.0.0.53/32:53      an IPv4 prefix and a port
//	::1                   an IPv6 address (a /128), any port
//	::/64                 an IPv6 prefix, any port
//	[::1]:53              an IPv6 address and a port
//	[::/64]:53            an IPv6 prefix and a port (the prefix length goes
//	                      inside the brackets)
//
// An IPv6 address or prefix may also be bracketed without a port. Ports are
// 1-65535. Prefixes are masked (127.1.2.3/8 is 127.0.0.0/8). IPv4-mapped IPv6
// addresses and prefixes (::ffff:127.0.0.53, ::ffff:127.0.0.0/104) are stored
// in their IPv4 form; a mapped prefix shorter than /96 is an error. Zones
// (fe80::1%eth0) are not accepted.
func ParseExclusion(s string) (Exclusion, error) {
	e, err := parseExclusion(s)
	if err != nil {
		return Exclusion{}, fmt.Errorf("invalid exclusion %q: %w", s, err)
	}
	return e, nil
}

func parseExclusion(s string) (Exclusion, error) {
	switch {
	case s == "":
		return Exclusion{}, errors.New("empty")
	case strings.Contains(s, "%"):
		return Exclusion{}, errors.New("zones are not supported")
	}
	var (
		pfx  netip.Prefix
		port uint16
		err  error
	)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Exclusion{}, errors.New(`missing "]"`)
		}
		inner, rest := s[1:end], s[end+1:]
		if strings.HasPrefix(rest, "/") {
			return Exclusion{}, fmt.Errorf("the prefix length goes inside the brackets, as in %s", yamldoc.Safe("["+inner+strings.SplitN(rest, ":", 2)[0]+"]:port"))
		}
		if rest != "" {
			if rest[0] != ':' {
				return Exclusion{}, fmt.Errorf("unexpected %q after \"]\"", rest)
			}
			if port, err = parsePort(rest[1:]); err != nil {
				return Exclusion{}, err
			}
		}
		if pfx, err = parsePrefix(inner); err != nil {
			return Exclusion{}, err
		}
		if pfx.Addr().Is4() {
			return Exclusion{}, errors.New("brackets are only for IPv6; write an IPv4 address or prefix without them")
		}
	} else if pfx, err = parsePrefix(s); err != nil {
		// Not a bare address or prefix: an IPv4 one followed by ":port".
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return Exclusion{}, err
		}
		host := s[:i]
		if strings.Contains(host, ":") {
			return Exclusion{}, errors.New("an IPv6 address or prefix with a port must be bracketed, as in [::1/128]:53")
		}
		if pfx, err = parsePrefix(host); err != nil {
			return Exclusion{}, err
		}
		if port, err = parsePort(s[i+1:]); err != nil {
			return Exclusion{}, err
		}
	}
	if a := pfx.Addr(); a.Is4In6() {
		if pfx.Bits() < 96 {
			return Exclusion{}, errors.New("an IPv4-mapped IPv6 prefix must be at least /96")
		}
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return Exclusion{Prefix: pfx.Masked(), Port: port}, nil
}

// parsePrefix parses a prefix, or an address as a full-length prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP prefix: %q", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an IP address or prefix: %q", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zones are not supported: %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parsePort parses a decimal port in 1-65535.
func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("missing port")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("port %q is not a number", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("port %s is out of range 1-65535", s)
	}
	return uint16(v), nil
}

// String formats the exclusion in the form ParseExclusion accepts: the
// prefix, then ":port" when Port is set, bracketed for IPv6.
func (e Exclusion) String() string {
	if e.Port == 0 {
		return e.Prefix.String()
	}
	if e.Prefix.Addr().Is6() {
		return "[" + e.Prefix.String() + "]:" + strconv.Itoa(int(e.Port))
	}
	return e.Prefix.String() + ":" + strconv.Itoa(int(e.Port))
}

// Contains reports whether a connection to dst is excluded.
func (e Exclusion) Contains(dst netip.AddrPort) bool {
	return (e.Port == 0 || e.Port == dst.Port()) && e.Prefix.Contains(dst.Addr().Unmap())
}

// parseListener parses a proxy listener address, which must be a literal
// loopback address of the given family with a port.
func parseListener(s string, ipv6 bool) (netip.AddrPort, error) {
	want := errors.New(`not a literal IPv4 loopback address (127.0.0.0/8) with a port, such as 127.0.0.1:15001 (use "" for no IPv4 listener)`)
	if ipv6 {
		want = errors.New(`not [::1]:PORT (use "" for no IPv6 listener)`)
	}
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, want
	}
	port, err := parsePort(portText)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, want
	}
	if ipv6 && a != netip.IPv6Loopback() || !ipv6 && !(a.Is4() && a.IsLoopback()) {
		return netip.AddrPort{}, want
	}
	return netip.AddrPortFrom(a, port), nil
}

// hostPort is a parsed host:port.
type hostPort struct {
	host string
	port uint16
	addr netip.Addr // valid when host is an IP literal
}

// parseHostPort parses host:port where host is an IP literal (IPv6 in
// brackets) or a DNS name, and the port is numeric. An empty host is allowed
// only when emptyHost is set.
func parseHostPort(s string, emptyHost bool) (hostPort, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return hostPort{}, errors.New("must be host:port, with an IPv6 address in brackets as in [::1]:5432")
	}
	port, err := parsePort(portText)
	if err != nil {
		return hostPort{}, err
	}
	hp := hostPort{host: host, port: port}
	switch {
	case host == "":
		if !emptyHost {
			return hostPort{}, errors.New("missing host")
		}
	case strings.Contains(host, ":"):
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return hostPort{}, fmt.Errorf("%q is not an IPv6 address", host)
		}
		if a.Zone() != "" {
			return hostPort{}, fmt.Errorf("zones are not supported: %q", host)
		}
		hp.addr = a
	default:
		if a, err := netip.ParseAddr(host); err == nil {
			hp.addr = a
		} else if !validHostname(host) {
			return hostPort{}, fmt.Errorf("%q is neither an IP address nor a valid DNS name", host)
		}
	}
	return hp, nil
}

// validHostname reports whether s is a DNS name: dot-separated labels of
// letters, digits, '-' and '_', each 1-63 long and not starting or ending
// with '-', at most 253 characters, a trailing dot allowed, and a last label
// that is not all digits (so a mistyped IPv4 address is not taken for a name).
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}
