package pgmask

import (
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestAppendText renders the binary values of the round-trip table as
// PostgreSQL prints them, and refuses the types it does not know.
func TestAppendText(t *testing.T) {
	want := map[string]string{
		"text": "Ada Lovelace <ada@example.com>", "varchar(5)": "Hello", "bpchar(8)": "AB12    ", "name": "customers",
		"json": `{"email":"ada@example.com","pan":4111111111111111}`, "jsonb": `{"email":"ada@example.com","pan":"4111 1111 1111 1111"}`,
		"xml": "<contact>ada@example.com</contact>", "bytea": `\xdeadbeef`,
		"int2": "1234", "int4": "123456", "int8": "1234567890123",
		"numeric": "-12345.678", "numeric small": "0.00012", "float4": "3.25", "float8": "2.718281828",
		"uuid": "550e8400-e29b-41d4-a716-446655441234", "date": "1985-07-14",
		"timestamp": "2024-01-15 10:30:00.123456", "timestamptz": "2024-01-15 10:30:00+00",
		"inet": "192.168.1.5/24", "inet6": "2001:db8::1", "cidr": "10.20.0.0/16", "bool": "t",
	}
	tm := pgtype.NewMap()
	for _, c := range typeCases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := tm.Encode(c.oid, pgtype.BinaryFormatCode, c.value, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, cut, ok := AppendText([]byte("prefix:"), c.oid, enc, 256)
			w, known := want[c.name]
			switch {
			case !known && ok:
				t.Errorf("rendered %q, want a refusal (arrays are not rendered)", out)
			case !known:
				if string(out) != "prefix:" {
					t.Errorf("a refusal changed dst: %q", out)
				}
			case !ok || cut || string(out) != "prefix:"+w:
				t.Errorf("got %q (cut %v, ok %v), want %q", out, cut, ok, "prefix:"+w)
			}
			if known {
				// What pgx reads from the text is what it reads from
				// the binary value.
				pt, _ := tm.TypeForOID(c.oid)
				if _, err := pt.Codec.DecodeValue(tm, c.oid, pgtype.TextFormatCode, []byte(w)); err != nil {
					t.Errorf("pgx cannot read %q back: %v", w, err)
				}
			}
		})
	}
}

func TestAppendTextEdges(t *testing.T) {
	be := func(b ...byte) []byte { return b }
	for _, c := range []struct {
		name  string
		oid   uint32
		v     []byte
		limit int
		want  string
		cut   bool
		ok    bool
	}{
		{"NaN float8", pgtype.Float8OID, be(0x7f, 0xf8, 0, 0, 0, 0, 0, 1), 256, "NaN", false, true},
		{"-Infinity float4", pgtype.Float4OID, be(0xff, 0x80, 0, 0), 256, "-Infinity", false, true},
		{"infinite date", pgtype.DateOID, be(0x7f, 0xff, 0xff, 0xff), 256, "infinity", false, true},
		{"-infinite timestamp", pgtype.TimestampOID, be(0x80, 0, 0, 0, 0, 0, 0, 0), 256, "-infinity", false, true},
		{"timestamp before 2000", pgtype.TimestampOID, be(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 256, "1999-12-31 23:59:59.999999", false, true},
		{"timestamp BC", pgtype.TimestampOID, be(0x80, 0, 0, 0, 0, 0, 0, 1), 256, "", false, false},
		{"false", pgtype.BoolOID, be(0), 256, "f", false, true},
		{"bool out of range", pgtype.BoolOID, be(2), 256, "", false, false},
		{"short int4", pgtype.Int4OID, be(0, 1), 256, "", false, false},
		{"jsonb of another version", pgtype.JSONBOID, []byte("\x02{}"), 256, "", false, false},
		{"inet with a wrong length", pgtype.InetOID, be(2, 32, 0, 4, 1, 2, 3), 256, "", false, false},
		{"record", 2249, be(0, 0, 0, 0), 256, "", false, false},
		{"user-defined type", 16390, be(1, 2, 3), 256, "", false, false},
		{"text cut at a rune", pgtype.TextOID, []byte("ab€cd"), 4, "ab", true, true},
		{"text cut after a rune", pgtype.TextOID, []byte("ab€cd"), 5, "ab€", true, true},
		{"jsonb cut", pgtype.JSONBOID, []byte("\x01{\"a\": 1}"), 3, `{"a`, true, true},
		{"bytea cut", pgtype.ByteaOID, be(1, 2, 3, 4, 5), 8, `\x010203`, true, true},
		{"numeric cut", pgtype.NumericOID, be(0, 2, 0, 1, 0, 0, 0, 0, 0, 12, 13, 128), 4, "1234", true, true},
		{"no room", pgtype.TextOID, []byte("x"), 0, "", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, cut, ok := AppendText(nil, c.oid, c.v, c.limit)
			if string(out) != c.want || cut != c.cut || ok != c.ok {
				t.Errorf("got %q cut %v ok %v, want %q cut %v ok %v", out, cut, ok, c.want, c.cut, c.ok)
			}
		})
	}
}

// FuzzAppendText renders arbitrary bytes as every type of the round-trip
// table: no panic, never more than the limit, valid UTF-8 for valid UTF-8
// text, and an uncut rendering pgx reads back as the type.
func FuzzAppendText(f *testing.F) {
	tm := pgtype.NewMap()
	for i, c := range typeCases {
		if enc, err := tm.Encode(c.oid, pgtype.BinaryFormatCode, c.value, nil); err == nil {
			f.Add(uint8(i), uint16(256), enc)
		}
	}
	f.Add(uint8(0), uint16(3), []byte("a€b"))
	f.Add(uint8(10), uint16(256), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, typ uint8, limit uint16, data []byte) {
		c := typeCases[int(typ)%len(typeCases)]
		out, cut, ok := AppendText(nil, c.oid, data, int(limit))
		if !ok {
			if len(out) != 0 {
				t.Fatalf("refused, yet wrote %q", out)
			}
			return
		}
		if len(out) > int(limit) {
			t.Fatalf("%s: %d bytes over the limit %d", c.name, len(out), limit)
		}
		text := c.oid == pgtype.TextOID || c.oid == pgtype.VarcharOID || c.oid == pgtype.NameOID
		if text && utf8.Valid(data) && !utf8.Valid(out) {
			t.Fatalf("%s: invalid UTF-8 %q from %q", c.name, out, data)
		}
		if cut || text || c.oid == pgtype.JSONOID || c.oid == pgtype.JSONBOID || c.oid == pgtype.XMLOID || c.oid == pgtype.BPCharOID {
			return // texts are what they are
		}
		pt, _ := tm.TypeForOID(c.oid)
		if _, err := pt.Codec.DecodeValue(tm, c.oid, pgtype.TextFormatCode, out); err != nil {
			t.Fatalf("%s: pgx cannot read %q (from %x): %v", c.name, out, data, err)
		}
	})
}
