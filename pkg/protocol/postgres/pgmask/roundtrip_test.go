package pgmask

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/pkg/mask"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func testMasker(t testing.TB, detectors mask.Set) *mask.Masker {
	t.Helper()
	k, err := mask.NewKey([]byte("pgmask test key, 32 bytes long.."))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mask.New(mask.Config{Detectors: detectors, Region: "US", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// typeCase is one type of the round-trip table, with a sample value.
type typeCase struct {
	name   string
	oid    uint32
	typmod int32
	value  any
}

var typeCases = []typeCase{
	{"text", pgtype.TextOID, -1, "Ada Lovelace <ada@example.com>"},
	{"varchar(5)", pgtype.VarcharOID, 5 + 4, "Hello"},
	{"bpchar(8)", pgtype.BPCharOID, 8 + 4, "AB12    "},
	{"name", pgtype.NameOID, -1, "customers"},
	{"json", pgtype.JSONOID, -1, map[string]any{"email": "ada@example.com", "pan": 4111111111111111}},
	{"jsonb", pgtype.JSONBOID, -1, map[string]any{"email": "ada@example.com", "pan": "4111 1111 1111 1111"}},
	{"xml", pgtype.XMLOID, -1, []byte("<contact>ada@example.com</contact>")},
	{"bytea", pgtype.ByteaOID, -1, []byte{0xde, 0xad, 0xbe, 0xef}},
	{"int2", pgtype.Int2OID, -1, int16(1234)},
	{"int4", pgtype.Int4OID, -1, int32(123456)},
	{"int8", pgtype.Int8OID, -1, int64(1234567890123)},
	{"numeric", pgtype.NumericOID, -1, mustNumeric("-12345.678")},
	{"numeric small", pgtype.NumericOID, -1, mustNumeric("0.00012")},
	{"float4", pgtype.Float4OID, -1, float32(3.25)},
	{"float8", pgtype.Float8OID, -1, 2.718281828},
	{"uuid", pgtype.UUIDOID, -1, mustUUID("550e8400-e29b-41d4-a716-446655441234")},
	{"date", pgtype.DateOID, -1, time.Date(1985, 7, 14, 0, 0, 0, 0, time.UTC)},
	{"timestamp", pgtype.TimestampOID, -1, time.Date(2024, 1, 15, 10, 30, 0, 123456000, time.UTC)},
	{"timestamptz", pgtype.TimestamptzOID, -1, time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)},
	{"inet", pgtype.InetOID, -1, netip.MustParsePrefix("192.168.1.5/24")},
	{"inet6", pgtype.InetOID, -1, netip.MustParsePrefix("2001:db8::1/128")},
	{"cidr", pgtype.CIDROID, -1, netip.MustParsePrefix("10.20.0.0/16")},
	{"bool", pgtype.BoolOID, -1, true},
	{"text[]", pgtype.TextArrayOID, -1, []*string{ptr("ada@example.com"), nil, ptr("two words"), ptr("")}},
	{"varchar(4)[]", pgtype.VarcharArrayOID, 4 + 4, []string{"abcd", "x"}},
	{"int4[]", pgtype.Int4ArrayOID, -1, [][]int32{{1, 2}, {3, 4}}},
	{"uuid[]", pgtype.UUIDArrayOID, -1, []pgtype.UUID{mustUUID("550e8400-e29b-41d4-a716-446655440000")}},
	{"jsonb[]", pgtype.JSONBArrayOID, -1, []map[string]any{{"mail": "bob@example.com"}}},
	{"date[]", pgtype.DateArrayOID, -1, []time.Time{time.Date(1985, 7, 14, 0, 0, 0, 0, time.UTC)}},
}

func ptr[T any](v T) *T { return &v }

func mustNumeric(s string) pgtype.Numeric {
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		panic(err)
	}
	return n
}

func mustUUID(s string) pgtype.UUID {
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		panic(err)
	}
	return u
}

