package pgmask

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sluicehq/sluice/pkg/mask"
)

// errValue is why a value became NULL although its type supports the
// strategy: it could not be read (or, for dates, not in ISO style).
type errValue string

func (e errValue) Error() string { return string(e) }

const (
	errMalformed errValue = "malformed value"
	errDateStyle errValue = "date/time not in ISO DateStyle"
)

// Hash domains of typed values (see mask.DomainUser).
const (
	domainBytes = mask.DomainUser + iota
	domainFloat
	domainUUID
	domainDate
	domainTime
	domainInet
	domainDoc
)

// fallsBack reports whether strategy st cannot produce a valid value of
// kind k: every value then becomes NULL.
func fallsBack(st mask.Strategy, k kind) bool {
	switch st {
	case mask.Null:
		return false
	case mask.Partial:
		return k != kText && k != kUUID && k != kInet
	}
	return k == kBool || k == kOpaque || k == kRecord
}

// whole appends the value v (not NULL) of type t in the column's format,
// masked by strategy st (Redact, Partial or Hash, not a fallback), to dst.
func (c *column) whole(dst, v []byte, t typeInfo, st mask.Strategy) ([]byte, error) {
	sc, bin := c.sc, c.binary
	switch t.kind {
	case kText:
		start := len(dst)
		switch st {
		case mask.Redact:
			dst = append(dst, mask.Mask...)
		case mask.Partial:
			dst = sc.Partial(dst, v)
		default:
			dst = sc.HashText(dst, v)
		}
		return c.fitText(dst, start), nil
	case kJSON, kJSONB, kXML:
		if t.kind == kJSONB && bin {
			if len(v) == 0 || v[0] != 1 {
				return dst, errMalformed
			}
			dst = append(dst, 1)
			v = v[1:]
		}
		q := t.kind != kXML
		if q {
			dst = append(dst, '"')
		}
		if st == mask.Redact {
			dst = append(dst, mask.Mask...)
		} else {
			var sum [32]byte
			dst = hex.AppendEncode(dst, sc.Sum(sum[:0], domainDoc, v)[:8])
		}
		if q {
			dst = append(dst, '"')
		}
		return dst, nil
	case kBytea:
		raw, hexOut, err := byteaDecode(v, bin)
		if err != nil {
			return dst, err
		}
		var out []byte
		var sum [32]byte
		if st == mask.Hash {
			out = sc.Sum(sum[:0], domainBytes, raw)
		}
		return byteaEncode(dst, out, bin, hexOut), nil
	case kInt:
		n, err := intDecode(v, bin, t.size)
		if err != nil {
			return dst, err
		}
		if st == mask.Hash {
			n = sc.PermuteInt(n)
		} else {
			n = 0
		}
		return intEncode(dst, n, bin, t.size), nil
	case kFloat:
		return c.float(dst, v, t.size, st)
	case kNumeric:
		return c.numeric(dst, v, st)
	case kUUID:
		return c.uuid(dst, v, st)
	case kDate:
		return c.date(dst, v, st)
	case kTimestamp, kTimestampTZ:
		return c.timestamp(dst, v, st, t.kind == kTimestampTZ)
	case kInet:
		return c.inet(dst, v, st, c.oid == oidCIDR || c.elem == oidCIDR)
	}
	return dst, errMalformed
}

// fitText keeps a text value masked into dst[start:] within its type's
// length rules: bpchar(n) has exactly n characters (padded with spaces),
// varchar(n) at most n, name at most 63 bytes.
func (c *column) fitText(dst []byte, start int) []byte {
	oid := c.oid
	if c.elem != 0 {
		oid = c.elem
	}
	n := -1
	switch oid {
	case oidBPChar, oidVarchar:
		if c.typmod >= 4 {
			n = int(c.typmod - 4)
		}
	case oidName:
		out := dst[start:]
		for len(out) > 63 {
			_, w := utf8.DecodeLastRune(out)
			out = out[:len(out)-w]
		}
		return dst[:start+len(out)]
	}
	if n < 0 {
		return dst
	}
	out := dst[start:]
	chars, cut := 0, len(out)
	for i := range string(out) {
		if chars == n {
			cut = i
			break
		}
		chars++
	}
	dst = dst[:start+cut]
	if oid == oidBPChar {
		for ; chars < n; chars++ {
			dst = append(dst, ' ')
		}
	}
	return dst
}

