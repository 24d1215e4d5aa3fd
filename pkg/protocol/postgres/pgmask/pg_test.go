package pgmask

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/privtest"
)

// requirePG skips t, or fails it when privileged tests are required,
// unless PostgreSQL can run here.
func requirePG(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to run PostgreSQL as the postgres user"
	} else if err := pgtest.Available(); err != nil {
		reason = err.Error()
	}
	if reason == "" {
		return
	}
	if privtest.Required() {
		t.Fatalf("PostgreSQL test cannot run: %s (%s=1)", reason, privtest.RequireEnv)
	}
	t.Skip("skipping PostgreSQL test: " + reason)
}

const seedSQL = `
CREATE TABLE customers (
	id        int4 PRIMARY KEY,
	name      text NOT NULL,
	email     varchar(120),
	ssn       char(11),
	phone     text,
	notes     text,
	doc       jsonb,
	tags      text[],
	balance   numeric(12,2),
	born      date,
	created   timestamptz,
	last_ip   inet,
	ref       uuid,
	score     int8
);
INSERT INTO customers VALUES
 (1, 'Ada Lovelace', 'ada@example.com', '123-45-6789', '+1 (415) 555-2671',
  'Paid with 4111 1111 1111 1111, call back on +44 20 7946 0958',
  '{"card": 4111111111111111, "mail": "ada@example.com", "iban": "DE89 3704 0044 0532 0130 00"}',
  ARRAY['vip', 'grace.hopper@example.org', NULL], 1234.50, '1985-07-14', '2024-01-15 10:30:00+00',
  '192.168.1.5/24', '550e8400-e29b-41d4-a716-446655440000', 9001),
 (2, 'Linus Torvalds', 'linus@example.net', '219-09-9998', '(415) 555-0199',
  'nothing to see here', '{"tier": "gold"}', ARRAY['plain'], -3.25, '1969-12-28', '2023-06-01 08:00:00+02',
  '2001:db8::1', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', -42),
 (3, 'Zoë Müller', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`

func connect(t *testing.T, s *pgtest.Server) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL(s.SuperUser, s.SuperPassword, "postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func fieldsOf(fds []pgconn.FieldDescription) []pgproto3.FieldDescription {
	out := make([]pgproto3.FieldDescription, len(fds))
	for i, f := range fds {
		out[i] = pgproto3.FieldDescription{
			Name: []byte(f.Name), TableOID: f.TableOID, TableAttributeNumber: f.TableAttributeNumber,
			DataTypeOID: f.DataTypeOID, DataTypeSize: f.DataTypeSize, TypeModifier: f.TypeModifier, Format: f.Format,
		}
	}
	return out
}

