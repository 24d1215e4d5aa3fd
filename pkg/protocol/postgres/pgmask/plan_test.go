package pgmask

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/pkg/mask"
)

func field(name string, oid uint32, format int16) pgproto3.FieldDescription {
	return pgproto3.FieldDescription{Name: []byte(name), DataTypeOID: oid, TypeModifier: -1, Format: format}
}

func rowBody(t testing.TB, vals ...[]byte) []byte {
	t.Helper()
	b, err := (&pgproto3.DataRow{Values: vals}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b[5:]
}

func decodeRow(t testing.TB, body []byte) [][]byte {
	t.Helper()
	var dr pgproto3.DataRow
	if err := dr.Decode(body); err != nil {
		t.Fatal(err)
	}
	return dr.Values
}

// byName is a resolver from column names to rules.
type byName map[string]Rule

func (b byName) Rule(_ context.Context, name string, _ uint32, _ int16) (Rule, error) {
	return b[name], nil
}

func TestEmptyPlan(t *testing.T) {
	var nilPlan *Plan
	if !nilPlan.Empty() {
		t.Error("nil plan is not empty")
	}
	if out, ok, err := nilPlan.Row([]byte("x"), []byte("garbage")); string(out) != "x" || ok || err != nil {
		t.Errorf("nil plan Row = %q %v %v", out, ok, err)
	}
	p, err := Compile(t.Context(), []pgproto3.FieldDescription{field("a", pgtype.TextOID, 0)}, byName{})
	if err != nil || !p.Empty() {
		t.Fatalf("plan without rules: empty %v, %v", p.Empty(), err)
	}
	// A detector rule on a column the detectors cannot read is no work.
	p, _ = Compile(t.Context(), []pgproto3.FieldDescription{field("n", pgtype.Int4OID, 1)}, byName{"n": {Masker: testMasker(t, mask.Defaults)}})
	if !p.Empty() {
		t.Error("detectors on an int4 column make the plan non-empty")
	}
}

func TestRowErrors(t *testing.T) {
	p, err := Compile(t.Context(), []pgproto3.FieldDescription{field("a", pgtype.TextOID, 0), field("b", pgtype.TextOID, 0)},
		byName{"b": {Strategy: mask.Redact}})
	if err != nil {
		t.Fatal(err)
	}
	good := rowBody(t, []byte("x"), []byte("y"))
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"one column", rowBody(t, []byte("x"))},
		{"three columns", rowBody(t, []byte("x"), []byte("y"), []byte("z"))},
		{"cut short", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"length -2", []byte{0, 2, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xfe}},
		{"length past the end", []byte{0, 2, 0, 0, 0, 1, 'x', 0, 0, 0, 9, 'y'}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := p.Row(nil, c.body); !errors.Is(err, ErrMalformed) {
				t.Errorf("Row = %v, want ErrMalformed", err)
			}
		})
	}
	out, ok, err := p.Row([]byte("keep:"), good)
	if err != nil || !ok || !strings.HasPrefix(string(out), "keep:") {
		t.Fatalf("Row = %q %v %v", out, ok, err)
	}
	if v := decodeRow(t, out[5:]); string(v[0]) != "x" || string(v[1]) != "****" {
		t.Errorf("values %q", v)
	}
}

func TestCompileErrors(t *testing.T) {
	fields := []pgproto3.FieldDescription{field("a", pgtype.TextOID, 0)}
	if _, err := Compile(t.Context(), fields, byName{"a": {Strategy: mask.Hash}}); !errors.Is(err, ErrNoKey) {
		t.Errorf("hash without key: %v", err)
	}
	boom := errors.New("catalog down")
	_, err := Compile(t.Context(), fields, ResolverFunc(func(context.Context, string, uint32, int16) (Rule, error) { return Rule{}, boom }))
	if !errors.Is(err, boom) {
		t.Errorf("resolver error: %v", err)
	}
}

