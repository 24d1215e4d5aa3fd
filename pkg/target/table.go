package target

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// Target is one configured destination.
type Target struct {
	Name     string
	Protocol string
	Host     string // IP literal or DNS name, as configured
	Port     uint16
}

// Address is host:port as configured.
func (t *Target) Address() string { return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port))) }

// Resolver looks host names up; net.DefaultResolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Table maps destinations to targets. Match is lock-free; Refresh swaps in a
// new index built from fresh DNS answers.
type Table struct {
	targets  []*Target
	resolver Resolver
	index    atomic.Pointer[map[netip.AddrPort]*Target]
	// OnError, if set, is told about failed lookups (the old addresses of
	// that target are kept).
	OnError func(t *Target, err error)
}

// New builds a table. IP-literal targets are indexed at once; call Refresh
// (or Run) to resolve the named ones.
func New(targets []*Target, r Resolver) *Table {
	if r == nil {
		r = net.DefaultResolver
	}
	t := &Table{targets: targets, resolver: r}
	idx := map[netip.AddrPort]*Target{}
	for _, tg := range targets {
		if a, err := netip.ParseAddr(tg.Host); err == nil {
			idx[netip.AddrPortFrom(a.Unmap(), tg.Port)] = tg
		}
	}
	t.index.Store(&idx)
	return t
}

// Seed copies, from an older table, the addresses of targets that are the
// same here (name, host and port), so that a configuration reload keeps
// resolved names while they are resolved again.
func (t *Table) Seed(old *Table) {
	if old == nil {
		return
	}
	idx := map[netip.AddrPort]*Target{}
	for ap, tg := range *t.index.Load() {
		idx[ap] = tg
	}
	for ap, o := range *old.index.Load() {
		for _, tg := range t.targets {
			if tg.Name == o.Name && tg.Host == o.Host && tg.Port == o.Port {
				if _, taken := idx[ap]; !taken {
					idx[ap] = tg
				}
			}
		}
	}
	t.index.Store(&idx)
}

// Match returns the target for an original destination, or nil. An
// unspecified destination (0.0.0.0, ::) is matched as the loopback
// address, which is where connect(2) takes it.
func (t *Table) Match(dst netip.AddrPort) *Target {
	a := dst.Addr().Unmap()
	switch {
	case a == netip.IPv4Unspecified():
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case a == netip.IPv6Unspecified():
		a = netip.IPv6Loopback()
	}
	return (*t.index.Load())[netip.AddrPortFrom(a, dst.Port())]
}

// Refresh resolves every named target and swaps the index. Addresses of a
// target whose lookup fails are kept from the previous index.
func (t *Table) Refresh(ctx context.Context) {
	old := *t.index.Load()
	idx := map[netip.AddrPort]*Target{}
	for _, tg := range t.targets {
		if a, err := netip.ParseAddr(tg.Host); err == nil {
			idx[netip.AddrPortFrom(a.Unmap(), tg.Port)] = tg
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := t.resolver.LookupNetIP(lctx, "ip", tg.Host)
		cancel()
		if err != nil {
			if t.OnError != nil {
				t.OnError(tg, err)
			}
			for ap, o := range old {
				if o == tg {
					idx[ap] = tg
				}
			}
			continue
		}
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a.Unmap(), tg.Port)
			if _, taken := idx[ap]; !taken {
				idx[ap] = tg
			}
		}
	}
	t.index.Store(&idx)
}
