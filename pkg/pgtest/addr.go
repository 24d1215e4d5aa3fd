package pgtest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrNotLoopback is wrapped by the error Start returns for a Host that is
// not a loopback address.
var ErrNotLoopback = errors.New("pgtest: not a loopback address")

// loopback parses host, an IP literal that must be loopback; "" is
// 127.0.0.1.
func loopback(host string) (netip.Addr, error) {
	if host == "" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q is not an IP address", ErrNotLoopback, host)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: %q has a zone", ErrNotLoopback, host)
	}
	a = a.Unmap()
	if !a.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("%w: %s", ErrNotLoopback, a)
	}
	return a, nil
}

// hbaNetwork is the address/mask that pg_hba.conf admits for a server on a:
// all of 127.0.0.0/8 for IPv4, because Linux gives connections to any
// 127.x.y.z the source 127.0.0.1, and ::1/128 for IPv6.
func hbaNetwork(a netip.Addr) string {
	if a.Is4() {
		return "127.0.0.0/8"
	}
	return netip.PrefixFrom(a, 128).String()
}

var (
	portsMu sync.Mutex
	ports   = map[netip.AddrPort]bool{} // handed out to a live server in this process
)

// reservePort finds a free TCP port on a by binding port 0 and closing the
// socket. Ports held by other servers of this process are never returned;
// another process may still take the port before the server binds it, so
// callers retry on "address in use".
func reservePort(a netip.Addr) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 50 {
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
		if err != nil {
			return 0, fmt.Errorf("pgtest: find a free port on %s: %w", a, err)
		}
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		ln.Close()
		ap = netip.AddrPortFrom(a, ap.Port())
		if !ports[ap] {
			ports[ap] = true
			return int(ap.Port()), nil
		}
	}
	return 0, fmt.Errorf("pgtest: no free port on %s", a)
}

// releasePort returns a port taken by reservePort.
func releasePort(a netip.Addr, port int) {
	if port == 0 {
		return
	}
	portsMu.Lock()
	delete(ports, netip.AddrPortFrom(a, uint16(port)))
	portsMu.Unlock()
}
