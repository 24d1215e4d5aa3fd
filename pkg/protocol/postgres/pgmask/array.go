package pgmask

import (
	"encoding/binary"
	"fmt"
)

// Arrays are masked element by element, each as a value of the element
// type: the whole-value strategy or the content detectors apply to every
// element that is not NULL, and an element that cannot be masked becomes
// NULL. Text output ("{a,"b c",NULL}", nested for more dimensions, with an
// optional "[1:2]=" bounds prefix) is decoded, each element masked and
// quoted again as PostgreSQL would; binary arrays keep their header and
// dimensions, with each element's length rewritten.

// maxDims is PostgreSQL's MAXDIM.
const maxDims = 6

// element masks one array element (not NULL).
func (c *column) element(dst, e []byte) ([]byte, outcome) {
	if c.strategy == 0 {
		return c.scanValue(dst, e)
	}
	out, err := c.whole(dst, e, c.info, c.strategy)
	if err != nil {
		c.nulled(err)
		return dst, null
	}
	return out, changed
}

// array masks an array value and reports whether an element changed.
func (c *column) array(dst, v []byte) ([]byte, bool, error) {
	if c.binary {
		return c.arrayBinary(dst, v)
	}
	return c.arrayText(dst, v)
}

func (c *column) arrayText(dst, v []byte) ([]byte, bool, error) {
	start := len(dst)
	any := false
	i := 0
	if len(v) > 0 && v[0] == '[' {
		eq := -1
		for j, ch := range v {
			if ch == '=' {
				eq = j
				break
			}
		}
		if eq < 0 {
			return dst, false, fmt.Errorf("%w: array bounds without '='", ErrMalformed)
		}
		dst = append(dst, v[:eq+1]...)
		i = eq + 1
	}
	depth := 0
	for i < len(v) {
		ch := v[i]
		switch ch {
		case '{':
			depth++
			dst = append(dst, ch)
			i++
			continue
		case '}':
			depth--
			dst = append(dst, ch)
			i++
			continue
		case ',', ' ', '\t', '\n', '\r':
			dst = append(dst, ch)
			i++
			continue
		}
		if depth <= 0 {
			return dst[:start], false, fmt.Errorf("%w: array element outside braces", ErrMalformed)
		}
		tok := i
		var e []byte
		if ch == '"' {
			e = c.ebuf[:0]
			j := i + 1
			for ; j < len(v) && v[j] != '"'; j++ {
				if v[j] == '\\' && j+1 < len(v) {
					j++
				}
				e = append(e, v[j])
			}
			if j >= len(v) {
				return dst[:start], false, fmt.Errorf("%w: unterminated array element", ErrMalformed)
			}
			c.ebuf = e
			i = j + 1
		} else {
			j := i
			for j < len(v) && v[j] != ',' && v[j] != '}' {
				j++
			}
			e, i = v[i:j], j
			if len(e) == 4 && (e[0]|0x20) == 'n' && (e[1]|0x20) == 'u' && (e[2]|0x20) == 'l' && (e[3]|0x20) == 'l' {
				dst = append(dst, e...)
				continue
			}
		}
		mark := len(dst)
		out, oc := c.element(dst, e)
		switch oc {
		case keep:
			dst = append(dst[:mark], v[tok:i]...)
		case null:
			dst = append(dst[:mark], "NULL"...)
			any = true
		default:
			// Quote the element if it needs it: copy it aside first.
			n := len(out) - mark
			c.ebuf = append(c.ebuf[:0], out[mark:]...)
			dst = quoteElem(out[:mark], c.ebuf[:n])
			any = true
		}
	}
	if depth != 0 {
		return dst[:start], false, fmt.Errorf("%w: unbalanced array braces", ErrMalformed)
	}
	return dst, any, nil
}

// quoteElem appends an array element as array_out writes it: in double
// quotes, with '"' and '\' escaped, when it is empty, is NULL in any case,
// or holds braces, quotes, backslashes, commas or white space.
func quoteElem(dst, e []byte) []byte {
	need := len(e) == 0 || len(e) == 4 && (e[0]|0x20) == 'n' && (e[1]|0x20) == 'u' && (e[2]|0x20) == 'l' && (e[3]|0x20) == 'l'
	for _, ch := range e {
		switch ch {
		case '{', '}', '"', '\\', ',', ' ', '\t', '\n', '\r', '\v', '\f':
			need = true
		}
	}
	if !need {
		return append(dst, e...)
	}
	dst = append(dst, '"')
	for _, ch := range e {
		if ch == '"' || ch == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, ch)
	}
	return append(dst, '"')
}

// arrayBinary masks a binary array: ndim, has-null flag, element OID,
// (length, lower bound) per dimension, then (length, bytes) per element.
func (c *column) arrayBinary(dst, v []byte) ([]byte, bool, error) {
	start := len(dst)
	if len(v) < 12 {
		return dst, false, fmt.Errorf("%w: binary array of %d bytes", ErrMalformed, len(v))
	}
	ndim := int(int32(binary.BigEndian.Uint32(v)))
	if ndim < 0 || ndim > maxDims || len(v) < 12+8*ndim {
		return dst, false, fmt.Errorf("%w: binary array with %d dimensions", ErrMalformed, ndim)
	}
	count := 1
	if ndim == 0 {
		count = 0
	}
	for d := 0; d < ndim; d++ {
		n := int(int32(binary.BigEndian.Uint32(v[12+8*d:])))
		if n < 0 || n > len(v) {
			return dst, false, fmt.Errorf("%w: binary array dimension of %d", ErrMalformed, n)
		}
		count *= n
		if count > len(v)/4 {
			return dst, false, fmt.Errorf("%w: binary array of %d elements in %d bytes", ErrMalformed, count, len(v))
		}
	}
	hdr := 12 + 8*ndim
	dst = append(dst, v[:hdr]...)
	flags := start + 4
	any := false
	pos := hdr
	for k := 0; k < count; k++ {
		if len(v)-pos < 4 {
			return dst[:start], false, fmt.Errorf("%w: binary array cut short", ErrMalformed)
		}
		l := int32(binary.BigEndian.Uint32(v[pos:]))
		pos += 4
		if l == -1 {
			dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
			continue
		}
		if l < 0 || int(l) > len(v)-pos {
			return dst[:start], false, fmt.Errorf("%w: binary array element of length %d", ErrMalformed, l)
		}
		e := v[pos : pos+int(l)]
		pos += int(l)
		mark := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		out, oc := c.element(dst, e)
		switch oc {
		case keep:
			dst = append(out[:mark+4], e...)
			binary.BigEndian.PutUint32(dst[mark:], uint32(l))
		case null:
			dst = binary.BigEndian.AppendUint32(out[:mark], 0xffffffff)
			binary.BigEndian.PutUint32(dst[flags:], 1)
			any = true
		default:
			dst = out
			binary.BigEndian.PutUint32(dst[mark:], uint32(len(out)-mark-4))
			any = true
		}
	}
	if pos != len(v) {
		return dst[:start], false, fmt.Errorf("%w: %d bytes after the last array element", ErrMalformed, len(v)-pos)
	}
	return dst, any, nil
}
