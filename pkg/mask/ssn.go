package mask

// ssn matches a US social security number at gs[0]: "AAA-GG-SSSS" (or
// with spaces), or a bare run of nine digits when the column is known to
// hold SSNs (Context.Hint) or a label ("ssn", "social security") comes
// shortly before it. The area may not be 000, 666 or 900-999, the group
// 00, the serial 0000, and the two numbers published as examples and never
// issued (078-05-1120, 219-09-9999) are refused.
func (s *scan) ssn(gs []group) int {
	src := s.src
	var buf [9]byte
	switch {
	case len(gs) >= 3 && gs[0].n() == 3 && gs[1].n() == 2 && gs[2].n() == 4 &&
		(gs[1].sep == '-' || gs[1].sep == ' ') && sameSep(gs, 3, gs[1].sep) && tight(gs, 3):
		if len(gs) > 3 && gs[3].sep == gs[1].sep {
			return 0 // a longer code
		}
		if ssnValid(digitsOf(buf[:0], src, gs[:3])) {
			return 3
		}
	case gs[0].n() == 9 && (len(gs) == 1 || gs[1].sep == ' ' || gs[1].sep == '('):
		if !s.ctx.Hint.Has(SSN) && !labelBefore(src, gs[0].start, ssnLabels) {
			return 0
		}
		if ssnValid(src[gs[0].start:gs[0].end]) {
			return 1
		}
	}
	return 0
}

// ssnValid applies the SSA's rules to nine digits.
func ssnValid(d []byte) bool {
	area := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	grp := int(d[3]-'0')*10 + int(d[4]-'0')
	serial := int(d[5]-'0')*1000 + int(d[6]-'0')*100 + int(d[7]-'0')*10 + int(d[8]-'0')
	switch {
	case area == 0, area == 666, area >= 900, grp == 0, serial == 0:
		return false
	case area == 78 && grp == 5 && serial == 1120, area == 219 && grp == 9 && serial == 9999:
		return false // published as examples, never valid
	}
	return true
}

var ssnLabels = []string{"ssn", "social security", "soc sec", "ss#", "ss #"}

// labelWindow is how far before a value a label may stand.
const labelWindow = 32

// labelBefore reports whether one of labels (lower case) occurs, ignoring
// ASCII case, in the labelWindow bytes before src[i].
func labelBefore(src []byte, i int, labels []string) bool {
	w := src[max(0, i-labelWindow):i]
	for _, l := range labels {
		if indexFold(w, l) >= 0 {
			return true
		}
	}
	return false
}

// indexFold returns the index of lower-case needle in b, ignoring ASCII
// case, or -1.
func indexFold(b []byte, needle string) int {
	n := len(needle)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for j < n && lower(b[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}
