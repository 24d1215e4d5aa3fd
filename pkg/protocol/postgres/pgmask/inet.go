package pgmask

import (
	"net/netip"
	"strconv"

	"github.com/sluicehq/sluice/pkg/mask"
)

// Binary inet/cidr: family, bits, is_cidr, address length, address.
const (
	pgAFInet  = 2
	pgAFInet6 = 3
)

// inet masks an inet or cidr, keeping the family and prefix length:
// Redact gives the zero address, Partial keeps the network half (the
// first two bytes of IPv4, eight of IPv6), Hash a keyed address. For cidr,
// the bits past the prefix stay zero.
func (c *column) inet(dst, v []byte, st mask.Strategy, cidr bool) ([]byte, error) {
	var addr [16]byte
	var nb, bits int
	slash := cidr
	if c.binary {
		if len(v) < 4 || (v[0] != pgAFInet && v[0] != pgAFInet6) || int(v[3]) != len(v)-4 {
			return dst, errMalformed
		}
		nb, bits = int(v[3]), int(v[1])
		if nb != 4 && nb != 16 || bits > nb*8 {
			return dst, errMalformed
		}
		copy(addr[:], v[4:])
	} else {
		s := string(v)
		var a netip.Addr
		if p, err := netip.ParsePrefix(s); err == nil {
			a, bits, slash = p.Addr(), p.Bits(), true
		} else if a, err = netip.ParseAddr(s); err == nil {
			bits = a.BitLen()
		} else {
			return dst, errMalformed
		}
		if a.Zone() != "" {
			return dst, errMalformed
		}
		nb = a.BitLen() / 8
		if a.Is4() {
			b := a.As4()
			copy(addr[:], b[:])
		} else {
			b := a.As16()
			copy(addr[:], b[:])
		}
	}
	switch st {
	case mask.Redact:
		addr = [16]byte{}
	case mask.Partial:
		clear(addr[nb/2 : nb])
	default:
		var in [17]byte
		copy(in[:], addr[:nb])
		in[nb] = byte(bits)
		var k [16]byte
		c.sc.Keyed(k[:0], domainInet, in[:nb+1], nb)
		addr = k
	}
	if cidr {
		for i := 0; i < nb; i++ {
			keep := min(max(bits-8*i, 0), 8)
			addr[i] &= byte(0xff << (8 - keep))
		}
	}
	if c.binary {
		fam := byte(pgAFInet)
		if nb == 16 {
			fam = pgAFInet6
		}
		isCIDR := byte(0)
		if cidr {
			isCIDR = 1
		}
		dst = append(dst, fam, byte(bits), isCIDR, byte(nb))
		return append(dst, addr[:nb]...), nil
	}
	var a netip.Addr
	if nb == 4 {
		a = netip.AddrFrom4([4]byte(addr[:4]))
	} else {
		a = netip.AddrFrom16(addr)
	}
	dst = a.AppendTo(dst)
	if slash {
		dst = append(dst, '/')
		dst = strconv.AppendInt(dst, int64(bits), 10)
	}
	return dst, nil
}
