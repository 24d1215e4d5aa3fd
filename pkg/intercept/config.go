package intercept

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

const (
	cfgEnabled uint32 = 1 << 0
	cfgListen4 uint32 = 1 << 1
	cfgListen6 uint32 = 1 << 2
)

// Redirect is what the kernel side needs to know about the proxy.
type Redirect struct {
	// Proxy4 is the IPv4 loopback listener; invalid means none, and tagged
	// IPv4 connects are then refused.
	Proxy4 netip.AddrPort
	// Proxy6 is the IPv6 loopback listener; invalid means none, and tagged
	// IPv6 connects are then refused.
	Proxy6 netip.AddrPort
	// Mark is the SO_MARK the daemon sets on its own sockets; such sockets
	// are never redirected.
	Mark uint32
	// DaemonCgroup is the daemon's own cgroup id; never redirected.
	DaemonCgroup uint64
}

// Configure writes the redirect settings and enables the programs. Until it
// is called for the first time, the programs let every connect through.
func (it *Interceptor) Configure(r Redirect) error {
	c := redirectConfig{Flags: cfgEnabled, Mark: r.Mark, DaemonCgroup: r.DaemonCgroup}
	if r.Proxy4.IsValid() {
		a := r.Proxy4.Addr().Unmap()
		if !a.Is4() {
			return fmt.Errorf("intercept: proxy4 %s is not IPv4", r.Proxy4)
		}
		c.Flags |= cfgListen4
		b := a.As4()
		c.Proxy4Ip = binary.LittleEndian.Uint32(b[:]) // keeps network byte order in memory
		c.Proxy4Port = htons(r.Proxy4.Port())
	}
	if r.Proxy6.IsValid() {
		a := r.Proxy6.Addr()
		if !a.Is6() || a.Is4In6() {
			return fmt.Errorf("intercept: proxy6 %s is not IPv6", r.Proxy6)
		}
		c.Flags |= cfgListen6
		c.Proxy6Ip = ip6Words(a.As16())
		c.Proxy6Port = htons(r.Proxy6.Port())
	}
	if err := it.objs.SluiceConfig.Put(uint32(0), &c); err != nil {
		return fmt.Errorf("intercept: write config: %w", err)
	}
	return nil
}

// Disable makes the programs let every connect through without removing them.
func (it *Interceptor) Disable() error {
	var c redirectConfig
	if err := it.objs.SluiceConfig.Put(uint32(0), &c); err != nil {
		return fmt.Errorf("intercept: write config: %w", err)
	}
	return nil
}

// ip6Words turns 16 address bytes into the four network-order words the
// kernel structs hold, as they lie in memory.
func ip6Words(b [16]byte) [4]uint32 {
	var w [4]uint32
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return w
}

func wordsIP6(w [4]uint32) [16]byte {
	var b [16]byte
	for i := range w {
		binary.LittleEndian.PutUint32(b[i*4:], w[i])
	}
	return b
}

// htons converts a host-order port to the value whose in-memory bytes are in
// network order (little-endian hosts only, like the BPF object).
func htons(p uint16) uint16 { return p<<8 | p>>8 }
