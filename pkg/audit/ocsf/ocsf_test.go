package ocsf

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	now = func() time.Time { return time.Date(2026, 11, 22, 12, 44, 3, 121368000, time.UTC) }
	hostname = "build-7"
	SetProductVersion("0.1.0")
	os.Exit(m.Run())
}

var etl = Actor{
	Identity: "legacy-etl", Session: "c41d9e0a7b2f5e13", PID: 24810, UID: 1001, GID: 1001, Comm: "psql",
	Exe: "/usr/lib/postgresql/15/bin/psql", Cgroup: "/sluice.jobs/job-8c1f0a2e7b44",
}

var (
	src = Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:51234")}
	dst = Endpoint{Addr: netip.MustParseAddrPort("10.20.0.4:5432"), Name: "orders-db"}
)

// event renders what f adds to an empty event, indented.
func event(t *testing.T, f func(*zerolog.Event) *zerolog.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	l := zerolog.New(&buf)
	f(l.Info()).Send()
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		t.Fatalf("not JSON: %q: %v", buf.String(), err)
	}
	return out.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + strings.ReplaceAll(name, " ", "-")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if intended); got:\n%s", path, got)
	}
}

func TestDatastore(t *testing.T) {
	etlCtx := NewContext(&etl, src, dst, "orders")
	tests := []struct {
		name string
		c    *Context
		q    Query
	}{
		{"allowed select", etlCtx, Query{
			User: "etl_reader", Text: "SELECT count(*) FROM sales.orders", Kind: "select", Command: "SELECT", Table: "sales.orders",
			Decision: Decision{Policy: "readonly-etl", Rule: "read-reporting", PolicyVersion: "3f9c2a71d0e4"},
			Duration: 2400 * time.Microsecond, Rows: 1, HasRows: true,
		}},
		{"denied drop", etlCtx, Query{
			User: "etl_reader", Text: "DROP TABLE sales.orders", Kind: "ddl", Command: "DROP TABLE", Table: "sales.orders",
			Decision: Decision{Blocked: true, Policy: "readonly-etl", Rule: "default",
				PolicyVersion: "3f9c2a71d0e4", Reason: "no rule allows this"},
			Error: `permission denied by sluice policy "readonly-etl" rule "default": no rule allows this`, SQLState: "42501",
		}},
		{"prepared insert that failed", NewContext(&Actor{Identity: "nightly-etl", Session: "6f2e81b0c5d7a493", PID: 23911,
			UID: 994, GID: 994, Comm: "orders-sync", Cgroup: "/system.slice/nightly-etl.service", Unit: "nightly-etl.service"},
			Endpoint{}, dst, "orders"), Query{
			User: "etl_writer", Text: "INSERT INTO staging.imports (payload) VALUES ($1)", Prepared: "stmtcache_79eb6395aa57fd88",
			Kind: "insert", Command: "INSERT", Table: "staging.imports",
			Decision: Decision{Shadow: true, Policy: "etl", Rule: "write-staging"},
			Error:    `duplicate key value violates unique constraint "imports_pkey"`, SQLState: "23505",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, "datastore-"+tt.name+".json", event(t, func(e *zerolog.Event) *zerolog.Event { return tt.c.Datastore(e, &tt.q) }))
		})
	}
}

func TestAuthentication(t *testing.T) {
	app := etl
	app.App = "psql"
	for _, tt := range []struct {
		name string
		c    *Context
		l    Login
	}{
		{"success", NewContext(&app, src, dst, "orders"), Login{User: "etl_reader", Auth: "inject", Target: "orders-db"}},
		{"failure", NewContext(&etl, src, dst, "orders"), Login{User: "etl", Auth: "passthrough", Target: "orders-db",
			Error: `upstream FATAL: password authentication failed for user "etl" (SQLSTATE 28P01)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, "authentication-"+tt.name+".json", event(t, func(e *zerolog.Event) *zerolog.Event { return tt.c.Authentication(e, &tt.l) }))
		})
	}
}

func TestActivity(t *testing.T) {
	tests := []struct {
		kind, command string
		want          int
	}{
		{"select", "SELECT", activityQuery.id},
		{"explain", "EXPLAIN", activityQuery.id},
		{"copy_to", "COPY", activityRead.id},
		{"show", "SHOW", activityRead.id},
		{"insert", "INSERT", activityWrite.id},
		{"copy_from", "COPY", activityWrite.id},
		{"update", "UPDATE", activityUpdate.id},
		{"merge", "MERGE", activityUpdate.id},
		{"delete", "DELETE", activityDelete.id},
		{"truncate", "TRUNCATE TABLE", activityDelete.id},
		{"ddl", "CREATE TABLE", activityCreate.id},
		{"ddl", "SELECT", activityCreate.id},
		{"ddl", "ALTER TABLE", activityUpdate.id},
		{"ddl", "DROP TABLE", activityDelete.id},
		{"grant", "ALTER ROLE", activityUpdate.id},
		{"grant", "GRANT", activityOther.id},
		{"ddl", "COMMENT", activityOther.id},
		{"transaction", "BEGIN", activityOther.id},
		{"unparseable", "", activityOther.id},
	}
	for _, tt := range tests {
		if got := Activity(tt.kind, tt.command); got != tt.want {
			t.Errorf("Activity(%s, %s) = %d, want %d", tt.kind, tt.command, got, tt.want)
		}
	}
}

func BenchmarkDatastore(b *testing.B) {
	c := NewContext(&etl, src, dst, "bench")
	q := Query{
		User: "bench", Text: "SELECT abalance FROM pgbench_accounts WHERE aid = 42", Kind: "select", Command: "SELECT",
		Table: "public.pgbench_accounts", Decision: Decision{Policy: "bench", Rule: "read", PolicyVersion: "3f9c2a71d0e4"},
		Duration: 90 * time.Microsecond, Rows: 1, HasRows: true,
	}
	l := zerolog.New(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		c.Datastore(l.Info(), &q).Send()
	}
}
