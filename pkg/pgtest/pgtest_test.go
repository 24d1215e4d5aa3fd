package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/pkg/privtest"
)

// requirePG skips t, or fails it when privileged tests are required, unless
// PostgreSQL can run here.
func requirePG(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to run PostgreSQL as the postgres user"
	} else if err := Available(); err != nil {
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

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", redact(url), err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func queryString(t *testing.T, c *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := c.QueryRow(t.Context(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func redact(url string) string {
	if at := strings.LastIndexByte(url, '@'); at > 0 {
		return "postgres://...@" + url[at+1:]
	}
	return url
}

// gone reports whether the process pid no longer runs as a postgres or
// pgbouncer process.
func gone(pid int) bool {
	comm, state, _, err := procStat(pid)
	return err != nil || state == 'Z' || (comm != "postgres" && comm != "pgbouncer")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, host := range []string{
		// Refused before anything listens; non-loopback examples are from
		// the documentation ranges (RFC 5737, RFC 3849).
		"0.0.0.0", "::", "192.0.2.1", "198.51.100.10", "203.0.113.1",
		"2001:db8::1", "fe80::1", "fe80::1%lo", "::ffff:192.0.2.1",
		"localhost", "example.com", "127.0.0.1:5432",
	} {
		s, err := Start(t.Context(), Options{Host: host})
		if err == nil {
			s.Stop()
			t.Errorf("Start(Host: %q) succeeded", host)
			continue
		}
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Start(Host: %q): %v, want ErrNotLoopback", host, err)
		}
	}
	for _, host := range []string{"", "127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"} {
		if _, err := loopback(host); err != nil {
			t.Errorf("loopback(%q): %v", host, err)
		}
	}
}

func TestStartRefusesManagedSettings(t *testing.T) {
	for _, k := range []string{"listen_addresses", "Port", "unix_socket_directories", "hba_file", "ssl"} {
		if _, err := Start(t.Context(), Options{Settings: map[string]string{k: "x"}}); err == nil {
			t.Errorf("Start accepted setting %s", k)
		}
	}
	if _, err := Start(t.Context(), Options{Settings: map[string]string{"work_mem": "1MB\nlisten_addresses='*'"}}); err == nil {
		t.Error("Start accepted a value with a line break")
	}
	if _, err := bouncerSettings(BouncerOptions{Settings: map[string]string{"listen_addr": "*"}}); err == nil {
		t.Error("bouncer accepted listen_addr")
	}
}

func TestRenderHBA(t *testing.T) {
	got := string(renderHBA("127.0.0.0/8", "postgres", []hbaLine{{"alice", MD5}}))
	want := "local\tall\tall\t\ttrust\n" +
		"host\tall\t\"postgres\"\t127.0.0.0/8\tscram-sha-256\n" +
		"host\tall\t\"alice\"\t127.0.0.0/8\tmd5\n" +
		"host\tall\tall\t127.0.0.0/8\tscram-sha-256\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("pg_hba.conf:\n%s\nwant it to end with:\n%s", got, want)
	}
}

