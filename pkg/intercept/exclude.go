package intercept

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
)

// Exclusion is a destination that is never redirected: a prefix and a port
// (0 = any port).
type Exclusion struct {
	Prefix netip.Prefix
	Port   uint16
}

// SetExclusions replaces the exclusion set. IPv4-mapped IPv6 prefixes are
// stored as IPv4, which is how the programs look mapped destinations up.
func (it *Interceptor) SetExclusions(list []Exclusion) error {
	want4 := map[redirectLpm4Key]bool{}
	want6 := map[redirectLpm6Key]bool{}
	for _, e := range list {
		p := e.Prefix.Masked()
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return fmt.Errorf("intercept: exclusion %s: mapped prefix shorter than /96", e.Prefix)
			}
			a, bits = a.Unmap(), bits-96
		}
		port := [2]uint8{uint8(e.Port >> 8), uint8(e.Port)}
		if a.Is4() {
			want4[redirectLpm4Key{Prefixlen: uint32(16 + bits), Port: port, Addr: a.As4()}] = true
		} else {
			want6[redirectLpm6Key{Prefixlen: uint32(16 + bits), Port: port, Addr: a.As16()}] = true
		}
	}
	if err := syncLPM(it.objs.Exclude4, want4); err != nil {
		return fmt.Errorf("intercept: exclusions (IPv4): %w", err)
	}
	if err := syncLPM(it.objs.Exclude6, want6); err != nil {
		return fmt.Errorf("intercept: exclusions (IPv6): %w", err)
	}
	return nil
}

// syncLPM makes the trie hold exactly want: additions first, so an entry
// that stays is never briefly missing.
func syncLPM[K comparable](m *ebpf.Map, want map[K]bool) error {
	for k := range want {
		if err := m.Put(k, uint8(1)); err != nil {
			return err
		}
	}
	var stale []K
	var k K
	var v uint8
	iter := m.Iterate()
	for iter.Next(&k, &v) {
		if !want[k] {
			stale = append(stale, k)
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for _, k := range stale {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}
