package pgmask

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendText appends PostgreSQL's text output of v, a binary-format value
// of the type oid, cut to at most max bytes at a UTF-8 boundary, and
// reports whether it was cut and whether it could be rendered at all: for
// the scalar types the package knows (bool, int2, int4, int8, float4,
// float8, numeric, text, varchar, bpchar, name, json, jsonb, xml, bytea,
// uuid, date, timestamp, timestamptz, inet, cidr). Arrays, composites,
// user-defined and other types, and malformed values give ok false and
// dst unchanged. timestamptz is written in UTC. Long text and bytea values
// are cut before they are rendered, so the work is bounded by max.
func AppendText(dst []byte, oid uint32, v []byte, limit int) (out []byte, cut, ok bool) {
	t, known := types[oid]
	if !known || limit <= 0 {
		return dst, false, false
	}
	start := len(dst)
	switch t.kind {
	case kText, kJSON, kXML:
		out = append(dst, v[:min(len(v), limit)]...)
		cut = len(v) > limit
	case kJSONB:
		if len(v) == 0 || v[0] != 1 {
			return dst, false, false
		}
		out = append(dst, v[1:min(len(v), limit+1)]...)
		cut = len(v)-1 > limit
	case kBytea:
		if limit < 2 {
			return dst, true, true // not even room for \x
		}
		n := (limit - 2) / 2
		out = hex.AppendEncode(append(dst, `\x`...), v[:min(len(v), n)])
		cut = len(v) > n
	default:
		if out, ok = appendScalar(dst, t, oid, v); !ok {
			return dst, false, false
		}
		cut = len(out)-start > limit
		out = out[:start+min(len(out)-start, limit)]
	}
	if cut {
		// Drop a rune the cut left incomplete.
		n, p := len(out), len(out)-1
		for p > start && !utf8.RuneStart(out[p]) {
			p--
		}
		if p >= start && !utf8.FullRune(out[p:n]) {
			n = p
		}
		out = out[:n]
	}
	return out, cut, true
}

// appendScalar renders the fixed-layout types.
func appendScalar(dst []byte, t typeInfo, oid uint32, v []byte) ([]byte, bool) {
	switch t.kind {
	case kBool:
		if len(v) != 1 || v[0] > 1 {
			return dst, false
		}
		if v[0] == 1 {
			return append(dst, 't'), true
		}
		return append(dst, 'f'), true
	case kInt:
		n, err := intDecode(v, true, t.size)
		if err != nil {
			return dst, false
		}
		return strconv.AppendInt(dst, n, 10), true
	case kFloat:
		return floatText(dst, v, t.size)
	case kNumeric:
		return numericText(dst, v)
	case kUUID:
		return uuidText(dst, v)
	case kDate:
		return dateText(dst, v)
	case kTimestamp, kTimestampTZ:
		return timestampText(dst, v, t.kind == kTimestampTZ)
	case kInet:
		return inetText(dst, v, oid == oidCIDR)
	}
	return dst, false
}

func floatText(dst, v []byte, size int) ([]byte, bool) {
	var f float64
	switch {
	case size == 4 && len(v) == 4:
		f = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
	case size == 8 && len(v) == 8:
		f = math.Float64frombits(binary.BigEndian.Uint64(v))
	default:
		return dst, false
	}
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...), true
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...), true
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...), true
	}
	bits := 64
	if size == 4 {
		bits = 32
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits), true
}

func uuidText(dst, v []byte) ([]byte, bool) {
	if len(v) != 16 {
		return dst, false
	}
	for i, b := range v {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = hex.AppendEncode(dst, []byte{b})
	}
	return dst, true
}

func dateText(dst, v []byte) ([]byte, bool) {
	if len(v) != 4 {
		return dst, false
	}
	switch days := int32(binary.BigEndian.Uint32(v)); days {
	case math.MaxInt32:
		return append(dst, "infinity"...), true
	case math.MinInt32:
		return append(dst, "-infinity"...), true
	default:
		d := pgEpoch.AddDate(0, 0, int(days))
		if d.Year() < 1 || d.Year() > 9999 {
			return dst, false
		}
		return d.AppendFormat(dst, "2006-01-02"), true
	}
}

func timestampText(dst, v []byte, tz bool) ([]byte, bool) {
	if len(v) != 8 {
		return dst, false
	}
	us := int64(binary.BigEndian.Uint64(v))
	switch us {
	case math.MaxInt64:
		return append(dst, "infinity"...), true
	case math.MinInt64:
		return append(dst, "-infinity"...), true
	}
	secs, frac := us/usPerSec, us%usPerSec
	if frac < 0 {
		secs, frac = secs-1, frac+usPerSec
	}
	t := time.Unix(pgEpoch.Unix()+secs, frac*1000).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return dst, false
	}
	dst = t.AppendFormat(dst, "2006-01-02 15:04:05.999999")
	if tz {
		dst = append(dst, "+00"...)
	}
	return dst, true
}

func inetText(dst, v []byte, cidr bool) ([]byte, bool) {
	if len(v) < 4 || (v[0] != pgAFInet && v[0] != pgAFInet6) || int(v[3]) != len(v)-4 {
		return dst, false
	}
	nb, bits := int(v[3]), int(v[1])
	var a netip.Addr
	switch {
	case nb == 4 && v[0] == pgAFInet:
		a = netip.AddrFrom4([4]byte(v[4:8]))
	case nb == 16 && v[0] == pgAFInet6:
		a = netip.AddrFrom16([16]byte(v[4:20]))
	default:
		return dst, false
	}
	if bits > nb*8 {
		return dst, false
	}
	dst = a.AppendTo(dst)
	if cidr || bits != nb*8 {
		dst = strconv.AppendInt(append(dst, '/'), int64(bits), 10)
	}
	return dst, true
}
