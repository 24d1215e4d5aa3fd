package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// pgDaemon is the daemon and identities of the PostgreSQL tests.
const pgDaemon = `
listen: {{.Listen}}
listen6: "{{.Listen6}}"
control_socket: {{.Dir}}/control.sock
cgroup_root: {{.Root}}
state_dir: {{.Dir}}/state
policies: {{.Dir}}/policies
log: { format: json, level: debug }
bpf: { pin_dir: {{.PinDir}} }
identities:
  - name: legacy-etl
    egress: deny
  - name: reporting
    egress: deny
`

// pgConfig adds two PostgreSQL targets to pgDaemon: orders-db passes the
// client's authentication through; orders-inject logs in with injected
// credentials over verified TLS, accepting only SCRAM bound to the TLS
// session (SCRAM-SHA-256-PLUS) from the server.
const pgConfig = pgDaemon + `
targets:
  - name: orders-db
    protocol: postgres
    address: {{.PG}}
    postgres:
      client_tls: { cert_file: {{.Dir}}/client-tls.crt, key_file: {{.Dir}}/client-tls.key }
      max_message_size: 1048576
  - name: orders-inject
    protocol: postgres
    address: {{.PGTLS}}
    postgres:
      auth: inject
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      require_auth: [scram-sha-256]
      channel_binding: require
      database: orders
      tls: verify-full
      ca_file: {{.CA}}
`

// pgPolicy allows reads of sales and public, writes to staging, and
// refuses DDL and everything else.
const pgPolicy = `
policies:
  - name: etl
    identities: [legacy-etl]
    targets: [orders-db, orders-inject]
    default: deny
    rules:
      - name: no-ddl
        action: deny
        message: DDL is not allowed for ETL jobs
        postgres: { kinds: [ddl, grant, truncate, do, dangerous, copy_file, copy_program] }
      - name: read-sales-and-public
        action: allow
        postgres:
          kinds: [select, copy_to, show, set, transaction, explain, empty, utility]
          reads: ["sales.*", "public.*", "pg_catalog.*", "information_schema.*"]
      - name: write-staging
        action: allow
        postgres:
          kinds: [insert, update, delete, copy_from, select]
          writes: ["staging.*"]
          reads: ["staging.*", "sales.*", "public.*"]
`

// pgSeed is the data every test database holds.
const pgSeed = `
CREATE SCHEMA sales; CREATE SCHEMA prod; CREATE SCHEMA staging;
CREATE TABLE sales.orders (id int PRIMARY KEY, amount bigint NOT NULL);
INSERT INTO sales.orders VALUES (1, 100), (2, 250), (3, 75);
CREATE TABLE public.products (id int PRIMARY KEY, name text);
INSERT INTO public.products VALUES (1, 'widget'), (2, 'gadget');
CREATE TABLE prod.accounts (id serial PRIMARY KEY, name text);
INSERT INTO prod.accounts (name) VALUES ('alice');
CREATE TABLE staging.imports (id serial PRIMARY KEY, payload text);
GRANT USAGE ON SCHEMA sales, prod, staging TO etl;
GRANT ALL ON ALL TABLES IN SCHEMA sales, prod, staging, public TO etl;
GRANT ALL ON ALL SEQUENCES IN SCHEMA sales, prod, staging, public TO etl;
`

const etlPassword = "etl-Secret-pw-9"

// pgWorld is sluiced in front of two real PostgreSQL servers.
type pgWorld struct {
	*env
	pg, pgTLS *pgtest.Server
}

