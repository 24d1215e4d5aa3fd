package pgmask

import (
	"bytes"
	"context"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/pkg/mask"
)

// FuzzValue masks arbitrary bytes as a value of every type in the round
// trip table, in both formats, with every strategy and with the
// detectors: no panic, and a value pgx could decode before masking still
// decodes after it.
func FuzzValue(f *testing.F) {
	tm := pgtype.NewMap()
	for i, c := range typeCases {
		for format := int16(0); format < 2; format++ {
			if enc, err := tm.Encode(c.oid, format, c.value, nil); err == nil {
				f.Add(uint8(i), uint8(format), uint8(i), enc)
			}
		}
	}
	f.Add(uint8(0), uint8(0), uint8(0), []byte("card 4111 1111 1111 1111 \\\"x\" ada@example.com"))
	m := testMasker(f, mask.All)
	f.Fuzz(func(t *testing.T, typ, format, strat uint8, data []byte) {
		c := typeCases[int(typ)%len(typeCases)]
		code := int16(format % 2)
		rule := Rule{Masker: m}
		if s := mask.Strategy(strat % 5); s != 0 {
			rule.Strategy = s
		}
		pt, _ := tm.TypeForOID(c.oid)
		_, inErr := pt.Codec.DecodeValue(tm, c.oid, code, data)
		got, _ := maskOne(t, c, code, rule, data)
		if got == nil {
			return
		}
		if inErr == nil {
			if _, err := pt.Codec.DecodeValue(tm, c.oid, code, got); err != nil {
				t.Fatalf("%s/%d/%v: %q decoded, masked %q does not: %v", c.name, code, rule.Strategy, data, got, err)
			}
		}
		if code == 0 && utf8.Valid(data) && !utf8.Valid(got) {
			t.Fatalf("%s: invalid UTF-8 %q from %q", c.name, got, data)
		}
	})
}

// fuzzPlan is a plan over four columns: text with detectors, binary int4
// hashed, text[] partial, jsonb with detectors in binary.
func fuzzPlan(t testing.TB) *Plan {
	m := testMasker(t, mask.All)
	p, err := Compile(context.Background(), []pgproto3.FieldDescription{
		field("note", pgtype.TextOID, 0), field("n", pgtype.Int4OID, 1),
		field("tags", pgtype.TextArrayOID, 0), field("doc", pgtype.JSONBOID, 1),
	}, byName{"note": {Masker: m}, "n": {Strategy: mask.Hash, Masker: m}, "tags": {Strategy: mask.Partial}, "doc": {Masker: m}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzRow feeds arbitrary DataRow bodies to a plan: no panic, and a
// rewritten body is a valid DataRow with as many values, each NULL or
// with its length right.
func FuzzRow(f *testing.F) {
	f.Add(rowBody(f, []byte("mail ada@example.com"), []byte{0, 0, 0, 7}, []byte(`{a,"b c",NULL}`), []byte("\x01{\"pan\": 4111111111111111}")))
	f.Add(rowBody(f, nil, nil, nil, nil))
	f.Add(rowBody(f, []byte("x"), []byte{1}, []byte("{"), []byte{2}))
	p := fuzzPlan(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, ok, err := p.Row(nil, body)
		if err != nil || !ok {
			return
		}
		var dr pgproto3.DataRow
		if err := dr.Decode(out); err != nil || len(dr.Values) != 4 {
			t.Fatalf("rewritten row %q: %v", out, err)
		}
		in := decodeRow(t, body)
		for i := range in {
			if i != 1 && utf8.Valid(in[i]) && !utf8.Valid(dr.Values[i]) {
				t.Fatalf("column %d: invalid UTF-8 %q from %q", i, dr.Values[i], in[i])
			}
		}
	})
}

// FuzzCopy feeds arbitrary COPY data, text, CSV or binary: no panic; a
// rewritten text or CSV payload keeps its row count and UTF-8; a binary
// one still frames as tuples.
func FuzzCopy(f *testing.F) {
	f.Add(uint8(0), []byte("1\tmail ada@example.com\t123-45-6789\n"))
	f.Add(uint8(1), []byte("1,\"say \"\"ada@example.com\"\"\",x\n"))
	f.Add(uint8(2), append(append([]byte{}, pgcopySignature...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, '1', 0, 0, 0, 3, 'a', '@', 'b', 0xff, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := CopyKind(kind % 3)
		r := copyPlan(t).Copy(CopyFormat{Kind: k})
		out, ok, err := r.Data(nil, data)
		if err != nil || !ok {
			return
		}
		if k == CopyBinary {
			return // framed by the same code as Row; FuzzRow checks it
		}
		if utf8.Valid(data) && !utf8.Valid(out) {
			t.Fatalf("invalid UTF-8 %q from %q", out, data)
		}
		if k == CopyText && bytes.Count(out, []byte("\n")) != bytes.Count(data, []byte("\n")) {
			t.Fatalf("rows changed: %q from %q", out, data)
		}
		if bytes.Count(out, []byte{'\t'}) != bytes.Count(data, []byte{'\t'}) && k == CopyText {
			t.Fatalf("fields changed: %q from %q", out, data)
		}
	})
}
