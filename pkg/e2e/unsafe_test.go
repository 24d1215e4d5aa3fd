package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// TestUnsafeSettings runs psql through sluice against a real PostgreSQL
// with the settings that change how the server reads a statement's bytes:
// standard_conforming_strings off would let 'x\” ; DROP TABLE ... --'
// look like one string to sluice and run a DROP on the server. Each way
// of turning them on is refused, or ends the session.
func TestUnsafeSettings(t *testing.T) {
	w := newRecWorld(t, nil, "")
	w.seedOrders(t, pgtest.SCRAM)
	if _, err := w.pg.Exec("orders", `CREATE FUNCTION public.flip() RETURNS text LANGUAGE sql
		AS $$ SELECT set_config('standard_conforming_strings', 'off', false) $$`); err != nil {
		t.Fatal(err)
	}
	// The job may call it: the classifier cannot see what a function
	// does; the server reports the change.
	write(t, filepath.Join(w.dir, "policies", "etl.yaml"), recPolicy+`
      - name: call-flip
        action: allow
        postgres:
          kinds: [call]
          functions: ["public.flip"]
`)
	w.startDaemon(t)
	psql, err := pgtest.Bin("psql")
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, env []string, sql string) jobResult {
		t.Helper()
		env = append([]string{"PGPASSWORD=" + etlPassword, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10"}, env...)
		return startJob(t, w.socket(), 0, env, "", psql, "-X", "-At", "-h", w.pg.Host, "-p", strconv.Itoa(w.pg.Port),
			"-U", "etl", "-d", "orders", "-c", sql).wait(t)
	}
	count := func(t *testing.T) string {
		t.Helper()
		out, err := w.pg.Exec("orders", "SELECT count(*) FROM sales.orders")
		if err != nil {
			t.Fatalf("sales.orders: %v", err)
		}
		return strings.TrimSpace(out)
	}
	rows := count(t)

	for _, tc := range []struct {
		name string
		env  []string
		sql  string
		want string
	}{
		{"SET", nil, "SET standard_conforming_strings = off",
			`ERROR:  permission denied by sluice policy "sluice" rule "unsafe-setting": standard_conforming_strings is "off"`},
		{"SET and the statement it would hide, in one query", nil,
			`SET standard_conforming_strings = off; SELECT 'x\''; DROP TABLE sales.orders; --'`,
			`rule "unsafe-setting"`},
		{"SET NAMES", nil, "SET NAMES 'SJIS'", `client_encoding "SJIS"`},
		{"set_config", nil, "SELECT set_config('standard_conforming_strings', 'off', false)", `rule "unsafe-setting"`},
		{"a startup option", []string{"PGOPTIONS=-c standard_conforming_strings=off"}, "SELECT 1",
			`FATAL:  sluice refuses this session: standard_conforming_strings is "off"`},
		{"a client-only client encoding", []string{"PGCLIENTENCODING=SJIS"}, "SELECT 1",
			`FATAL:  sluice refuses this session: client_encoding "SJIS"`},
		{"a function that changes it", nil, "SELECT public.flip() FROM sales.orders LIMIT 1",
			`FATAL:  terminating connection: standard_conforming_strings is "off"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, tc.env, tc.sql)
			if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("psql: %+v, want it to fail with %q", res, tc.want)
			}
			if n := count(t); n != rows {
				t.Errorf("sales.orders has %s rows, had %s", n, rows)
			}
		})
	}
}