// maskOne masks one encoded value through a one-column plan and returns
// the new value (nil for NULL) and the column's statistics.
func maskOne(t *testing.T, c typeCase, format int16, rule Rule, enc []byte) ([]byte, ColumnStats) {
	t.Helper()
	fields := []pgproto3.FieldDescription{{Name: []byte("c"), DataTypeOID: c.oid, TypeModifier: c.typmod, Format: format}}
	p, err := Compile(context.Background(), fields, ResolverFunc(func(context.Context, string, uint32, int16) (Rule, error) { return rule, nil }))
	if err != nil {
		t.Fatal(err)
	}
	row, err := (&pgproto3.DataRow{Values: [][]byte{enc}}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	body := row[5:]
	out, changed, err := p.Row(nil, body)
	if err != nil {
		t.Fatalf("Row: %v", err)
	}
	if !changed {
		return enc, p.Stats().Columns[0]
	}
	var dr pgproto3.DataRow
	if err := dr.Decode(out); err != nil {
		t.Fatalf("masked row does not decode: %v", err)
	}
	return dr.Values[0], p.Stats().Columns[0]
}

// TestRoundTrip masks a value of every type in text and binary format
// with every strategy, decodes the result with pgx's type map, and
// compares what it shows with testdata/roundtrip.golden.
func TestRoundTrip(t *testing.T) {
	m := testMasker(t, 0)
	tm := pgtype.NewMap()
	var golden strings.Builder
	for _, c := range typeCases {
		for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			enc, err := tm.Encode(c.oid, format, c.value, nil)
			if err != nil {
				t.Fatalf("%s: encode: %v", c.name, err)
			}
			typ, _ := tm.TypeForOID(c.oid)
			for st := mask.Redact; st <= mask.Null; st++ {
				name := fmt.Sprintf("%s/%s/%v", c.name, []string{"text", "binary"}[format], st)
				t.Run(name, func(t *testing.T) {
					got, cs := maskOne(t, c, format, Rule{Strategy: st, Masker: m}, enc)
					var shown string
					switch {
					case got == nil:
						shown = "NULL"
						if st != mask.Null && cs.Fallback == "" {
							t.Errorf("NULL without a fallback reason")
						}
					default:
						v, err := typ.Codec.DecodeValue(tm, c.oid, format, got)
						if err != nil {
							t.Fatalf("masked %q does not decode: %v", got, err)
						}
						shown = fmt.Sprint(deref(v))
						if c.oid == pgtype.XMLOID {
							shown = string(got)
						}
						if string(got) == string(enc) && !(c.oid == pgtype.CIDROID && st == mask.Partial) {
							t.Errorf("value unchanged: %q", got)
						}
						checkLength(t, c, format, got)
					}
					fmt.Fprintf(&golden, "%-28s %s\n", name, shown)
				})
			}
		}
	}
	compareGolden(t, "roundtrip.golden", golden.String())
}

func deref(v any) any {
	switch x := v.(type) {
	case []byte:
		return fmt.Sprintf("%x", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case [16]byte:
		return fmt.Sprintf("%x", x)
	case pgtype.Numeric:
		s, _ := x.Value()
		return s
	}
	return v
}

// checkLength holds masked text to its typmod.
func checkLength(t *testing.T, c typeCase, format int16, got []byte) {
	t.Helper()
	if c.typmod < 4 || format != pgtype.TextFormatCode || (c.oid != pgtype.BPCharOID && c.oid != pgtype.VarcharOID) {
		return
	}
	n := utf8.RuneCount(got)
	want := int(c.typmod - 4)
	if c.oid == pgtype.BPCharOID && n != want || n > want {
		t.Errorf("%q has %d characters, type allows %d", got, n, want)
	}
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking):\n%s", path, diffLines(string(want), got))
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "-%s\n+%s\n", x, y)
		}
	}
	return out.String()
}

// TestRoundTripDetectors runs the content detectors over text-like types
// in both formats: what they find is masked, and the value still decodes.
func TestRoundTripDetectors(t *testing.T) {
	m := testMasker(t, mask.Defaults)
	tm := pgtype.NewMap()
	for _, c := range []typeCase{
		{"text", pgtype.TextOID, -1, "card 4111 1111 1111 1111, mail ada@example.com"},
		{"bpchar(40)", pgtype.BPCharOID, 44, `{"pan": 4111111111111111}`},
		{"json", pgtype.JSONOID, -1, map[string]any{"email": "ada@example.com", "pan": 4111111111111111, "note": "call +1 (415) 555-2671"}},
		{"jsonb", pgtype.JSONBOID, -1, map[string]any{"email": "ada@example.com", "pan": 4111111111111111}},
		{"xml", pgtype.XMLOID, -1, []byte(`<c mail="ada@example.com">4111-1111-1111-1111</c>`)},
		{"text[]", pgtype.TextArrayOID, -1, []*string{ptr("ada@example.com"), nil, ptr("card 4111 1111 1111 1111"), ptr("clean")}},
		{"jsonb[]", pgtype.JSONBArrayOID, -1, []map[string]any{{"pan": 4111111111111111}}},
	} {
		for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			t.Run(fmt.Sprintf("%s/%d", c.name, format), func(t *testing.T) {
				enc, err := tm.Encode(c.oid, format, c.value, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, cs := maskOne(t, c, format, Rule{Masker: m}, enc)
				if string(got) == string(enc) || cs.Found.Total() == 0 {
					t.Fatalf("nothing masked in %q", enc)
				}
				typ, _ := tm.TypeForOID(c.oid)
				v, err := typ.Codec.DecodeValue(tm, c.oid, format, got)
				if err != nil {
					t.Fatalf("masked %q does not decode: %v", got, err)
				}
				s := fmt.Sprint(v)
				for _, raw := range []string{"ada@", "4111", "555-2671"} {
					if strings.Contains(s, raw) {
						t.Errorf("%q still shows %q: %s", got, raw, s)
					}
				}
				checkLength(t, c, format, got)
			})
		}
	}
}
