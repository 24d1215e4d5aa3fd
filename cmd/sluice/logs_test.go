package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/audit/logsctl"
	"github.com/sluicehq/sluice/pkg/control"
)

// logsDaemon is the event side of a daemon: a logger with history and the
// logs operation, served on a control socket.
type logsDaemon struct {
	log  *audit.Logger
	sock string
	stop func()
}

func startLogs(t *testing.T, authorize func(control.Peer) error) *logsDaemon {
	t.Helper()
	l, err := audit.New(&strings.Builder{}, audit.Options{History: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv, err := control.Listen(sock, logsHandler{&logsctl.Ops{Events: l.Stream(), Authorize: authorize}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &logsDaemon{log: l, sock: sock, stop: stop}
}

type logsHandler struct{ *logsctl.Ops }

func (logsHandler) Handle(context.Context, control.Peer, control.Request) control.Response {
	return control.Response{Error: "not streamed"}
}

func anyone(control.Peer) error { return nil }

func (d *logsDaemon) query(identity, statement, decision string) {
	d.log.Event(audit.DBQuery).Str("session", "c41d9e0a7b2f5e13").Str("identity", identity).Str("target", "orders-db").
		Str("statement", statement).Str("kind", "select").Str("decision", decision).Str("policy", "etl").
		Str("rule", "read").Int("rows", 1).Msg("statement")
}

// syncWriter is a strings.Builder written by one goroutine, read by another.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsHeld(t *testing.T) {
	d := startLogs(t, anyone)
	d.query("legacy-etl", "SELECT 1", "allow")
	d.query("nightly-etl", "SELECT 2", "allow")
	d.log.Event(audit.ConnectionOpen).Str("identity", "legacy-etl").Str("target", "orders-db").Msg("connection open")

	var out, errw syncWriter
	if err := logs(&out, &errw, d.sock, []string{"--event", "db.query", "--identity", "legacy-etl"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], " db.query ") ||
		!strings.HasSuffix(lines[0], `legacy-etl → orders-db decision=allow kind=select policy=etl rule=read statement="SELECT 1" rows=1 session=c41d9e0a7b2f5e13`) {
		t.Errorf("sluice logs --event db.query --identity legacy-etl:\n%s", out.String())
	}
	if errw.String() != "" {
		t.Errorf("stderr: %s", errw.String())
	}

	out = syncWriter{}
	if err := logs(&out, &errw, d.sock, []string{"--json", "--event=db.*,connection.open", "-n", "2"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var ev struct{ Event, Identity string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("--json printed %q", l)
		}
		got = append(got, ev.Event+" "+ev.Identity)
	}
	if strings.Join(got, ", ") != "db.query nightly-etl, connection.open legacy-etl" {
		t.Errorf("-n 2 --json: %v", got)
	}

	out = syncWriter{}
	if err := logs(&out, &errw, d.sock, []string{"--since", "1h"}, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Errorf("--since an hour after the events printed:\n%s", out.String())
	}
}

func TestLogsFollow(t *testing.T) {
	d := startLogs(t, anyone)
	d.query("legacy-etl", "SELECT 'held'", "allow")
	var out, errw syncWriter
	done := make(chan error, 1)
	go func() { done <- logs(&out, &errw, d.sock, []string{"-f", "--event", "db.query"}, time.Now()) }()
	wait := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("sluice logs -f did not print %q:\n%s", s, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(`statement="SELECT 'held'"`)
	d.query("legacy-etl", "DROP TABLE t\x1b[2J", "deny")
	wait(`decision=deny`)
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("a control character reached the terminal: %q", out.String())
	}
	d.stop() // the daemon stops
	select {
	case err := <-done:
		if !errors.Is(err, control.ErrStreamEnded) {
			t.Errorf("sluice logs -f ended with %v, want the stream ended by sluiced", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sluice logs -f did not end with the daemon")
	}
}

func TestLogsRefused(t *testing.T) {
	d := startLogs(t, func(p control.Peer) error {
		return errors.New("not authorized: uid 1002 may not read the event stream (see log.readers)")
	})
	err := logs(&syncWriter{}, &syncWriter{}, d.sock, nil, time.Now())
	if err == nil || err.Error() != "logs: not authorized: uid 1002 may not read the event stream (see log.readers)" {
		t.Errorf("err = %v", err)
	}
	var ee exitError
	if err := logs(&syncWriter{}, &syncWriter{}, d.sock, []string{"extra"}, time.Now()); !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("an extra argument: %v, want exit status 2", err)
	}
	if err := logs(&syncWriter{}, &syncWriter{}, d.sock, []string{"--since", "yesterday"}, time.Now()); err == nil {
		t.Error("--since yesterday was accepted")
	}
}

func TestEventLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"login", `{"level":"info","v":1,"event":"db.login","session":"0e6b2d9c81f4a573","identity":"legacy-etl","target":"orders-db","user":"etl_reader","database":"orders","auth":"inject","outcome":"failure","error":"upstream FATAL: password authentication failed","time":"2026-11-22T12:45:11.402551Z","message":"database login failed"}`,
			`2026-11-22T12:45:11.402551Z db.login             legacy-etl → orders-db user=etl_reader database=orders auth=inject outcome=failure error="upstream FATAL: password authentication failed" session=0e6b2d9c81f4a573`},
		{"other event", `{"level":"info","v":1,"event":"policy.reloaded","policies":"/etc/sluice/policies","time":"2026-11-22T12:37:20.413877Z","message":"policies in force"}`,
			`2026-11-22T12:37:20.413877Z policy.reloaded      message="policies in force"`},
		{"no identity", `{"event":"connection.rejected","src":"127.0.0.1:55872","listener":"127.0.0.1:15001","reason":"no redirect record","time":"2026-11-22T12:37:00.090122Z"}`,
			`2026-11-22T12:37:00.090122Z connection.rejected  src=127.0.0.1:55872 listener=127.0.0.1:15001 reason="no redirect record"`},
		{"not JSON", "garbage\x07", "garbage?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventLine([]byte(tt.in)); got != tt.want {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
