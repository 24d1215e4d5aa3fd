package mask

// card matches a payment card number at gs[0]: 13 to 19 digits, written
// as one run or in groups joined by the same separator (' ' or '-') in a
// known layout (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3 ...), with a known
// issuer prefix and length, and a valid Luhn check digit. It returns the
// number of groups taken.
func card(src []byte, gs []group) int {
	for k := min(len(gs), 5); k >= 1; k-- {
		total := 0
		for _, g := range gs[:k] {
			total += g.n()
		}
		if total < 13 || total > 19 || !cardLayout(gs, k) {
			continue
		}
		if len(gs) > k && gs[k].sep == gs[min(1, k-1)].sep && k > 1 {
			// The same separator goes on: a longer number.
			continue
		}
		if k == 1 && len(gs) > 1 && (gs[1].sep == '-' || gs[1].sep == '.') {
			continue // a dashed or dotted code, not a card
		}
		var buf [19]byte
		d := digitsOf(buf[:0], src, gs[:k])
		if cardIssuer(d) && luhn(d) {
			return k
		}
	}
	return 0
}

// cardLayout reports whether the first k groups are laid out as card
// numbers are printed.
func cardLayout(gs []group, k int) bool {
	if k == 1 {
		return true
	}
	sep := gs[1].sep
	if sep != ' ' && sep != '-' || !sameSep(gs, k, sep) || !tight(gs, k) {
		return false
	}
	n := func(i int) int { return gs[i].n() }
	if k == 3 && n(0) == 4 && n(1) == 6 && (n(2) == 5 || n(2) == 4) {
		return true // American Express, Diners Club
	}
	for i := 0; i < k-1; i++ {
		if n(i) != 4 {
			return false
		}
	}
	return n(k-1) >= 1 && n(k-1) <= 4
}

// luhn reports whether the digits d have a valid Luhn check digit.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// cardIssuer reports whether d starts with the issuer prefix of a card
// network that issues numbers of its length.
func cardIssuer(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	p3 := p4 / 10
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649: // Discover
		return n >= 16
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14
	case p2 == 62: // UnionPay
		return n >= 16
	case p2 == 50, p2 >= 56 && p2 <= 69: // Maestro
		return n >= 13
	}
	return false
}
