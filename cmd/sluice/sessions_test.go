package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sluicehq/sluice/pkg/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testClock reads 1 ms later on each call.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// testStore opens a store in a new state directory with the test host
// key; recipients, if any, encrypt its recordings.
func testStore(t *testing.T, recipients ...string) (state string, s *record.Store, clk *testClock) {
	t.Helper()
	state = t.TempDir()
	key, err := os.ReadFile("../../pkg/record/testdata/host_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "host_key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	clk = &testClock{t: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)}
	s, err = record.Open(record.StoreDir(state), record.Options{
		HostKey: filepath.Join(state, "host_key"), Host: "build-7", Now: clk.Now, SampleRows: 3,
		Recipients: recipients, FsyncInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return state, s, clk
}

// writeSession records a session of events 250 ms apart and closes it.
func writeSession(t *testing.T, s *record.Store, clk *testClock, h record.Header, events []record.Event) {
	t.Helper()
	r, err := s.Create(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		clk.mu.Lock()
		clk.t = clk.t.Add(250 * time.Millisecond)
		clk.mu.Unlock()
		if _, err := r.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(record.Summary{Reason: "client_closed", BytesUp: 180, BytesDown: 412}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
}

// newState makes a state directory with the test host key and a store
// holding two sessions; recipients, if any, encrypt them.
func newState(t *testing.T, recipients ...string) string {
	t.Helper()
	state, s, clk := testStore(t, recipients...)
	defer s.Close()
	sessions := []struct {
		id, identity string
		events       []record.Event
	}{
		{"5d5c748f35ba0c1e", "nightly-etl", []record.Event{
			&record.Login{User: "etl_reader", Database: "orders", Auth: "inject", TLS: true},
			&record.Statement{Phase: "query", Text: "SELECT id, total\nFROM sales.orders\nWHERE placed > now() - interval '1 day'",
				Class: "select", Command: "SELECT", Reads: []string{"sales.orders"}, Decision: "allow", Policy: "nightly-etl", Rule: "read-sales"},
			&record.Result{Statement: 2, Duration: 4200 * time.Microsecond, Rows: 2, HasRows: true,
				Sample: &record.Sample{Columns: []string{"id", "total"}, Rows: [][]string{{"1001", "19.90"}, {"1002", "5.00"}}}},
			&record.Statement{Phase: "query", Text: "DROP TABLE sales.orders", Class: "ddl", Command: "DROP TABLE",
				Writes: []string{"sales.orders"}, Decision: "deny", Policy: "nightly-etl", Rule: "default", Reason: "no rule allows ddl"},
			&record.Result{Statement: 4, Duration: 80 * time.Microsecond, Error: `permission denied by sluice policy "nightly-etl" rule "default"`, Code: "42501"},
		}},
		{"9a1b2c3d4e5f6071", "ci-job", []record.Event{
			&record.Login{User: "ci", Database: "orders", Auth: "passthrough"},
			&record.Statement{Phase: "execute", Text: "SELECT abalance FROM pgbench_accounts WHERE aid = $1", Params: []string{"42"},
				Class: "select", Command: "SELECT", Decision: "allow", Policy: "ci", Rule: "bench"},
			&record.Result{Statement: 2, Duration: 310 * time.Microsecond, Rows: 1, HasRows: true},
		}},
	}
	for i, ss := range sessions {
		writeSession(t, s, clk, record.Header{Session: ss.id, Protocol: "postgres", Identity: ss.identity, Target: "orders-db",
			Process: record.Process{PID: uint32(4242 + i), UID: 1001, GID: 1001, Comm: "psql", Exe: "/usr/bin/psql",
				Cgroup: "/system.slice/nightly-etl.service", Unit: "nightly-etl.service"},
			Dst: "127.0.0.2:5432", User: "etl_reader", Database: "orders", PolicyVersion: "3f9c2a1b"}, ss.events)
	}
	return state
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update if intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestSessionsCommands(t *testing.T) {
	state := newState(t)
	sd := []string{"--state-dir", state}
	var slept []time.Duration
	sleep = func(d time.Duration) { slept = append(slept, d) }
	defer func() { sleep = time.Sleep }()
	tests := []struct {
		name string
		run  func(w *bytes.Buffer) error
	}{
		{"sessions-list", func(w *bytes.Buffer) error { return sessionsList(w, sd) }},
		{"sessions-list-denied", func(w *bytes.Buffer) error { return sessionsList(w, append([]string{"--denied", "--json"}, sd...)) }},
		{"sessions-list-filtered", func(w *bytes.Buffer) error {
			return sessionsList(w, append([]string{"--identity", "ci-job", "--since", "2026-11-22T09:30:00Z"}, sd...))
		}},
		{"sessions-show", func(w *bytes.Buffer) error { return sessionsShow(w, append([]string{"5d5c748f35ba0c1e"}, sd...)) }},
		{"sessions-show-json", func(w *bytes.Buffer) error {
			return sessionsShow(w, append([]string{"--json", "9a1b2c3d4e5f6071"}, sd...))
		}},
		{"replay", func(w *bytes.Buffer) error {
			return cmdReplay(w, append([]string{"5d5c748f35ba0c1e", "--speed", "2"}, sd...))
		}},
		{"sessions-verify", func(w *bytes.Buffer) error { return sessionsVerify(w, sd) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.run(&buf); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".golden", buf.String())
		})
	}
	// The replay waited as recorded, at twice the speed: 250 ms between
	// events became 125 ms.
	if len(slept) != 6 || slept[1] != 125500*time.Microsecond {
		t.Errorf("replay pauses: %v", slept)
	}
}

func TestSessionsVerifyFails(t *testing.T) {
	state := newState(t)
	dir := record.StoreDir(state)
	rel, err := record.Find(dir, "9a1b2c3d4e5f6071")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, rel)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(b, []byte(`aid = $1`), []byte(`aid = 42`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = sessionsVerify(&buf, []string{"--state-dir", state, "9a1b2c3d4e5f6071"})
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("verify of a modified recording: %v, want exit status 1", err)
	}
	golden(t, "sessions-verify-modified.golden", buf.String())
}

func TestReplayEncrypted(t *testing.T) {
	right, _ := age.GenerateX25519Identity()
	wrong, _ := age.GenerateX25519Identity()
	state := newState(t, right.Recipient().String())
	sleep = func(time.Duration) {}
	defer func() { sleep = time.Sleep }()
	ids := filepath.Join(t.TempDir(), "identity.txt")
	if err := os.WriteFile(ids, []byte("# created: today\n"+right.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongIDs := filepath.Join(t.TempDir(), "wrong.txt")
	if err := os.WriteFile(wrongIDs, []byte(wrong.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sd := []string{"--state-dir", state, "--speed", "0", "5d5c748f35ba0c1e"}
	var buf bytes.Buffer
	if err := cmdReplay(&buf, sd); err == nil || !strings.Contains(err.Error(), "is encrypted: give --identity-file") {
		t.Errorf("replay without identity: %v", err)
	}
	if err := cmdReplay(&buf, append(sd, "--identity-file", wrongIDs)); !errors.Is(err, record.ErrNoIdentity) {
		t.Errorf("replay with the wrong identity: %v, want ErrNoIdentity", err)
	}
	buf.Reset()
	if err := cmdReplay(&buf, append(sd, "--identity-file", ids)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "orders=> DROP TABLE sales.orders;") {
		t.Errorf("replay with the identity:\n%s", buf.String())
	}
	buf.Reset()
	if err := sessionsShow(&buf, []string{"--state-dir", state, "5d5c748f35ba0c1e"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "DENY (encrypted)") || strings.Contains(buf.String(), "DROP") {
		t.Errorf("show without identity:\n%s", buf.String())
	}
}

// TestSessionsOIDC: show and replay print what the token of a session's
// identity said (never the token: the recording holds none), for a job
// bound to a token and for a token given as a password; claims that could
// disturb a terminal are quoted.
func TestSessionsOIDC(t *testing.T) {
	state, s, clk := testStore(t)
	exp := time.Date(2026, 11, 22, 9, 40, 0, 0, time.UTC)
	proc := record.Process{PID: 24710, UID: 1001, GID: 1001, Comm: "psql", Exe: "/usr/bin/psql", Cgroup: "/sluice.jobs/job-4f0c2a91d7be"}
	events := []record.Event{
		&record.Login{User: "etl", Database: "orders", Auth: "inject"},
		&record.Statement{Phase: "query", Text: "SELECT sum(amount) FROM sales.orders", Class: "select", Command: "SELECT",
			Reads: []string{"sales.orders"}, Decision: "allow", Policy: "deploy", Rule: "read-sales-from-main"},
		&record.Result{Statement: 2, Duration: 900 * time.Microsecond, Rows: 1, HasRows: true},
	}
	writeSession(t, s, clk, record.Header{Session: "0a1b2c3d4e5f6a7b", Protocol: "postgres", Identity: "gha:acme/app@refs/heads/main",
		Target: "orders-db", Process: proc, Dst: "127.0.0.2:5432", User: "etl", Database: "orders",
		OIDC: &record.OIDC{Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/app:environment:production",
			JTI: "0c7e5a7d-4a6b-4a0e-9b51-3f0d2f4b8a11", Expires: exp,
			Claims: map[string]any{"ref": "refs/heads/main", "environment": "production", "run_attempt": 2}}}, events)
	proc.Cgroup = "/ci.slice/runner.service"
	writeSession(t, s, clk, record.Header{Session: "7f6e5d4c3b2a1908", Protocol: "postgres", Identity: "gha:acme/app@refs/heads/main",
		Target: "orders-oidc", Process: proc, Dst: "127.0.0.5:5432", User: "etl", Database: "orders",
		OIDC: &record.OIDC{Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/app:ref:refs/heads/main",
			Expires: exp, KernelIdentity: "ci-runner",
			Claims: map[string]any{"ref": "refs/heads/main", "environment": "prod, eu", "workflow": "deploy\x1b[2J"}}}, events[:1])
	s.Close()
	sd := []string{"--state-dir", state}
	sleep = func(time.Duration) {}
	defer func() { sleep = time.Sleep }()
	tests := []struct {
		name string
		run  func(w *bytes.Buffer) error
	}{
		{"sessions-show-oidc", func(w *bytes.Buffer) error { return sessionsShow(w, append([]string{"0a1b2c3d4e5f6a7b"}, sd...)) }},
		{"sessions-show-oidc-password", func(w *bytes.Buffer) error { return sessionsShow(w, append([]string{"7f6e5d4c3b2a1908"}, sd...)) }},
		{"replay-oidc", func(w *bytes.Buffer) error {
			return cmdReplay(w, append([]string{"0a1b2c3d4e5f6a7b", "--speed", "0"}, sd...))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.run(&buf); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "\x1b") {
				t.Error("a claim reached the terminal unescaped")
			}
			golden(t, tt.name+".golden", buf.String())
		})
	}
	var buf bytes.Buffer
	if err := sessionsShow(&buf, append([]string{"--json", "7f6e5d4c3b2a1908"}, sd...)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"oidc":{"issuer":"https://token.actions.githubusercontent.com","subject":"repo:acme/app:ref:refs/heads/main"`) ||
		!strings.Contains(buf.String(), `"kernel_identity":"ci-runner"`) {
		t.Errorf("show --json lacks the oidc header:\n%s", buf.String())
	}
}

// TestSessionsTerminalSafe: a recording holds what the job sent, escape
// sequences included; show, replay and list print none of them.
func TestSessionsTerminalSafe(t *testing.T) {
	state, s, clk := testStore(t)
	hostile := "DROP TABLE sales.orders\r\x1b[2K\x1b[1A\x1b[2KSELECT 1 \x1b]52;c;ZWNobw==\x07 \u202e"
	writeSession(t, s, clk, record.Header{Session: "0e5c0e5c0e5c0e5c", Protocol: "postgres", Identity: "nightly-etl", Target: "orders-db",
		Process: record.Process{PID: 4242, UID: 1001, GID: 1001, Comm: "ps\x1b[31mql", Exe: "/usr/bin/psql"},
		Dst:     "127.0.0.2:5432", User: "etl\x1b[0m", Database: "orders"}, []record.Event{
		&record.Statement{Phase: "query", Text: hostile, Class: "ddl", Command: "DROP TABLE", Decision: "deny",
			Policy: "p", Rule: "r", Reason: "no\x1b[2J", Params: []string{"\x9b2J"}},
		&record.Result{Statement: 1, Duration: time.Millisecond, Error: "relation \"\x1b[2J\" does not exist", Code: "42P01",
			Sample: &record.Sample{Columns: []string{"c\x1b"}, Rows: [][]string{{"\x07"}}}},
	})
	s.Close()
	sd := []string{"--state-dir", state}
	sleep = func(time.Duration) {}
	defer func() { sleep = time.Sleep }()
	for name, run := range map[string]func(w *bytes.Buffer) error{
		"show": func(w *bytes.Buffer) error { return sessionsShow(w, append([]string{"0e5c0e5c0e5c0e5c"}, sd...)) },
		"replay": func(w *bytes.Buffer) error {
			return cmdReplay(w, append([]string{"0e5c0e5c0e5c0e5c", "--speed", "0"}, sd...))
		},
		"list": func(w *bytes.Buffer) error { return sessionsList(w, sd) },
	} {
		var buf bytes.Buffer
		if err := run(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := buf.String()
		if strings.ContainsAny(out, "\x1b\x07\r\u202e\u009b") {
			t.Errorf("%s printed a control character: %q", name, out)
		}
		if name != "list" && !strings.Contains(out, "DROP TABLE sales.orders") {
			t.Errorf("%s lost the statement: %q", name, out)
		}
	}
}
