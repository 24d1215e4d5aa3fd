package pgmask

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/mask"
)

// ErrMalformed is wrapped by the errors of Row and CopyRewriter.Data for data that
// does not match the protocol or the plan (column count, lengths).
var ErrMalformed = errors.New("pgmask: malformed data")

// plain serves rules without a Masker: Redact and Partial need no key.
var plain = func() *mask.Masker {
	m, err := mask.New(mask.Config{})
	if err != nil {
		panic(err)
	}
	return m
}()

// Plan masks the rows of one result. Compile makes it from the result's
// RowDescription; Row then rewrites each DataRow. A Plan is used by one
// goroutine at a time (it holds scratch space and statistics).
//
// A nil Plan, or one for which Empty is true, masks nothing: callers
// forward rows untouched without calling Row.
type Plan struct {
	cols   []column
	active int
	stats  Stats
	tmp    []byte
}

// column is one column of a plan.
type column struct {
	index  int
	oid    uint32
	elem   uint32   // element type OID of an array, else 0
	info   typeInfo // of the element, for arrays
	binary bool
	typmod int32
	rule   Rule

	// Derived from rule, type and format by configure.
	active   bool
	strategy mask.Strategy
	fallback bool // strategy cannot produce this type: every value is NULL
	scan     bool // content detectors run
	sc       *mask.Scanner
	ctx      mask.Context
	st       *ColumnStats
	ebuf     []byte // array element scratch
}

// Compile makes the plan of a result whose columns are fields (from its
// RowDescription), asking r for each column's rule. A result without
// rules gives an empty plan. For a RowDescription answering the Describe
// of a statement, whose format codes are all zero, the caller sets the
// formats of the Bind with SetFormats.
func Compile(ctx context.Context, fields []pgproto3.FieldDescription, r Resolver) (*Plan, error) {
	p := &Plan{cols: make([]column, len(fields))}
	scanners := map[*mask.Masker]*mask.Scanner{}
	nrules := 0
	for i, f := range fields {
		rule, err := r.Rule(ctx, string(f.Name), f.TableOID, int16(f.TableAttributeNumber))
		if err != nil {
			return nil, fmt.Errorf("pgmask: rule of column %q: %w", f.Name, err)
		}
		c := &p.cols[i]
		c.index, c.oid, c.binary, c.typmod = i, f.DataTypeOID, f.Format == 1, f.TypeModifier
		info, isArray := lookupType(f.DataTypeOID)
		c.info = info
		if isArray {
			c.elem = info.elem
		}
		if rule.IsZero() {
			continue
		}
		if rule.Strategy == mask.Hash && (rule.Masker == nil || !rule.Masker.HasKey()) {
			return nil, fmt.Errorf("%w (column %q)", ErrNoKey, f.Name)
		}
		if rule.Strategy > mask.Null {
			return nil, fmt.Errorf("pgmask: column %q: %w: %v", f.Name, mask.ErrUnknown, rule.Strategy)
		}
		m := rule.Masker
		if m == nil {
			m = plain
		}
		if scanners[m] == nil {
			scanners[m] = m.Scanner()
		}
		c.rule, c.sc = rule, scanners[m]
		nrules++
	}
	p.stats.Columns = make([]ColumnStats, 0, nrules)
	for i := range p.cols {
		c := &p.cols[i]
		if c.sc == nil {
			continue
		}
		typ := c.info.name
		if c.elem != 0 {
			typ += "[]"
		}
		p.stats.Columns = append(p.stats.Columns, ColumnStats{
			Index: i, Name: string(fields[i].Name), Type: typ, Rule: c.rule.Name, Strategy: c.rule.Strategy,
		})
		c.st = &p.stats.Columns[len(p.stats.Columns)-1]
	}
	p.configure()
	return p, nil
}

// SetFormats sets the columns' formats as a Bind's result format codes
// do: none means all text, one applies to every column, otherwise one per
// column.
func (p *Plan) SetFormats(codes []int16) error {
	if p == nil {
		return nil
	}
	if len(codes) > 1 && len(codes) != len(p.cols) {
		return fmt.Errorf("%w: %d format codes for %d columns", ErrMalformed, len(codes), len(p.cols))
	}
	for i := range p.cols {
		f := int16(0)
		switch len(codes) {
		case 0:
		case 1:
			f = codes[0]
		default:
			f = codes[i]
		}
		p.cols[i].binary = f == 1
	}
	p.configure()
	return nil
}

// configure derives what each column does from its rule, type and format.
func (p *Plan) configure() {
	p.active = 0
	for i := range p.cols {
		c := &p.cols[i]
		c.active, c.scan, c.fallback, c.strategy = false, false, false, 0
		if c.sc == nil {
			continue
		}
		if st := c.rule.Strategy; st != 0 {
			c.strategy, c.fallback, c.active = st, fallsBack(st, c.info.kind), true
			if c.fallback && c.st.Fallback == "" {
				c.st.Fallback = fmt.Sprintf("%v cannot produce a valid %s value", st, c.st.Type)
			}
		} else if c.rule.Masker != nil && scannable(c.info.kind, c.oidOfValues(), c.binary) {
			c.scan, c.active = true, true
			c.ctx = mask.Context{Hint: c.rule.Hint}
			if c.info.kind == kJSON || c.info.kind == kJSONB {
				c.ctx.Syntax = mask.JSON
			}
		}
		if c.active {
			p.active++
		}
	}
}

