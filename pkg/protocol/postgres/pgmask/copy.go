package pgmask

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCopyFraming is wrapped by CopyRewriter errors for COPY data whose
// rows do not line up with CopyData messages: PostgreSQL sends one row
// per message, and a rewriter never holds a partial row.
var ErrCopyFraming = errors.New("pgmask: COPY row split across messages")

// CopyKind is the format of COPY data.
type CopyKind uint8

// The COPY formats.
const (
	CopyText CopyKind = iota
	CopyCSV
	CopyBinary
)

// CopyFormat describes COPY TO STDOUT data as its statement's options
// set it. Zero fields take PostgreSQL's defaults: delimiter tab (text) or
// ',' (CSV), quote and escape '"', NULL as \N (text) or an unquoted empty
// field (CSV).
type CopyFormat struct {
	Kind      CopyKind
	Delimiter byte
	Quote     byte
	Escape    byte
	Null      string
}

// CopyRewriter masks the data of one COPY TO STDOUT through a Plan. It
// is used by one goroutine.
type CopyRewriter struct {
	p       *Plan
	f       CopyFormat
	nullSet bool
	header  bool   // binary: the file header has been seen
	done    bool   // binary: the trailer has been seen
	field   []byte // encoded field scratch
	val     []byte // decoded field scratch
	tuple   []byte // binary tuple scratch
}

// Copy returns a rewriter for COPY data in format f. The plan's columns
// must be those of the COPY, in order (compiled from fields the caller
// knows, as COPY sends no RowDescription); their formats are set from f.
// A nil or empty plan gives a rewriter that changes nothing.
func (p *Plan) Copy(f CopyFormat) *CopyRewriter {
	if f.Kind == CopyCSV {
		if f.Delimiter == 0 {
			f.Delimiter = ','
		}
		if f.Quote == 0 {
			f.Quote = '"'
		}
		if f.Escape == 0 {
			f.Escape = f.Quote
		}
	} else if f.Delimiter == 0 {
		f.Delimiter = '\t'
	}
	r := &CopyRewriter{p: p, f: f}
	if f.Kind == CopyText && f.Null == "" {
		r.f.Null = `\N`
	}
	if !p.Empty() {
		code := int16(0)
		if f.Kind == CopyBinary {
			code = 1
		}
		_ = p.SetFormats([]int16{code})
	}
	return r
}

// Data rewrites the payload of one CopyData message into dst, as Plan.Row
// does: dst with the new payload appended and true, or dst as given and
// false when nothing changed.
func (r *CopyRewriter) Data(dst, data []byte) ([]byte, bool, error) {
	if r.p.Empty() {
		return dst, false, nil
	}
	if r.f.Kind == CopyBinary {
		return r.binary(dst, data)
	}
	start := len(dst)
	lz := lazy{dst: dst, start: start, src: data}
	for pos := 0; pos < len(data); {
		n, err := r.textRow(&lz, data, pos)
		if err != nil {
			return dst[:start], false, err
		}
		pos = n
	}
	out, ok := lz.finish()
	if ok {
		r.p.stats.Rows++
	}
	return out, ok, nil
}

// lazy builds a rewritten copy of src only from its first change on.
type lazy struct {
	dst     []byte
	start   int
	src     []byte
	done    int
	changed bool
}

// replace puts repl in place of src[from:to].
func (l *lazy) replace(from, to int, repl []byte) {
	l.dst = append(l.dst, l.src[l.done:from]...)
	l.dst = append(l.dst, repl...)
	l.done, l.changed = to, true
}

func (l *lazy) finish() ([]byte, bool) {
	if !l.changed {
		return l.dst[:l.start], false
	}
	return append(l.dst, l.src[l.done:]...), true
}

// textRow rewrites the text or CSV row starting at pos and returns where
// the next one starts.
func (r *CopyRewriter) textRow(lz *lazy, data []byte, pos int) (int, error) {
	p := r.p
	for i := range p.cols {
		c := &p.cols[i]
		var fieldEnd, next int
		var val []byte
		var isNull bool
		var err error
		if r.f.Kind == CopyCSV {
			val, isNull, fieldEnd, err = r.csvField(data, pos)
		} else {
			val, isNull, fieldEnd, err = r.textField(data, pos)
		}
		if err != nil {
			return 0, err
		}
		if fieldEnd >= len(data) {
			return 0, fmt.Errorf("%w: row without a line end", ErrCopyFraming)
		}
		last := i == len(p.cols)-1
		switch sep := data[fieldEnd]; {
		case last && sep == '\n':
		case !last && sep == r.f.Delimiter:
		default:
			return 0, fmt.Errorf("%w: COPY row with %d columns expected, found %q after column %d", ErrMalformed, len(p.cols), sep, i+1)
		}
		next = fieldEnd + 1
		if !isNull && c.active {
			out, oc := c.apply(p.tmp[:0], val)
			switch oc {
			case null:
				lz.replace(pos, fieldEnd, []byte(r.f.Null))
			case changed:
				p.tmp = out
				enc := r.field[:0]
				if r.f.Kind == CopyCSV {
					enc = r.csvEncode(enc, out)
				} else {
					enc = r.textEncode(enc, out)
				}
				r.field = enc
				lz.replace(pos, fieldEnd, enc)
			}
		}
		pos = next
	}
	return pos, nil
}