func newPGWorld(t *testing.T) *pgWorld {
	e := newEnv(t)
	w := &pgWorld{env: e}
	w.pg = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.5"})
	w.pgTLS = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.6", TLS: true})
	for _, s := range []*pgtest.Server{w.pg, w.pgTLS} {
		if err := s.CreateUser("etl", etlPassword, pgtest.SCRAM); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateDatabase("orders", "etl"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Exec("orders", pgSeed); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.pg.CreateUser("legacy_md5", etlPassword, pgtest.MD5); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pg.Exec("orders", "GRANT USAGE ON SCHEMA sales TO legacy_md5; GRANT SELECT ON ALL TABLES IN SCHEMA sales TO legacy_md5"); err != nil {
		t.Fatal(err)
	}
	e.vars["PG"] = w.pg.Addr().String()
	e.vars["PGTLS"] = w.pgTLS.Addr().String()
	e.vars["CA"] = w.pgTLS.CAFile
	write(t, filepath.Join(e.dir, "etl.password"), etlPassword+"\n")
	write(t, filepath.Join(e.dir, "policies", "etl.yaml"), pgPolicy)
	writeSelfSigned(t, filepath.Join(e.dir, "client-tls.crt"), filepath.Join(e.dir, "client-tls.key"))
	e.start(e.writeConfig(pgConfig))
	return w
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// jobResult is what a client run as a tagged job printed.
type jobResult struct {
	stdout, stderr string
	code           int
}

// job runs argv as `sluice run --identity ident`, with env added.
func (w *pgWorld) job(t *testing.T, ident string, env []string, stdin string, argv ...string) jobResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"--control", w.socket(), "run", "--identity", ident, "--"}, argv...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sluice"), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := jobResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sluice run %v: %v", argv, err)
	}
	return res
}

