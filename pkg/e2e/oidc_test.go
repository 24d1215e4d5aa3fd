package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice/pkg/oidctest"
	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/record"
)

// oidcConfig: tokens of a local issuer claim the identity
// gha:acme/app@refs/heads/main, for jobs (sluice run --oidc-token-file)
// and as a PostgreSQL password from the runner's processes (auth: oidc).
const oidcConfig = `
listen: {{.Listen}}
listen6: "{{.Listen6}}"
control_socket: {{.Dir}}/control.sock
cgroup_root: {{.Root}}
state_dir: {{.Dir}}/state
policies: {{.Dir}}/policies
log: { format: json, level: debug }
metrics: { listen: {{.Metrics}} }
bpf: { pin_dir: {{.PinDir}} }
oidc:
  issuers:
    - name: ci
      issuer: {{.Issuer}}
      audiences: [sluice]
      identity: "gha:{repository}@{ref}"
      required: { repository_owner: acme }
      expose: [ref, environment]
    - name: corp
      issuer: {{.Humans}}
      audiences: [sluice-approvals]
approvals:
  http: { listen: "{{.API}}", issuer: corp, groups: [dba] }
identities:
  - name: ci-runner
    egress: deny
  - name: "gha:acme/app@refs/heads/main"
    oidc: { issuer: ci, presented_by: [ci-runner] }
    egress: deny
targets:
  - name: cache
    protocol: tcp
    address: {{.Cache}}
  - name: orders-oidc
    protocol: postgres
    address: {{.PG}}
    postgres:
      auth: oidc
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      database: orders
  - name: orders-job
    protocol: postgres
    address: {{.PGJob}}
    postgres:
      auth: inject
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      database: orders
`

// oidcPolicy lets main-branch jobs of acme/app read sales.
const oidcPolicy = `
policies:
  - name: deploy
    identities: ["gha:acme/app@refs/heads/main"]
    targets: [orders-oidc, orders-job]
    default: deny
    rules:
      - name: read-sales-from-main
        action: allow
        claims: { ref: refs/heads/main }
        postgres: { kinds: [select], reads: ["sales.*"] }
        when: claims.environment == "production"
`

type oidcWorld struct {
	*env
	issuer *oidctest.Issuer
	humans *oidctest.Issuer // issuer of the approvers' tokens
	cache  string
	pg     *pgtest.Server
	pgJob  *pgtest.Server // behind orders-job, which jobs reach with injected credentials
}

func newOIDCWorld(t *testing.T) *oidcWorld {
	e := newEnv(t)
	w := &oidcWorld{env: e, issuer: oidctest.New(t), humans: oidctest.New(t)}
	w.cache = e.serve("tcp4", "127.0.0.3:0").Addr.String()
	w.pg = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.5"})
	w.pgJob = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.6"})
	for _, pg := range []*pgtest.Server{w.pg, w.pgJob} {
		if err := pg.CreateUser("etl", etlPassword, pgtest.SCRAM); err != nil {
			t.Fatal(err)
		}
		if err := pg.CreateDatabase("orders", "etl"); err != nil {
			t.Fatal(err)
		}
		if _, err := pg.Exec("orders", pgSeed); err != nil {
			t.Fatal(err)
		}
	}
	e.vars["Issuer"], e.vars["Cache"], e.vars["PG"], e.vars["PGJob"] = w.issuer.URL, w.cache, w.pg.Addr().String(), w.pgJob.Addr().String()
	e.vars["Humans"], e.vars["API"] = w.humans.URL, freePort(t, "tcp4", "127.0.0.1")
	write(t, filepath.Join(e.dir, "etl.password"), etlPassword+"\n")
	write(t, filepath.Join(e.dir, "policies", "deploy.yaml"), oidcPolicy)
	e.start(e.writeConfig(oidcConfig))
	return w
}

// token returns a token of a main-branch job of acme/app, valid for ttl,
// with changes applied to its claims.
func (w *oidcWorld) token(t *testing.T, ttl time.Duration, change func(map[string]any)) string {
	c := w.issuer.Claims("repo:acme/app:ref:refs/heads/main", "sluice", ttl)
	c["repository"], c["repository_owner"], c["ref"], c["environment"] = "acme/app", "acme", "refs/heads/main", "production"
	if change != nil {
		change(c)
	}
	return w.issuer.Sign(t, c)
}