func TestSetFormats(t *testing.T) {
	// A statement's RowDescription has format 0; the Bind asks for binary.
	p, err := Compile(t.Context(), []pgproto3.FieldDescription{field("n", pgtype.Int4OID, 0)}, byName{"n": {Strategy: mask.Redact}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetFormats([]int16{1}); err != nil {
		t.Fatal(err)
	}
	out, ok, err := p.Row(nil, rowBody(t, []byte{0, 0, 0, 7}))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if v := decodeRow(t, out); string(v[0]) != "\x00\x00\x00\x00" {
		t.Errorf("binary int4 redacted to %q", v[0])
	}
	if err := p.SetFormats([]int16{0, 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("two codes for one column: %v", err)
	}
}

// TestValues covers text-format cases the round trip does not: array
// literals, DateStyle, bpchar padding after detectors.
func TestValues(t *testing.T) {
	m := testMasker(t, mask.Defaults)
	for _, c := range []struct {
		name   string
		oid    uint32
		typmod int32
		rule   Rule
		in     string
		want   string // "NULL" for NULL
	}{
		{"array bounds prefix", pgtype.TextArrayOID, -1, Rule{Strategy: mask.Redact}, `[0:1]={a,b}`, `[0:1]={****,****}`},
		{"nested array", pgtype.TextArrayOID, -1, Rule{Strategy: mask.Partial}, `{{"a b","c,d"},{NULL,e}}`, `{{"* *","*,*"},{NULL,*}}`},
		{"array element quoting", pgtype.TextArrayOID, -1, Rule{Masker: m}, `{"mail ada@example.com",x}`, `{"mail ***@*******.***",x}`},
		{"array with escapes", pgtype.TextArrayOID, -1, Rule{Masker: m}, `{"say \"bob@example.com\"\\"}`, `{"say \"***@*******.***\"\\"}`},
		{"array null element kept", pgtype.Int4ArrayOID, -1, Rule{Strategy: mask.Redact}, `{1,NULL,3}`, `{0,NULL,0}`},
		{"date in SQL style", pgtype.DateOID, -1, Rule{Strategy: mask.Redact}, `07/14/1985`, "NULL"},
		{"date infinity", pgtype.DateOID, -1, Rule{Strategy: mask.Redact}, `infinity`, "infinity"},
		{"timestamptz with offset", pgtype.TimestamptzOID, -1, Rule{Strategy: mask.Redact}, `2024-01-15 10:30:00.5+05:30`, "1970-01-01 00:00:00+00"},
		{"bpchar padded after detectors", pgtype.BPCharOID, 24 + 4, Rule{Masker: m}, `{"pan": 4111111111111111}`, `{"pan": 0}` + strings.Repeat(" ", 14)},
		{"varchar truncated", pgtype.VarcharOID, 2 + 4, Rule{Strategy: mask.Redact}, `abc`, `**`},
		{"bytea escape format", pgtype.ByteaOID, -1, Rule{Strategy: mask.Redact}, `abc\\`, ``},
		{"numeric NaN stays", pgtype.NumericOID, -1, Rule{Strategy: mask.Redact}, `NaN`, `NaN`},
		{"malformed int", pgtype.Int4OID, -1, Rule{Strategy: mask.Redact}, `12x`, "NULL"},
		{"composite text output", pgtype.RecordOID, -1, Rule{Masker: m}, `(1,"ada@example.com",)`, `(1,"***@*******.***",)`},
		{"composite rule falls back", pgtype.RecordOID, -1, Rule{Strategy: mask.Redact}, `(1,x)`, "NULL"},
		{"null strategy of a detector", pgtype.TextOID, -1, Rule{Masker: nullOnEmail(t)}, `to ada@example.com`, "NULL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := field("c", c.oid, 0)
			f.TypeModifier = c.typmod
			p, err := Compile(t.Context(), []pgproto3.FieldDescription{f}, byName{"c": c.rule})
			if err != nil {
				t.Fatal(err)
			}
			out, ok, err := p.Row(nil, rowBody(t, []byte(c.in)))
			if err != nil {
				t.Fatal(err)
			}
			got := c.in
			if ok {
				v := decodeRow(t, out)[0]
				got = string(v)
				if v == nil {
					got = "NULL"
				}
			}
			if got != c.want {
				t.Errorf("%q became %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func nullOnEmail(t *testing.T) *mask.Masker {
	m, err := mask.New(mask.Config{Detectors: mask.Defaults, Strategies: map[mask.Detector]mask.Strategy{mask.Email: mask.Null}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeCatalog is a Catalog of fixed relations.
type fakeCatalog map[uint32][3]string // schema, table, column 1

func (f fakeCatalog) Relation(_ context.Context, oid uint32) (string, string, map[int16]string, error) {
	r, ok := f[oid]
	if !ok {
		return "", "", nil, ErrNoRelation
	}
	return r[0], r[1], map[int16]string{1: r[2]}, nil
}

func TestRuleSet(t *testing.T) {
	m := testMasker(t, mask.Defaults)
	cat := fakeCatalog{100: {"public", "customers", "email"}, 200: {"billing", "cards", "PAN"}}
	rs, err := NewRuleSet(RuleSetConfig{
		Columns: []ColumnRule{
			{Name: "pan", Pattern: "billing.*.pan", Strategy: mask.Partial},
			{Name: "email", Pattern: "*email*", Strategy: mask.Hash},
			{Name: "ssn hint", Pattern: "*ssn*", Hint: mask.Of(mask.SSN)},
		},
		Content: m, Catalog: cat,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		field    string
		oid      uint32
		attr     int16
		strategy mask.Strategy
		hint     mask.Set
		content  bool
	}{
		{"three-part glob through the catalog", "x", 200, 1, mask.Partial, 0, false},
		{"bare glob on the catalog name", "alias", 100, 1, mask.Hash, 0, false},
		{"bare glob on the result's name", "user_email", 0, 0, mask.Hash, 0, false},
		{"hint only", "ssn", 0, 0, 0, mask.Of(mask.SSN), true},
		{"other columns get the detectors", "notes", 100, 2, 0, 0, true},
		{"unknown relation", "pan", 999, 1, 0, 0, true},
		{"no table (UNION, expression): a three-part rule's column by label", "pan", 0, 0, mask.Partial, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := rs.Rule(t.Context(), c.field, c.oid, c.attr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Strategy != c.strategy || r.Hint != c.hint || (r.Masker == m && r.Strategy == 0) != c.content {
				t.Errorf("Rule = %+v", r)
			}
		})
	}
	whole, err := NewRuleSet(RuleSetConfig{Whole: mask.Redact})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := whole.Rule(t.Context(), "anything", 0, 0); r.Strategy != mask.Redact {
		t.Errorf("whole result: %+v", r)
	}
	for _, bad := range []RuleSetConfig{
		{Columns: []ColumnRule{{Pattern: "a.b", Strategy: mask.Redact}}},
		{Columns: []ColumnRule{{Pattern: "[", Strategy: mask.Redact}}},
		{Columns: []ColumnRule{{Pattern: "s.t.c", Strategy: mask.Redact}}},
	} {
		if _, err := NewRuleSet(bad); !errors.Is(err, ErrPattern) {
			t.Errorf("NewRuleSet(%+v) = %v, want ErrPattern", bad.Columns, err)
		}
	}
	if _, err := NewRuleSet(RuleSetConfig{Columns: []ColumnRule{{Pattern: "x", Strategy: mask.Hash}}}); !errors.Is(err, ErrNoKey) {
		t.Errorf("hash rule without key: %v", err)
	}
}

// TestFallbackCounts checks that values a strategy cannot produce for
// their type are counted as fallback_null, with a reason naming the type
// and the strategy and never the value.
func TestFallbackCounts(t *testing.T) {
	for _, format := range []int16{0, 1} {
		p, err := Compile(t.Context(), []pgproto3.FieldDescription{field("account_no", pgtype.Int8OID, format)},
			byName{"account_no": {Strategy: mask.Partial, Name: "pii:account_no"}})
		if err != nil {
			t.Fatal(err)
		}
		v := []byte("4111111111111111")
		if format == 1 {
			v = []byte{0, 0x0e, 0x9a, 0xf6, 0x5b, 0x1d, 0x3f, 0x87}
		}
		for range 2 {
			out, changed, err := p.Row(nil, rowBody(t, v))
			if err != nil || !changed || decodeRow(t, out)[0] != nil {
				t.Fatalf("format %d: %v %v %v", format, decodeRow(t, out), changed, err)
			}
		}
		got := p.Stats().Counts()
		want := Count{Column: "account_no", Detector: "fallback_null", N: 2, Reason: "partial cannot produce a valid int8 value"}
		if len(got) != 1 || got[0] != want {
			t.Errorf("format %d: counts %+v, want %+v", format, got, want)
		}
	}
}
