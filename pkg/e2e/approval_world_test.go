package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// approvalConfig: one PostgreSQL target; statements under review wait up
// to a minute (the rule for UPDATE says 2s); jobs run as uid 1001; uids
// 1001 and 1002 are approvers, but nobody approves their own requests. Three webhooks: a generic and a Slack one on a local
// receiver, and one that accepts connections and never answers.
const approvalConfig = `
listen: {{.Listen}}
listen6: "{{.Listen6}}"
control_socket: {{.Dir}}/control.sock
cgroup_root: {{.Root}}
state_dir: {{.Dir}}/state
policies: {{.Dir}}/policies
log: { format: json, level: debug }
bpf: { pin_dir: {{.PinDir}} }
approvals:
  timeout: 1m
  approvers: { uids: [1001, 1002] }
  webhooks:
    - { url: "{{.Hook}}/generic", format: generic }
    - { url: "{{.Hook}}/slack/T000/B000/hook-token", format: slack }
    - { url: "{{.DeadHook}}/dead", timeout: 30s }
identities:
  - name: legacy-etl
    egress: deny
    claimable_by: { uids: [1001] }
targets:
  - name: orders-db
    protocol: postgres
    address: {{.PG}}
`

const approvalPolicy = `
policies:
  - name: etl
    identities: [legacy-etl]
    targets: [orders-db]
    default: deny
    rules:
      - name: review-deletes
        action: review
        message: deletes need a human
        postgres: { kinds: [delete] }
      - name: review-updates
        action: review
        postgres: { kinds: [update] }
        approval: { timeout: 2s }
      - name: read
        action: allow
        postgres: { kinds: [select, show, set, transaction, empty, utility] }
`

const approvalSeed = `
CREATE SCHEMA sales;
CREATE TABLE sales.items (id int PRIMARY KEY, amount int NOT NULL);
INSERT INTO sales.items SELECT g, 10 * g FROM generate_series(1, 100) g;
GRANT USAGE ON SCHEMA sales TO etl;
GRANT ALL ON ALL TABLES IN SCHEMA sales TO etl;
`

// The uids of the approval tests: the job's, an approver's, an outsider's.
const (
	jobUID      = 1001
	approverUID = 1002
	outsiderUID = 1003
)

// approvalWorld is sluiced in front of one PostgreSQL server, with
// approvals configured.
type approvalWorld struct {
	*env
	pg   *pgtest.Server
	hook *hookReceiver
	dead *deadHook
	seen map[string]bool // request ids already returned by requested
}

func newApprovalWorld(t *testing.T) *approvalWorld {
	e := newEnv(t)
	w := &approvalWorld{env: e, hook: newHookReceiver(t), dead: newDeadHook(t), seen: map[string]bool{}}
	w.pg = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.5"})
	if err := w.pg.CreateUser("etl", etlPassword, pgtest.SCRAM); err != nil {
		t.Fatal(err)
	}
	if err := w.pg.CreateDatabase("orders", "etl"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pg.Exec("orders", approvalSeed); err != nil {
		t.Fatal(err)
	}
	e.vars["PG"] = w.pg.Addr().String()
	e.vars["Hook"] = w.hook.srv.URL
	e.vars["DeadHook"] = "http://" + w.dead.ln.Addr().String()
	write(t, filepath.Join(e.dir, "policies", "etl.yaml"), approvalPolicy)
	e.start(e.writeConfig(approvalConfig))
	return w
}

// start runs argv as `sluice run --identity legacy-etl` as uid 1001,
// without waiting.
func (w *approvalWorld) start(t *testing.T, env []string, stdin string, argv ...string) *asyncJob {
	t.Helper()
	env = append([]string{"HOME=/tmp", "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable"}, env...)
	return startJob(t, w.socket(), jobUID, env, stdin, argv...)
}

// psql starts psql on the target as a job; the statement comes from sql
// (-c) or, when sql is "", from stdin.
func (w *approvalWorld) psql(t *testing.T, env []string, stdin, sql string) *asyncJob {
	t.Helper()
	argv := []string{"/usr/bin/psql", "-X", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "etl", "-d", "orders"}
	if sql != "" {
		argv = append(argv, "-v", "ON_ERROR_STOP=1", "-c", sql)
	}
	return w.start(t, append([]string{"PGPASSWORD=" + etlPassword}, env...), stdin, argv...)
}

// dsn is the job's connection string (through sluice, by redirection).
func (w *approvalWorld) dsn() string {
	return fmt.Sprintf("host=%s port=%d user=etl password=%s dbname=orders sslmode=disable", w.pg.Host, w.pg.Port, etlPassword)
}

// requested waits for a new approval.requested event of the statement.
func (w *approvalWorld) requested(t *testing.T, statement string) event {
	t.Helper()
	ev := w.daemon.waitEvent(t, "approval.requested "+statement, func(ev event) bool {
		return ev.str("event") == "approval.requested" && ev.str("statement") == statement && !w.seen[ev.str("id")]
	})
	w.seen[ev.str("id")] = true
	return ev
}

// decided waits for the approval.* event of request id.
func (w *approvalWorld) decided(t *testing.T, name, id string) event {
	t.Helper()
	return w.daemon.waitEvent(t, name+" "+id, func(ev event) bool { return ev.str("event") == name && ev.str("id") == id })
}

// query waits for the db.query event of the statement with request id
// and outcome (approved, denied, timeout, withdrawn).
func (w *approvalWorld) query(t *testing.T, statement, id, outcome string) event {
	t.Helper()
	return w.daemon.waitEvent(t, "db.query "+statement, func(ev event) bool {
		return ev.str("event") == "db.query" && ev.str("statement") == statement && ev.str("approval") == id &&
			ev.str("approval_outcome") == outcome
	})
}

// cli runs the sluice CLI as uid and fails the test unless it exits with
// want (0, or any non-zero status for -1).
func (w *approvalWorld) cli(t *testing.T, uid uint32, want int, args ...string) string {
	t.Helper()
	out, code := w.sluice(uid, args...)
	if (want == 0) != (code == 0) {
		t.Fatalf("sluice %v as uid %d: status %d\n%s", args, uid, code, out)
	}
	return out
}

// rows returns the ids among want still in sales.items.
func (w *approvalWorld) rows(t *testing.T, ids ...int) []int {
	t.Helper()
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	out, err := w.pg.Exec("orders", "SELECT id FROM sales.items WHERE id IN ("+strings.Join(list, ",")+") ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, f := range strings.Fields(out) {
		var n int
		fmt.Sscan(f, &n)
		got = append(got, n)
	}
	return got
}

func (w *approvalWorld) amount(t *testing.T, id int) string {
	t.Helper()
	out, err := w.pg.Exec("orders", fmt.Sprintf("SELECT amount FROM sales.items WHERE id = %d", id))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return ""
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// hookReceiver is a local HTTP server recording what webhooks post.
type hookReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts map[string][]string // path → bodies
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{posts: map[string][]string{}}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h.mu.Lock()
		h.posts[r.URL.Path] = append(h.posts[r.URL.Path], string(b))
		h.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// wait returns the body posted to path that mentions id.
func (h *hookReceiver) wait(t *testing.T, path, id string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.mu.Lock()
		for _, b := range h.posts[path] {
			if strings.Contains(b, id) {
				h.mu.Unlock()
				return b
			}
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no post to %s about %s", path, id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadHook accepts connections and never answers.
type deadHook struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newDeadHook(t *testing.T) *deadHook {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &deadHook{ln: ln}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return d
}
