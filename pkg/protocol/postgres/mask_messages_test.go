package postgres

import (
	"context"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"
)

// noCatalog knows no relation: server messages name their columns.
type noCatalog struct{}

func (noCatalog) Relation(context.Context, uint32) (string, string, map[int16]string, error) {
	return "", "", nil, pgmask.ErrNoRelation
}

// TestMaskQuoted masks what PostgreSQL's errors quote (the texts are
// PostgreSQL 15's), under column rules only: the values of masked
// columns, never those of others.
func TestMaskQuoted(t *testing.T) {
	content, err := mask.New(mask.Config{Detectors: mask.Of(mask.SSN), Strategy: mask.Redact})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := pgmask.NewRuleSet(pgmask.RuleSetConfig{Content: content, Catalog: noCatalog{}, Columns: []pgmask.ColumnRule{
		{Pattern: "*email*", Strategy: mask.Redact},
		{Pattern: "public.accounts.card", Strategy: mask.Partial},
		{Pattern: "*ssn*", Hint: mask.Of(mask.SSN)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := &maskRules{rules: rs, scanner: content}
	for _, c := range []struct {
		name, code, schema, table string
		message, detail           string
		wantMessage, wantDetail   string
	}{
		{"unique violation of a masked column", "23505", "public", "accounts",
			`duplicate key value violates unique constraint "accounts_email_key"`, "Key (email)=(ada@example.com) already exists.",
			`duplicate key value violates unique constraint "accounts_email_key"`, "Key (email)=(****) already exists."},
		{"unique violation of another column", "23505", "public", "accounts",
			`duplicate key value violates unique constraint "accounts_pkey"`, "Key (id)=(1) already exists.",
			`duplicate key value violates unique constraint "accounts_pkey"`, "Key (id)=(1) already exists."},
		{"two key columns, one masked, a value with a comma", "23505", "public", "accounts",
			"duplicate key", `Key (tenant, lower(email::text))=(7, ada, jr@example.com) already exists.`,
			"duplicate key", "Key (tenant, lower(email::text))=(****) already exists."},
		{"quoted column names", "23505", "public", "accounts",
			"duplicate key", `Key ("Work Email")=(x) already exists.`, "duplicate key", `Key ("Work Email")=(****) already exists.`},
		{"three-part rule, its table", "23505", "public", "accounts",
			"duplicate key", "Key (card)=(4111111111111111) already exists.", "duplicate key", "Key (card)=(****) already exists."},
		{"three-part rule, another table", "23505", "public", "orders",
			"duplicate key", "Key (card)=(4111111111111111) already exists.", "duplicate key", "Key (card)=(4111111111111111) already exists."},
		{"foreign key", "23503", "public", "orders",
			`insert or update on table "orders" violates foreign key constraint "orders_email_fkey"`,
			`Key (email)=(ada@example.com) is not present in table "accounts".`,
			`insert or update on table "orders" violates foreign key constraint "orders_email_fkey"`,
			`Key (email)=(****) is not present in table "accounts".`},
		{"still referenced", "23503", "public", "accounts", "update or delete violates foreign key constraint",
			`Key (email)=(ada@example.com) is still referenced from table "orders".`,
			"update or delete violates foreign key constraint", `Key (email)=(****) is still referenced from table "orders".`},
		{"key without values", "23503", "public", "accounts", "update or delete violates foreign key constraint",
			`Key is still referenced from table "orders".`, "update or delete violates foreign key constraint", `Key is still referenced from table "orders".`},
		{"duplicated while indexing", "23505", "public", "accounts", "could not create unique index",
			"Key (email)=(ada@example.com) is duplicated.", "could not create unique index", "Key (email)=(****) is duplicated."},
		{"exclusion", "23P01", "public", "accounts", "conflicting key value violates exclusion constraint",
			"Key (email)=(ada@example.com) conflicts with existing key (email)=(bob@example.com).",
			"conflicting key value violates exclusion constraint", "Key (email)=(****) conflicts with existing key (email)=(****)."},
		{"hint only: the detectors with it", "23505", "public", "accounts", "duplicate key",
			"Key (ssn)=(219456789) already exists.", "duplicate key", "Key (ssn)=(*********) already exists."},
		{"not null, a table with masked columns", "23502", "public", "accounts",
			`null value in column "name" of relation "accounts" violates not-null constraint`,
			"Failing row contains (1, null, ada@example.com).",
			`null value in column "name" of relation "accounts" violates not-null constraint`, "Failing row contains (****)."},
		{"partition key", "23514", "public", "events", `no partition of relation "events" found for row`,
			"Partition key of the failing row contains (email) = (ada@example.com).",
			`no partition of relation "events" found for row`, "Partition key of the failing row contains (email) = (****)."},
		{"a detail in another language", "23505", "public", "accounts", "doppelter Schlüsselwert verletzt Unique-Constraint",
			"Schlüssel »(email)=(ada@example.com)« existiert bereits.", "doppelter Schlüsselwert verletzt Unique-Constraint", maskedDetail},
		{"invalid input", "22P02", "", "", `invalid input syntax for type bigint: "4111 1111 1111 1111"`, "",
			`invalid input syntax for type bigint: "****"`, ""},
		{"out of range", "22003", "", "", `value "99999999999" is out of range for type integer`, "",
			`value "****" is out of range for type integer`, ""},
		{"no value quoted", "42P01", "", "", `relation "missing" does not exist`, "", `relation "missing" does not exist`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &pgproto3.ErrorResponse{Code: c.code, SchemaName: c.schema, TableName: c.table, Message: c.message, Detail: c.detail}
			changed := r.maskQuoted(e)
			if e.Message != c.wantMessage || e.Detail != c.wantDetail {
				t.Errorf("got\n\t%s\n\t%s\nwant\n\t%s\n\t%s", e.Message, e.Detail, c.wantMessage, c.wantDetail)
			}
			if changed != (c.wantMessage != c.message || c.wantDetail != c.detail) {
				t.Errorf("changed = %v", changed)
			}
		})
	}
}

// simpleKey is a key detail on one column named by a plain identifier.
var simpleKey = regexp.MustCompile(`^Key \([A-Za-z_][A-Za-z0-9_]*\)=\(.`)

// FuzzMaskQuoted masks arbitrary details and messages as errors of a
// masked session: no panic, and a key of a masked column never keeps the
// value list.
func FuzzMaskQuoted(f *testing.F) {
	for _, s := range []string{
		"Key (email)=(ada@example.com) already exists.", "Key (a, b)=(1, 2) conflicts with existing key (a, b)=(1, 3).",
		"Failing row contains (1, x).", "Partition key of the failing row contains (email) = (x).", `Key ("a""b)")=()`, "Key ((",
	} {
		f.Add("23505", s)
	}
	f.Add("22P02", `invalid input syntax for type integer: "x"`)
	rs, err := pgmask.NewRuleSet(pgmask.RuleSetConfig{Columns: []pgmask.ColumnRule{{Pattern: "*", Strategy: mask.Redact}}})
	if err != nil {
		f.Fatal(err)
	}
	r := &maskRules{rules: rs}
	f.Fuzz(func(t *testing.T, code, text string) {
		e := &pgproto3.ErrorResponse{Code: code, Message: text, Detail: text}
		r.maskQuoted(e)
		if e.Detail == text && simpleKey.MatchString(text) {
			t.Fatalf("the values of %q were kept", text)
		}
	})
}
