package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/record"
)

// recConfig is sluiced in front of one PostgreSQL server, target
// orders-db, with recording on (the default) and a short fsync interval,
// encrypted when the template's Recipient is set. The identity may also be
// claimed by uid 1002, so that a job's recorded attribution is not root's;
// uid 1003 may read the event stream.
const recConfig = `
listen: {{.Listen}}
listen6: "{{.Listen6}}"
control_socket: {{.Dir}}/control.sock
cgroup_root: {{.Root}}
state_dir: {{.State}}
policies: {{.Dir}}/policies
log: { format: json, level: debug, readers: { uids: [1003] } }
metrics: { listen: "{{.Metrics}}" }
bpf: { pin_dir: {{.PinDir}} }
recording: { fsync_interval: 50ms{{with .Recipient}}, recipients: ["{{.}}"]{{end}} }
identities:
  - name: legacy-etl
    egress: deny
    claimable_by: { uids: [1002] }
targets:
  - name: orders-db
    protocol: postgres
    address: {{.PG}}
    on_record_failure: {{or .OnRecordFailure "deny"}}
`

// recPolicy is pgPolicy for the one target of recConfig: reads of sales,
// public (pgbench's tables) and the catalogs, writes to staging, no DDL.
const recPolicy = `
policies:
  - name: etl
    identities: [legacy-etl]
    targets: [orders-db]
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

// recWorld is sluiced, recording, in front of one PostgreSQL server.
type recWorld struct {
	*env
	pg      *pgtest.Server
	state   string // state_dir
	cfgPath string
}

// newRecWorld starts PostgreSQL on 127.0.0.5 with extra settings and
// writes sluiced's configuration and policy; startDaemon starts sluiced.
// state is the state directory, "" for one in the test's directory.
func newRecWorld(t *testing.T, settings map[string]string, state string) *recWorld {
	e := newEnv(t)
	if state == "" {
		state = filepath.Join(e.dir, "state")
	}
	w := &recWorld{env: e, state: state}
	w.pg = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.5", Settings: settings})
	e.vars["PG"] = w.pg.Addr().String()
	e.vars["State"] = state
	write(t, filepath.Join(e.dir, "policies", "etl.yaml"), recPolicy)
	w.cfgPath = e.writeConfig(recConfig)
	return w
}

// seedOrders creates user etl (authenticating with auth) and database
// orders holding pgSeed.
func (w *recWorld) seedOrders(t *testing.T, auth pgtest.AuthMethod) {
	t.Helper()
	if err := w.pg.CreateUser("etl", etlPassword, auth); err != nil {
		t.Fatal(err)
	}
	if err := w.pg.CreateDatabase("orders", "etl"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pg.Exec("orders", pgSeed); err != nil {
		t.Fatal(err)
	}
}

// as makes t, a subtest, the test the env's methods (start, writeConfig,
// sluice) fail; it returns the function that puts the previous one back.
func (w *recWorld) as(t *testing.T) func() {
	old := w.env.t
	w.env.t = t
	return func() { w.env.t = old }
}

// startDaemon starts sluiced with the world's configuration.
func (w *recWorld) startDaemon(t *testing.T) *daemonProc {
	t.Helper()
	defer w.as(t)()
	return w.start(w.cfgPath)
}

func (w *recWorld) storeDir() string { return record.StoreDir(w.state) }

// psql runs psql as a job of legacy-etl, as uid (0: root), against the
// target, logging in as etl to database orders.
func (w *recWorld) psql(t *testing.T, uid uint32, stdin string, args ...string) jobResult {
	t.Helper()
	bin, err := pgtest.Bin("psql")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PGPASSWORD=" + etlPassword, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable"}
	argv := append([]string{bin, "-X", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "etl", "-d", "orders"}, args...)
	j := startJob(t, w.socket(), uid, env, stdin, argv...)
	return j.wait(t)
}

// cli runs a `sluice sessions` or `sluice replay` command on the state
// directory dir and returns its output and exit code.
func (w *recWorld) cli(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	defer w.as(t)()
	return w.sluice(0, append(args, "--state-dir", dir)...)
}

// asyncJob is a `sluice run` job running in the background.
type asyncJob struct {
	cmd      *exec.Cmd
	cancel   context.CancelFunc
	out, err bytes.Buffer
	done     chan struct{}
	res      jobResult
	runErr   error
}

// startJob starts argv as `sluice run --identity legacy-etl`, as uid, with
// env added to the test's environment. It is killed after three minutes
// and when the test ends.
func startJob(t *testing.T, socket string, uid uint32, env []string, stdin string, argv ...string) *asyncJob {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	j := &asyncJob{cancel: cancel, done: make(chan struct{})}
	args := append([]string{"--control", socket, "run", "--identity", "legacy-etl", "--"}, argv...)
	j.cmd = exec.CommandContext(ctx, filepath.Join(binDir, "sluice"), args...)
	j.cmd.Env = append(os.Environ(), env...)
	j.cmd.Stdin = strings.NewReader(stdin)
	j.cmd.Stdout, j.cmd.Stderr = &j.out, &j.err
	if uid != 0 {
		j.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	if err := j.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("sluice run %v: %v", argv, err)
	}
	go func() {
		defer close(j.done)
		err := j.cmd.Wait()
		j.res = jobResult{stdout: j.out.String(), stderr: j.err.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			j.res.code = ee.ExitCode()
		} else {
			j.runErr = err
		}
	}()
	t.Cleanup(func() { cancel(); <-j.done })
	return j
}

// wait waits for the job to end and returns what it printed.
func (j *asyncJob) wait(t *testing.T) jobResult {
	t.Helper()
	<-j.done
	j.cancel()
	if j.runErr != nil {
		t.Fatalf("sluice run %v: %v", j.cmd.Args, j.runErr)
	}
	return j.res
}

// recording is a recording read back with record.OpenFile: every line
// checked, every event decoded.
type recording struct {
	rel    string // path in the store
	header *record.Header
	events []recEvent // after the header, up to and including the end event
	end    *record.End
	signed bool
}

type recEvent struct {
	seq   uint64
	kind  record.Kind
	value any // *record.Statement, *record.Result, ...
}

// readRecording reads the recording at rel in the store at dir.
func readRecording(t *testing.T, dir, rel string) *recording {
	t.Helper()
	rd, f, err := record.OpenFile(filepath.Join(dir, rel), record.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &recording{rel: rel, header: rd.Header()}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		v, err := e.Decode()
		if err != nil {
			t.Fatalf("%s: seq %d: %v", rel, e.Seq, err)
		}
		r.events = append(r.events, recEvent{seq: e.Seq, kind: e.Kind, value: v})
	}
	r.end, r.signed = rd.End(), rd.Signature() != nil
	return r
}

// statements returns the recording's statement events.
func (r *recording) statements() []*record.Statement {
	var out []*record.Statement
	for _, e := range r.events {
		if st, ok := e.value.(*record.Statement); ok {
			out = append(out, st)
		}
	}
	return out
}

// summary renders the events between the header and the end, one line
// each, with each statement's result right after it: the inspector
// writes a result when the server's answer has gone to the client, so the
// next statement's event may come first. A result of a statement that is
// not before it in the file is rendered where it is, as an orphan.
func (r *recording) summary() []string {
	results := map[uint64][]string{}
	var orphans []string
	seen := map[uint64]string{}
	for _, e := range r.events {
		switch v := e.value.(type) {
		case *record.Statement:
			seen[e.seq] = v.Text
		case *record.Result:
			l := "result"
			if v.HasRows {
				l += fmt.Sprintf(" rows=%d", v.Rows)
			}
			if v.Code != "" {
				l += " code=" + v.Code
			}
			text, ok := seen[v.Statement]
			if !ok {
				orphans = append(orphans, fmt.Sprintf("%s of seq %d, no statement before it", l, v.Statement))
				continue
			}
			results[v.Statement] = append(results[v.Statement], fmt.Sprintf("%s of %q", l, text))
		}
	}
	var out []string
	for _, e := range r.events {
		switch v := e.value.(type) {
		case *record.Login:
			out = append(out, fmt.Sprintf("login user=%s database=%s auth=%s tls=%t", v.User, v.Database, v.Auth, v.TLS))
		case *record.Statement:
			out = append(out, fmt.Sprintf("statement %s %s %s %s/%s %q", v.Phase, v.Decision, v.Class, v.Policy, v.Rule, v.Text))
			out = append(out, results[e.seq]...)
		case *record.Result, *record.End:
		default:
			out = append(out, fmt.Sprintf("%s %T", e.kind, v))
		}
	}
	return append(out, orphans...)
}

// recordingsOf lists the recordings of identity legacy-etl in the store
// at dir, oldest first.
func recordingsOf(t *testing.T, dir string) []record.Info {
	t.Helper()
	infos, err := record.List(dir, record.Filter{Identity: "legacy-etl"})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Error != "" {
			t.Errorf("recording %s: %s", in.Path, in.Error)
		}
	}
	return infos
}

// waitRecordings waits until the store at dir holds want recordings of
// legacy-etl and all of them are closed: a session's recording is closed
// just after its client is gone.
func waitRecordings(t *testing.T, dir string, want int) []record.Info {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		infos := recordingsOf(t, dir)
		open := 0
		for _, in := range infos {
			if in.Open {
				open++
			}
		}
		if len(infos) == want && open == 0 {
			return infos
		}
		if time.Now().After(deadline) {
			t.Fatalf("store %s: %d recordings (%d open), want %d closed: %+v", dir, len(infos), open, want, infos)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifyReport runs `sluice sessions verify --all --json` on the state
// directory dir.
func (w *recWorld) verifyReport(t *testing.T, dir string) (record.Report, int) {
	t.Helper()
	out, code := w.cli(t, dir, "sessions", "verify", "--all", "--json")
	var rep record.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("sluice sessions verify --json: exit %d, %v:\n%s", code, err, out)
	}
	return rep, code
}

// waitLogged waits until verify passes and reports each of sessions as
// "ok": closed, signed and in the head log (the syncer logs the heads of
// closed recordings at its next round).
func (w *recWorld) waitLogged(t *testing.T, dir string, sessions ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep, code := w.verifyReport(t, dir)
		states := map[string]string{}
		for _, c := range rep.Recordings {
			states[c.Session] = c.State
		}
		ok := code == 0 && len(rep.Problems) == 0
		for _, s := range sessions {
			ok = ok && states[s] == record.StateOK
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify: exit %d, problems %v, states %v; want exit 0 and %v ok", code, rep.Problems, states, sessions)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEvents waits up to ten seconds for n events matching pred (events
// reach the log within tens of milliseconds) and returns those there are.
func waitEvents(d *daemonProc, n int, pred func(event) bool) []event {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var evs []event
		for _, ev := range d.events() {
			if pred(ev) {
				evs = append(evs, ev)
			}
		}
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// named matches the events of one kind.
func named(name string) func(event) bool {
	return func(ev event) bool { return ev.str("event") == name }
}

// grepTree returns the files under dir whose content contains s.
func grepTree(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// mountTmpfs mounts a tmpfs of size bytes on dir. It is unmounted when
// the test ends, after the daemon, which holds files in it, is killed.
func (w *recWorld) mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if w.daemon != nil {
			w.daemon.kill()
		}
		var err error
		for range 50 {
			if err = unix.Unmount(dir, 0); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("unmount %s: %v; detaching it", dir, err)
		_ = unix.Unmount(dir, unix.MNT_DETACH)
	})
}

// freeBytes is the space left on the file system of path.
func freeBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill creates path taking all the free space of its file system but
// leave bytes (0: all of it).
func fill(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if leave > 0 {
		n := freeBytes(t, path) - leave
		if n <= 0 {
			t.Fatalf("%s: only %d bytes free, want more than %d", path, freeBytes(t, path), leave)
		}
		if err := unix.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
			t.Fatalf("fallocate %s: %v", path, err)
		}
		return
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			break
		}
	}
	// The last page may be partly used: take what a write of one byte
	// at a time can still get.
	for {
		if _, err := f.Write(buf[:1]); err != nil {
			break
		}
	}
}
