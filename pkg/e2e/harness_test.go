package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/privtest"
	"golang.org/x/sys/unix"
)

// binDir holds sluiced and sluice built for this test run, world-readable so
// tests can run the CLI as other uids.
var binDir string

func TestMain(m *testing.M) {
	if privtest.ClientMode() {
		privtest.Main(m)
	}
	dir, err := buildBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	code := privtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildBinaries() (string, error) {
	dir, err := os.MkdirTemp("", "sluice-e2e-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	for name, pkg := range map[string]string{
		"sluiced":    "cmd/sluiced",
		"sluice":     "cmd/sluice",
		"pgxclient":  "pkg/e2e/testdata/pgxclient",
		"heldclient": "pkg/e2e/testdata/heldclient",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/sluicehq/sluice/"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("go build %s: %v\n%s", name, err, out)
		}
	}
	return dir, nil
}

// env is one test's world: a cgroup root, a bpffs, servers, a config.
type env struct {
	t        *testing.T
	root     *privtest.Cgroup
	pinDir   string
	dir      string // temp dir: config, control socket, state, logs
	vars     map[string]any
	daemon   *daemonProc
	daemonCG *privtest.Cgroup
}

func newEnv(t *testing.T) *env {
	privtest.Require(t)
	e := &env{t: t, root: privtest.NewCgroup(t), pinDir: privtest.BPFFS(t), dir: t.TempDir()}
	// Other uids reach the control socket in here (claimable_by tests).
	for _, d := range []string{e.dir, filepath.Dir(e.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.vars = map[string]any{
		"Root":    e.root.Path,
		"Dir":     e.dir,
		"PinDir":  e.pinDir,
		"Listen":  freePort(t, "tcp4", "127.0.0.1"),
		"Listen6": freePort(t, "tcp6", "[::1]"),
		"Metrics": freePort(t, "tcp4", "127.0.0.1"),
	}
	t.Cleanup(func() {
		if e.daemon != nil {
			e.daemon.kill()
		}
	})
	return e
}

func freePort(t *testing.T, network, host string) string {
	ln, err := net.Listen(network, host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig renders a config template with the env's variables.
func (e *env) writeConfig(tmpl string) string {
	e.t.Helper()
	var buf bytes.Buffer
	if err := template.Must(template.New("cfg").Parse(tmpl)).Execute(&buf, e.vars); err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *env) socket() string { return filepath.Join(e.dir, "control.sock") }

// serve starts a loopback server answering each line with "up <peer>": the
// peer tells whether the connection came through the proxy.
func (e *env) serve(network, addr string) *privtest.LineServer {
	e.t.Helper()
	return privtest.ServeLines(e.t, network, addr, func(c net.Conn, _ string) string {
		return "up " + c.RemoteAddr().String()
	})
}

// daemonProc is a running sluiced.
type daemonProc struct {
	cmd    *exec.Cmd
	log    string
	done   chan struct{}
	err    error
	stderr *bytes.Buffer
}

// start runs sluiced with the config and waits until its control socket
// answers.
func (e *env) start(cfgPath string) *daemonProc {
	e.t.Helper()
	logPath := filepath.Join(e.dir, fmt.Sprintf("sluiced-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	d := &daemonProc{log: logPath, done: make(chan struct{}), stderr: &bytes.Buffer{}}
	d.cmd = exec.Command(filepath.Join(binDir, "sluiced"), "--config", cfgPath)
	d.cmd.Stdout = f
	d.cmd.Stderr = d.stderr
	// As under systemd with the default cgroup_root: the daemon runs inside
	// the tree its programs are attached to, so its own connections and
	// listeners must pass by its cgroup and its mark.
	if e.daemonCG == nil {
		e.daemonCG = e.root.Child(e.t, "system.slice/sluiced.service")
	}
	fd, err := unix.Open(e.daemonCG.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer unix.Close(fd)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); f.Close(); close(d.done) }()
	e.daemon = d
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := control.Call(e.socket(), control.Request{Op: control.OpStatus}, time.Second); err == nil {
			return d
		}
		select {
		case <-d.done:
			e.t.Fatalf("sluiced exited: %v\nstderr: %s\nlog: %s", d.err, d.stderr, readFile(d.log))
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("sluiced did not come up\nstderr: %s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL (no cleanup at all) and waits.
func (d *daemonProc) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM and waits for an orderly exit.
func (d *daemonProc) stop(t *testing.T) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Fatal("sluiced did not stop on SIGTERM")
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// event is one decoded line of the event stream.
type event map[string]any

func (ev event) str(k string) string {
	v, _ := ev[k].(string)
	return v
}

func (ev event) num(k string) float64 {
	v, _ := ev[k].(float64)
	return v
}

// events returns every event the daemon wrote so far.
func (d *daemonProc) events() []event {
	var out []event
	for _, line := range strings.Split(readFile(d.log), "\n") {
		if line == "" {
			continue
		}
		var ev event
		if json.Unmarshal([]byte(line), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent waits for an event matching pred.
func (d *daemonProc) waitEvent(t *testing.T, what string, pred func(event) bool) event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ev := range d.events() {
			if pred(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event; log:\n%s", what, readFile(d.log))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findEvent returns the first matching event so far, or nil.
func (d *daemonProc) findEvent(pred func(event) bool) event {
	for _, ev := range d.events() {
		if pred(ev) {
			return ev
		}
	}
	return nil
}

// sluice runs the CLI as uid (0 = root) and returns its output and exit code.
func (e *env) sluice(uid uint32, args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "sluice"), append([]string{"--control", e.socket()}, args...)...)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("sluice %v: %v", args, err)
	}
	return string(out), code
}

// proxied reports whether a client's connection went through the proxy:
// the server saw a peer other than the client's own socket.
func proxied(t *testing.T, res privtest.ClientResult) bool {
	t.Helper()
	if res.Error != "" {
		t.Fatalf("client error: %s", res.Error)
	}
	seen, ok := strings.CutPrefix(res.Reply, "up ")
	if !ok {
		t.Fatalf("unexpected reply %q", res.Reply)
	}
	return unmapped(t, seen) != unmapped(t, res.Local)
}

func unmapped(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// waitFor waits for cond, with a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
