package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selectCustomers reads every column the checks look at.
var selectCustomers = "SELECT " + strings.Join(customerColumns, ", ") + " FROM customers ORDER BY id"

// TestPostgresMasking runs psql, pgx (binary format) and psycopg2 as
// tagged jobs through the kernel redirect and sluiced against PostgreSQL,
// and checks that results are masked as the policies say, that masked
// values still decode as their types, that hashes are stable, and that no
// raw value reaches an event or a recording.
func TestPostgresMasking(t *testing.T) {
	w := newMaskWorld(t)
	reads := map[string][]customerRow{}

	t.Run("psql", func(t *testing.T) {
		rows := psqlCustomers(t, w.psqlRows(t, "legacy-etl", selectCustomers))
		checkCustomers(t, "psql", rows)
		reads["psql"] = rows
		tickets := w.psqlRows(t, "legacy-etl", "SELECT id, email FROM tickets ORDER BY id")
		if len(tickets) != 2 || tickets[0][1] != rows[0].vals["email"] || tickets[1][1] != rows[1].vals["email"] {
			t.Errorf("hashed e-mails of tickets %q do not join customers' %q %q", tickets, rows[0].vals["email"], rows[1].vals["email"])
		}
	})

	t.Run("pgx in binary format", func(t *testing.T) {
		var out struct {
			Preferred pgxResult         `json:"preferred"`
			Binary    pgxResult         `json:"binary"`
			Tickets   map[string]string `json:"tickets"`
		}
		w.clientJSON(t, &out, pgxmask(t), "-dsn", w.dsn())
		for col, f := range out.Binary.Formats {
			if f != 1 {
				t.Errorf("column %s came in format %d, want binary", col, f)
			}
		}
		// pgx asks for binary results of the types it decodes itself.
		for _, col := range []string{"id", "account_no", "balance", "created_at", "ext_id", "score", "signup"} {
			if out.Preferred.Formats[col] != 1 {
				t.Errorf("pgx read %s in format %d", col, out.Preferred.Formats[col])
			}
		}
		preferred, binary := pgxCustomers(t, out.Preferred), pgxCustomers(t, out.Binary)
		checkCustomers(t, "pgx", preferred)
		checkCustomers(t, "pgx binary", binary)
		sameRows(t, "pgx", "pgx binary", preferred, binary)
		reads["pgx"] = binary
		if out.Tickets["10"] != binary[0].vals["email"] {
			t.Errorf("tickets %v do not join %q", out.Tickets, binary[0].vals["email"])
		}
	})

	t.Run("psycopg2", func(t *testing.T) {
		script, err := filepath.Abs("testdata/clients/psycopg2_mask.py")
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Rows    []map[string]pyValue `json:"rows"`
			Tickets map[string]string    `json:"tickets"`
		}
		w.clientJSON(t, &out, "/usr/bin/python3", script, w.dsn())
		rows := pyCustomers(t, out.Rows)
		checkCustomers(t, "psycopg2", rows)
		reads["psycopg2"] = rows
		if out.Tickets["11"] != rows[1].vals["email"] {
			t.Errorf("tickets %v do not join %q", out.Tickets, rows[1].vals["email"])
		}
	})

	t.Run("hashes are stable across sessions, clients and formats", func(t *testing.T) {
		if len(reads) != 3 {
			t.Skip("a client failed")
		}
		sameRows(t, "psql", "pgx", reads["psql"], reads["pgx"])
		sameRows(t, "psql", "psycopg2", reads["psql"], reads["psycopg2"])
	})

	t.Run("recordings keep samples of the masked rows", func(t *testing.T) { testMaskedSamples(t, w) })

	t.Run("literals in statements and values in errors", func(t *testing.T) {
		sql := "SELECT id FROM customers WHERE email = 'ada@example.com' OR card = '4111 1111 1111 1111' ORDER BY id"
		if rows := w.psqlRows(t, "legacy-etl", sql); len(rows) != 2 {
			t.Errorf("rows %q", rows)
		}
		ev := w.daemon.waitEvent(t, "db.query with literals", func(ev event) bool {
			return ev.str("event") == "db.query" && strings.HasPrefix(ev.str("statement"), "SELECT id FROM customers WHERE email = '")
		})
		if !strings.Contains(ev.str("statement"), "card = '**** **** **** 1111'") {
			t.Errorf("statement in the event: %q", ev.str("statement"))
		}
		// With the detectors only, the value is masked as a card; under
		// column rules, the value a data exception quotes is redacted whole
		// (it may come from any column).
		for _, c := range []struct{ ident, sql, want string }{
			{"exporter", "SELECT card::bigint FROM customers WHERE id = 1", `invalid input syntax for type bigint: "**** **** **** 1111"`},
			{"legacy-etl", "SELECT card::bigint AS n FROM customers WHERE id = 1", `invalid input syntax for type bigint: "****"`},
		} {
			r := w.psqlJob(t, c.ident, "", "-c", c.sql)
			if r.code == 0 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("psql: %+v", r)
			}
			ev = w.queryEvent(t, c.sql)
			if ev.str("sqlstate") != "22P02" || ev.str("error") != c.want {
				t.Errorf("event %v", ev)
			}
		}
	})

	t.Run("COPY TO STDOUT", func(t *testing.T) {
		// Detectors only: COPY data is masked line by line.
		r := w.psqlJob(t, "exporter", "", "-c", `\copy (SELECT id, email, card, iban, phone, notes, profile FROM customers ORDER BY id) TO STDOUT`)
		if r.code != 0 {
			t.Fatalf("\\copy: %+v", r)
		}
		for _, want := range []string{"1\t***@*******.***\t**** **** **** 1111\t**** **** **** **** **** **\t+* ***-***-****\tAWS key ******************** was rotated\t",
			`"email": "***@*******.***"`, "card 4111 1111 1111 1112 is not Luhn-valid; order 987654321012", "3\t*****@*******.***\t***********0005"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("COPY data lacks %q:\n%s", want, r.stdout)
			}
		}
		for _, raw := range maskRaw {
			if strings.Contains(r.stdout, raw) {
				t.Errorf("COPY data holds %q", raw)
			}
		}
		// psql's \copy sends "COPY  ( SELECT ... ) TO STDOUT".
		ev := w.daemon.waitEvent(t, "db.query of \\copy", func(ev event) bool {
			return ev.str("event") == "db.query" && ev.str("kind") == "copy_to" && strings.Contains(ev.str("statement"), "SELECT id, email, card, iban, phone, notes, profile FROM customers")
		})
		if ev.num("rows") != 4 || !hasCount(ev, "*", "card", 5) || !hasCount(ev, "*", "email", 7) {
			t.Errorf("COPY event %v", ev)
		}

		// Column rules cannot apply to COPY data, nor can binary COPY be
		// read: refused with 42501, and the session goes on.
		script := "\\copy customers TO STDOUT\nCOPY customers TO STDOUT (FORMAT binary);\nSELECT count(*) FROM customers;\n"
		r = w.psqlJob(t, "legacy-etl", script, "-At")
		if !strings.Contains(r.stderr, `permission denied by sluice policy "sluice" rule "masking-copy": COPY TO cannot apply the column masking rule "public.*.email" of policy "pii"`) ||
			!strings.Contains(r.stderr, "binary COPY TO cannot be masked") || strings.TrimSpace(r.stdout) != "4" {
			t.Errorf("psql: %+v", r)
		}
		r = w.psqlJob(t, "exporter", "", "-At", "-c", "COPY customers TO STDOUT WITH BINARY")
		if r.code == 0 || !strings.Contains(r.stderr, "binary COPY TO cannot be masked (policies [pii-export]); use the text or CSV format") || r.stdout != "" {
			t.Errorf("binary COPY: %+v", r)
		}
	})

	t.Run("events carry counts per column and detector", func(t *testing.T) {
		ev := w.queryEvent(t, selectCustomers)
		for _, c := range []struct {
			column, detector string
			n                float64
		}{
			{"email", "column", 4}, {"card", "card", 4}, {"ssn", "ssn", 3}, {"iban", "iban", 2}, {"phone", "phone", 3},
			{"notes", "aws_key", 1}, {"notes", "jwt", 1}, {"notes", "private_key", 1}, {"notes", "card", 1},
			{"profile", "email", 3}, {"profile", "phone", 1}, {"aliases", "email", 2}, {"aliases", "phone", 1},
			{"account_no", "fallback_null", 3}, {"balance", "column", 4}, {"created_at", "column", 4}, {"ext_id", "column", 4},
		} {
			if !hasCount(ev, c.column, c.detector, c.n) {
				t.Errorf("no count %s/%s = %v in %v", c.column, c.detector, c.n, ev["masked"])
			}
		}
		for _, m := range ev["masked"].([]any) {
			m := m.(map[string]any)
			if m["detector"] == "fallback_null" && m["reason"] != "partial cannot produce a valid int8 value" {
				t.Errorf("fallback without its reason: %v", m)
			}
			if col := m["column"]; col == "name" || col == "customer_no" || col == "score" || col == "signup" || col == "id" {
				t.Errorf("an untouched column is counted: %v", m)
			}
		}
	})

	t.Run("metrics count masked values", func(t *testing.T) {
		resp, err := http.Get("http://" + w.vars["Metrics"].(string) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, d := range []string{"card", "email", "column", "fallback_null", "private_key"} {
			if !strings.Contains(string(body), `sluice_masked_values_total{detector="`+d+`",target="crm-db"}`) {
				t.Errorf("no sluice_masked_values_total for %s", d)
			}
		}
	})

	t.Run("a large result streams in bounded memory", func(t *testing.T) {
		rows := int64(1_000_000)
		if v := os.Getenv("SLUICE_E2E_MASK_STREAM_ROWS"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				t.Fatalf("SLUICE_E2E_MASK_STREAM_ROWS=%q", v)
			}
			rows = n
		}
		pid := w.daemon.cmd.Process.Pid
		base := resetPeakRSS(t, pid)
		start := time.Now()
		var out struct {
			Rows     int64  `json:"rows"`
			CardRows int64  `json:"card_rows"`
			LastNote string `json:"last_card_note"`
		}
		w.clientJSON(t, &out, pgxmask(t), "-dsn", w.dsn(), "-stream", fmt.Sprint(rows))
		peak := procStatus(t, pid, "VmHWM")
		growth := peak - base
		t.Logf("%d rows with masking on in %v: sluiced RSS %.1f MiB before, peak %.1f MiB, growth %.1f MiB",
			rows, time.Since(start).Round(time.Millisecond), mib(base), mib(peak), mib(growth))
		if out.Rows != rows || out.CardRows != rows/20 || out.LastNote != "paid with **** **** **** 1111" {
			t.Errorf("stream: %+v", out)
		}
		if growth > 64<<20 {
			t.Errorf("sluiced grew by %.1f MiB over a %d-row result, want < 64 MiB", mib(growth), rows)
		}
		ev := w.daemon.waitEvent(t, "stream db.query", func(ev event) bool {
			return ev.str("event") == "db.query" && strings.Contains(ev.str("statement"), "generate_series(1, $1::bigint)") && ev.num("rows") == float64(rows)
		})
		if !hasCount(ev, "contact", "email", float64(rows)) || !hasCount(ev, "note", "card", float64(rows/20)) {
			t.Errorf("stream event %v", ev["masked"])
		}
	})

	t.Run("a reload closes the old catalog connections", func(t *testing.T) {
		if n := catalogConns(t, w); n == 0 {
			t.Fatal("no catalog connection to begin with")
		}
		if out, code := w.sluice(0, "reload"); code != 0 {
			t.Fatalf("sluice reload: %d %s", code, out)
		}
		waitFor(t, "catalog connections closed", func() bool { return catalogConns(t, w) == 0 })
		// The new handlers read the catalog again.
		rows := psqlCustomers(t, w.psqlRows(t, "legacy-etl", selectCustomers))
		checkCustomers(t, "psql after reload", rows)
		if n := catalogConns(t, w); n == 0 {
			t.Error("no catalog connection after the reload")
		}
	})

	t.Run("no raw value in recordings or events", func(t *testing.T) {
		w.daemon.stop(t) // recordings sealed, events flushed
		noRawIn(t, filepath.Join(w.dir, "state"))
		for _, f := range []string{w.daemon.log} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range append(maskRaw, maskKey) {
				if strings.Contains(string(b), raw) {
					t.Errorf("the event log holds %q", raw)
				}
			}
		}
		if s := w.daemon.stderr.String(); strings.Contains(s, maskKey) {
			t.Error("the hash key is on sluiced's stderr")
		}
	})
}

// hasCount reports whether a db.query event counts n values of column
// masked by detector.
func hasCount(ev event, column, detector string, n float64) bool {
	masked, _ := ev["masked"].([]any)
	for _, m := range masked {
		m, _ := m.(map[string]any)
		if m["column"] == column && m["detector"] == detector && m["n"] == n {
			return true
		}
	}
	return false
}

// catalogConns counts sluice's catalog connections to the server.
func catalogConns(t *testing.T, w *maskWorld) int {
	t.Helper()
	out, err := w.pg.Exec("crm", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sluice catalog'")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("count %q: %v", out, err)
	}
	return n
}

// resetPeakRSS resets the peak resident set size of process pid (VmHWM)
// to its current one, and returns that.
func resetPeakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
	return procStatus(t, pid, "VmRSS")
}

// procStatus reads a size field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
