package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"filippo.io/age"

	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/pgtest"
)

// secretsPolicy lets legacy-etl change its own password, set settings,
// call functions and read: the statements holding secrets run.
const secretsPolicy = `
policies:
  - name: etl
    identities: [legacy-etl]
    targets: [orders-db]
    default: deny
    rules:
      - name: own-password
        action: allow
        postgres: { kinds: [grant] }
      - name: reads-and-settings
        action: allow
        postgres:
          kinds: [select, set, call, show, transaction, empty, utility]
          reads: ["sales.*", "public.*", "pg_catalog.*"]
`

// TestRecordingSecrets: secrets written in statements through psql, and
// bound as parameters by pgx, reach the server but never sluice's
// recordings, its events, its event stream or its state directory.
func TestRecordingSecrets(t *testing.T) {
	w := newRecWorld(t, nil, "")
	w.seedOrders(t, pgtest.SCRAM)
	write(t, filepath.Join(w.dir, "policies", "etl.yaml"), secretsPolicy)
	d := w.startDaemon(t)

	secrets := []string{
		"SuperSecret", "DblinkSecret", "TokenSecret", "UnparsedSecret", "EchoSecret", "PgxTokenSecret", "PgxConnSecret",
	}
	script := `ALTER ROLE etl PASSWORD 'SuperSecret';
SELECT dblink_connect('host=127.0.0.5 user=etl password=DblinkSecret');
SET app.api_token = 'TokenSecret';
SELECT current_setting('app.api_token') = 'Token' || 'Secret' AS token_set;
ALTER ROLE etl PASSWORD 'UnparsedSecret' BOGUS;
SELECT 'host=h password=EchoSecret'::int;
`
	r := w.psql(t, 0, script, "-At", "-v", "VERBOSITY=verbose")
	// The password changed: the server ran the ALTER ROLE.
	if !strings.Contains(r.stdout, "ALTER ROLE\n") || !strings.Contains(r.stdout, "t\n") {
		t.Fatalf("psql: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"Restricted functions: dblink_connect.", // denied, and recorded all the same
		`rule "unparseable"`,
		`invalid input syntax for type integer`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("psql's errors lack %q:\n%s", want, r.stderr)
		}
	}
	dsn := fmt.Sprintf("host=%s port=%d user=etl password=SuperSecret dbname=orders sslmode=disable", w.pg.Host, w.pg.Port)
	pj := startJob(t, w.socket(), 0, nil, "", filepath.Join(binDir, "pgxclient"), "-dsn", dsn, "-scenario", "secret-params")
	if res := pj.wait(t); res.code != 0 {
		t.Fatalf("pgxclient secret-params (logged in with the new password): %s\n%s", res.stdout, res.stderr)
	}

	infos := waitRecordings(t, w.storeDir(), 2)
	var texts []string
	for _, in := range infos {
		rec := readRecording(t, w.storeDir(), in.Path)
		for _, st := range rec.statements() {
			texts = append(texts, st.Text+" "+strings.Join(st.Params, ","))
		}
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{
		"ALTER ROLE etl PASSWORD '<redacted>'",
		"SELECT dblink_connect('host=127.0.0.5 user=etl password=<redacted>')",
		"SET app.api_token = '<redacted>'",
		"ALTER ROLE etl PASSWORD '<redacted>' BOGUS",
		"SELECT 'host=h password=<redacted>'::int",
		"SELECT set_config('app.api_token', $1, false) <redacted>",
		"SELECT length($1::text) host=h password=<redacted>",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("the recordings lack %q; statements:\n%s", want, joined)
		}
	}
	d.waitEvent(t, "the pgx statements", func(ev event) bool {
		return ev.str("event") == "db.query" && strings.HasPrefix(ev.str("statement"), "SELECT length(")
	})
	stream, code := w.sluice(0, "logs", "--json")
	if code != 0 || !strings.Contains(stream, "ALTER ROLE etl PASSWORD '<redacted>'") {
		t.Errorf("sluice logs --json: exit %d:\n%.3000s", code, stream)
	}
	w.waitLogged(t, w.state, infos[0].Session, infos[1].Session)
	for _, s := range secrets {
		if hits := grepTree(t, w.state, s); len(hits) > 0 {
			t.Errorf("%s appears in %v", s, hits)
		}
		if strings.Contains(readFile(d.log), s) {
			t.Errorf("%s appears in the event log", s)
		}
		if strings.Contains(stream, s) {
			t.Errorf("%s appears in sluice logs", s)
		}
	}
}

