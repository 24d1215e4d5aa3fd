package mask

import "bytes"

// Byte classes of the scanning loop.
const (
	cOther  = iota // separators, punctuation, bytes of multi-byte runes
	cLetter        // A-Z a-z _
	cDigit         // 0-9
	cAt            // @
	cEscape        // backslash: an escape sequence is skipped whole
	cQuote         // double quote
	cDash          // '-': may open a private key block
	cLead          // '+' or '(': may open a phone number
	cColon         // ':': may open an IPv6 address ("::1")
)

var class = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = cLetter, cLetter
	}
	t['_'] = cLetter
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['@'], t['\\'], t['"'], t['-'], t['+'], t['('], t[':'] = cAt, cEscape, cQuote, cDash, cLead, cLead, cColon
	return t
}()

// isWord reports bytes of words: letters, digits and '_'.
func isWord(c byte) bool { k := class[c]; return k == cLetter || k == cDigit }

func isDigit(c byte) bool { return c-'0' < 10 }

func isUpper(c byte) bool { return c-'A' < 26 }

func isLower(c byte) bool { return c-'a' < 26 }

func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) }

// scan is the state of one Text call.
type scan struct {
	sc      *Scanner
	src     []byte
	out     []byte
	copied  int  // src[:copied] has been written to out (or replaced)
	floor   int  // no match may start before floor
	wordEnd int  // where the last word ended: a '+' there is glued to it
	inStr   bool // inside a double-quoted string
	stop    bool // a Null strategy matched
	ctx     Context
	set     Set
	res     Result
}

// Text scans src for what the Masker's detectors find and appends src,
// with every match replaced by its strategy, to dst.
//
// If nothing is found, dst is returned unchanged and Result.Changed is
// false: the caller keeps src, and nothing was copied or allocated. If a
// detector whose strategy is Null matched, Result.Null is true and dst is
// returned unchanged: the whole value becomes NULL.
//
// Replacements keep the match's shape: separators, escape sequences and
// non-alphanumeric characters stay, and each letter or digit (each
// character of a non-ASCII letter) is replaced by one character, so the
// character count never grows. With Syntax JSON, a match outside a
// string is a JSON number: Redact gives 0, Partial its last four digits
// as a number, Hash as many keyed digits without a leading zero. With
// Syntax Text, in a value that looks like JSON (it opens with '[', or
// with '{' and names a key), a match written
// like a JSON number (a bare digit run after ':', '[' or ',' and before
// ',', ']', '}' or the end, outside quotes) is treated the same way, so
// JSON held in a text column stays valid.
func (sc *Scanner) Text(dst, src []byte, ctx Context) ([]byte, Result) {
	set := sc.m.detectors
	if set == 0 || len(src) == 0 {
		return dst, Result{}
	}
	s := scan{sc: sc, src: src, out: dst, ctx: ctx, set: set, wordEnd: -1}
	s.run()
	if s.stop {
		s.res.Changed, s.res.Null = true, true
		return dst, s.res
	}
	if s.res.Changed {
		s.out = append(s.out, src[s.copied:]...)
		return s.out, s.res
	}
	return dst, s.res
}

func (s *scan) run() {
	src := s.src
	n := len(src)
	for i := 0; i < n && !s.stop; {
		switch class[src[i]] {
		case cOther:
			i++
		case cLetter:
			i = s.word(i)
		case cDigit:
			i = s.number(i, 0)
		case cAt:
			i = s.email(i)
		case cEscape:
			i = escapeEnd(src, i)
			s.floor = max(s.floor, i)
		case cQuote:
			s.inStr = !s.inStr
			i++
			s.floor = max(s.floor, i)
		case cDash:
			i = s.privateKey(i)
		case cLead:
			if i+1 < n && isDigit(src[i+1]) && s.wordEnd != i {
				i = s.number(i+1, src[i])
			} else {
				i++
			}
		case cColon:
			i = s.colon(i)
		}
	}
}

