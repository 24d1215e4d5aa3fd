package mask

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// keepLast is how many letters or digits Partial keeps.
const keepLast = 4

// rewrite appends the replacement of match m of detector d under
// strategy st (not Null) to dst.
func (sc *Scanner) rewrite(dst, m []byte, d Detector, st Strategy, numeric bool) []byte {
	if numeric {
		return sc.numeric(dst, m, d, st)
	}
	switch st {
	case Partial:
		switch d {
		case Email:
			at := bytes.LastIndexByte(m, '@')
			dst = star(dst, m[:at], 0)
			return append(dst, m[at:]...)
		case PrivateKey:
			return pem(dst, m, star0)
		case IPv4:
			return keepPrefix(dst, m, '.', 2)
		case IPv6:
			return keepPrefix(dst, m, ':', 3)
		}
		return star(dst, m, keepLast)
	case Hash:
		dig := sc.digest(byte(d), sc.normalize(d, m))
		if d == PrivateKey {
			return pem(dst, m, func(dst, m []byte) []byte { return sc.shape(dst, m, dig, false) })
		}
		n := len(dst)
		dst = sc.shape(dst, m, dig, false)
		if d == Card {
			breakLuhn(dst[n:])
		}
		return dst
	}
	if d == PrivateKey {
		return pem(dst, m, star0)
	}
	return star(dst, m, 0)
}

// numeric appends the replacement of an all-digit match standing as a
// JSON number.
func (sc *Scanner) numeric(dst, m []byte, d Detector, st Strategy) []byte {
	switch st {
	case Partial:
		tail := m[max(0, len(m)-keepLast):]
		for len(tail) > 1 && tail[0] == '0' {
			tail = tail[1:]
		}
		return append(dst, tail...)
	case Hash:
		dig := sc.digest(byte(d), m)
		n := len(dst)
		dst = sc.shape(dst, m, dig, true)
		if d == Card {
			breakLuhn(dst[n:])
		}
		return dst
	}
	return append(dst, '0')
}

// normalize returns the form of m that is hashed: the same card, phone
// or SSN written with other separators, an IBAN with or without spaces,
// an e-mail address in other case, all hash alike.
func (sc *Scanner) normalize(d Detector, m []byte) []byte {
	b := sc.st.norm[:0]
	switch d {
	case Card, SSN, Phone:
		for _, c := range m {
			if isDigit(c) {
				b = append(b, c)
			}
		}
	case IBAN:
		for _, c := range m {
			if isLower(c) {
				c -= 'a' - 'A'
			}
			if isAlnum(c) {
				b = append(b, c)
			}
		}
	case Email:
		for _, c := range m {
			b = append(b, lower(c))
		}
	default:
		return m
	}
	sc.st.norm = b
	return b
}

// star0 redacts every letter and digit.
func star0(dst, m []byte) []byte { return star(dst, m, 0) }

// star appends m with every letter and digit (every non-ASCII letter or
// digit, as one '*') replaced by '*', except the last keep ones when m
// has at least twice as many. Escape sequences and other characters stay.
func star(dst, m []byte, keep int) []byte {
	total := 0
	if keep > 0 {
		total = units(m)
		if total < 2*keep {
			keep = 0
		}
	}
	u := 0
	for i := 0; i < len(m); {
		c := m[i]
		switch {
		case c == '\\':
			e := escapeEnd(m, i)
			dst = append(dst, m[i:e]...)
			i = e
		case isAlnum(c):
			if keep > 0 && u >= total-keep {
				dst = append(dst, c)
			} else {
				dst = append(dst, '*')
			}
			u++
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(m[i:])
			switch {
			case r == utf8.RuneError && n <= 1:
				dst = append(dst, '*') // invalid byte: never copied
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				if keep > 0 && u >= total-keep {
					dst = append(dst, m[i:i+n]...)
				} else {
					dst = append(dst, '*')
				}
				u++
			default:
				dst = append(dst, m[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

// units counts the letters and digits of m, outside escape sequences.
func units(m []byte) int {
	n := 0
	for i := 0; i < len(m); {
		c := m[i]
		switch {
		case c == '\\':
			i = escapeEnd(m, i)
		case isAlnum(c):
			n++
			i++
		case c < utf8.RuneSelf:
			i++
		default:
			r, w := utf8.DecodeRune(m[i:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				n++
			}
			i += w
		}
	}
	return n
}

// keepPrefix keeps m up to its n-th sep (an "::" counts as the end of the
// prefix) and redacts the rest.
func keepPrefix(dst, m []byte, sep byte, n int) []byte {
	seen := 0
	for i, c := range m {
		if c != sep {
			continue
		}
		seen++
		if seen == n || i+1 < len(m) && m[i+1] == sep {
			return star(append(dst, m[:i+1]...), m[i+1:], 0)
		}
	}
	return star(dst, m, 0)
}

// pem keeps the BEGIN and END lines of a private key block and rewrites
// the body with f.
func pem(dst, m []byte, f func(dst, m []byte) []byte) []byte {
	h := bytes.Index(m, pemKey) + len(pemKey)
	e := bytes.LastIndex(m, pemEnd)
	if e < h {
		e = len(m)
	}
	dst = append(dst, m[:h]...)
	dst = f(dst, m[h:e])
	return append(dst, m[e:]...)
}

// breakLuhn changes the last digit of b so that its digits fail the Luhn
// check: a hashed card number never passes for a real one.
func breakLuhn(b []byte) {
	var buf [64]byte
	d := buf[:0]
	last := -1
	for i, c := range b {
		if isDigit(c) && len(d) < len(buf) {
			d = append(d, c)
			last = i
		}
	}
	if last >= 0 && luhn(d) {
		b[last] = '0' + (b[last]-'0'+1)%10
	}
}
