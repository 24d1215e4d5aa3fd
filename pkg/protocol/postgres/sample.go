package postgres

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"
	"github.com/sluicehq/sluice/pkg/record"
)

// sampleNull stands for SQL NULL in a sample's cells.
const sampleNull = "NULL"

// sampler keeps the first rows of the result being streamed, as the
// client receives them (masked, when masking applies), for the result
// event of its statement. It is used by the upstream side only. Its
// memory is bounded by record's sample limits, whatever the result.
type sampler struct {
	max   int      // rows kept per result (recording.sample_rows); 0: off
	of    *audited // the statement whose rows are sampled; nil: none
	ncols int      // columns of the result
	cols  []sampleCol
	s     *record.Sample
	bytes int    // cell bytes kept
	buf   []byte // rendering scratch
}

// sampleCol is how a column's values are rendered.
type sampleCol struct {
	oid    uint32
	binary bool
}

// start begins the sample of a's result, whose columns are fields. It
// does nothing unless the session samples results and a's statement event
// was recorded.
func (sp *sampler) start(a *audited, fields []pgproto3.FieldDescription) {
	sp.of, sp.s = nil, nil
	if sp.max <= 0 || a == nil || !a.recorded {
		return
	}
	n := min(len(fields), record.MaxSampleCols)
	sp.of, sp.ncols, sp.bytes = a, len(fields), 0
	sp.s = &record.Sample{Columns: make([]string, n), Cut: n < len(fields)}
	sp.cols = sp.cols[:0]
	for i, f := range fields[:n] {
		sp.s.Columns[i] = cutText(string(f.Name), record.MaxNameLen)
		sp.cols = append(sp.cols, sampleCol{oid: f.DataTypeOID, binary: f.Format == 1})
	}
}

// wants reports whether the next row goes into the sample.
func (sp *sampler) wants() bool {
	return sp.s != nil && len(sp.s.Rows) < min(sp.max, record.MaxSampleRows) && sp.bytes < record.MaxSampleBytes
}

// add samples one DataRow body. A row that does not match the description
// ends the sample, marked cut (the row itself goes to the client as the
// server sent it).
func (sp *sampler) add(body []byte) {
	if len(body) < 2 || int(binary.BigEndian.Uint16(body)) != sp.ncols {
		sp.stop()
		return
	}
	row := make([]string, len(sp.cols))
	pos := 2
	for c := range sp.ncols {
		if pos+4 > len(body) {
			sp.stop()
			return
		}
		l := int32(binary.BigEndian.Uint32(body[pos:]))
		pos += 4
		if l < -1 || int(l) > len(body)-pos {
			sp.stop()
			return
		}
		if c < len(sp.cols) {
			if l == -1 {
				row[c] = sampleNull
			} else {
				row[c] = sp.render(sp.cols[c], body[pos:pos+int(l)])
			}
			sp.bytes += len(row[c])
		}
		pos += max(int(l), 0)
	}
	sp.s.Rows = append(sp.s.Rows, row)
	if sp.bytes >= record.MaxSampleBytes {
		sp.s.Cut = true
	}
}

// render gives a cell's text, at most record.MaxSampleCell bytes: a
// text-format value as it is; a binary one as its type's text output when
// pgmask knows the type, else a placeholder with its size (never its
// bytes: a type the masker cannot read in binary is a type it does not
// scan either).
func (sp *sampler) render(col sampleCol, v []byte) string {
	if !col.binary {
		if len(v) > record.MaxSampleCell {
			sp.s.Cut = true
			return cutText(string(v[:record.MaxSampleCell+1]), record.MaxSampleCell)
		}
		return string(v)
	}
	out, cut, ok := pgmask.AppendText(sp.buf[:0], col.oid, v, record.MaxSampleCell)
	if !ok {
		return "<binary, " + strconv.Itoa(len(v)) + " bytes>"
	}
	sp.buf = out
	sp.s.Cut = sp.s.Cut || cut
	return string(out)
}

// stop ends the sample where it is, marked cut.
func (sp *sampler) stop() {
	if sp.s != nil {
		sp.s.Cut = true
	}
	sp.done()
}

// done hands the sample to its statement, if it has rows.
func (sp *sampler) done() {
	if sp.of != nil && sp.s != nil && len(sp.s.Rows) > 0 {
		sp.of.sample = sp.s
	}
	sp.of, sp.s = nil, nil
}

// cutText cuts s to at most n bytes, dropping a rune the cut would split.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