func customerRules(t *testing.T, cat Catalog) Resolver {
	t.Helper()
	rs, err := NewRuleSet(RuleSetConfig{
		Columns: []ColumnRule{
			{Name: "ssn", Pattern: "public.customers.ssn", Strategy: mask.Partial},
			{Name: "mail", Pattern: "*email*", Strategy: mask.Hash},
			{Name: "score", Pattern: "*.customers.score", Strategy: mask.Hash},
			{Name: "born", Pattern: "public.*.born", Strategy: mask.Redact},
			{Name: "ip", Pattern: "last_ip", Strategy: mask.Partial},
			{Name: "ref", Pattern: "public.customers.ref", Strategy: mask.Hash},
			{Name: "balance", Pattern: "balance", Strategy: mask.Partial},
		},
		Content: testMasker(t, mask.Defaults),
		Catalog: cat,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestPostgres seeds a customers table in a real PostgreSQL, selects it in
// text and binary format, masks every DataRow through a plan, and decodes
// the masked values with pgx; COPY TO output in text, CSV and binary is
// masked and loaded back with COPY FROM.
func TestPostgres(t *testing.T) {
	requirePG(t)
	s := pgtest.StartT(t, pgtest.Options{})
	conn, catConn := connect(t, s), connect(t, s)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, seedSQL); err != nil {
		t.Fatal(err)
	}
	cat := NewCatalog(catConn, CatalogOptions{})
	rules := customerRules(t, cat)
	for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
		t.Run([]string{"text", "binary"}[format], func(t *testing.T) {
			rr := conn.PgConn().ExecParams(ctx, "SELECT * FROM customers ORDER BY id", nil, nil, nil, []int16{format})
			fields := fieldsOf(rr.FieldDescriptions())
			p, err := Compile(ctx, fields, rules)
			if err != nil {
				t.Fatal(err)
			}
			var rows [][][]byte
			for rr.NextRow() {
				body, err := (&pgproto3.DataRow{Values: rr.Values()}).Encode(nil)
				if err != nil {
					t.Fatal(err)
				}
				out, changed, err := p.Row(nil, body[5:])
				if err != nil {
					t.Fatal(err)
				}
				if !changed {
					out = body[5:]
				}
				var dr pgproto3.DataRow
				if err := dr.Decode(out); err != nil {
					t.Fatalf("masked row: %v", err)
				}
				rows = append(rows, dr.Values)
			}
			if _, err := rr.Close(); err != nil {
				t.Fatal(err)
			}
			checkCustomers(t, fields, rows)
			counts := p.Stats().Counts()
			for _, want := range []Count{{"ssn", "column", 2, ""}, {"notes", "card", 1, ""}, {"notes", "phone", 1, ""}, {"doc", "iban", 1, ""}, {"tags", "email", 1, ""}} {
				found := false
				for _, c := range counts {
					found = found || c == want
				}
				if !found {
					t.Errorf("counts %v lack %v", counts, want)
				}
			}
		})
	}
	if n := cat.Queries(); n != 1 {
		t.Errorf("%d catalog queries for one table, want 1 (cached)", n)
	}
	t.Run("copy", func(t *testing.T) { testCopy(t, conn, rules) })
}

// checkCustomers decodes every masked value with pgx and checks it.
func checkCustomers(t *testing.T, fields []pgproto3.FieldDescription, rows [][][]byte) {
	t.Helper()
	tm := pgtype.NewMap()
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	shown := map[string][]string{}
	for _, row := range rows {
		for i, f := range fields {
			typ, ok := tm.TypeForOID(f.DataTypeOID)
			if !ok {
				t.Fatalf("no pgx type for %d", f.DataTypeOID)
			}
			var s string
			if row[i] == nil {
				s = "NULL"
			} else {
				v, err := typ.Codec.DecodeValue(tm, f.DataTypeOID, f.Format, row[i])
				if err != nil {
					t.Fatalf("column %s: %q does not decode: %v", f.Name, row[i], err)
				}
				s = fmt.Sprint(deref(v))
			}
			shown[string(f.Name)] = append(shown[string(f.Name)], s)
		}
	}
	all := fmt.Sprint(shown)
	for _, raw := range []string{"ada@", "linus@", "4111", "123-45", "7946", "3704", "grace.hopper", "1985-07-14", "9001", "555-2671"} {
		if strings.Contains(all, raw) {
			t.Errorf("raw %q left in %v", raw, shown)
		}
	}
	for col, want := range map[string][]string{
		"id":   {"1", "2", "3"},
		"name": {"Ada Lovelace", "Linus Torvalds", "Zoë Müller"},
		"ssn":  {"***-**-6789", "***-**-9998", "NULL"},
		"born": {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "NULL"},
		// partial on numeric falls back to NULL; NULL stays NULL.
		"balance": {"NULL", "NULL", "NULL"},
		"last_ip": {"192.168.0.0/24", "2001:db8::/128", "NULL"},
	} {
		if got := shown[col]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q", col, got, want)
		}
	}
	if e := shown["email"]; !strings.Contains(e[0], "@") || e[0] == "ada@example.com" || len(e[0]) != len("ada@example.com") {
		t.Errorf("email hash %q", e)
	}
}

// copyWriter masks each CopyData payload (pgconn writes one per call).
type copyWriter struct {
	r   *CopyRewriter
	out bytes.Buffer
	err error
}

func (w *copyWriter) Write(b []byte) (int, error) {
	out, changed, err := w.r.Data(nil, b)
	if err != nil {
		w.err = err
		return 0, err
	}
	if !changed {
		out = b
	}
	w.out.Write(out)
	return len(b), nil
}

