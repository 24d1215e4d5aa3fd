package pgmask

import (
	"encoding/binary"

	"github.com/sluicehq/sluice/pkg/mask"
)

// numeric masks a numeric: Redact gives 0, Hash keyed digits of the same
// shape (as many digits before and after the point, so the precision and
// scale hold); NaN and infinities stay.
func (c *column) numeric(dst, v []byte, st mask.Strategy) ([]byte, error) {
	var buf [64]byte
	text := v
	if c.binary {
		var ok bool
		if text, ok = numericText(buf[:0], v); !ok {
			return dst, errMalformed
		}
	} else if !numericValid(v) {
		return dst, errMalformed
	}
	special := len(text) > 0 && (text[0] == 'N' || text[0] == 'I' || text[0] == '-' && len(text) > 1 && text[1] == 'I')
	var out []byte
	var obuf [64]byte
	switch {
	case special:
		out = text
	case st == mask.Redact:
		out = append(obuf[:0], '0')
	default:
		out = c.sc.HashNumber(obuf[:0], text)
	}
	if !c.binary {
		return append(dst, out...), nil
	}
	if special {
		return append(dst, v...), nil
	}
	return numericBinary(dst, out), nil
}

// numericValid reports whether v is numeric text output: an optional
// '-', digits, an optional fraction, or NaN/Infinity/-Infinity.
func numericValid(v []byte) bool {
	switch string(v) {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	digits, point := 0, false
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point:
			point = true
		default:
			return false
		}
	}
	return digits > 0 && len(v) < 1<<16
}

const (
	numPos  = 0x0000
	numNeg  = 0x4000
	numNaN  = 0xC000
	numPInf = 0xD000
	numNInf = 0xF000
)

// numericText appends the text form of a binary numeric.
func numericText(dst, v []byte) ([]byte, bool) {
	if len(v) < 8 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(v[0:]))
	weight := int(int16(binary.BigEndian.Uint16(v[2:])))
	sign := binary.BigEndian.Uint16(v[4:])
	dscale := int(binary.BigEndian.Uint16(v[6:]))
	if len(v) != 8+2*n || dscale > 0x3fff {
		return nil, false
	}
	switch sign {
	case numNaN:
		return append(dst, "NaN"...), true
	case numPInf:
		return append(dst, "Infinity"...), true
	case numNInf:
		return append(dst, "-Infinity"...), true
	case numNeg:
		dst = append(dst, '-')
	case numPos:
	default:
		return nil, false
	}
	digit := func(i int) int {
		if i < 0 || i >= n {
			return 0
		}
		return int(binary.BigEndian.Uint16(v[8+2*i:]))
	}
	for i := 0; i < n; i++ {
		if digit(i) > 9999 {
			return nil, false
		}
	}
	if weight < -1000 || weight > 1000 {
		return nil, false
	}
	// Integer part.
	if weight < 0 {
		dst = append(dst, '0')
	} else {
		for i := 0; i <= weight; i++ {
			d := digit(i)
			if i == 0 {
				dst = appendUint(dst, d)
			} else {
				dst = append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
			}
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		for i, k := weight+1, 0; k < dscale; i++ {
			d := digit(i)
			for _, b := range [4]byte{byte('0' + d/1000), byte('0' + d/100%10), byte('0' + d/10%10), byte('0' + d%10)} {
				if k < dscale {
					dst = append(dst, b)
					k++
				}
			}
		}
	}
	return dst, true
}

func appendUint(dst []byte, d int) []byte {
	if d >= 10 {
		dst = appendUint(dst, d/10)
	}
	return append(dst, byte('0'+d%10))
}

// numericBinary appends the binary form of numeric text (digits with an
// optional '-' and fraction; numericValid holds).
func numericBinary(dst, text []byte) []byte {
	sign := uint16(numPos)
	if len(text) > 0 && text[0] == '-' {
		sign = numNeg
		text = text[1:]
	}
	ip, fp := text, []byte(nil)
	for i, c := range text {
		if c == '.' {
			ip, fp = text[:i], text[i+1:]
			break
		}
	}
	for len(ip) > 0 && ip[0] == '0' {
		ip = ip[1:]
	}
	dscale := len(fp)
	// Base-10000 words: the integer part grouped from the right, the
	// fraction from the left.
	var words []uint16
	lead := len(ip) % 4
	if lead == 0 && len(ip) > 0 {
		lead = 4
	}
	weight := (len(ip)+3)/4 - 1
	for i := 0; i < len(ip); {
		w := lead
		if i > 0 {
			w = 4
		}
		words = append(words, uint16(atoi(ip[i:i+w])))
		i += w
	}
	for i := 0; i < len(fp); i += 4 {
		var g [4]byte
		copy(g[:], fp[i:min(i+4, len(fp))])
		for j := range g {
			if g[j] == 0 {
				g[j] = '0'
			}
		}
		words = append(words, uint16(atoi(g[:])))
	}
	// No leading or trailing zero words.
	for len(words) > 0 && words[0] == 0 {
		words = words[1:]
		weight--
	}
	for len(words) > 0 && words[len(words)-1] == 0 {
		words = words[:len(words)-1]
	}
	if len(words) == 0 {
		weight, sign = 0, numPos
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(words)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(dscale))
	for _, w := range words {
		dst = binary.BigEndian.AppendUint16(dst, w)
	}
	return dst
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}