// byteaDecode returns the bytes of a bytea value, and whether its text
// form was hex.
func byteaDecode(v []byte, bin bool) ([]byte, bool, error) {
	if bin {
		return v, false, nil
	}
	if len(v) >= 2 && v[0] == '\\' && v[1] == 'x' {
		out, err := hex.AppendDecode(nil, v[2:])
		if err != nil {
			return nil, true, errMalformed
		}
		return out, true, nil
	}
	var out []byte
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			out = append(out, v[i])
			continue
		}
		switch {
		case i+1 < len(v) && v[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(v) && isOctal(v[i+1]) && isOctal(v[i+2]) && isOctal(v[i+3]):
			out = append(out, (v[i+1]-'0')<<6|(v[i+2]-'0')<<3|(v[i+3]-'0'))
			i += 3
		default:
			return nil, false, errMalformed
		}
	}
	return out, false, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// byteaEncode appends raw as a bytea value: binary, hex (\x...) or the
// escape format.
func byteaEncode(dst, raw []byte, bin, hexOut bool) []byte {
	switch {
	case bin:
		return append(dst, raw...)
	case hexOut:
		return hex.AppendEncode(append(dst, `\x`...), raw)
	}
	for _, b := range raw {
		dst = append(dst, '\\', '0'+b>>6, '0'+b>>3&7, '0'+b&7)
	}
	return dst
}

func intDecode(v []byte, bin bool, size int) (int64, error) {
	if !bin {
		n, err := strconv.ParseInt(string(v), 10, size*8)
		if err != nil {
			return 0, errMalformed
		}
		return n, nil
	}
	if len(v) != size {
		return 0, errMalformed
	}
	switch size {
	case 2:
		return int64(int16(binary.BigEndian.Uint16(v))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(v))), nil
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func intEncode(dst []byte, n int64, bin bool, size int) []byte {
	if !bin {
		return strconv.AppendInt(dst, n, 10)
	}
	switch size {
	case 2:
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	case 4:
		return binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// float masks a float4 or float8: Redact gives 0, Hash a keyed whole
// number (below 2^24 for float4, 2^53 for float8, so it is exact); NaN and
// infinities stay.
func (c *column) float(dst, v []byte, size int, st mask.Strategy) ([]byte, error) {
	var f float64
	if c.binary {
		switch {
		case size == 4 && len(v) == 4:
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
		case size == 8 && len(v) == 8:
			f = math.Float64frombits(binary.BigEndian.Uint64(v))
		default:
			return dst, errMalformed
		}
	} else {
		var err error
		if f, err = strconv.ParseFloat(string(v), size*8); err != nil {
			return dst, errMalformed
		}
	}
	switch {
	case st == mask.Redact:
		f = 0
	case !math.IsNaN(f) && !math.IsInf(f, 0):
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(f))
		var sum [32]byte
		h := binary.BigEndian.Uint64(c.sc.Sum(sum[:0], domainFloat, b[:]))
		if size == 4 {
			f = float64(h % (1 << 24))
		} else {
			f = float64(h % (1 << 53))
		}
	}
	if !c.binary {
		return strconv.AppendFloat(dst, f, 'f', -1, size*8), nil
	}
	if size == 4 {
		return binary.BigEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
	}
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), nil
}

// uuid masks a uuid: Redact gives the nil uuid, Partial keeps the last
// four hex digits, Hash gives a keyed version-8 uuid.
func (c *column) uuid(dst, v []byte, st mask.Strategy) ([]byte, error) {
	var u [16]byte
	if c.binary {
		if len(v) != 16 {
			return dst, errMalformed
		}
		copy(u[:], v)
	} else if !parseUUID(&u, v) {
		return dst, errMalformed
	}
	switch st {
	case mask.Redact:
		u = [16]byte{}
	case mask.Partial:
		u = [16]byte{14: u[14], 15: u[15]}
	default:
		var k [16]byte
		c.sc.Keyed(k[:0], domainUUID, u[:], 16)
		u = k
		u[6] = u[6]&0x0f | 0x80
		u[8] = u[8]&0x3f | 0x80
	}
	if c.binary {
		return append(dst, u[:]...), nil
	}
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	hex.Encode(s[9:13], u[4:6])
	hex.Encode(s[14:18], u[6:8])
	hex.Encode(s[19:23], u[8:10])
	hex.Encode(s[24:], u[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return append(dst, s[:]...), nil
}

// parseUUID reads 32 hex digits, with or without dashes and braces.
func parseUUID(u *[16]byte, v []byte) bool {
	n := 0
	var hi byte
	for _, ch := range v {
		if ch == '-' || ch == '{' || ch == '}' {
			continue
		}
		d, ok := hexVal(ch)
		if !ok || n >= 32 {
			return false
		}
		if n%2 == 0 {
			hi = d
		} else {
			u[n/2] = hi<<4 | d
		}
		n++
	}
	return n == 32
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return c | 0x20 - 'a' + 10, true
	}
	return 0, false
}