// TestRecordingEncrypted: with an age recipient configured, recordings
// hold no statement in the clear; list and verify work without the
// identity, show hides what is encrypted, and replay needs the right
// identity file.
func TestRecordingEncrypted(t *testing.T) {
	right, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := age.GenerateX25519Identity()
	w := newRecWorld(t, nil, "")
	w.vars["Recipient"] = right.Recipient().String()
	w.writeConfig(recConfig)
	w.seedOrders(t, pgtest.SCRAM)
	w.startDaemon(t)

	r := w.psql(t, 0, "SELECT 'EncryptedMarker' AS marker, sum(amount) FROM sales.orders;\nDROP TABLE sales.orders;\n", "-At")
	if !strings.Contains(r.stdout, "EncryptedMarker|425") {
		t.Fatalf("psql: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	infos := waitRecordings(t, w.storeDir(), 1)
	id := infos[0].Session
	w.waitLogged(t, w.state, id)
	if hits := grepTree(t, w.state, "EncryptedMarker"); len(hits) > 0 {
		t.Errorf("the statement is in the clear in %v", hits)
	}
	if in := infos[0]; in.Statements != 2 || in.Denied != 1 {
		t.Errorf("sessions list without the identity: %+v, want 2 statements, 1 denied", in)
	}

	ids := filepath.Join(w.dir, "identity.txt")
	write(t, ids, right.String()+"\n")
	wrongIDs := filepath.Join(w.dir, "wrong.txt")
	write(t, wrongIDs, wrong.String()+"\n")

	out, code := w.cli(t, w.state, "sessions", "show", id)
	if code != 0 || !strings.Contains(out, "DENY (encrypted)") || strings.Contains(out, "EncryptedMarker") {
		t.Errorf("sessions show without the identity: exit %d:\n%s", code, out)
	}
	out, code = w.cli(t, w.state, "replay", id, "--speed", "0")
	if code == 0 || !strings.Contains(out, "is encrypted: give --identity-file") {
		t.Errorf("replay without the identity: exit %d:\n%s", code, out)
	}
	out, code = w.cli(t, w.state, "replay", id, "--speed", "0", "--identity-file", wrongIDs)
	if code == 0 || strings.Contains(out, "EncryptedMarker") {
		t.Errorf("replay with the wrong identity: exit %d:\n%s", code, out)
	}
	out, code = w.cli(t, w.state, "replay", id, "--speed", "0", "--identity-file", ids)
	if code != 0 || !strings.Contains(out, "SELECT 'EncryptedMarker' AS marker") || !strings.Contains(out, "DROP TABLE sales.orders") {
		t.Errorf("replay with the identity: exit %d:\n%s", code, out)
	}
	if out, code := w.cli(t, w.state, "sessions", "verify", "--all"); code != 0 {
		t.Errorf("verify needs no identity: exit %d:\n%s", code, out)
	}
}

// TestEventStream: sluice logs reads the events sluiced holds and follows
// new ones, for root and the uids of log.readers only; sluice status shows
// the host key, as the daemon reports it, to any user.
func TestEventStream(t *testing.T) {
	w := newRecWorld(t, nil, "")
	w.seedOrders(t, pgtest.SCRAM)
	w.startDaemon(t)

	// uid 1003 (log.readers) follows db.query events from now on.
	follow := exec.Command(filepath.Join(binDir, "sluice"), "--control", w.socket(), "logs", "-f", "-n", "0", "--event", "db.query", "--json")
	follow.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1003, Gid: 1003}}
	var followed syncBuffer
	follow.Stdout, follow.Stderr = &followed, &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = follow.Process.Kill()
		_ = follow.Wait()
	}()
	// The follower is connected once sluiced counts a reader.
	waitFor(t, "the follower to connect", func() bool {
		return strings.Contains(metricsText(t, w), "sluice_event_readers 1")
	})

	r := w.psql(t, 1002, "SELECT 'followed' AS f;\nDROP TABLE sales.orders;\n", "-At")
	if !strings.Contains(r.stdout, "followed") {
		t.Fatalf("psql: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, "the followed events", func() bool { return strings.Contains(followed.String(), "DROP TABLE sales.orders") })
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(followed.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("sluice logs -f --json printed %q", line)
		}
		names = append(names, fmt.Sprint(ev["event"], " ", ev["statement"], " ", ev["decision"]))
		if oc, _ := ev["ocsf"].(map[string]any); oc["class_uid"] != float64(6005) {
			t.Errorf("db.query without its OCSF object: %s", line)
		}
	}
	if want := "db.query SELECT 'followed' AS f allow|db.query DROP TABLE sales.orders deny"; strings.Join(names, "|") != want {
		t.Errorf("followed %q, want %q", strings.Join(names, "|"), want)
	}

	// What is held, filtered, as a table.
	out, code := w.sluice(0, "logs", "--event", "db.*", "--identity", "legacy-etl")
	if code != 0 || !strings.Contains(out, "db.login") || !strings.Contains(out, "decision=deny") || strings.Contains(out, "connection.open") {
		t.Errorf("sluice logs --event db.* --identity legacy-etl: exit %d:\n%s", code, out)
	}
	out, code = w.sluice(1002, "logs")
	if code == 0 || !strings.Contains(out, "uid 1002 may not read the event stream (see log.readers)") {
		t.Errorf("sluice logs as uid 1002: exit %d:\n%s", code, out)
	}

	// status: the host key as the daemon reports it, to a user who
	// cannot read the state directory.
	out, code = w.sluice(1002, "status", "--json")
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("sluice status --json as uid 1002: exit %d, %v:\n%s", code, err, out)
	}
	pub, err := os.ReadFile(filepath.Join(w.state, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Recording == nil || st.Recording.HostKey != strings.TrimSpace(string(pub)) || len(st.Recording.HostKeyID) != 16 {
		t.Errorf("status recording %+v, want the host key %s", st.Recording, pub)
	}
	out, _ = w.sluice(1002, "status")
	if !strings.Contains(out, strings.TrimSpace(string(pub))) {
		t.Errorf("sluice status does not print the host key:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// metricsText fetches sluiced's metrics.
func metricsText(t *testing.T, w *recWorld) string {
	t.Helper()
	resp, err := http.Get("http://" + w.vars["Metrics"].(string) + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// statementsTotal sums sluice_statements_total over its labels: the
// statements sluiced decided so far.
func statementsTotal(t *testing.T, w *recWorld) float64 {
	t.Helper()
	var n float64
	for _, line := range strings.Split(metricsText(t, w), "\n") {
		if !strings.HasPrefix(line, "sluice_statements_total{") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			n += v
		}
	}
	return n
}
