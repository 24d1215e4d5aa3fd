package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/pgtest"
)

// maxSessionsConfig is pgDaemon with legacy-etl bounded to two sessions at
// once, and one passthrough target.
var maxSessionsConfig = strings.Replace(pgDaemon, "  - name: legacy-etl\n    egress: deny\n",
	"  - name: legacy-etl\n    egress: deny\n    max_sessions: 2\n", 1) + `
targets:
  - name: orders-db
    protocol: postgres
    address: {{.PG}}
`

// sleeper is a psql of identity legacy-etl running a long pg_sleep.
type sleeper struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

func (w *pgWorld) startSleeper(t *testing.T) *sleeper {
	t.Helper()
	args := []string{"--control", w.socket(), "run", "--identity", "legacy-etl", "--",
		"/usr/bin/psql", "-X", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "etl", "-d", "orders", "-c", "SELECT pg_sleep(60)"}
	s := &sleeper{cmd: exec.Command(filepath.Join(binDir, "sluice"), args...)}
	s.cmd.Env = append(os.Environ(), "PGPASSWORD="+etlPassword, "PGSSLMODE=disable")
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

// sleeping waits until n pg_sleep calls run on srv.
func sleeping(t *testing.T, srv *pgtest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := srv.Exec("orders", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'")
		if err == nil && strings.TrimSpace(out) == fmt.Sprint(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q pg_sleep calls running (%v), want %d", out, err, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresMaxSessions: an identity with max_sessions: 2 holding two
// sessions gets a third refused in PostgreSQL's terms (FATAL, SQLSTATE
// 53300, as a server at max_connections), with an event; its
// CancelRequests still go through (a cancel is no session); once a
// session ends, a new one is admitted.
func TestPostgresMaxSessions(t *testing.T) {
	e := newEnv(t)
	srv := pgtest.StartT(t, pgtest.Options{Host: "127.0.0.7"})
	if err := srv.CreateUser("etl", etlPassword, pgtest.SCRAM); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDatabase("orders", "etl"); err != nil {
		t.Fatal(err)
	}
	e.vars["PG"] = srv.Addr().String()
	write(t, filepath.Join(e.dir, "policies", "etl.yaml"), selectPolicy("[orders-db]"))
	w := &pgWorld{env: e, pg: srv}
	if !strings.Contains(maxSessionsConfig, "max_sessions: 2") {
		t.Fatal("pgDaemon changed: legacy-etl has no max_sessions")
	}
	e.start(e.writeConfig(maxSessionsConfig))

	first, second := w.startSleeper(t), w.startSleeper(t)
	sleeping(t, srv, 2)
	out, code := e.sluice(0, "status", "--json")
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("sluice status --json: exit %d, %v:\n%s", code, err, out)
	}
	if st.MaxSessions != 10000 || !slices.Equal(st.Sessions, []control.IdentitySessions{{Identity: "legacy-etl", Open: 2, Max: 2}}) {
		t.Errorf("status: max_sessions %d, sessions %+v; want 10000 and legacy-etl 2 open of 2", st.MaxSessions, st.Sessions)
	}

	r := w.psql(t, srv, "etl", etlPassword, "", "-At", "-v", "VERBOSITY=verbose", "-c", "SELECT 'third'")
	if r.code == 0 || strings.Contains(r.stdout, "third") {
		t.Fatalf("a third session of an identity with max_sessions: 2 ran: %+v", r)
	}
	for _, want := range []string{"FATAL", `too many sessions for identity "legacy-etl": 2 open, its max_sessions is 2`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("psql's error does not say %q:\n%s", want, r.stderr)
		}
	}
	denied := w.daemon.waitEvent(t, "connection.denied over max_sessions", func(ev event) bool {
		return ev.str("event") == "connection.denied" && ev.str("identity") == "legacy-etl" &&
			strings.Contains(ev.str("reason"), "its max_sessions is 2")
	})
	if denied.str("target") != "orders-db" {
		t.Errorf("connection.denied = %v", denied)
	}

	// At the limit, psql's CancelRequest (a connection of its own) is
	// routed: the first sleeper's query is cancelled.
	start := time.Now()
	_ = first.cmd.Process.Signal(syscall.SIGINT)
	_ = first.cmd.Wait()
	if !strings.Contains(first.stderr.String(), "canceling statement due to user request") || time.Since(start) > 10*time.Second {
		t.Errorf("psql after SIGINT at the limit: %q after %v", first.stderr.String(), time.Since(start))
	}
	w.daemon.waitEvent(t, "db.cancel routed", func(ev event) bool {
		return ev.str("event") == "db.cancel" && ev.str("outcome") == "routed"
	})
	// The cancel asked for no session: the third psql is the only
	// connection refused.
	if denied := waitEvents(w.daemon, 1, named("connection.denied")); len(denied) != 1 {
		t.Errorf("%d connection.denied events, want 1 (the cancel is no refusal):\n%v", len(denied), denied)
	}
	sleeping(t, srv, 1)

	// One session is free again.
	r = w.psql(t, srv, "etl", etlPassword, "", "-At", "-c", "SELECT 'after'")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "after" {
		t.Fatalf("psql once a session ended: %+v", r)
	}

	_ = second.cmd.Process.Signal(syscall.SIGINT)
	_ = second.cmd.Wait()
	noSleepers(t, srv)
}