// escapeEnd returns the end of the escape sequence starting with the
// backslash at i: "\X", or "\uXXXX" in JSON.
func escapeEnd(src []byte, i int) int {
	if i+1 >= len(src) {
		return len(src)
	}
	if src[i+1] == 'u' && i+6 <= len(src) && isHex(src[i+2]) && isHex(src[i+3]) && isHex(src[i+4]) && isHex(src[i+5]) {
		return i + 6
	}
	if src[i+1] >= 0x80 {
		// Keep a multi-byte rune whole.
		j := i + 2
		for j < len(src) && src[j]&0xc0 == 0x80 {
			j++
		}
		return j
	}
	return i + 2
}

func isHex(c byte) bool { return isDigit(c) || c|0x20-'a' < 6 }

// wordAt returns the end of the run of word bytes starting at i.
func wordAt(src []byte, i int) int {
	for i < len(src) && isWord(src[i]) {
		i++
	}
	return i
}

// emit replaces src[a:b], a match of detector d, and counts it. When the
// detector's strategy is Null it only sets stop: the whole value becomes
// NULL.
func (s *scan) emit(a, b int, d Detector) {
	s.res.Counts[d]++
	if s.sc.spans != nil {
		*s.sc.spans = append(*s.sc.spans, span{a, b, d})
	}
	st := s.sc.m.strategy[d]
	if st == Null {
		s.stop = true
		return
	}
	s.res.Changed = true
	s.out = append(s.out, s.src[s.copied:a]...)
	s.out = s.sc.rewrite(s.out, s.src[a:b], d, st, s.numeric(a, b))
	s.copied, s.floor = b, b
}

// numeric reports whether the match src[a:b] stands as a JSON number.
func (s *scan) numeric(a, b int) bool {
	if s.inStr {
		return false
	}
	for _, c := range s.src[a:b] {
		if !isDigit(c) {
			return false
		}
	}
	if s.ctx.Syntax == JSON {
		return true
	}
	if !s.jsonLike() {
		return false
	}
	p := a - 1
	for p >= 0 && isSpace(s.src[p]) {
		p--
	}
	if p < 0 || (s.src[p] != ':' && s.src[p] != '[' && s.src[p] != ',') {
		return false
	}
	q := b
	for q < len(s.src) && isSpace(s.src[q]) {
		q++
	}
	return q == len(s.src) || s.src[q] == ',' || s.src[q] == ']' || s.src[q] == '}'
}

// jsonLike reports whether the value looks like a JSON document: it opens
// with '[', or with '{' and has a '":' (PostgreSQL array literals also open
// with '{', but name no keys).
func (s *scan) jsonLike() bool {
	for _, c := range s.src {
		if !isSpace(c) {
			return c == '[' || c == '{' && bytes.Contains(s.src, []byte(`":`))
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// word handles the word starting at i (a letter or '_'; digits start
// words through number) and returns where scanning goes on.
func (s *scan) word(i int) int {
	src := s.src
	j := wordAt(src, i)
	if i < s.floor {
		s.wordEnd = j
		return j
	}
	set := s.set
	if j-i >= 4 || j < len(src) && (src[j] == '/' || src[j] == '+') {
		if e, d := s.secret(i, j); e > 0 {
			s.emit(i, e, d)
			s.wordEnd = e
			return e
		}
	}
	if j-i >= 4 {
		if set.Has(IBAN) && isUpper(src[i]) && isUpper(src[i+1]) && isDigit(src[i+2]) && isDigit(src[i+3]) {
			if e := iban(src, i); e > 0 {
				s.emit(i, e, IBAN)
				s.wordEnd = e
				return e
			}
		}
	}
	if set.Has(IPv6) && j < len(src) && src[j] == ':' {
		if e := ipv6(src, i); e > 0 {
			s.emit(i, e, IPv6)
			s.wordEnd = e
			return e
		}
	}
	s.wordEnd = j
	return j
}

// colon handles ':' at i: an IPv6 address may start with "::".
func (s *scan) colon(i int) int {
	src := s.src
	if s.set.Has(IPv6) && i >= s.floor && i+1 < len(src) && src[i+1] == ':' && (i == 0 || !isHex(src[i-1]) && src[i-1] != ':') {
		if e := ipv6(src, i); e > 0 {
			s.emit(i, e, IPv6)
			return e
		}
	}
	return i + 1
}
