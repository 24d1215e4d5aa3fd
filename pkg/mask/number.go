package mask

// A numeric span is a run of digit groups joined by short separators, such
// as "4111 1111 1111 1111", "+1 (415) 555-2671", "123-45-6789" or
// "192.168.0.1". The card, SSN, phone and IPv4 detectors look for their
// shapes among its groups.

const (
	maxGroups  = 16 // groups collected at once
	keepGroups = 5  // the longest shape (a card in 5 groups) a window must see whole
)

// group is one run of digits.
type group struct {
	start, end int  // the digits are src[start:end]
	sep        byte // separator before the group: 0 (first), ' ', '-', '.', '/', '('
}

func (g group) n() int { return g.end - g.start }

// sepAt reads the separator starting at i: 1 to 3 bytes of " -./()" with
// at most one of '-', '.', '/'. It returns its kind and the position of
// the next digit, or ok false.
func sepAt(src []byte, i int) (kind byte, next int, ok bool) {
	var main byte
	paren := false
	j := i
	for ; j < len(src) && j-i < 3; j++ {
		switch c := src[j]; c {
		case ' ':
		case '-', '.', '/':
			if main != 0 {
				return 0, 0, false
			}
			main = c
		case '(', ')':
			paren = true
		default:
			goto done
		}
	}
done:
	if j == i || j >= len(src) || !isDigit(src[j]) {
		return 0, 0, false
	}
	switch {
	case paren:
		if main != 0 && main != '-' {
			return 0, 0, false
		}
		return '(', j, true
	case main != 0:
		return main, j, true
	case j-i > 1:
		return 0, 0, false // two spaces end a span
	}
	return ' ', j, true
}

// number handles the numeric span whose first digit is at i; lead is '+'
// or '(' when one comes just before it. It returns where scanning goes on.
func (s *scan) number(i int, lead byte) int {
	src := s.src
	if i < s.floor {
		lead = 0
	}
	// A digit run glued to letters is a word ("3rd", "4f2a...", a key).
	d := i
	for d < len(src) && isDigit(src[d]) {
		d++
	}
	if d < len(src) && class[src[d]] == cLetter {
		return s.word(i)
	}
	if s.set.Has(IPv6) && d < len(src) && src[d] == ':' && i >= s.floor {
		if e := ipv6(src, i); e > 0 {
			s.emit(i, e, IPv6)
			return e
		}
	}
	var gs [maxGroups]group
	gs[0] = group{start: i, end: d}
	n := 1
	pos := d
	more := false
	for pos < len(src) {
		kind, next, ok := sepAt(src, pos)
		if !ok {
			break
		}
		if n == maxGroups {
			more = true
			break
		}
		e := next
		for e < len(src) && isDigit(src[e]) {
			e++
		}
		gs[n] = group{start: next, end: e, sep: kind}
		n++
		pos = e
	}
	end := gs[n-1].end
	if !more && end < len(src) && (class[src[end]] == cLetter || src[end] == '@') {
		// The last group is glued to a word: it is not part of the span.
		n--
		if n == 0 {
			return s.word(i)
		}
		end = gs[n].start
	}
	limit := n
	if more {
		limit = n - keepGroups
	}
	for g := 0; g < limit && !s.stop; {
		if gs[g].start < s.floor {
			g++
			continue
		}
		l := byte(0)
		if g == 0 {
			l = lead
		}
		k, a, det := s.shape(gs[g:n], l)
		if k == 0 {
			g++
			continue
		}
		s.emit(a, gs[g+k-1].end, det)
		g += k
	}
	if more {
		return gs[limit].start
	}
	s.wordEnd = end
	return end
}

// shape finds the detector whose shape starts at gs[0], and returns how
// many groups it takes, where the match starts and the detector.
func (s *scan) shape(gs []group, lead byte) (int, int, Detector) {
	src, set := s.src, s.set
	first := gs[0]
	if first.sep == '.' || first.sep == '/' {
		return 0, 0, 0 // inside a dotted or slashed number
	}
	if set.Has(IPv4) && lead != '+' {
		if k := ipv4(src, gs); k > 0 {
			return k, first.start, IPv4
		}
	}
	if set.Has(SSN) && lead != '+' {
		if k := s.ssn(gs); k > 0 {
			return k, first.start, SSN
		}
	}
	if set.Has(Card) && lead != '+' {
		if k := card(src, gs); k > 0 {
			return k, first.start, Card
		}
	}
	if set.Has(Phone) {
		if k, a := s.phone(gs, lead); k > 0 {
			return k, a, Phone
		}
	}
	return 0, 0, 0
}

// digitsOf appends the digits of gs to dst.
func digitsOf(dst, src []byte, gs []group) []byte {
	for _, g := range gs {
		dst = append(dst, src[g.start:g.end]...)
	}
	return dst
}

// sameSep reports whether groups 1 to k-1 are all preceded by separator
// sep.
func sameSep(gs []group, k int, sep byte) bool {
	for _, g := range gs[1:k] {
		if g.sep != sep {
			return false
		}
	}
	return true
}

// tight reports whether the first k groups are joined by one-byte
// separators.
func tight(gs []group, k int) bool {
	for i := 1; i < k; i++ {
		if gs[i].start-gs[i-1].end != 1 {
			return false
		}
	}
	return true
}

// ipv4 matches four groups "a.b.c.d", each 0-255 without leading zeros,
// not followed by another ".digits".
func ipv4(src []byte, gs []group) int {
	if len(gs) < 4 || !sameSep(gs, 4, '.') || !tight(gs, 4) || (len(gs) > 4 && gs[4].sep == '.') {
		return 0
	}
	for _, g := range gs[:4] {
		if g.n() > 3 || (g.n() > 1 && src[g.start] == '0') {
			return 0
		}
		v := 0
		for _, c := range src[g.start:g.end] {
			v = v*10 + int(c-'0')
		}
		if v > 255 {
			return 0
		}
	}
	return 4
}