// oidOfValues is the type of the column's values (elements for arrays).
func (c *column) oidOfValues() uint32 {
	if c.elem != 0 {
		return c.elem
	}
	return c.oid
}

// Empty reports whether the plan masks nothing: rows go through as they
// are. A nil Plan is empty.
func (p *Plan) Empty() bool { return p == nil || p.active == 0 }

// Stats returns the plan's statistics so far.
func (p *Plan) Stats() *Stats {
	if p == nil {
		return &Stats{}
	}
	return &p.stats
}

// outcome is what masking did to a value.
type outcome uint8

const (
	keep    outcome = iota // unchanged
	changed                // replaced by the bytes appended
	null                   // becomes NULL
)

// Row rewrites a DataRow body (the bytes after the type and length) into
// dst. It returns dst with the new body appended and true when a value
// changed; otherwise dst as given and false, and the caller forwards the
// original. The new body has the same column count, with each value's
// length rewritten.
func (p *Plan) Row(dst, body []byte) ([]byte, bool, error) {
	if p.Empty() {
		return dst, false, nil
	}
	out, n, ok, err := p.row(dst, body)
	if err == nil && n != len(body) {
		err = fmt.Errorf("%w: %d bytes after the last column", ErrMalformed, len(body)-n)
	}
	if err != nil {
		return dst, false, err
	}
	return out, ok, nil
}

// row rewrites the tuple at the start of body (a field count, then a
// length and a value per field) and returns its length.
func (p *Plan) row(dst, body []byte) ([]byte, int, bool, error) {
	if len(body) < 2 {
		return dst, 0, false, fmt.Errorf("%w: row of %d bytes", ErrMalformed, len(body))
	}
	if n := int(binary.BigEndian.Uint16(body)); n != len(p.cols) {
		return dst, 0, false, fmt.Errorf("%w: %d values for %d columns", ErrMalformed, n, len(p.cols))
	}
	start := len(dst)
	done, pos := 0, 2
	started := false
	for i := range p.cols {
		c := &p.cols[i]
		if len(body)-pos < 4 {
			return dst[:start], 0, false, fmt.Errorf("%w: column %d cut short", ErrMalformed, i)
		}
		l := int32(binary.BigEndian.Uint32(body[pos:]))
		vstart := pos
		pos += 4
		if l < 0 {
			if l != -1 {
				return dst[:start], 0, false, fmt.Errorf("%w: column %d has length %d", ErrMalformed, i, l)
			}
			continue
		}
		if int(l) > len(body)-pos {
			return dst[:start], 0, false, fmt.Errorf("%w: column %d has length %d, %d bytes left", ErrMalformed, i, l, len(body)-pos)
		}
		v := body[pos : pos+int(l)]
		pos += int(l)
		if !c.active {
			continue
		}
		out, oc := c.apply(p.tmp[:0], v)
		if oc == keep {
			continue
		}
		if !started {
			started = true
		}
		dst = append(dst, body[done:vstart]...)
		if oc == null {
			dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
		} else {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(out)))
			dst = append(dst, out...)
			p.tmp = out
		}
		done = pos
	}
	if !started {
		return dst[:start], pos, false, nil
	}
	dst = append(dst, body[done:pos]...)
	p.stats.Rows++
	return dst, pos, true, nil
}

// apply masks one value (not NULL) of the column.
func (c *column) apply(dst, v []byte) ([]byte, outcome) {
	if c.strategy != 0 {
		if c.fallback {
			c.st.Nulled++
			return dst, null
		}
		c.st.Masked++
		if c.strategy == mask.Null {
			return dst, null
		}
		var out []byte
		var err error
		if c.elem != 0 {
			out, _, err = c.array(dst, v)
		} else {
			out, err = c.whole(dst, v, c.info, c.strategy)
		}
		if err != nil {
			c.st.Masked--
			c.nulled(err)
			return dst, null
		}
		return out, changed
	}
	if c.elem != 0 {
		out, ok, err := c.array(dst, v)
		if err != nil || !ok {
			return dst, keep
		}
		return out, changed
	}
	return c.scanValue(dst, v)
}

// nulled counts a value set to NULL because it could not be masked.
func (c *column) nulled(err error) {
	c.st.Nulled++
	if c.st.Fallback == "" {
		c.st.Fallback = err.Error()
	}
}

// scanValue runs the content detectors over one value.
func (c *column) scanValue(dst, v []byte) ([]byte, outcome) {
	start := len(dst)
	if c.info.kind == kJSONB && c.binary {
		if len(v) == 0 || v[0] != 1 {
			return dst, keep
		}
		dst = append(dst, 1)
		v = v[1:]
	}
	out, res := c.sc.Text(dst, v, c.ctx)
	c.st.Found.Add(&res.Counts)
	switch {
	case res.Null:
		return dst[:start], null
	case !res.Changed:
		return dst[:start], keep
	}
	if c.info.kind == kText {
		out = c.fitText(out, start)
	}
	return out, changed
}