// psql runs psql against srv as a job of identity legacy-etl.
func (w *pgWorld) psql(t *testing.T, srv *pgtest.Server, user, password, stdin string, args ...string) jobResult {
	t.Helper()
	env := []string{"PGPASSWORD=" + password, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable"}
	argv := append([]string{"/usr/bin/psql", "-X", "-h", srv.Host, "-p", fmt.Sprint(srv.Port), "-U", user, "-d", "orders"}, args...)
	return w.job(t, "legacy-etl", env, stdin, argv...)
}

// queryEvent waits for the db.query event of a statement.
func (w *pgWorld) queryEvent(t *testing.T, statement string) event {
	t.Helper()
	return w.daemon.waitEvent(t, "db.query "+statement, func(ev event) bool {
		return ev.str("event") == "db.query" && ev.str("statement") == statement
	})
}

func TestPostgresPsql(t *testing.T) {
	w := newPGWorld(t)

	t.Run("allowed select runs and is audited", func(t *testing.T) {
		r := w.psql(t, w.pg, "etl", etlPassword, "", "-At", "-c", "SELECT sum(amount) FROM sales.orders")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "425" {
			t.Fatalf("psql: %+v", r)
		}
		ev := w.queryEvent(t, "SELECT sum(amount) FROM sales.orders")
		if ev.str("decision") != "allow" || ev.str("kind") != "select" || ev.str("identity") != "legacy-etl" ||
			ev.str("target") != "orders-db" || ev.str("rule") != "read-sales-and-public" || ev.num("rows") != 1 {
			t.Errorf("event = %v", ev)
		}
	})

	t.Run("DROP TABLE is refused with 42501 and the session goes on", func(t *testing.T) {
		script := "DROP TABLE sales.orders;\nSELECT count(*) FROM sales.orders;\n"
		r := w.psql(t, w.pg, "etl", etlPassword, script, "-At", "-v", "VERBOSITY=verbose")
		if !strings.Contains(r.stderr, "42501") || !strings.Contains(r.stderr, `sluice policy "etl" rule "no-ddl"`) {
			t.Errorf("stderr lacks the denial: %s", r.stderr)
		}
		if strings.TrimSpace(r.stdout) != "3" {
			t.Errorf("the next statement did not run: %+v", r)
		}
		ev := w.queryEvent(t, "DROP TABLE sales.orders")
		if ev.str("decision") != "deny" || ev.str("kind") != "ddl" || ev.str("sqlstate") != "42501" {
			t.Errorf("event = %v", ev)
		}
		if n, _ := w.pg.Exec("orders", "SELECT count(*) FROM sales.orders"); strings.TrimSpace(n) != "3" {
			t.Errorf("table changed: %q", n)
		}
	})

	t.Run("a rule allowing set does not allow taking another role", func(t *testing.T) {
		// etl may take orders_admin on the server, which may read prod.
		if _, err := w.pg.Exec("orders", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'orders_admin') THEN CREATE ROLE orders_admin; END IF; END $$; "+
			"GRANT orders_admin TO etl; GRANT USAGE ON SCHEMA prod TO orders_admin"); err != nil {
			t.Fatal(err)
		}
		script := "SET statement_timeout = '5s';\nSET ROLE orders_admin;\nSELECT set_config('role', 'orders_admin', false);\nSELECT id, set_config('Role', 'orders_admin', false) FROM sales.orders WHERE id = 1;\n" +
			"SELECT set_config('roleXYZ'::varchar(4), 'orders_admin', false);\nSELECT current_user;\n"
		r := w.psql(t, w.pg, "etl", etlPassword, script, "-At", "-v", "VERBOSITY=verbose")
		if n := strings.Count(r.stderr, `ERROR:  42501: permission denied by sluice policy "etl" rule "default"`); n != 3 {
			t.Errorf("%d role changes refused by the policy, want 3:\n%s", n, r.stderr)
		}
		if !strings.Contains(r.stderr, "set_config of a setting whose name is not a string literal") {
			t.Errorf("set_config of a cast name was not refused as unsafe:\n%s", r.stderr)
		}
		if strings.TrimSpace(r.stdout) != "SET\netl" {
			t.Errorf("psql printed %q, want SET (statement_timeout) and etl (the session's role after the refusals)", r.stdout)
		}
		for _, stmt := range []string{"SET ROLE orders_admin", "SELECT set_config('role', 'orders_admin', false)"} {
			if ev := w.queryEvent(t, stmt); ev.str("kind") != "set_role" || ev.str("decision") != "deny" {
				t.Errorf("event of %s: kind %q, decision %q", stmt, ev.str("kind"), ev.str("decision"))
			}
		}
		if ev := w.queryEvent(t, "SET statement_timeout = '5s'"); ev.str("kind") != "set" || ev.str("decision") != "allow" {
			t.Errorf("SET statement_timeout: kind %q, decision %q", ev.str("kind"), ev.str("decision"))
		}
	})

	t.Run("ON_ERROR_STOP stops the script at the denial", func(t *testing.T) {
		script := "INSERT INTO staging.imports (payload) VALUES ('before');\nDELETE FROM prod.accounts;\nINSERT INTO staging.imports (payload) VALUES ('after');\n"
		r := w.psql(t, w.pg, "etl", etlPassword, script, "-v", "ON_ERROR_STOP=1")
		if r.code != 3 {
			t.Errorf("exit code %d, want 3 (ON_ERROR_STOP): %+v", r.code, r)
		}
		got, _ := w.pg.Exec("orders", "SELECT string_agg(payload, ',' ORDER BY id) FROM staging.imports WHERE payload IN ('before','after')")
		if strings.TrimSpace(got) != "before" {
			t.Errorf("staging rows = %q, want only 'before'", got)
		}
		if n, _ := w.pg.Exec("orders", "SELECT count(*) FROM prod.accounts"); strings.TrimSpace(n) != "1" {
			t.Errorf("prod.accounts changed: %q", n)
		}
	})

	t.Run("multi-statement query with one denied statement runs none", func(t *testing.T) {
		r := w.psql(t, w.pg, "etl", etlPassword, "", "-c", "INSERT INTO staging.imports (payload) VALUES ('multi'); DROP TABLE prod.accounts")
		if r.code == 0 || !strings.Contains(r.stderr, "no-ddl") {
			t.Errorf("psql: %+v", r)
		}
		if n, _ := w.pg.Exec("orders", "SELECT count(*) FROM staging.imports WHERE payload = 'multi'"); strings.TrimSpace(n) != "0" {
			t.Errorf("the allowed half ran: %q", n)
		}
	})

	t.Run("script file with a transaction", func(t *testing.T) {
		f := filepath.Join(w.dir, "job.sql")
		write(t, f, "BEGIN;\nINSERT INTO staging.imports (payload) VALUES ('file');\nSELECT count(*) FROM sales.orders;\nCOMMIT;\n")
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
		r := w.psql(t, w.pg, "etl", etlPassword, "", "-At", "-f", f)
		if r.code != 0 || !strings.Contains(r.stdout, "3") {
			t.Fatalf("psql -f: %+v", r)
		}
	})

	t.Run("copy both ways", func(t *testing.T) {
		r := w.psql(t, w.pg, "etl", etlPassword, "copied-1\ncopied-2\n\\.\n", "-c", `\copy staging.imports (payload) FROM STDIN`)
		if r.code != 0 || !strings.Contains(r.stdout, "COPY 2") {
			t.Fatalf("copy from: %+v", r)
		}
		r = w.psql(t, w.pg, "etl", etlPassword, "", "-c", `\copy (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT`)
		if r.code != 0 || !strings.Contains(r.stdout, "2\t250") {
			t.Fatalf("copy to: %+v", r)
		}
		r = w.psql(t, w.pg, "etl", etlPassword, "", "-c", `\copy (SELECT * FROM prod.accounts) TO STDOUT`)
		if r.code == 0 || !strings.Contains(r.stderr, "permission denied by sluice") {
			t.Fatalf("copy of prod: %+v", r)
		}
	})

	t.Run("md5 passthrough", func(t *testing.T) {
		r := w.psql(t, w.pg, "legacy_md5", etlPassword, "", "-At", "-c", "SELECT count(*) FROM sales.orders")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "3" {
			t.Fatalf("psql: %+v", r)
		}
		r = w.psql(t, w.pg, "legacy_md5", "wrong", "", "-At", "-c", "SELECT 1")
		if r.code == 0 || !strings.Contains(r.stderr, "password authentication failed") {
			t.Fatalf("wrong password: %+v", r)
		}
	})

	t.Run("inject: a hard-coded wrong password is irrelevant", func(t *testing.T) {
		r := w.psql(t, w.pgTLS, "whoever", "hard-coded-and-wrong", "", "-At", "-c", "SELECT current_user, count(*) FROM sales.orders")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "etl|3" {
			t.Fatalf("psql: %+v", r)
		}
		login := w.daemon.waitEvent(t, "db.login", func(ev event) bool {
			return ev.str("event") == "db.login" && ev.str("target") == "orders-inject" && ev.str("outcome") == "success"
		})
		if login.str("user") != "etl" || login.str("client_user") != "whoever" {
			t.Errorf("login event = %v", login)
		}
		ssl, _ := w.pgTLS.Exec("orders", "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'etl'")
		_ = ssl // the session is over by now; TLS is checked by the verify-full dial itself
		if log := readFile(w.daemon.log); strings.Contains(log, etlPassword) || strings.Contains(log, "hard-coded-and-wrong") {
			t.Error("a password appears in the event log")
		}
	})

	t.Run("SQL PREPARE and EXECUTE", func(t *testing.T) {
		script := "PREPARE by_id(int) AS SELECT amount FROM sales.orders WHERE id = $1;\nEXECUTE by_id(2);\nPREPARE wipe AS DELETE FROM prod.accounts;\nEXECUTE by_id(1);\n"
		r := w.psql(t, w.pg, "etl", etlPassword, script, "-At")
		if strings.Fields(r.stdout)[0] != "PREPARE" || !strings.Contains(r.stdout, "250") || !strings.Contains(r.stdout, "100") {
			t.Errorf("stdout: %q", r.stdout)
		}
		if !strings.Contains(r.stderr, "permission denied by sluice") {
			t.Errorf("PREPARE of a DELETE was not refused: %q", r.stderr)
		}
		ev := w.queryEvent(t, "EXECUTE by_id(2)")
		if ev.str("kind") != "select" || ev.str("decision") != "allow" {
			t.Errorf("EXECUTE event = %v", ev)
		}
	})

	t.Run("LISTEN and NOTIFY", func(t *testing.T) {
		r := w.psql(t, w.pg, "etl", etlPassword, "LISTEN jobs;\nNOTIFY jobs, 'done';\nSELECT 1;\n", "-At")
		if !strings.Contains(r.stdout, `Asynchronous notification "jobs" with payload "done" received`) {
			t.Errorf("no notification: %+v", r)
		}
	})

	t.Run("a million rows stream through", func(t *testing.T) {
		r := w.psql(t, w.pg, "etl", etlPassword, "", "-At", "-c", "SELECT g, md5(g::text) FROM generate_series(1, 1000000) g")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1000000 {
			t.Fatalf("exit %d, %d lines, stderr %s", r.code, strings.Count(r.stdout, "\n"), r.stderr)
		}
		ev := w.queryEvent(t, "SELECT g, md5(g::text) FROM generate_series(1, 1000000) g")
		if ev.num("rows") != 1000000 {
			t.Errorf("event rows = %v", ev["rows"])
		}
	})

	t.Run("psql cancels a long pg_sleep on SIGINT", func(t *testing.T) {
		args := []string{"--control", w.socket(), "run", "--identity", "legacy-etl", "--",
			"/usr/bin/psql", "-X", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "etl", "-d", "orders", "-c", "SELECT pg_sleep(30)"}
		cmd := exec.Command(filepath.Join(binDir, "sluice"), args...)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+etlPassword, "PGSSLMODE=disable")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.daemon.waitEvent(t, "pg_sleep in flight", func(ev event) bool {
			return ev.str("event") == "db.login" && ev.num("pid") == float64(cmd.Process.Pid)
		})
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		if !strings.Contains(errb.String(), "canceling statement due to user request") || time.Since(start) > 10*time.Second {
			t.Errorf("psql: %q after %v", errb.String(), time.Since(start))
		}
		noSleepers(t, w.pg)
	})

	t.Run("client TLS for sslmode=require", func(t *testing.T) {
		env := []string{"PGPASSWORD=" + etlPassword, "PGSSLMODE=require"}
		r := w.job(t, "legacy-etl", env, "", "/usr/bin/psql", "-X", "-At", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port),
			"-U", "etl", "-d", "orders", "-c", "SELECT count(*) FROM sales.orders", "-c", `\conninfo`)
		if r.code != 0 || !strings.Contains(r.stdout, "SSL connection") || !strings.HasPrefix(r.stdout, "3\n") {
			t.Fatalf("psql: %+v", r)
		}
	})

	t.Run("inject rewrites the database", func(t *testing.T) {
		env := []string{"PGPASSWORD=wrong", "PGSSLMODE=disable"}
		r := w.job(t, "legacy-etl", env, "", "/usr/bin/psql", "-X", "-At", "-h", w.pgTLS.Host, "-p", fmt.Sprint(w.pgTLS.Port),
			"-U", "nobody", "-d", "not_a_database", "-c", "SELECT current_database()")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "orders" {
			t.Fatalf("psql: %+v", r)
		}
	})

	t.Run("a message over max_message_size ends the session with FATAL 54000", func(t *testing.T) {
		big := "SELECT '" + strings.Repeat("x", 2<<20) + "';\n"
		r := w.psql(t, w.pg, "etl", etlPassword, big, "-At", "-v", "VERBOSITY=verbose")
		if r.code == 0 || !strings.Contains(r.stderr, "FATAL:  54000") || !strings.Contains(r.stderr, "the limit is 1048576") {
			t.Fatalf("psql: code %d, stderr %.500s", r.code, r.stderr)
		}
		r = w.psql(t, w.pg, "etl", etlPassword, "", "-At", "-c", "SELECT 1")
		if strings.TrimSpace(r.stdout) != "1" {
			t.Errorf("next session: %+v", r)
		}
	})

	t.Run("unparseable statement is refused", func(t *testing.T) {
		r := w.psql(t, w.pg, "etl", etlPassword, "", "-c", "SELEC * FROM sales.orders")
		if r.code == 0 || !strings.Contains(r.stderr, "could not be parsed") {
			t.Fatalf("psql: %+v", r)
		}
	})
}

