package mask

import "unicode/utf8"

// E-mail addresses are found at their '@': the local part is the run of
// [A-Za-z0-9._%+-] and non-ASCII characters before it (1 to 64 bytes, not
// starting or ending with '.'), the domain two or more labels of
// [A-Za-z0-9-] and non-ASCII characters (internationalized names), each
// 1-63 bytes and not starting or ending with '-', whose last label (the
// top-level domain) is letters, "xn--" punycode or non-ASCII, at least two
// characters long.

func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c >= 0x80
}

func isLabel(c byte) bool { return isAlnum(c) || c == '-' || c >= 0x80 }

// email handles the '@' at i and returns where scanning goes on.
func (s *scan) email(i int) int {
	if !s.set.Has(Email) {
		return i + 1
	}
	src := s.src
	a := i
	for a > s.floor && a > i-64 && isLocal(src[a-1]) {
		a--
	}
	for a < i && (src[a] == '.' || src[a]&0xc0 == 0x80) {
		a++ // no leading dot, no partial rune
	}
	if a == i || src[i-1] == '.' {
		return i + 1
	}
	if a > 0 && a == i-64 && isLocal(src[a-1]) {
		return i + 1 // longer than 64 bytes
	}
	e := domainEnd(src, i+1)
	if e < 0 {
		return i + 1
	}
	if !utf8.Valid(src[a:e]) {
		return i + 1
	}
	s.emit(a, e, Email)
	return e
}

// domainEnd returns the end of the domain starting at i, or -1.
func domainEnd(src []byte, i int) int {
	labels := 0
	end := -1
	j := i
	for {
		k := j
		for k < len(src) && isLabel(src[k]) && k-j < 64 {
			k++
		}
		if k == j || k-j > 63 || src[j] == '-' || src[k-1] == '-' {
			break
		}
		labels++
		if labels >= 2 && tld(src[j:k]) {
			end = k
		}
		if k+1 < len(src) && src[k] == '.' && isLabel(src[k+1]) {
			j = k + 1
			continue
		}
		break
	}
	if end < 0 || end-i > 253 {
		return -1
	}
	if end < len(src) && (isWord(src[end]) || src[end] == '@') {
		return -1
	}
	return end
}

// tld reports whether label can be a top-level domain.
func tld(label []byte) bool {
	if len(label) < 2 {
		return false
	}
	if len(label) > 4 && string(label[:4]) == "xn--" {
		return true
	}
	for _, c := range label {
		if !isUpper(c) && !isLower(c) && c < 0x80 {
			return false
		}
	}
	return true
}
