package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// requireAuthConfig is one inject target whose role on the server logs in
// with MD5, while the target accepts only SCRAM from it.
const requireAuthConfig = pgDaemon + `
targets:
  - name: orders-md5
    protocol: postgres
    address: {{.PG}}
    postgres:
      auth: inject
      credentials: { username: legacy_md5, password_file: {{.Dir}}/md5.password }
      require_auth: [scram-sha-256]
      database: orders
`

// selectPolicy lets legacy-etl run SELECTs on targets (a YAML list).
func selectPolicy(targets string) string {
	return `
policies:
  - name: etl
    identities: [legacy-etl]
    targets: ` + targets + `
    default: deny
    rules:
      - name: read
        action: allow
        postgres: { kinds: [select] }
`
}

// TestPostgresRequireAuth: with require_auth: [scram-sha-256], a real
// PostgreSQL asking for an MD5 answer gets none; psql gets a FATAL naming
// the method and the setting, and the login is an event. (Through SCRAM,
// require_auth lets logins through: the inject target of TestPostgresPsql
// sets it.)
func TestPostgresRequireAuth(t *testing.T) {
	e := newEnv(t)
	srv := pgtest.StartT(t, pgtest.Options{Host: "127.0.0.7"})
	if err := srv.CreateUser("legacy_md5", etlPassword, pgtest.MD5); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDatabase("orders", "legacy_md5"); err != nil {
		t.Fatal(err)
	}
	e.vars["PG"] = srv.Addr().String()
	write(t, filepath.Join(e.dir, "md5.password"), etlPassword+"\n")
	write(t, filepath.Join(e.dir, "policies", "etl.yaml"), selectPolicy("[orders-md5]"))
	w := &pgWorld{env: e, pg: srv}
	e.start(e.writeConfig(requireAuthConfig))

	r := w.psql(t, srv, "whoever", "irrelevant", "", "-At", "-v", "VERBOSITY=verbose", "-c", "SELECT 1")
	if r.code == 0 {
		t.Fatalf("psql logged in through a target that refuses MD5: %+v", r)
	}
	for _, want := range []string{`refuses to log in to target "orders-md5"`, "asks for an MD5 password", "postgres.require_auth of this target accepts only scram-sha-256"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("psql's error does not say %q:\n%s", want, r.stderr)
		}
	}
	login := w.daemon.waitEvent(t, "db.login failure", func(ev event) bool {
		return ev.str("event") == "db.login" && ev.str("target") == "orders-md5" && ev.str("outcome") == "failure"
	})
	if !strings.Contains(login.str("error"), "require_auth") {
		t.Errorf("login event = %v", login)
	}
	if n, err := srv.Exec("orders", "SELECT count(*) FROM pg_stat_activity WHERE usename = 'legacy_md5'"); err != nil || strings.TrimSpace(n) != "0" {
		t.Errorf("sessions of legacy_md5 on the server: %q, %v", n, err)
	}
	if log := readFile(w.daemon.log); strings.Contains(log, etlPassword) {
		t.Error("the password appears in the event log")
	}
}
