package mask

import (
	"encoding/binary"
	"math"
	"unicode"
	"unicode/utf8"
)

// Hash domains: detectors hash under their own value, so the same text
// found by two detectors hashes apart. Whole values hash under
// DomainValue; callers hashing typed values pick domains of their own at
// or above DomainUser.
const (
	DomainValue byte = 0
	DomainUser  byte = 64
)

// digest returns the HMAC-SHA256 of domain and data under the key. The
// result lives in the scanner's scratch until the next call.
func (sc *Scanner) digest(domain byte, data []byte) *[32]byte {
	st := sc.st
	sc.mac.Reset()
	st.blk[0] = domain
	sc.mac.Write(st.blk[:1])
	sc.mac.Write(data)
	sc.mac.Sum(st.sum[:0])
	return &st.sum
}

// Sum appends the 32-byte HMAC-SHA256 of domain and src to dst.
func (sc *Scanner) Sum(dst []byte, domain byte, src []byte) []byte {
	return append(dst, sc.digest(domain, src)[:]...)
}

// Keyed appends n bytes derived from the HMAC-SHA256 of domain and src to
// dst.
func (sc *Scanner) Keyed(dst []byte, domain byte, src []byte, n int) []byte {
	sc.rng.Seed(*sc.digest(domain, src))
	for n > 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], sc.rng.Uint64())
		k := min(n, 8)
		dst = append(dst, b[:k]...)
		n -= k
	}
	return dst
}

// HashText appends src with every letter and digit replaced by one
// derived from the keyed hash of the whole value: upper case stays upper
// case, lower lower, digits digits, a non-ASCII letter or digit becomes one
// ASCII lower-case letter, and everything else (spaces, punctuation,
// escape sequences) stays. Equal values give equal results, and the
// character count never grows.
func (sc *Scanner) HashText(dst, src []byte) []byte {
	return sc.shape(dst, src, sc.digest(DomainValue, src), false)
}

// HashNumber is HashText for the text of a number: digits become keyed
// digits, a number's first digit stays non-zero, and a lone 0 before the
// point stays 0, so the result is a number of the same shape (precision
// and scale hold).
func (sc *Scanner) HashNumber(dst, src []byte) []byte {
	return sc.shape(dst, src, sc.digest(DomainValue, src), true)
}

// shape appends m with its letters and digits replaced by keyed ones from
// the stream seeded with dig. With number, the first digit of a run of two
// or more leading digits is never 0.
func (sc *Scanner) shape(dst, m []byte, dig *[32]byte, number bool) []byte {
	sc.rng.Seed(*dig)
	var pool uint64
	left := 0
	next := func() byte {
		if left == 0 {
			pool, left = sc.rng.Uint64(), 8
		}
		b := byte(pool)
		pool >>= 8
		left--
		return b
	}
	leading := number
	for i := 0; i < len(m); {
		c := m[i]
		switch {
		case c == '\\':
			e := escapeEnd(m, i)
			dst = append(dst, m[i:e]...)
			i = e
			leading = false
		case isDigit(c):
			v := next()
			switch {
			case !leading:
				v %= 10
			case i+1 < len(m) && isDigit(m[i+1]):
				v = 1 + v%9 // no leading zero
			case c == '0':
				v = 0 // "0.5" keeps its zero
			default:
				v %= 10
			}
			dst = append(dst, '0'+v)
			leading = false
			i++
		case isUpper(c):
			dst = append(dst, 'A'+next()%26)
			i++
		case isLower(c):
			dst = append(dst, 'a'+next()%26)
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(m[i:])
			if r == utf8.RuneError && n <= 1 || unicode.IsLetter(r) || unicode.IsDigit(r) {
				dst = append(dst, 'a'+next()%26)
			} else {
				dst = append(dst, m[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

// PermuteInt maps v to a keyed integer: a permutation (no two values
// collide) that keeps int16 values within int16, int32 within int32 and
// the rest within int64, so a value hashes alike in int2, int4 and int8
// columns and the result always fits the column's type.
func (sc *Scanner) PermuteInt(v int64) int64 {
	switch {
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return int64(int16(uint16(sc.feistel(uint64(uint16(v)), 16))))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		y := sc.feistel(uint64(uint32(int32(v))), 32)
		for fits16(int64(int32(uint32(y)))) {
			y = sc.feistel(y, 32)
		}
		return int64(int32(uint32(y)))
	}
	y := sc.feistel(uint64(v), 64)
	for fits32(int64(y)) {
		y = sc.feistel(y, 64)
	}
	return int64(y)
}

func fits16(v int64) bool { return v >= math.MinInt16 && v <= math.MaxInt16 }

func fits32(v int64) bool { return v >= math.MinInt32 && v <= math.MaxInt32 }

// feistel is a keyed permutation of bits-bit integers: four rounds of a
// balanced Feistel network whose round function is AES under a key
// derived from the hash key.
func (sc *Scanner) feistel(x uint64, bits uint) uint64 {
	st := sc.st
	half := bits / 2
	mask := uint64(1)<<half - 1
	l, r := x>>half, x&mask
	for round := range 4 {
		st.blk = [16]byte{0: byte(bits), 1: byte(round)}
		binary.BigEndian.PutUint64(st.blk[8:], r)
		sc.perm.Encrypt(st.out[:], st.blk[:])
		l, r = r, l^(binary.BigEndian.Uint64(st.out[:8])&mask)
	}
	return l<<half | r
}
