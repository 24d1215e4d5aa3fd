package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
)

// accountsSeed adds a table whose constraints make the server quote
// values: a unique e-mail, a not-null name, a foreign key onto the
// e-mail, an SSN stored as text.
const accountsSeed = `
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE, ssn text);
INSERT INTO accounts VALUES (1, 'Ada', 'ada@example.com', '219-45-6789'), (2, 'Alan', 'alan@example.org', NULL);
CREATE TABLE invoices (id int PRIMARY KEY, email text REFERENCES accounts (email));
INSERT INTO invoices VALUES (10, 'ada@example.com');
GRANT ALL ON accounts, invoices TO sluice_catalog;
`

// pgError runs sql and returns the server's error.
func pgError(t *testing.T, conn *pgx.Conn, sql string) *pgconn.PgError {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := conn.Exec(ctx, sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: %v, want a server error", sql, err)
	}
	return pe
}

// TestMaskingServerMessagesColumnRules: under column rules only, the
// values PostgreSQL quotes in its errors are masked when their column is:
// keys of unique and foreign-key violations, failing rows, values that
// did not convert; the client, the event and the recording get the masked
// error, and the session goes on.
func TestMaskingServerMessagesColumnRules(t *testing.T) {
	srv := maskServer(t)
	if _, err := srv.Exec("shop", accountsSeed); err != nil {
		t.Fatal(err)
	}
	h, events := maskHandler(t, srv, &policy.Masking{Policies: []string{"pii"}, Columns: []policy.MaskColumn{
		{Policy: "pii", Match: "*email*", Strategy: mask.Hash},
		{Policy: "pii", Match: "public.accounts.ssn", Strategy: mask.Redact},
	}})
	store := openSampleStore(t, 0)
	h.deps.Records = store
	conn := maskConn(t, h, srv, "messages-rules", pgx.QueryExecModeCacheStatement)
	for _, c := range []struct {
		name, sql, code, message, detail string
	}{
		{"unique violation, the client's value", "INSERT INTO accounts VALUES (3, 'Eve', 'ada@example.com')",
			"23505", `duplicate key value violates unique constraint "accounts_email_key"`, "Key (email)=(****) already exists."},
		{"unique violation, a stored value", "UPDATE accounts SET email = (SELECT email FROM accounts WHERE id = 1) WHERE id = 2",
			"23505", `duplicate key value violates unique constraint "accounts_email_key"`, "Key (email)=(****) already exists."},
		{"unique violation of a column no rule masks", "INSERT INTO accounts VALUES (1, 'Eve', 'eve@example.net')",
			"23505", `duplicate key value violates unique constraint "accounts_pkey"`, "Key (id)=(1) already exists."},
		{"not-null violation", "UPDATE accounts SET name = NULL WHERE id = 1",
			"23502", `null value in column "name" of relation "accounts" violates not-null constraint`, "Failing row contains (****)."},
		{"foreign key", "DELETE FROM accounts WHERE id = 1",
			"23503", `update or delete on table "accounts" violates foreign key constraint "invoices_email_fkey" on table "invoices"`,
			`Key (email)=(****) is still referenced from table "invoices".`},
		{"a stored value that does not convert", "SELECT ssn::int FROM accounts WHERE id = 1",
			"22P02", `invalid input syntax for type integer: "****"`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pe := pgError(t, conn, c.sql)
			if pe.Code != c.code || pe.Message != c.message || pe.Detail != c.detail {
				t.Errorf("got %s %q %q, want %s %q %q", pe.Code, pe.Message, pe.Detail, c.code, c.message, c.detail)
			}
		})
	}
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM accounts").Scan(&n); err != nil || n != 2 {
		t.Errorf("the session does not go on: %d, %v", n, err)
	}
	conn.Close(t.Context())
	waitQueryEvents(t, events, 7)
	for _, ev := range events.events(t, "db.query") {
		if ev["sqlstate"] == "22P02" && ev["error"] != `invalid input syntax for type integer: "****"` {
			t.Errorf("event error %q", ev["error"])
		}
		if strings.Contains(fmt.Sprint(ev), "219-45-6789") {
			t.Errorf("a raw value in an event: %v", ev)
		}
	}
	noneHolds(t, store.Dir(), "219-45-6789")
}

// TestMaskingServerMessagesDetectors: the content detectors run over
// notices (RAISE NOTICE with a stored card number), notifications and
// errors, in text the client and pgx still read.
func TestMaskingServerMessagesDetectors(t *testing.T) {
	srv := maskServer(t)
	h, _ := maskHandler(t, srv, &policy.Masking{
		Policies: []string{"pii"}, Detectors: mask.Defaults, Strategy: mask.Redact, Strategies: map[mask.Detector]mask.Strategy{mask.Card: mask.Partial},
	})
	var mu sync.Mutex
	var notices []*pgconn.Notice
	conn := maskConn(t, h, srv, "messages-detectors", pgx.QueryExecModeCacheStatement, func(cfg *pgx.ConnConfig) {
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			notices = append(notices, n)
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	do := `DO $$
DECLARE c text; e text;
BEGIN
  SELECT card, email INTO c, e FROM customers WHERE id = 1;
  RAISE NOTICE 'card on file: %', c USING DETAIL = 'customer ' || e, HINT = 'call ' || e;
END $$`
	if _, err := conn.Exec(ctx, do); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]*pgconn.Notice(nil), notices...)
	mu.Unlock()
	if len(got) != 1 || got[0].Message != "card on file: **** **** **** 1111" || got[0].Detail != "customer ***@*******.***" ||
		got[0].Hint != "call ***@*******.***" || got[0].Severity != "NOTICE" {
		t.Errorf("notices %+v", got)
	}

	if _, err := conn.Exec(ctx, "LISTEN alerts"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_notify('alerts', 'refund to ' || card) FROM customers WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channel != "alerts" || n.Payload != "refund to **** **** **** 1111" {
		t.Errorf("notification %+v", n)
	}

	pe := pgError(t, conn, `DO $$ DECLARE c text; BEGIN SELECT card INTO c FROM customers WHERE id = 2; RAISE EXCEPTION 'bad card %', c; END $$`)
	if pe.Message != "bad card ************1881" || !strings.Contains(pe.Where, "PL/pgSQL function") {
		t.Errorf("error %q (context %q)", pe.Message, pe.Where)
	}
}
