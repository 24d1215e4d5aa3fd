package mask

import "net/netip"

// IPv6 addresses (opt-in) are found at a word of hex digits followed by
// ':', or at "::": the run of hex digits, ':' and '.' there must hold two
// or more colons and parse as an IPv6 address (IPv4-mapped forms
// included). IPv4 addresses (opt-in) are numeric spans a.b.c.d (see
// number.go).

// ipv6 returns the end of the IPv6 address at i, or 0.
func ipv6(src []byte, i int) int {
	j := i
	colons := 0
	for j < len(src) && j-i < 46 && (isHex(src[j]) || src[j] == ':' || src[j] == '.') {
		if src[j] == ':' {
			colons++
		}
		j++
	}
	for j > i && src[j-1] == '.' {
		j--
	}
	if j > i+1 && src[j-1] == ':' && src[j-2] != ':' {
		j--
		colons--
	}
	if colons < 2 || j < len(src) && (isWord(src[j]) || src[j] == ':') {
		return 0
	}
	var buf [46]byte
	a, err := netip.ParseAddr(string(append(buf[:0], src[i:j]...)))
	if err != nil || !a.Is6() {
		return 0
	}
	return j
}
