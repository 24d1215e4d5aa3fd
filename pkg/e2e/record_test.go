package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/record"
)

// TestRecordingPsql: a psql session run as a tagged job is recorded whole
// (header with the kernel's attribution, login, every statement with its
// decision before it runs, results, end), the CLI lists, shows, replays
// and verifies it, and verify names a modified and a deleted recording.
func TestRecordingPsql(t *testing.T) {
	w := newRecWorld(t, nil, "")
	// Cleartext password authentication: the password passes through
	// sluice, and must not reach the recording.
	w.seedOrders(t, pgtest.Password)
	w.startDaemon(t)

	// The shell psql starts for \! is its child: $PPID is psql's pid,
	// which the recording's attribution must name.
	script := `\! echo "client-pid $PPID"
SELECT sum(amount) FROM sales.orders;
DROP TABLE sales.orders;
COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT;
BEGIN;
INSERT INTO staging.imports (payload) VALUES ('recorded');
SELECT count(*) FROM staging.imports;
COMMIT;
`
	r := w.psql(t, 1002, script, "-At", "-v", "VERBOSITY=verbose")
	if !strings.Contains(r.stdout, "425\n") || !strings.Contains(r.stdout, "2\t250\n") || !strings.Contains(r.stderr, `rule "no-ddl"`) {
		t.Fatalf("psql: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`client-pid (\d+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("psql did not print its pid: %q", r.stdout)
	}
	psqlPID, _ := strconv.Atoi(m[1])
	psqlBin, err := pgtest.Bin("psql")
	if err != nil {
		t.Fatal(err)
	}
	psqlExe, err := filepath.EvalSymlinks(psqlBin)
	if err != nil {
		t.Fatal(err)
	}

	infos := waitRecordings(t, w.storeDir(), 1)
	rec := readRecording(t, w.storeDir(), infos[0].Path)
	id := rec.header.Session

	t.Run("header", func(t *testing.T) {
		h := rec.header
		got := []string{h.Session, h.Protocol, h.Identity, h.Target, h.Dst, h.User, h.Database, strconv.Itoa(h.Version)}
		want := []string{infos[0].Session, "postgres", "legacy-etl", "orders-db", w.pg.Addr().String(), "etl", "orders", strconv.Itoa(record.FormatVersion)}
		if !slices.Equal(got, want) {
			t.Errorf("header session, protocol, identity, target, dst, user, database, version:\n got %q\nwant %q", got, want)
		}
		p := h.Process
		if p.PID != uint32(psqlPID) || p.UID != 1002 || p.GID != 1002 || p.Exe != psqlExe || p.Comm != "psql" ||
			!strings.Contains(p.Cgroup, "/sluice.jobs/job-") || p.CgroupID == 0 {
			t.Errorf("process = %+v, want psql: pid %d, uid and gid 1002, exe %s, in a job cgroup", p, psqlPID, psqlExe)
		}
		if h.PolicyVersion == "" || h.Host == "" || h.Started.IsZero() {
			t.Errorf("header lacks policy version, host or start: %+v", h)
		}
	})

	t.Run("events", func(t *testing.T) {
		want := []string{
			"login user=etl database=orders auth=passthrough tls=false",
			`statement query allow select etl/read-sales-and-public "SELECT sum(amount) FROM sales.orders"`,
			`result rows=1 of "SELECT sum(amount) FROM sales.orders"`,
			`statement query deny ddl etl/no-ddl "DROP TABLE sales.orders"`,
			`result code=42501 of "DROP TABLE sales.orders"`,
			`statement query allow copy_to etl/read-sales-and-public "COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT"`,
			`result rows=3 of "COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT"`,
			`statement query allow transaction etl/read-sales-and-public "BEGIN"`,
			`result of "BEGIN"`,
			`statement query allow insert etl/write-staging "INSERT INTO staging.imports (payload) VALUES ('recorded')"`,
			`result rows=1 of "INSERT INTO staging.imports (payload) VALUES ('recorded')"`,
			`statement query allow select etl/write-staging "SELECT count(*) FROM staging.imports"`,
			`result rows=1 of "SELECT count(*) FROM staging.imports"`,
			`statement query allow transaction etl/read-sales-and-public "COMMIT"`,
			`result of "COMMIT"`,
		}
		if got := rec.summary(); !slices.Equal(got, want) {
			t.Errorf("recording %s:\n\t%s\nwant\n\t%s", rec.rel, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		for _, st := range rec.statements() {
			if st.Decision == record.DecisionDeny && !strings.Contains(st.Reason, "DDL is not allowed") {
				t.Errorf("denied statement %q: reason %q, want the rule's message", st.Text, st.Reason)
			}
		}
		end := rec.end
		if end == nil || !rec.signed {
			t.Fatalf("recording %s has no end event or no signature", rec.rel)
		}
		if end.Reason != "client_closed" || end.Statements != 7 || end.Denied != 1 || end.Events != uint64(len(rec.events)+1) ||
			end.BytesUp == 0 || end.BytesDown == 0 {
			t.Errorf("end = %+v, want client_closed, 7 statements, 1 denied, %d events, bytes counted", end, len(rec.events)+1)
		}
	})

	t.Run("no password in the state directory", func(t *testing.T) {
		if hits := grepTree(t, w.state, etlPassword); len(hits) > 0 {
			t.Errorf("the password appears in %v", hits)
		}
		if strings.Contains(readFile(w.daemon.log), etlPassword) {
			t.Error("the password appears in the event log")
		}
	})

	t.Run("sessions list", func(t *testing.T) {
		out, code := w.cli(t, w.state, "sessions", "list", "--json", "--identity", "legacy-etl")
		var list []record.Info
		if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
			t.Fatalf("sessions list --json: exit %d, %v:\n%s", code, err, out)
		}
		if len(list) != 1 || list[0].Session != id || list[0].Target != "orders-db" || list[0].Reason != "client_closed" ||
			list[0].Statements != 7 || list[0].Denied != 1 || list[0].Open {
			t.Errorf("sessions list = %+v, want session %s: orders-db, client_closed, 7 statements, 1 denied", list, id)
		}
	})

	w.waitLogged(t, w.state, id)

	t.Run("verify, show and replay", func(t *testing.T) {
		out, code := w.cli(t, w.state, "sessions", "verify", "--all")
		if code != 0 || !regexp.MustCompile(`(?m)^ok\s+`+id+`\s`).MatchString(out) {
			t.Errorf("sessions verify --all: exit %d, want 0 and %s ok:\n%s", code, id, out)
		}
		texts := []string{
			"SELECT sum(amount) FROM sales.orders", "DROP TABLE sales.orders",
			"COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT",
			"INSERT INTO staging.imports (payload) VALUES ('recorded')", "SELECT count(*) FROM staging.imports", "COMMIT",
		}
		for _, args := range [][]string{{"sessions", "show", id}, {"replay", id, "--speed", "0"}} {
			out, code := w.cli(t, w.state, args...)
			if code != 0 {
				t.Errorf("%v: exit %d:\n%s", args, code, out)
				continue
			}
			for _, s := range append(texts, "DENY", "no-ddl", "client_closed") {
				if !strings.Contains(out, s) {
					t.Errorf("%v does not print %q:\n%s", args, s, out)
				}
			}
		}
	})

	// Tampering happens on copies of the state directory.
	cp := copyState(t, w.state)
	file := filepath.Join(record.StoreDir(cp), rec.rel)

	t.Run("verify names a modified event", func(t *testing.T) {
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.SplitAfter(orig, []byte("\n"))
		n := slices.IndexFunc(lines, func(l []byte) bool { return bytes.Contains(l, []byte(`"text":"DROP TABLE sales.orders"`)) })
		if n < 0 {
			t.Fatalf("%s has no DROP TABLE line", file)
		}
		var ev struct{ Seq int64 }
		if err := json.Unmarshal(lines[n], &ev); err != nil {
			t.Fatal(err)
		}
		// One byte: "DROP TABLE sales.orders" becomes "DROP TABLE sales.orderz".
		start := len(bytes.Join(lines[:n], nil))
		i := start + bytes.Index(lines[n], []byte(`DROP TABLE sales.orders"`)) + len("DROP TABLE sales.order")
		mod := bytes.Clone(orig)
		mod[i] = 'z'
		if err := os.WriteFile(file, mod, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, code := w.verifyReport(t, cp)
		if code != 1 || !slices.ContainsFunc(rep.Problems, func(p record.Problem) bool {
			return p.File == rec.rel && p.Seq == ev.Seq && p.Line == n+1 && strings.Contains(p.Msg, "modified")
		}) {
			t.Errorf("verify of a modified line %d (seq %d): exit %d, problems %+v", n+1, ev.Seq, code, rep.Problems)
		}
		out, _ := w.cli(t, cp, "sessions", "verify", "--all")
		if want := fmt.Sprintf("FAILED  %s: line %d (seq %d): modified", rec.rel, n+1, ev.Seq); !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
		if err := os.WriteFile(file, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, code := w.cli(t, cp, "sessions", "verify", "--all"); code != 0 {
			t.Errorf("verify of the restored copy: exit %d:\n%s", code, out)
		}
	})

	t.Run("verify names a deleted recording", func(t *testing.T) {
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		rep, code := w.verifyReport(t, cp)
		if code != 1 || !slices.ContainsFunc(rep.Problems, func(p record.Problem) bool {
			return p.Session == id && strings.Contains(p.Msg, "deleted")
		}) {
			t.Errorf("verify of a deleted recording: exit %d, problems %+v", code, rep.Problems)
		}
		out, _ := w.cli(t, cp, "sessions", "verify", "--all")
		if !regexp.MustCompile(`(?m)^missing\s+`+id+`\s`).MatchString(out) || !strings.Contains(out, "FAILED  "+rec.rel+": deleted") {
			t.Errorf("verify output does not name deleted session %s:\n%s", id, out)
		}
	})

	t.Run("verify names a truncated file", func(t *testing.T) {
		cp := copyState(t, w.state)
		file := filepath.Join(record.StoreDir(cp), rec.rel)
		lines := fileLines(t, file)
		// Cut after the first statement event: the denial and what
		// followed are gone, signature included.
		if err := os.WriteFile(file, bytes.Join(lines[:3], nil), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, code := w.verifyReport(t, cp)
		if code != 1 || !slices.ContainsFunc(rep.Problems, func(p record.Problem) bool {
			return p.File == rec.rel && strings.Contains(p.Msg, "truncated")
		}) {
			t.Errorf("verify of a truncated recording: exit %d, problems %+v", code, rep.Problems)
		}
		out, _ := w.cli(t, cp, "sessions", "verify", id)
		if want := fmt.Sprintf("FAILED  %s: truncated: the file ends after seq 2 with no end event", rec.rel); !strings.Contains(out, want) {
			t.Errorf("verify %s output lacks %q:\n%s", id, want, out)
		}
	})

	t.Run("verify names a forged head", func(t *testing.T) {
		// The end event rewritten to hide the denial, its hash
		// recomputed, and the signature line pointed at the new head:
		// what someone without the host key can do.
		cp := copyState(t, w.state)
		file := filepath.Join(record.StoreDir(cp), rec.rel)
		lines := fileLines(t, file)
		n := len(lines) - 2 // the end event; the signature follows
		oldHead := lineHash(t, lines[n])
		forged := bytes.Replace(lines[n], []byte(`"denied":1`), []byte(`"denied":0`), 1)
		if bytes.Equal(forged, lines[n]) {
			t.Fatalf("end event without a denial: %s", lines[n])
		}
		lines[n] = rehash(t, forged)
		lines[n+1] = bytes.Replace(lines[n+1], []byte(oldHead), []byte(lineHash(t, lines[n])), 1)
		if err := os.WriteFile(file, bytes.Join(lines, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, code := w.verifyReport(t, cp)
		has := func(msg string) bool {
			return slices.ContainsFunc(rep.Problems, func(p record.Problem) bool { return p.File == rec.rel && strings.Contains(p.Msg, msg) })
		}
		if code != 1 || !has("forged head: the signature does not verify") || !has("head differs from the head log") {
			t.Errorf("verify of a forged head: exit %d, problems %+v", code, rep.Problems)
		}
	})
}

// copyState copies a state directory, for tampering with the copy.
func copyState(t *testing.T, state string) string {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "state")
	if err := os.CopyFS(cp, os.DirFS(state)); err != nil {
		t.Fatal(err)
	}
	return cp
}

// fileLines returns the lines of a file, each with its newline.
func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// hashField is what precedes a recording line's hash (docs/recording.md).
const hashField = `,"hash":"`

// lineHash returns the hash a recording line carries.
func lineHash(t *testing.T, line []byte) string {
	t.Helper()
	i := bytes.LastIndex(line, []byte(hashField))
	if i < 0 {
		t.Fatalf("not an event line: %s", line)
	}
	return string(line[i+len(hashField) : i+len(hashField)+64])
}

// rehash recomputes a recording line's hash after its content changed,
// as a forger would: SHA-256 of the bytes before the hash field.
func rehash(t *testing.T, line []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(line, []byte(hashField))
	if i < 0 {
		t.Fatalf("not an event line: %s", line)
	}
	sum := sha256.Sum256(line[:i])
	out := append(bytes.Clone(line[:i]), hashField...)
	out = append(out, hex.EncodeToString(sum[:])...)
	out = append(out, `"}`...)
	if bytes.HasSuffix(line, []byte("\n")) {
		out = append(out, '\n')
	}
	return out
}

// TestRecordingCrash runs pgbench through sluice, kills the daemon with
// SIGKILL in the middle of the load, restarts it, and checks that every
// statement PostgreSQL logged (log_statement = all) has its statement
// event in the recordings, sealed ones included: each event is written
// before its statement is forwarded.
func TestRecordingCrash(t *testing.T) {
	w := newRecWorld(t, map[string]string{
		"log_statement":   "all",
		"log_line_prefix": "%m [%p] %u@%d ",
	}, "")
	if err := w.pg.CreateUser("bench", etlPassword, pgtest.SCRAM); err != nil {
		t.Fatal(err)
	}
	if err := w.pg.CreateDatabase("bench", "bench"); err != nil {
		t.Fatal(err)
	}
	// The tables are created directly: DDL through sluice is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	initCmd, err := w.pg.Command(ctx, "pgbench", "-i", "-q", "-s", "1", "-U", "bench", "bench")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	pgbench, err := pgtest.Bin("pgbench")
	if err != nil {
		t.Fatal(err)
	}
	w.startDaemon(t)

	// -M simple sends each statement as a Query, logged as "statement:";
	// -M prepared parses once and logs each Execute as "execute" with its
	// parameters.
	for _, mode := range []string{"simple", "prepared"} {
		t.Run(mode, func(t *testing.T) {
			before := map[string]bool{}
			for _, in := range recordingsOf(t, w.storeDir()) {
				before[in.Session] = true
			}
			logStart := fileSize(t, w.pg.LogFile())
			d := w.daemon
			job := startJob(t, w.socket(), 0, []string{"PGPASSWORD=" + etlPassword, "PGSSLMODE=disable"}, "",
				pgbench, "-n", "-S", "-M", mode, "-c", "4", "-j", "2", "-T", "10",
				"-h", w.pg.Host, "-p", strconv.Itoa(w.pg.Port), "-U", "bench", "bench")
			// Killed in the middle of the load: once sluiced has
			// decided a few hundred more statements (its metrics say).
			start := statementsTotal(t, w)
			waitFor(t, "pgbench under load", func() bool { return statementsTotal(t, w) >= start+300 })
			d.kill()
			res := job.wait(t)
			if res.code == 0 {
				t.Errorf("pgbench completed although sluiced was killed under it:\n%s\n%s", res.stdout, res.stderr)
			}

			d2 := w.startDaemon(t)
			var cycle []record.Info
			for _, in := range recordingsOf(t, w.storeDir()) {
				if !before[in.Session] {
					cycle = append(cycle, in)
				}
			}
			restarted := map[string]bool{}
			ended := map[string]bool{} // ended before the kill (signed then or at the restart)
			var recorded []string
			for _, in := range cycle {
				if in.Open {
					t.Errorf("recording %s is still open after the restart", in.Path)
					continue
				}
				rec := readRecording(t, w.storeDir(), in.Path)
				if rec.end != nil && rec.end.Reason == record.ReasonDaemonRestart {
					restarted[in.Session] = true
					if !rec.signed {
						t.Errorf("sealed recording %s is not signed", in.Path)
					}
				} else if rec.end != nil && rec.signed {
					ended[in.Session] = true
				}
				for _, st := range rec.statements() {
					if st.Decision == record.DecisionAllow {
						recorded = append(recorded, statementKey(st))
					}
				}
			}
			// The four clients' sessions were open when sluiced died. A
			// session that ended just before (pgbench's first connection)
			// may have its head logged only now: record.sealed with sealed
			// false.
			sealed := waitEvents(d2, len(restarted), named("record.sealed"))
			resealed := 0
			for _, ev := range sealed {
				switch s := ev.str("session"); {
				case ev["sealed"] == true && restarted[s]:
					resealed++
				case ev["sealed"] == false && ended[s]:
				default:
					t.Errorf("record.sealed %v: not a recording of this run, sealed if it was open", ev)
				}
			}
			if len(restarted) < 4 || resealed != len(restarted) {
				t.Errorf("%d recordings sealed and %d ended by daemon_restart, want the same number, at least 4:\n%v",
					resealed, len(restarted), sealed)
			}

			logged := loggedStatements(t, w.pg.LogFile(), logStart, "bench")
			if len(logged) < 100 {
				t.Fatalf("PostgreSQL logged %d statements of pgbench, want a load of at least 100", len(logged))
			}
			if missing := notCovered(logged, recorded); len(missing) > 0 {
				t.Errorf("%d of %d statements in PostgreSQL's log have no statement event in the %d recordings (%d events), for example:\n\t%s",
					len(missing), len(logged), len(cycle), len(recorded), strings.Join(missing[:min(len(missing), 10)], "\n\t"))
			}
			t.Logf("%s: %d statements logged by PostgreSQL, %d recorded in %d sessions, %d sealed", mode, len(logged), len(recorded), len(cycle), len(sealed))

			w.waitLogged(t, w.state, keys(restarted)...)
		})
	}
}

// statementKey is what a recorded statement is matched on with the
// server's log: its phase, its text, and for an Execute the prepared
// statement's name and the parameters.
func statementKey(st *record.Statement) string {
	switch st.Phase {
	case "execute":
		name := st.Prepared
		if name == "" {
			name = "<unnamed>"
		}
		return fmt.Sprintf("execute %s: %s | %s", name, st.Text, strings.Join(st.Params, ", "))
	default:
		return st.Phase + ": " + st.Text
	}
}

var (
	// pgLogLine is a line of the server log with log_line_prefix
	// '%m [%p] %u@%d '.
	pgLogLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] (\S*)@(\S*) ([A-Z]+):  (.*)$`)
	pgExecute = regexp.MustCompile(`^execute ([^:/]+)(?:/[^:]*)?: `)
	pgParam   = regexp.MustCompile(`\$\d+ = (?:NULL|'((?:[^']|'')*)')`)
)

// loggedStatements returns the statements user ran, as logged by
// log_statement = all in the server log from offset on, keyed as
// statementKey keys recorded ones. The inspector records a statement's own
// text, without the white space and semicolons around it: the log's texts
// are cut the same way, and otherwise compared as they are.
func loggedStatements(t *testing.T, path string, offset int64, user string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type msg struct{ pid, user, level, text string }
	var msgs []*msg
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		if m := pgLogLine.FindStringSubmatch(line); m != nil {
			msgs = append(msgs, &msg{pid: m[1], user: m[2], level: m[4], text: m[5]})
		} else if cont, ok := strings.CutPrefix(line, "\t"); ok && len(msgs) > 0 {
			// A message's later lines start with a tab.
			msgs[len(msgs)-1].text += "\n" + cont
		}
	}
	var out []string
	lastExecute := map[string]int{} // pid: index in out of its last execute
	for _, m := range msgs {
		if m.user != user {
			continue
		}
		switch {
		case m.level == "LOG" && strings.HasPrefix(m.text, "statement: "):
			out = append(out, "query: "+ownText(strings.TrimPrefix(m.text, "statement: ")))
		case m.level == "LOG" && pgExecute.MatchString(m.text):
			e := pgExecute.FindStringSubmatch(m.text)
			out = append(out, fmt.Sprintf("execute %s: %s | ", e[1], ownText(m.text[len(e[0]):])))
			lastExecute[m.pid] = len(out) - 1
		case m.level == "DETAIL" && strings.HasPrefix(m.text, "parameters: "):
			i, ok := lastExecute[m.pid]
			if !ok {
				t.Fatalf("server log: parameters without an execute: %s", m.text)
			}
			var params []string
			for _, p := range pgParam.FindAllStringSubmatch(m.text, -1) {
				v := strings.ReplaceAll(p[1], "''", "'")
				if strings.HasSuffix(p[0], "NULL") {
					v = "NULL"
				}
				params = append(params, v)
			}
			out[i] += strings.Join(params, ", ")
			delete(lastExecute, m.pid)
		}
	}
	return out
}

// ownText cuts a query string as the inspector cuts a statement's text.
func ownText(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasSuffix(s, ";") {
		s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	}
	return s
}

// notCovered returns the logged statements the recorded ones do not
// cover, counting repeats: a text logged n times needs n events.
func notCovered(logged, recorded []string) []string {
	have := map[string]int{}
	for _, k := range recorded {
		have[k]++
	}
	var missing []string
	for _, k := range logged {
		if have[k] == 0 {
			missing = append(missing, k)
			continue
		}
		have[k]--
	}
	return missing
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestRecordingDiskFull: with the state directory on a full file system,
// statements are refused (on_record_failure: deny) with a clean 42501 in a
// session that stays usable, and run again, recorded, once there is room;
// with on_record_failure: allow they run unrecorded.
func TestRecordingDiskFull(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	w := newRecWorld(t, nil, state)
	w.mountTmpfs(t, state, 2<<20)
	w.seedOrders(t, pgtest.SCRAM)
	d := w.startDaemon(t)
	filler := filepath.Join(state, "filler")

	t.Run("deny refuses, then records again once there is room", func(t *testing.T) {
		// Room for a few statements of 16 KiB, not for the dozen sent.
		fill(t, filler, 96<<10)
		payload := strings.Repeat("x", 16<<10)
		const inserts = 12
		var script strings.Builder
		script.WriteString("SELECT 'before', pg_backend_pid();\n")
		for i := 1; i <= inserts; i++ {
			fmt.Fprintf(&script, "INSERT INTO staging.imports (payload) VALUES ('fill-%02d-%s');\n", i, payload)
		}
		// psql frees the space itself, between two statements of the
		// same session (\! runs a shell command).
		fmt.Fprintf(&script, "\\! rm %s\n", filler)
		script.WriteString("SELECT 'after-free', pg_backend_pid();\n")
		r := w.psql(t, 0, script.String(), "-At", "-v", "VERBOSITY=verbose")

		ran, _ := w.pg.Exec("orders", "SELECT count(*), coalesce(max(substr(payload, 6, 2)), '00') FROM staging.imports WHERE payload LIKE 'fill-%'")
		var n, last int
		if _, err := fmt.Sscanf(ran, "%d|%d", &n, &last); err != nil {
			t.Fatalf("staging rows: %q: %v", ran, err)
		}
		refused := strings.Count(r.stderr, `ERROR:  42501: permission denied by sluice policy "sluice" rule "recording-failed"`)
		if n == 0 || n != last || refused != inserts-n || refused < 2 {
			t.Fatalf("%d inserts ran (the last one fill-%02d) and %d were refused, want the first ones to run and the last ones, at least 2, refused\nstdout:\n%s\nstderr:\n%.3000s",
				n, last, refused, r.stdout, r.stderr)
		}
		for _, want := range []string{"no space left on device", `target "orders-db" has on_record_failure: deny`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the refusal does not say %q:\n%.2000s", want, r.stderr)
			}
		}
		// The same backend before and after: the session survived the
		// refusals.
		pids := regexp.MustCompile(`(?m)^(before|after-free)\|(\d+)$`).FindAllStringSubmatch(r.stdout, -1)
		if r.code != 0 || len(pids) != 2 || pids[0][2] != pids[1][2] {
			t.Errorf("psql: exit %d, want 0 and one backend from before to after-free:\n%s", r.code, r.stdout)
		}

		failed := waitEvents(d, refused, func(ev event) bool {
			return ev.str("event") == "record.failed" && ev.str("target") == "orders-db" && ev.str("op") == "append" &&
				ev.str("on_record_failure") == "deny" && strings.Contains(ev.str("error"), "no space left on device")
		})
		if len(failed) < refused {
			t.Errorf("%d record.failed events for appends, want at least one per refused statement (%d):\n%v",
				len(failed), refused, waitEvents(d, 0, named("record.failed")))
		}

		if q := waitEvents(d, refused, func(ev event) bool {
			return ev.str("event") == "db.query" && ev.str("rule") == "recording-failed" && ev.str("decision") == "deny"
		}); len(q) != refused {
			t.Errorf("%d db.query events with rule recording-failed, want one per refused statement (%d)", len(q), refused)
		}

		infos := waitRecordings(t, w.storeDir(), 1)
		rec := readRecording(t, w.storeDir(), infos[0].Path)
		var got []string
		for _, st := range rec.statements() {
			got = append(got, st.Decision+" "+st.Text[:min(len(st.Text), 64)])
		}
		want := []string{"allow SELECT 'before', pg_backend_pid()"}
		for i := 1; i <= n; i++ {
			text := fmt.Sprintf("INSERT INTO staging.imports (payload) VALUES ('fill-%02d-%s')", i, payload)
			want = append(want, "allow "+text[:64])
		}
		want = append(want, "allow SELECT 'after-free', pg_backend_pid()")
		if !slices.Equal(got, want) {
			t.Errorf("recorded statements (cut to 64 bytes):\n\t%s\nwant every statement that ran and none that did not:\n\t%s",
				strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		if rec.end == nil || rec.end.Reason != "client_closed" || !rec.signed {
			t.Errorf("end = %+v, signed %t", rec.end, rec.signed)
		}
		w.waitLogged(t, w.state, rec.header.Session)
	})

	t.Run("allow runs statements unrecorded", func(t *testing.T) {
		defer w.as(t)()
		w.vars["OnRecordFailure"] = "allow"
		w.writeConfig(recConfig)
		if out, code := w.sluice(0, "reload"); code != 0 {
			t.Fatalf("sluice reload: exit %d: %s", code, out)
		}
		d.waitEvent(t, "config.reloaded", named("config.reloaded"))

		fill(t, filler, 0)
		r := w.psql(t, 0, "SELECT 'unrecorded-select';\nINSERT INTO staging.imports (payload) VALUES ('unrecorded-insert');\n", "-At")
		if r.code != 0 || !strings.Contains(r.stdout, "unrecorded-select") {
			t.Fatalf("psql: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if n, _ := w.pg.Exec("orders", "SELECT count(*) FROM staging.imports WHERE payload = 'unrecorded-insert'"); n != "1" {
			t.Errorf("the insert did not run: %q rows", n)
		}
		allowed := waitEvents(d, 1, func(ev event) bool {
			return ev.str("event") == "record.failed" && ev.str("target") == "orders-db" &&
				ev.str("on_record_failure") == "allow" && strings.Contains(ev.str("error"), "no space left on device")
		})
		if len(allowed) == 0 {
			t.Errorf("no record.failed event with on_record_failure allow:\n%v", waitEvents(d, 0, named("record.failed")))
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if hits := grepTree(t, w.storeDir(), "unrecorded-"); len(hits) > 0 {
			t.Errorf("unrecorded statements found in %v", hits)
		}
		if out, code := w.cli(t, w.state, "sessions", "verify", "--all"); code != 0 {
			t.Errorf("sessions verify --all after the full disk: exit %d:\n%s", code, out)
		}
	})
}