// textField reads a text-format field at pos: its decoded value, whether
// it is NULL, and where it ends (at a delimiter or newline).
func (r *CopyRewriter) textField(data []byte, pos int) ([]byte, bool, int, error) {
	end := pos
	for end < len(data) && data[end] != r.f.Delimiter && data[end] != '\n' {
		if data[end] == '\\' {
			end++
		}
		end++
	}
	if end > len(data) {
		return nil, false, 0, fmt.Errorf("%w: COPY field ends in a backslash", ErrMalformed)
	}
	raw := data[pos:end]
	if string(raw) == r.f.Null {
		return nil, true, end, nil
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, false, end, nil
	}
	v := r.val[:0]
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		if ch != '\\' || i+1 == len(raw) {
			v = append(v, ch)
			continue
		}
		i++
		switch e := raw[i]; e {
		case 'b':
			v = append(v, '\b')
		case 'f':
			v = append(v, '\f')
		case 'n':
			v = append(v, '\n')
		case 'r':
			v = append(v, '\r')
		case 't':
			v = append(v, '\t')
		case 'v':
			v = append(v, '\v')
		case 'x':
			n, b := 0, byte(0)
			for n < 2 && i+1 < len(raw) {
				d, ok := hexVal(raw[i+1])
				if !ok {
					break
				}
				b, n, i = b<<4|d, n+1, i+1
			}
			if n == 0 {
				v = append(v, 'x')
			} else {
				v = append(v, b)
			}
		default:
			if isOctal(e) {
				b, n := e-'0', 1
				for n < 3 && i+1 < len(raw) && isOctal(raw[i+1]) {
					b, n, i = b<<3|(raw[i+1]-'0'), n+1, i+1
				}
				v = append(v, b)
			} else {
				v = append(v, e)
			}
		}
	}
	r.val = v
	return v, false, end, nil
}

// textEncode appends v escaped for the text format.
func (r *CopyRewriter) textEncode(dst, v []byte) []byte {
	for _, ch := range v {
		switch ch {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\v':
			dst = append(dst, '\\', 'v')
		default:
			if ch == r.f.Delimiter {
				dst = append(dst, '\\')
			}
			dst = append(dst, ch)
		}
	}
	return dst
}

// csvField reads a CSV field at pos.
func (r *CopyRewriter) csvField(data []byte, pos int) ([]byte, bool, int, error) {
	q, esc := r.f.Quote, r.f.Escape
	if pos < len(data) && data[pos] == q {
		v := r.val[:0]
		i := pos + 1
		for {
			if i >= len(data) {
				return nil, false, 0, fmt.Errorf("%w: unterminated quoted CSV field", ErrCopyFraming)
			}
			ch := data[i]
			if ch == esc && i+1 < len(data) && (data[i+1] == q || data[i+1] == esc && esc != q) {
				v = append(v, data[i+1])
				i += 2
				continue
			}
			if ch == q {
				i++
				break
			}
			v = append(v, ch)
			i++
		}
		r.val = v
		return v, false, i, nil
	}
	end := pos
	for end < len(data) && data[end] != r.f.Delimiter && data[end] != '\n' {
		end++
	}
	raw := data[pos:end]
	return raw, string(raw) == r.f.Null, end, nil
}

// csvEncode appends v as a CSV field, quoted when it must be.
func (r *CopyRewriter) csvEncode(dst, v []byte) []byte {
	q, esc := r.f.Quote, r.f.Escape
	need := len(v) == 0 || string(v) == r.f.Null || string(v) == `\.`
	for _, ch := range v {
		if ch == r.f.Delimiter || ch == q || ch == esc || ch == '\n' || ch == '\r' {
			need = true
		}
	}
	if !need {
		return append(dst, v...)
	}
	dst = append(dst, q)
	for _, ch := range v {
		if ch == q || ch == esc {
			dst = append(dst, esc)
		}
		dst = append(dst, ch)
	}
	return append(dst, q)
}

// pgcopySignature opens binary COPY data.
var pgcopySignature = []byte("PGCOPY\n\xff\r\n\x00")

// binary rewrites binary COPY data: the header (in the first message),
// then whole tuples laid out like DataRow bodies, then the trailer (-1).
func (r *CopyRewriter) binary(dst, data []byte) ([]byte, bool, error) {
	start := len(dst)
	lz := lazy{dst: dst, start: start, src: data}
	pos := 0
	if !r.header {
		if len(data) < len(pgcopySignature)+8 || !bytes.HasPrefix(data, pgcopySignature) {
			return dst, false, fmt.Errorf("%w: binary COPY without its signature", ErrMalformed)
		}
		ext := int(binary.BigEndian.Uint32(data[len(pgcopySignature)+4:]))
		pos = len(pgcopySignature) + 8 + ext
		if ext < 0 || pos > len(data) {
			return dst, false, fmt.Errorf("%w: binary COPY header extension of %d bytes", ErrCopyFraming, ext)
		}
		r.header = true
	}
	for pos < len(data) {
		if r.done {
			return dst[:start], false, fmt.Errorf("%w: data after the binary COPY trailer", ErrMalformed)
		}
		if len(data)-pos < 2 {
			return dst[:start], false, fmt.Errorf("%w: binary COPY tuple cut short", ErrCopyFraming)
		}
		if int16(binary.BigEndian.Uint16(data[pos:])) == -1 {
			r.done = true
			pos += 2
			continue
		}
		out, n, ok, err := r.p.row(r.tuple[:0], data[pos:])
		if err != nil {
			return dst[:start], false, fmt.Errorf("%w (binary COPY tuple: %w)", ErrCopyFraming, err)
		}
		if ok {
			r.tuple = out
			lz.replace(pos, pos+n, out)
		}
		pos += n
	}
	out, ok := lz.finish()
	return out, ok, nil
}