// noSleepers waits until no pg_sleep runs on srv: a cancel routed through
// sluice reached the backend (the sleeps last 30 s).
func noSleepers(t *testing.T, srv *pgtest.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := srv.Exec("orders", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'")
		if err == nil && strings.TrimSpace(out) == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a cancelled pg_sleep still runs (%q, %v)", out, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPostgresDrivers(t *testing.T) {
	w := newPGWorld(t)
	dsn := fmt.Sprintf("host=%s port=%d user=etl password=%s dbname=orders sslmode=disable", w.pg.Host, w.pg.Port, etlPassword)

	t.Run("pgx", func(t *testing.T) {
		r := w.job(t, "legacy-etl", nil, "", filepath.Join(binDir, "pgxclient"), "-dsn", dsn)
		if r.code != 0 {
			t.Fatalf("pgxclient: %s\n%s", r.stdout, r.stderr)
		}
		w.daemon.waitEvent(t, "routed cancel", func(ev event) bool {
			return ev.str("event") == "db.cancel" && ev.str("outcome") == "routed"
		})
		noSleepers(t, w.pg)
	})

	t.Run("psycopg2", func(t *testing.T) {
		script, err := filepath.Abs("testdata/clients/psycopg2_client.py")
		if err != nil {
			t.Fatal(err)
		}
		r := w.job(t, "legacy-etl", nil, "", "/usr/bin/python3", script, dsn)
		if r.code != 0 {
			t.Fatalf("psycopg2 client: %s\n%s", r.stdout, r.stderr)
		}
		noSleepers(t, w.pg)
	})

	t.Run("jdbc", func(t *testing.T) {
		jar := "/usr/share/java/postgresql.jar"
		classes := t.TempDir()
		src, err := filepath.Abs("testdata/clients/JdbcClient.java")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("javac", "-cp", jar, "-d", classes, src).CombinedOutput(); err != nil {
			t.Fatalf("javac: %v\n%s", err, out)
		}
		url := fmt.Sprintf("jdbc:postgresql://%s:%d/orders?sslmode=disable", w.pg.Host, w.pg.Port)
		r := w.job(t, "legacy-etl", nil, "", "java", "-cp", jar+":"+classes, "JdbcClient", url, "etl", etlPassword)
		if r.code != 0 {
			t.Fatalf("jdbc client: %s\n%s", r.stdout, r.stderr)
		}
		noSleepers(t, w.pg)
	})
}

func TestPostgresPgbench(t *testing.T) {
	w := newPGWorld(t)
	// pgbench's tables are created directly (DDL would be refused through
	// sluice); the job only runs the benchmark.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	initCmd, err := w.pg.Command(ctx, "pgbench", "-i", "-q", "-s", "1", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if _, err := w.pg.Exec("orders", "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO etl"); err != nil {
		t.Fatal(err)
	}
	env := []string{"PGPASSWORD=" + etlPassword, "PGSSLMODE=disable"}
	bench := func(args ...string) jobResult {
		argv := append([]string{"/usr/bin/pgbench", "-n", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "etl"}, args...)
		return w.job(t, "legacy-etl", env, "", append(argv, "orders")...)
	}
	for _, mode := range []string{"simple", "extended", "prepared"} {
		t.Run("select-only "+mode, func(t *testing.T) {
			r := bench("-S", "-M", mode, "-c", "4", "-j", "2", "-t", "250")
			if r.code != 0 || !strings.Contains(r.stdout, "number of transactions actually processed: 1000/1000") {
				t.Fatalf("pgbench: %+v", r)
			}
		})
		t.Run("tpcb-like "+mode+" is refused", func(t *testing.T) {
			r := bench("-M", mode, "-c", "1", "-t", "5")
			if r.code == 0 || !strings.Contains(r.stderr, "permission denied by sluice") {
				t.Fatalf("pgbench: %+v", r)
			}
		})
	}
	out, _ := w.pg.Exec("orders", "SELECT count(*) FROM pgbench_history")
	if strings.TrimSpace(out) != "0" {
		t.Errorf("refused transactions wrote history: %q", out)
	}
}