func TestServer(t *testing.T) {
	requirePG(t)
	t.Parallel()
	var log strings.Builder
	s := StartT(t, Options{Settings: map[string]string{"max_connections": "150"}, Log: &log})
	dir, pid := s.Dir, s.PID()
	if pid <= 1 || gone(pid) {
		t.Fatalf("postmaster pid %d is not running", pid)
	}

	for sql, want := range map[string]string{
		"SHOW max_connections":     "150",
		"SHOW fsync":               "off",
		"SHOW listen_addresses":    "127.0.0.1",
		"SHOW port":                fmt.Sprint(s.Port),
		"SELECT 1; SELECT 2":       "1\n2",
		"SHOW password_encryption": "scram-sha-256",
	} {
		got, err := s.Exec("postgres", sql)
		if err != nil || got != want {
			t.Errorf("Exec(%q) = %q, %v; want %q", sql, got, err, want)
		}
	}
	if _, err := s.Exec("postgres", "SELECT nonsense"); err == nil {
		t.Error("Exec of a bad query succeeded")
	}

	su := connect(t, s.URL(s.SuperUser, s.SuperPassword, "postgres"))
	if got := queryString(t, su, "SELECT current_user"); got != "postgres" {
		t.Errorf("superuser over TCP is %q", got)
	}
	if _, err := pgx.Connect(t.Context(), s.URL(s.SuperUser, "wrong", "postgres")); err == nil {
		t.Error("superuser logged in with a wrong password")
	}

	users := []struct {
		name, password string
		auth           AuthMethod
		stored         string // prefix of pg_authid.rolpassword
	}{
		{"app_scram", "s3cret'\"pw", SCRAM, "SCRAM-SHA-256$"},
		{"app_md5", "md5-secret", MD5, "md5"},
		{"app_plain", "plain-secret", Password, "SCRAM-SHA-256$"},
		{"app_trust", "", Trust, ""},
	}
	for _, u := range users {
		if err := s.CreateUser(u.name, u.password, u.auth); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.name, err)
		}
	}
	if err := s.CreateUser("app_scram", "x", SCRAM); err == nil {
		t.Error("CreateUser accepted a duplicate")
	}
	if err := s.CreateUser("nopw", "", MD5); err == nil {
		t.Error("CreateUser accepted MD5 without a password")
	}
	if err := s.CreateUser(`bad"name`, "x", SCRAM); err == nil {
		t.Error("CreateUser accepted a bad name")
	}
	for _, u := range users {
		t.Run(string(u.auth), func(t *testing.T) {
			stored, err := s.Exec("postgres", fmt.Sprintf("SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = '%s'", u.name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, u.stored) || (u.stored == "") != (stored == "") {
				t.Errorf("stored password %.16q, want prefix %q", stored, u.stored)
			}
			method, err := s.Exec("postgres", fmt.Sprintf("SELECT auth_method FROM pg_hba_file_rules WHERE user_name = '{%s}'", u.name))
			if err != nil || method != string(u.auth) {
				t.Errorf("pg_hba.conf method %q, %v; want %s", method, err, u.auth)
			}
			c := connect(t, s.URL(u.name, u.password, "postgres"))
			if got := queryString(t, c, "SELECT current_user"); got != u.name {
				t.Errorf("current_user %q, want %q", got, u.name)
			}
			if u.auth != Trust {
				if c, err := pgx.Connect(t.Context(), s.URL(u.name, u.password+"x", "postgres")); err == nil {
					c.Close(context.Background())
					t.Error("logged in with a wrong password")
				}
			}
		})
	}

	if err := s.CreateDatabase("appdb", "app_scram"); err != nil {
		t.Fatal(err)
	}
	app := connect(t, s.URL("app_scram", users[0].password, "appdb"))
	if _, err := app.Exec(t.Context(), "CREATE TABLE kv (k text PRIMARY KEY, v int); INSERT INTO kv VALUES ('a', 1), ('b', 2)"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, app, "SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM kv"); got != "a=1,b=2" {
		t.Errorf("kv = %q", got)
	}

	cmd, err := s.Command(t.Context(), "psql", "-X", "-At", "-c", "SELECT current_database()")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != "postgres" {
		t.Errorf("Command psql: %q, %v", out, err)
	}

	t.Run("bouncer", func(t *testing.T) {
		b := StartBouncerT(t, s, BouncerOptions{})
		bdir, bpid := b.Dir, b.PID()
		if b.Host != "127.0.0.1" || b.Port == s.Port {
			t.Errorf("bouncer on %s", b.Addr())
		}
		for _, u := range users[:3] {
			c := connect(t, b.URL(u.name, u.password, "appdb"))
			if got := queryString(t, c, "SELECT current_user || '@' || current_database()"); got != u.name+"@appdb" {
				t.Errorf("through pgbouncer: %q", got)
			}
		}
		if c, err := pgx.Connect(t.Context(), b.URL("app_scram", "wrong", "appdb")); err == nil {
			c.Close(context.Background())
			t.Error("pgbouncer accepted a wrong password")
		}

		// 64 concurrent sessions, as the benchmarks use.
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				c, err := pgx.Connect(ctx, b.URL("app_scram", users[0].password, "appdb"))
				if err != nil {
					errs <- err
					return
				}
				defer c.Close(context.Background())
				var n int
				if err := c.QueryRow(ctx, "SELECT $1::int + v FROM kv WHERE k = 'a'", i).Scan(&n); err != nil || n != i+1 {
					errs <- fmt.Errorf("client %d: %d, %v", i, n, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		if err := b.Stop(); err != nil {
			t.Fatal(err)
		}
		if !gone(bpid) || exists(bdir) {
			t.Errorf("after Stop: pgbouncer pid %d gone %v, %s exists %v", bpid, gone(bpid), bdir, exists(bdir))
		}
	})

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if !gone(pid) || exists(dir) {
		t.Errorf("after Stop: postmaster pid %d gone %v, %s exists %v", pid, gone(pid), dir, exists(dir))
	}
	if !strings.Contains(log.String(), "database system is shut down") {
		t.Errorf("Options.Log does not have the shutdown:\n%s", log.String())
	}
}

func TestTLS(t *testing.T) {
	requirePG(t)
	t.Parallel()
	s := StartT(t, Options{TLS: true})
	if s.CAFile == "" || s.RootCAs() == nil {
		t.Fatal("no CA")
	}
	url := s.URL(s.SuperUser, s.SuperPassword, "postgres")
	if !strings.Contains(url, "sslmode=verify-full") {
		t.Fatalf("URL %s does not verify the server", redact(url))
	}
	c := connect(t, url)
	if got := queryString(t, c, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); got != "true" {
		t.Errorf("ssl = %s", got)
	}
	if err := s.CreateUser("tls_md5", "pw", MD5); err != nil {
		t.Fatal(err)
	}
	c2 := connect(t, s.URL("tls_md5", "pw", "postgres"))
	if got := queryString(t, c2, "SELECT current_user"); got != "tls_md5" {
		t.Errorf("current_user %q", got)
	}

	// A certificate from another CA must be refused.
	other := StartT(t, Options{TLS: true})
	wrong := strings.Replace(url, fmt.Sprintf(":%d/", s.Port), fmt.Sprintf(":%d/", other.Port), 1)
	if c, err := pgx.Connect(t.Context(), strings.Replace(wrong, s.SuperPassword, other.SuperPassword, 1)); err == nil {
		c.Close(context.Background())
		t.Error("verify-full accepted a certificate from another CA")
	}
}

func TestIPv6(t *testing.T) {
	requirePG(t)
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	t.Parallel()
	s := StartT(t, Options{Host: "::1"})
	if err := s.CreateUser("v6", "pw6", SCRAM); err != nil {
		t.Fatal(err)
	}
	c := connect(t, s.URL("v6", "pw6", "postgres"))
	if got := queryString(t, c, "SELECT host(inet_client_addr())"); got != "::1" {
		t.Errorf("client address %q", got)
	}
	b := StartBouncerT(t, s, BouncerOptions{Auth: Trust, PoolMode: "transaction"})
	cb := connect(t, b.URL("v6", "", "postgres"))
	if got := queryString(t, cb, "SELECT current_user"); got != "v6" {
		t.Errorf("through pgbouncer: %q", got)
	}
	if !strings.Contains(b.LogTail(100), "listening on [::1]") {
		t.Errorf("pgbouncer log:\n%s", b.LogTail(100))
	}
}

// TestStartFailure checks that a server that cannot start leaves nothing
// behind and says why. It changes TMPDIR, so it does not run in parallel.
func TestStartFailure(t *testing.T) {
	requirePG(t)
	base, tmp := os.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)

	// t.TempDir is private to root: the postgres user cannot reach it.
	if _, err := Start(t.Context(), Options{}); err == nil || !strings.Contains(err.Error(), "cannot enter") {
		t.Errorf("Start in a directory postgres cannot reach: %v", err)
	}
	for p := tmp; p != base && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var log strings.Builder
	_, err := Start(t.Context(), Options{Settings: map[string]string{"shared_buffers": "lots"}, Log: &log})
	if err == nil {
		t.Fatal("Start with a bad setting succeeded")
	}
	if !strings.Contains(err.Error(), `invalid value for parameter "shared_buffers"`) {
		t.Errorf("error does not show the log:\n%v", err)
	}
	if !strings.Contains(log.String(), "shared_buffers") {
		t.Errorf("Options.Log got %q", log.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in %s: %v", tmp, left)
	}
}

// TestStopKillsPostmaster checks the fallback: when pg_ctl stop fails, Stop
// signals the postmaster it started.
func TestStopKillsPostmaster(t *testing.T) {
	requirePG(t)
	t.Parallel()
	s := StartT(t, Options{})
	pid, dir := s.PID(), s.Dir
	s.pgCtl = "/bin/false"
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) || exists(dir) {
		t.Errorf("after Stop: postmaster pid %d gone %v, %s exists %v", pid, gone(pid), dir, exists(dir))
	}
	t.Logf("stopped by signal in %v", time.Since(start))
}