// tokenFile writes a token where the job can read it.
func (w *oidcWorld) tokenFile(t *testing.T, name, tok string) string {
	p := filepath.Join(w.dir, name)
	write(t, p, tok+"\n")
	return p
}

// noToken fails the test if any token appears in the daemon's log or in a
// recording.
func (w *oidcWorld) noToken(t *testing.T, tokens ...string) {
	t.Helper()
	var files []string
	files = append(files, w.daemon.log)
	_ = filepath.WalkDir(filepath.Join(w.dir, "state"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	for _, f := range files {
		data := readFile(f)
		for _, tok := range tokens {
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			if strings.Contains(data, tok) || len(sig) > 16 && strings.Contains(data, sig) {
				t.Errorf("%s holds a token", f)
			}
		}
	}
}

// jobScript holds a connection to the cache open until sluice closes it,
// then, each time the test creates the next step file, makes a new
// connection, or refreshes its token with sluice run --refresh.
const jobScript = `
import os, socket, subprocess, sys, time
cache, dir, sluice, control = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
host, port = cache.rsplit(":", 1)
def say(s):
    print(s, flush=True)
def connect():
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(b"hi\n")
    return s
def once():
    try:
        s = connect()
        data = s.recv(100)
        s.close()
        return "reply" if data else "closed"
    except OSError as e:
        return "error " + e.__class__.__name__
def wait(name):
    while not os.path.exists(os.path.join(dir, name)):
        time.sleep(0.02)
s = connect()
say("first " + ("reply" if s.recv(100) else "closed"))
say("open")
s.settimeout(60)
try:
    data = s.recv(100)
    say("held ended " + ("data" if data else "eof"))
except OSError as e:
    say("held ended " + e.__class__.__name__)
wait("step-new")
say("after expiry " + once())
wait("step-refresh")
r = subprocess.run([sluice, "--control", control, "run", "--refresh", "--oidc-token-file", os.path.join(dir, "refresh.token")], capture_output=True, text=True)
say("refresh exit %d %s" % (r.returncode, (r.stdout + r.stderr).strip()))
say("after refresh " + once())
`

func TestOIDCRun(t *testing.T) {
	w := newOIDCWorld(t)
	d := w.daemon
	var tokens []string

	t.Run("refused tokens, each with its reason", func(t *testing.T) {
		other := oidctest.NewKey(t, "key-1", jose.RS256)
		cases := []struct {
			name, tok, want string
		}{
			{"expired", w.token(t, -time.Minute, nil), "the token expired at"},
			{"wrong audience", w.token(t, time.Minute, func(c map[string]any) { c["aud"] = "vault" }), `the token is for audience ["vault"], not for ["sluice"]`},
			{"wrong issuer", w.token(t, time.Minute, func(c map[string]any) { c["iss"] = "https://issuer.example.com" }), `tokens of issuer "https://issuer.example.com" are not accepted`},
			{"bad signature", oidctest.SignWith(t, other, map[string]any{"iss": w.issuer.URL, "sub": "x", "aud": "sluice", "exp": time.Now().Add(time.Hour).Unix()}), "the signature does not verify"},
			{"alg none", oidctest.Unsigned(t, map[string]any{"iss": w.issuer.URL, "sub": "x", "aud": "sluice", "exp": time.Now().Add(time.Hour).Unix()}), `the token is not signed (alg "none")`},
			{"missing required claim", w.token(t, time.Minute, func(c map[string]any) { delete(c, "repository_owner") }), `claim "repository_owner" is missing`},
			{"identity not configured", w.token(t, time.Minute, func(c map[string]any) { c["ref"] = "refs/heads/dev" }), `the token maps to identity "gha:acme/app@refs/heads/dev", which no identity of the configuration`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tokens = append(tokens, tc.tok)
				out, code := w.sluice(0, "run", "--oidc-token-file", w.tokenFile(t, "bad.token", tc.tok), "--", "/bin/true")
				if code != 1 || !strings.Contains(out, tc.want) {
					t.Fatalf("sluice run: exit %d: %s\nwant %q", code, out, tc.want)
				}
				if strings.Contains(out, tc.tok) {
					t.Fatal("the refusal repeats the token")
				}
			})
		}
		d.waitEvent(t, "oidc.refused", func(ev event) bool {
			return ev.str("event") == "oidc.refused" && ev.str("reason") == "algorithm" && ev.str("use") == "run"
		})
	})

	t.Run("a job runs as the token's identity until the token expires, then refreshes", func(t *testing.T) {
		tok := w.token(t, 4*time.Second, nil)
		refresh := w.token(t, 10*time.Minute, nil)
		tokens = append(tokens, tok, refresh)
		w.tokenFile(t, "refresh.token", refresh)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sluice"), "--control", w.socket(), "run",
			"--oidc-token-file", w.tokenFile(t, "job.token", tok), "--", "/usr/bin/python3", "-c", jobScript,
			w.cache, w.dir, filepath.Join(binDir, "sluice"), w.socket())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		next := readJob(t, out, &stderr).next
		next("first reply")
		next("open")
		started := d.waitEvent(t, "job.started", func(ev event) bool {
			return ev.str("event") == "job.started" && ev.str("identity") == "gha:acme/app@refs/heads/main"
		})
		job := started.str("cgroup")
		o, _ := started["oidc"].(map[string]any)
		if o["subject"] != "repo:acme/app:ref:refs/heads/main" || o["issuer"] != w.issuer.URL {
			t.Fatalf("job.started oidc = %v", o)
		}
		open := d.waitEvent(t, "connection.open", func(ev event) bool {
			return ev.str("event") == "connection.open" && strings.HasPrefix(ev.str("cgroup"), job)
		})
		oo, _ := open["oidc"].(map[string]any)
		cl, _ := oo["claims"].(map[string]any)
		if open.str("identity") != "gha:acme/app@refs/heads/main" || oo["jti"] == nil || cl["ref"] != "refs/heads/main" || cl["environment"] != "production" {
			t.Fatalf("connection.open = %v", open)
		}
		if _, leaked := cl["repository_owner"]; leaked {
			t.Error("a claim that is not exposed is in the event")
		}

		// The token expires: the open connection is ended, the event says why.
		next("held ended")
		exp := d.waitEvent(t, "identity.expired", func(ev event) bool { return ev.str("event") == "identity.expired" && ev.str("cgroup") == job })
		if exp.str("sessions") != "closed" {
			t.Errorf("identity.expired = %v", exp)
		}
		closed := d.waitEvent(t, "connection.close", func(ev event) bool {
			return ev.str("event") == "connection.close" && ev.str("session") == open.str("session")
		})
		if !strings.Contains(closed.str("error"), "the OIDC token of the identity expired") {
			t.Errorf("connection.close = %v", closed)
		}

		// A new connection is refused.
		write(t, filepath.Join(w.dir, "step-new"), "")
		if l := next("after expiry"); strings.HasSuffix(l, "reply") {
			t.Fatalf("a connection after expiry got through: %q", l)
		}
		d.waitEvent(t, "connection.denied", func(ev event) bool {
			return ev.str("event") == "connection.denied" && strings.HasPrefix(ev.str("cgroup"), job) && strings.Contains(ev.str("reason"), "expired")
		})

		// A newer token of the same subject brings the job back.
		write(t, filepath.Join(w.dir, "step-refresh"), "")
		if l := next("refresh exit"); !strings.HasPrefix(l, "refresh exit 0 ") {
			t.Fatalf("refresh: %q", l)
		}
		next("after refresh reply")
		d.waitEvent(t, "identity.refreshed", func(ev event) bool { return ev.str("event") == "identity.refreshed" && ev.str("cgroup") == job })
		if err := cmd.Wait(); err != nil {
			t.Fatalf("job: %v: %s", err, stderr.String())
		}
	})

	t.Run("a job without a token cannot claim the identity", func(t *testing.T) {
		out, code := w.sluice(0, "run", "--identity", "gha:acme/app@refs/heads/main", "--", "/bin/true")
		if code != 1 || !strings.Contains(out, "is claimed with an OIDC token") {
			t.Fatalf("exit %d: %s", code, out)
		}
	})

	t.Run("psql with a token as its password", func(t *testing.T) {
		good := w.token(t, 10*time.Minute, nil)
		tokens = append(tokens, good)
		psql := func(password, sql string) jobResult {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sluice"), "--control", w.socket(), "run", "--identity", "ci-runner", "--",
				"/usr/bin/psql", "-X", "-At", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "deploy", "-d", "orders", "-c", sql)
			cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
			var o, e strings.Builder
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			res := jobResult{stdout: o.String(), stderr: e.String()}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				res.code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return res
		}
		res := psql(good, "SELECT sum(amount) FROM sales.orders")
		if res.code != 0 || strings.TrimSpace(res.stdout) != "425" {
			t.Fatalf("psql: %+v", res)
		}
		login := d.waitEvent(t, "db.login", func(ev event) bool { return ev.str("event") == "db.login" && ev.str("outcome") == "success" })
		lo, _ := login["oidc"].(map[string]any)
		if login.str("identity") != "gha:acme/app@refs/heads/main" || login.str("kernel_identity") != "ci-runner" ||
			login.str("auth") != "oidc" || login.str("user") != "etl" || lo["subject"] != "repo:acme/app:ref:refs/heads/main" {
			t.Fatalf("db.login = %v", login)
		}
		q := d.waitEvent(t, "db.query", func(ev event) bool { return ev.str("event") == "db.query" && ev.str("rule") == "read-sales-from-main" })
		if q.str("decision") != "allow" || q.str("identity") != "gha:acme/app@refs/heads/main" {
			t.Fatalf("db.query = %v", q)
		}

		bad := w.token(t, -time.Minute, nil)
		tokens = append(tokens, bad)
		res = psql(bad, "SELECT 1")
		if res.code == 0 || !strings.Contains(res.stderr, "28P01") && !strings.Contains(res.stderr, "sluice could not log in to target \"orders-oidc\" with the OIDC token given as password: OIDC token refused: the token expired") {
			t.Fatalf("psql with an expired token: %+v", res)
		}
		if strings.Contains(res.stderr, bad) {
			t.Fatal("the error repeats the token")
		}
		res = psql("not-a-token", "SELECT 1")
		if res.code == 0 || !strings.Contains(res.stderr, "not a signed JWT") {
			t.Fatalf("psql with a password: %+v", res)
		}

		// A session ends when its token expires: the client is told why.
		short := w.token(t, 5*time.Second, nil)
		tokens = append(tokens, short)
		res = psql(short, "SELECT pg_sleep(120)")
		if res.code == 0 {
			t.Fatalf("a session outlived its token: %+v", res)
		}
		exp := d.waitEvent(t, "identity.expired of a session", func(ev event) bool {
			return ev.str("event") == "identity.expired" && ev.str("kernel_identity") == "ci-runner" && ev.str("sessions") == "closed"
		})
		if exp.str("identity") != "gha:acme/app@refs/heads/main" || exp.str("target") != "orders-oidc" {
			t.Fatalf("identity.expired = %v", exp)
		}
		w.checkExpiryEnd(t, res, exp.str("session"), "HINT:  Connect again with a valid token as the password.")
	})

	t.Run("approval API with human tokens", func(t *testing.T) {
		human := func(groups ...string) string {
			c := w.humans.Claims("00u-alice", "sluice-approvals", 10*time.Minute)
			c["email"], c["groups"] = "alice@example.com", groups
			tok := w.humans.Sign(t, c)
			tokens = append(tokens, tok)
			return tok
		}
		call := func(token string) (int, string) {
			req, _ := http.NewRequest("GET", "http://"+w.vars["API"].(string)+"/v1/approvals", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		if code, body := call(human("dba")); code != 200 || !strings.Contains(body, `"approvals":[]`) {
			t.Fatalf("approver: %d %s", code, body)
		}
		if code, body := call(""); code != 401 || !strings.Contains(body, "no_token") {
			t.Fatalf("no token: %d %s", code, body)
		}
		if code, body := call(human("staff")); code != 403 || !strings.Contains(body, "is in none of the approver groups") {
			t.Fatalf("not an approver: %d %s", code, body)
		}
		if code, body := call(w.token(t, time.Minute, nil)); code != 401 || !strings.Contains(body, "not from issuer") && !strings.Contains(body, "comes from") {
			t.Fatalf("a workload token: %d %s", code, body)
		}
		d.waitEvent(t, "approval.api_refused", func(ev event) bool {
			return ev.str("event") == "approval.api_refused" && ev.str("reason") == "not_approver" && ev.str("approver_subject") == "00u-alice"
		})
	})

	t.Run("verifications are counted by use, outcome and reason", func(t *testing.T) {
		m := scrape(t, w.vars["Metrics"].(string))
		for _, want := range []string{
			`sluice_oidc_verifications_total{issuer="ci",outcome="refused",reason="expired",use="run"} 1`,
			`sluice_oidc_verifications_total{issuer="ci",outcome="refused",reason="algorithm",use="run"} 1`,
			`sluice_oidc_verifications_total{issuer="",outcome="refused",reason="issuer",use="run"} 1`,
			`sluice_oidc_verifications_total{issuer="ci",outcome="ok",reason="",use="refresh"} 1`,
			`sluice_oidc_verifications_total{issuer="ci",outcome="refused",reason="identity",use="run"} 1`,
			`sluice_oidc_verifications_total{issuer="corp",outcome="refused",reason="issuer",use="approvals"} 1`,
			`sluice_oidc_expired_total{use="run"} 1`,
			`sluice_oidc_expired_total{use="postgres"} 1`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("a job's PostgreSQL session ends with a FATAL when its token expires", func(t *testing.T) {
		tok := w.token(t, 5*time.Second, nil)
		tokens = append(tokens, tok)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sluice"), "--control", w.socket(), "run",
			"--oidc-token-file", w.tokenFile(t, "psql-job.token", tok), "--",
			"/usr/bin/psql", "-X", "-At", "-h", w.pgJob.Host, "-p", fmt.Sprint(w.pgJob.Port), "-U", "job", "-d", "orders", "-c", "SELECT pg_sleep(120)")
		cmd.Env = append(os.Environ(), "PGPASSWORD=hard-coded", "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		res := jobResult{stdout: o.String(), stderr: e.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if res.code == 0 {
			t.Fatalf("a job's session outlived its token: %+v", res)
		}
		q := d.waitEvent(t, "db.query of the job", func(ev event) bool {
			return ev.str("event") == "db.query" && ev.str("target") == "orders-job" && ev.str("statement") == "SELECT pg_sleep(120)"
		})
		w.checkExpiryEnd(t, res, q.str("session"), "HINT:  Refresh the job's token (sluice run --refresh), then connect again.")
	})

	w.noToken(t, tokens...)
}

// checkExpiryEnd checks how a psql session running SELECT pg_sleep(120)
// ended when its token expired: psql printed sluice's FATAL, the
// statement's event, the connection's and the recording's end say why,
// and the server was asked to cancel the statement.
func (w *oidcWorld) checkExpiryEnd(t *testing.T, res jobResult, session, hint string) {
	t.Helper()
	d := w.daemon
	if !strings.Contains(res.stderr, `FATAL:  terminating connection because the OIDC token of identity "gha:acme/app@refs/heads/main" expired at `) ||
		!strings.Contains(res.stderr, hint) {
		t.Errorf("psql did not print the FATAL: %+v", res)
	}
	q := d.waitEvent(t, "db.query of the sleep", func(ev event) bool {
		return ev.str("event") == "db.query" && ev.str("session") == session && ev.str("statement") == "SELECT pg_sleep(120)"
	})
	if !strings.Contains(q.str("note"), "session ended before the statement completed: the OIDC token of the identity expired at ") {
		t.Errorf("db.query = %v", q)
	}
	closed := d.waitEvent(t, "connection.close", func(ev event) bool {
		return ev.str("event") == "connection.close" && ev.str("session") == session
	})
	if !strings.Contains(closed.str("error"), "the session was ended: the OIDC token of the identity expired") {
		t.Errorf("connection.close = %v", closed)
	}
	c := d.waitEvent(t, "db.cancel of the sleep", func(ev event) bool {
		return ev.str("event") == "db.cancel" && ev.str("cancelled_session") == session
	})
	if c.str("outcome") != "routed" {
		t.Errorf("db.cancel = %v", c)
	}
	dir := record.StoreDir(filepath.Join(w.dir, "state"))
	waitFor(t, "the session's recording closed", func() bool {
		infos, err := record.List(dir, record.Filter{Identity: "gha:acme/app@refs/heads/main"})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Session == session && !in.Open {
				rec := readRecording(t, dir, in.Path)
				if rec.end == nil || rec.end.Reason != "token_expired" || !strings.Contains(rec.end.Error, "expired at") {
					t.Errorf("recording end = %+v", rec.end)
				}
				return true
			}
		}
		return false
	})
}