func testCopy(t *testing.T, conn *pgx.Conn, rules Resolver) {
	ctx := t.Context()
	rr := conn.PgConn().ExecParams(ctx, "SELECT * FROM customers LIMIT 0", nil, nil, nil, nil)
	fields := fieldsOf(rr.FieldDescriptions())
	if _, err := rr.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    CopyFormat
		opt  string
	}{
		{"text", CopyFormat{Kind: CopyText}, ""},
		{"csv", CopyFormat{Kind: CopyCSV}, "(FORMAT csv)"},
		{"binary", CopyFormat{Kind: CopyBinary}, "(FORMAT binary)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(ctx, fields, rules)
			if err != nil {
				t.Fatal(err)
			}
			w := &copyWriter{r: p.Copy(c.f)}
			if _, err := conn.PgConn().CopyTo(ctx, w, "COPY customers TO STDOUT "+c.opt); err != nil {
				t.Fatalf("copy to: %v (rewriter: %v)", err, w.err)
			}
			for _, raw := range []string{"ada@", "4111", "123-45"} {
				if bytes.Contains(w.out.Bytes(), []byte(raw)) {
					t.Errorf("raw %q left in COPY output:\n%s", raw, w.out.Bytes())
				}
			}
			table := "masked_" + c.name
			if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (LIKE customers)"); err != nil {
				t.Fatal(err)
			}
			tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(w.out.Bytes()), "COPY "+table+" FROM STDIN "+c.opt)
			if err != nil {
				t.Fatalf("the masked COPY data does not load: %v\n%q", err, w.out.Bytes())
			}
			if tag.RowsAffected() != 3 {
				t.Errorf("loaded %d rows", tag.RowsAffected())
			}
			var ssn, notes string
			if err := conn.QueryRow(ctx, "SELECT ssn, notes FROM "+table+" WHERE id = 1").Scan(&ssn, &notes); err != nil {
				t.Fatal(err)
			}
			if ssn != "***-**-6789" || strings.Contains(notes, "4111") {
				t.Errorf("loaded ssn %q notes %q", ssn, notes)
			}
		})
	}
}

// TestCatalogPostgres checks the catalog against a real server: names,
// dropped columns, the cache, its TTL and size bound, unknown OIDs.
func TestCatalogPostgres(t *testing.T) {
	requirePG(t)
	s := pgtest.StartT(t, pgtest.Options{})
	conn := connect(t, s)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA crm;
		CREATE TABLE crm."Contacts" (id int, "E-Mail" text, gone text, phone text);
		ALTER TABLE crm."Contacts" DROP COLUMN gone;
		CREATE TABLE crm.other (x int);`); err != nil {
		t.Fatal(err)
	}
	var oid, other uint32
	if err := conn.QueryRow(ctx, `SELECT 'crm."Contacts"'::regclass::oid, 'crm.other'::regclass::oid`).Scan(&oid, &other); err != nil {
		t.Fatal(err)
	}
	cat := NewCatalog(conn, CatalogOptions{TTL: time.Minute, Size: 1})
	now := time.Now()
	cat.now = func() time.Time { return now }
	schema, table, cols, err := cat.Relation(ctx, oid)
	if err != nil {
		t.Fatal(err)
	}
	if schema != "crm" || table != "Contacts" || fmt.Sprint(cols) != "map[1:id 2:E-Mail 4:phone]" {
		t.Errorf("Relation = %q %q %v", schema, table, cols)
	}
	if _, _, _, err := cat.Relation(ctx, oid); err != nil || cat.Queries() != 1 {
		t.Errorf("second lookup: %v, %d queries (want 1: cached)", err, cat.Queries())
	}
	now = now.Add(2 * time.Minute)
	if _, _, _, _ = cat.Relation(ctx, oid); cat.Queries() != 2 {
		t.Errorf("%d queries after the TTL, want 2", cat.Queries())
	}
	if _, _, _, _ = cat.Relation(ctx, other); cat.Queries() != 3 {
		t.Errorf("%d queries", cat.Queries())
	}
	if _, _, _, _ = cat.Relation(ctx, oid); cat.Queries() != 4 {
		t.Errorf("%d queries: the size bound (1) should have evicted the first relation", cat.Queries())
	}
	if _, _, _, err := cat.Relation(ctx, 4_000_000_000); !errors.Is(err, ErrNoRelation) {
		t.Errorf("unknown OID: %v, want ErrNoRelation", err)
	}
	// A rule set resolves the quoted, mixed-case names case-insensitively.
	rs, err := NewRuleSet(RuleSetConfig{Columns: []ColumnRule{{Pattern: "crm.contacts.e-mail", Strategy: mask.Redact}}, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := rs.Rule(ctx, "whatever", oid, 2); err != nil || r.Strategy != mask.Redact {
		t.Errorf("Rule(crm.Contacts.E-Mail) = %+v, %v", r, err)
	}
	if r, err := rs.Rule(ctx, "phone", oid, 4); err != nil || !r.IsZero() {
		t.Errorf("Rule(phone) = %+v, %v", r, err)
	}
}
