package pgmask

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/pkg/mask"
)

func copyPlan(t *testing.T) *Plan {
	t.Helper()
	m := testMasker(t, mask.Defaults)
	p, err := Compile(t.Context(), []pgproto3.FieldDescription{
		field("id", pgtype.Int4OID, 0), field("note", pgtype.TextOID, 0), field("ssn", pgtype.TextOID, 0),
	}, byName{"note": {Masker: m}, "ssn": {Strategy: mask.Partial}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCopyText(t *testing.T) {
	for _, c := range []struct {
		name string
		f    CopyFormat
		in   string
		want string // "" when unchanged
	}{
		{"text", CopyFormat{}, "1\tmail ada@example.com\t123-45-6789\n", "1\tmail ***@*******.***\t***-**-6789\n"},
		{"text escapes kept", CopyFormat{}, "1\tline\\nada@example.com\\ttab\t\\N\n", "1\tline\\n***@*******.***\\ttab\t\\N\n"},
		{"text clean row unchanged", CopyFormat{}, "2\tnothing\t\\N\n", ""},
		{"text two rows in one message", CopyFormat{}, "1\ta\tx\n2\tb@example.com\t\\N\n", "1\ta\t*\n2\t*@*******.***\t\\N\n"},
		{"custom delimiter and null", CopyFormat{Delimiter: '|', Null: "null"}, "1|ada@example.com|null\n", "1|***@*******.***|null\n"},
		{"csv", CopyFormat{Kind: CopyCSV}, "1,\"mail, ada@example.com\",123-45-6789\n", "1,\"mail, ***@*******.***\",***-**-6789\n"},
		{"csv quotes doubled", CopyFormat{Kind: CopyCSV}, "1,\"say \"\"ada@example.com\"\"\",\n", "1,\"say \"\"***@*******.***\"\"\",\n"},
		{"csv empty string is not null", CopyFormat{Kind: CopyCSV}, "1,x,\"\"\n", "1,x,\"\"\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := copyPlan(t).Copy(c.f)
			out, ok, err := r.Data(nil, []byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if ok {
				got = string(out)
			}
			if got != c.want {
				t.Errorf("%q became %q, want %q", c.in, got, c.want)
			}
		})
	}
	for _, bad := range []string{"1\tx\n", "1\tx\ty\tz\n", "1\tx\ty", "1\tx\\"} {
		if _, _, err := copyPlan(t).Copy(CopyFormat{}).Data(nil, []byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCopyBinary(t *testing.T) {
	hdr := append(append([]byte{}, pgcopySignature...), 0, 0, 0, 0, 0, 0, 0, 0)
	tuple := rowBody(t, []byte{0, 0, 0, 1}, []byte("ada@example.com"), []byte("123-45-6789"))
	r := copyPlan(t).Copy(CopyFormat{Kind: CopyBinary})
	out, ok, err := r.Data(nil, append(append([]byte{}, hdr...), tuple...))
	if err != nil || !ok {
		t.Fatalf("header and tuple: %v %v", ok, err)
	}
	if v := decodeRow(t, out[len(hdr):]); string(v[1]) != "***@*******.***" || string(v[2]) != "***-**-6789" {
		t.Errorf("tuple %q", v)
	}
	if _, ok, err := r.Data(nil, []byte{0xff, 0xff}); ok || err != nil {
		t.Errorf("trailer: %v %v", ok, err)
	}
	if _, _, err := r.Data(nil, tuple); !errors.Is(err, ErrMalformed) {
		t.Errorf("data after the trailer: %v", err)
	}
	r = copyPlan(t).Copy(CopyFormat{Kind: CopyBinary})
	if _, _, err := r.Data(nil, tuple); !errors.Is(err, ErrMalformed) {
		t.Errorf("no signature: %v", err)
	}
	r = copyPlan(t).Copy(CopyFormat{Kind: CopyBinary})
	if _, _, err := r.Data(nil, append(append([]byte{}, hdr...), tuple[:len(tuple)-3]...)); !errors.Is(err, ErrCopyFraming) {
		t.Errorf("tuple split across messages: %v", err)
	}
}
