package postgres

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/policy"
)

// rawCustomerValues are seeded values no masked result may carry.
var rawCustomerValues = []string{"ada@example.com", "alan@example.org", "4111 1111 1111 1111", "4012888888881881", "5500-0000-0000-0004"}

func TestMaskingCopyRealServer(t *testing.T) {
	srv := maskServer(t)
	detectors := &policy.Masking{
		Policies: []string{"pii"}, Detectors: mask.Defaults, Strategy: mask.Redact,
		Strategies: map[mask.Detector]mask.Strategy{mask.Card: mask.Partial},
	}
	h, events := maskHandler(t, srv, detectors)
	conn := maskConn(t, h, srv, "copy", pgx.QueryExecModeCacheStatement)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	noRaw := func(t *testing.T, out string) {
		t.Helper()
		for _, raw := range rawCustomerValues {
			if strings.Contains(out, raw) {
				t.Errorf("%q reached the client:\n%s", raw, out)
			}
		}
	}
	for _, tc := range []struct{ name, sql, want string }{
		{"text", "COPY customers (id, email, card, notes) TO STDOUT", "1\t***@*******.***\t**** **** **** 1111\t"},
		{"csv", "COPY (SELECT id, email, card FROM customers ORDER BY id) TO STDOUT WITH (FORMAT csv)", "2,****@*******.***,************1881\n"},
	} {
		t.Run("simple query "+tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := conn.PgConn().CopyTo(ctx, &buf, tc.sql); err != nil {
				t.Fatal(err)
			}
			noRaw(t, buf.String())
			if !strings.Contains(buf.String(), tc.want) {
				t.Errorf("COPY data lacks %q:\n%s", tc.want, buf.String())
			}
			if tc.name == "text" && !strings.Contains(buf.String(), "4111 1111 1111 1112") {
				t.Errorf("a Luhn-invalid number was masked:\n%s", buf.String())
			}
		})
	}

	t.Run("extended protocol", func(t *testing.T) {
		// COPY TO through Parse, Bind and Execute: its data is masked as
		// a simple query's is.
		pc := conn.PgConn()
		fe := pc.Frontend()
		fe.Send(&pgproto3.Parse{Query: "COPY (SELECT email, card FROM customers ORDER BY id) TO STDOUT"})
		fe.Send(&pgproto3.Bind{})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		var data strings.Builder
		for {
			msg, err := pc.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch m := msg.(type) {
			case *pgproto3.CopyData:
				data.Write(m.Data)
			case *pgproto3.ErrorResponse:
				t.Fatalf("error: %s", m.Message)
			}
			if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		noRaw(t, data.String())
		if !strings.Contains(data.String(), "***@*******.***\t**** **** **** 1111\n") {
			t.Errorf("COPY data:\n%s", data.String())
		}
	})

	t.Run("binary is refused with 42501 and the session goes on", func(t *testing.T) {
		for _, sql := range []string{"COPY customers TO STDOUT (FORMAT binary)", "COPY customers TO STDOUT WITH BINARY"} {
			var buf bytes.Buffer
			_, err := conn.PgConn().CopyTo(ctx, &buf, sql)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, `rule "masking-copy"`) ||
				!strings.Contains(pe.Message, "binary COPY TO cannot be masked") {
				t.Fatalf("%s: error %v", sql, err)
			}
			if buf.Len() != 0 {
				t.Errorf("%s: data reached the client", sql)
			}
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil || n != 3 {
			t.Fatalf("after the refusal: %d, %v", n, err)
		}
	})

	t.Run("errors quoting a value are masked", func(t *testing.T) {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"SELECT card::bigint FROM customers WHERE id = 1", nil},
			{"SELECT $1::text::bigint", []any{"4111 1111 1111 1111"}},
		} {
			_, err := conn.Exec(ctx, q.sql, q.args...)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "22P02" {
				t.Fatalf("%s: error %v", q.sql, err)
			}
			if pe.Message != `invalid input syntax for type bigint: "**** **** **** 1111"` {
				t.Errorf("%s: message %q", q.sql, pe.Message)
			}
		}
	})

	evs := events.events(t, "db.query")
	var counted bool
	for _, e := range evs {
		if strings.HasPrefix(e["statement"].(string), "COPY (SELECT email, card") {
			masked, _ := e["masked"].([]any)
			for _, c := range masked {
				if c.(map[string]any)["column"] == "*" {
					counted = true
				}
			}
		}
	}
	for _, raw := range rawCustomerValues {
		if strings.Contains(events.String(), raw) {
			t.Errorf("%q in the events", raw)
		}
	}
	if !counted {
		t.Errorf("the COPY events carry no counts: %v", evs)
	}
}

