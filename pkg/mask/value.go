package mask

import "bytes"

// Mask is the fixed text that Redact puts in place of a whole value.
const Mask = "****"

// Partial appends the partial form of a whole value: an e-mail address
// keeps its domain, anything else its last four letters or digits when it
// has at least eight (otherwise none); every other letter and digit
// becomes '*', and everything else stays.
func (sc *Scanner) Partial(dst, src []byte) []byte {
	if at := bytes.LastIndexByte(src, '@'); at > 0 && domainEnd(src, at+1) == len(src) {
		dst = star(dst, src[:at], 0)
		return append(dst, src[at:]...)
	}
	return star(dst, src, keepLast)
}

// Star appends src with every letter and digit replaced by '*'; escape
// sequences and other characters stay.
func Star(dst, src []byte) []byte { return star(dst, src, 0) }
