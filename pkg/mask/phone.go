package mask

// Phone numbers: a numeric span is a candidate when it is written as
// phone numbers are — in international format ("+" and a country code),
// with the area code in parentheses, with a national trunk prefix 0 and
// separators, or grouped 3-3-4 (North America) — and is not shaped like a
// date. A candidate is a phone number when its digits are valid for its
// calling code (international format) or for the configured region, by
// phonenumbers' metadata (see phonemeta.go).

const (
	minPhoneDigits = 7
	maxPhoneDigits = 15
	phoneTries     = 3 // parses tried per candidate, longest first
)

// phone returns the groups a phone number at gs[0] takes and where it
// starts (at its '+' or '(').
func (s *scan) phone(gs []group, lead byte) (int, int) {
	region := s.sc.m.phone
	if lead != '+' && region.code == 0 {
		return 0, 0
	}
	start := gs[0].start
	if lead != 0 {
		start--
	}
	tries := 0
	total := 0
	k := 0
	for k < len(gs) && k < 6 && total+gs[k].n() <= maxPhoneDigits {
		total += gs[k].n()
		k++
	}
	for ; k >= 1 && tries < phoneTries; k-- {
		digits := 0
		for _, g := range gs[:k] {
			digits += g.n()
		}
		if digits < minPhoneDigits || !s.phoneShape(gs[:k], lead) {
			continue
		}
		tries++
		var buf [maxPhoneDigits]byte
		d := digitsOf(buf[:0], s.src, gs[:k])
		if lead == '+' && s.sc.m.phones.international(d) || lead != '+' && s.sc.m.phones.national(region, d) {
			return k, start
		}
	}
	return 0, 0
}

// phoneShape reports whether the groups are written as a phone number.
func (s *scan) phoneShape(gs []group, lead byte) bool {
	src := s.src
	k := len(gs)
	for _, g := range gs[1:] {
		if g.sep == '/' && k > 2 {
			return false
		}
	}
	if isDate(gs) {
		return false
	}
	switch {
	case lead == '+':
		return true
	case lead == '(' || k > 1 && gs[1].sep == '(':
		return true
	case src[gs[0].start] == '0' && k > 1:
		return true
	case k == 3 && gs[0].n() == 3 && gs[1].n() == 3 && gs[2].n() == 4 && gs[1].sep != '/' && sameSep(gs, 3, gs[1].sep):
		return true
	case k == 1 && s.ctx.Hint.Has(Phone):
		return true
	}
	return false
}

// isDate reports groups shaped like a date (2-2-4, 4-2-2, 2-2-2).
func isDate(gs []group) bool {
	if len(gs) != 3 || gs[1].sep != gs[2].sep || gs[1].sep == ' ' || gs[1].sep == '(' {
		return false
	}
	a, b, c := gs[0].n(), gs[1].n(), gs[2].n()
	return b <= 2 && (a <= 2 && (c == 4 || c <= 2) || a == 4 && c <= 2)
}