// TestMaskingCopyColumnRules checks that COPY TO is refused when column
// rules (hints included) apply, since COPY data carries no column names.
func TestMaskingCopyColumnRules(t *testing.T) {
	srv := maskServer(t)
	h, _ := maskHandler(t, srv, &policy.Masking{
		Policies: []string{"pii"}, Detectors: mask.Defaults,
		Columns: []policy.MaskColumn{{Policy: "pii", Match: "*ssn*", Hint: mask.Of(mask.SSN)}},
	})
	conn := maskConn(t, h, srv, "copy-rules", pgx.QueryExecModeCacheStatement)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var buf bytes.Buffer
	_, err := conn.PgConn().CopyTo(ctx, &buf, "COPY customers (id, ssn) TO STDOUT")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, `cannot apply the column masking rule "*ssn*" of policy "pii"`) {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(buf.String(), "123456789") {
		t.Error("an SSN reached the client")
	}
}

// TestMaskingCatalogPoolsClosed checks that a handler's catalog
// connections are closed once it is closed and its last session has ended,
// not before.
func TestMaskingCatalogPoolsClosed(t *testing.T) {
	srv := maskServer(t)
	h, _ := maskHandler(t, srv, &policy.Masking{
		Policies: []string{"pii"},
		Columns:  []policy.MaskColumn{{Policy: "pii", Match: "public.*.email", Strategy: mask.Hash}},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	email := func(conn *pgx.Conn, table string) map[int]string {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT id, email FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]string{}
		for rows.Next() {
			var id int
			var e string
			if err := rows.Scan(&id, &e); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(e, "@example.") {
				t.Fatalf("%s.email not masked: %q", table, e)
			}
			out[id] = e
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	conn := maskConn(t, h, srv, "pool-1", pgx.QueryExecModeCacheStatement)
	customers := email(conn, "customers")
	waitCatalogConns(t, srv, "at least one", func(n int) bool { return n >= 1 })

	// Closed while a session is open: the session goes on, and a relation
	// it has not met yet still resolves through the catalog.
	h.Close()
	tickets := email(conn, "tickets")
	if tickets[10] != customers[1] || tickets[11] != customers[2] {
		t.Errorf("hashed e-mails do not join: customers %v, tickets %v", customers, tickets)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitCatalogConns(t, srv, "none", func(n int) bool { return n == 0 })

	// A session routed to the handler after Close still works, and
	// releases what it opened.
	conn = maskConn(t, h, srv, "pool-2", pgx.QueryExecModeCacheStatement)
	if again := email(conn, "customers"); again[1] != customers[1] {
		t.Errorf("the hash changed across sessions: %q, then %q", customers[1], again[1])
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitCatalogConns(t, srv, "none", func(n int) bool { return n == 0 })
}

// waitCatalogConns waits until the count of sluice's catalog connections
// to srv satisfies ok.
func waitCatalogConns(t *testing.T, srv *pgtest.Server, what string, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := srv.Exec("shop", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sluice catalog'")
		n := -1
		if err == nil {
			if v, perr := strconv.Atoi(strings.TrimSpace(out)); perr == nil {
				n = v
			}
		}
		if ok(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalog connections: %d (%q, %v), want %s", n, out, err, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
