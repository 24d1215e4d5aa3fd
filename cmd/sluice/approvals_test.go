package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/approval/approvalctl"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/privtest"
)

// cliEnv makes the test binary run `sluice` with the JSON-encoded
// arguments it holds (see TestMain).
const cliEnv = "SLUICE_TEST_CLI_ARGS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(cliEnv); spec != "" {
		var args []string
		if err := json.Unmarshal([]byte(spec), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Args = args
		main() // exits with the command's status
		return
	}
	os.Exit(m.Run())
}

// approvalDaemon is the approval side of a daemon: a broker and its
// control socket operations, served in dir.
type approvalDaemon struct {
	b    *approval.Broker
	sock string
	stop func()
}

func startApprovals(t *testing.T, dir string) *approvalDaemon {
	t.Helper()
	b, err := approval.New(approval.Options{Settings: approval.Settings{Approvers: approval.Approvers{UIDs: []uint32{1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	sock := filepath.Join(dir, "control.sock")
	srv, err := control.Listen(sock, &approvalctl.Ops{Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return &approvalDaemon{b: b, sock: sock, stop: stop}
}

// hold holds a statement of nightly-etl, sent by a process of uid, and
// returns the request id and the outcome to come.
func (d *approvalDaemon) hold(t *testing.T, uid uint32, session, sql string, timeout time.Duration) (string, <-chan approval.Outcome) {
	t.Helper()
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	changes := d.b.Watch(wctx)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan approval.Outcome, 1)
	go func() {
		out <- d.b.Request(ctx, approval.Request{
			Identity: "nightly-etl", Target: "orders-db", Database: "orders", User: "etl_writer",
			Attribution: identity.Attribution{PID: 23911, UID: uid, GID: uid, Comm: "orders-sync", Exe: "/opt/etl/bin/orders-sync"},
			Session:     session, Statement: sql, Kind: "delete", Command: "DELETE",
			Policy: "review-writes", Rule: "deletes", Fingerprint: "fp-" + session, Timeout: timeout,
			Exact: approval.Exact(sql, nil),
		})
	}()
	for c := range changes {
		if c.Kind == approval.ChangeRequested && c.Request.Session == session {
			return c.Request.ID, out
		}
	}
	t.Fatal("not held")
	return "", nil
}

func outcome(t *testing.T, out <-chan approval.Outcome) approval.Outcome {
	t.Helper()
	select {
	case o := <-out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("still held")
		return approval.Outcome{}
	}
}

// runCLI runs a command as the current user, with stdout in a buffer.
func runCLI(sock string, f func(w io.Writer, sock string, args []string) error, args ...string) (string, error) {
	var out strings.Builder
	err := f(&out, sock, args)
	return out.String(), err
}

func TestApproveAndDenyCommands(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("runs the commands as root, an approver")
	}
	d := startApprovals(t, t.TempDir())
	out, err := runCLI(d.sock, approvalsList)
	if err != nil || out != "no approval requests are open\n" {
		t.Fatalf("list with none: %q, %v", out, err)
	}
	first, firstOut := d.hold(t, 994, "s1", "DELETE FROM sales.orders\n  WHERE created < '2020-01-01'", 0)
	second, secondOut := d.hold(t, 994, "s2", "DELETE FROM sales.refunds", 0)

	out, err = runCLI(d.sock, approvalsList)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ID ", "STATE", first + "  waiting (10m0s left)", "nightly-etl", "orders-db", "/opt/etl/bin/orders-sync (pid 23911)",
		"review-writes/deletes", "DELETE FROM sales.orders WHERE created < '2020-01-01'", second,
		"approve: sluice approve ID [--for 30m]   deny: sluice deny ID --reason TEXT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(d.sock, approvalsList, "--json")
	var list []control.Approval
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].ID != first || list[1].ID != second {
		t.Fatalf("list --json: %v\n%s", err, out)
	}

	cases := []struct {
		name     string
		f        func(io.Writer, string, []string) error
		args     []string
		want     string // stdout, or the error's text
		wantExit int    // a usage error's status
	}{
		{"approve for a window", approve, []string{first, "--for", "30m", "--reason", "backfill OPS-12"},
			"approved " + first + " for 30m (until ", 0},
		{"deny", deny, []string{"--reason", "not during business hours", second},
			"denied " + second + ": the held statement was refused\n", 0},
		{"deny without a reason", deny, []string{first}, "", 2},
		{"once and for", approve, []string{first, "--once", "--for", "1m"}, "", 2},
		{"two ids", approve, []string{first, second}, "", 2},
		{"bad duration", approve, []string{first, "--for", "soon"}, "", 2},
		{"zero window", approve, []string{first, "--for", "0s"}, "", 2},
		{"already decided", approve, []string{second},
			"approve: already decided: request " + second + " was denied by ", 0},
		{"unknown id", deny, []string{"aaaaaaaaaaaaaaaa", "--reason", "x"}, `deny: no such approval request "aaaaaaaaaaaaaaaa"`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(d.sock, tc.f, tc.args...)
			var ee exitError
			switch {
			case tc.wantExit != 0:
				if !errors.As(err, &ee) || ee.code != tc.wantExit {
					t.Fatalf("err = %v, want exit %d", err, tc.wantExit)
				}
			case err != nil:
				if !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			case !strings.HasPrefix(out, tc.want):
				t.Fatalf("output %q, want %q", out, tc.want)
			}
		})
	}
	if o := outcome(t, firstOut); o.Decision != approval.Approved || o.Reason != "backfill OPS-12" || o.Grant.Once {
		t.Fatalf("first: %+v", o)
	}
	if o := outcome(t, secondOut); o.Decision != approval.Denied {
		t.Fatalf("second: %+v", o)
	}
}

// TestApproveAfterTimeoutCommand: the request a timed-out client was told
// about is approved; the statement passes when it is sent again.
func TestApproveAfterTimeoutCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("runs the commands as root, an approver")
	}
	d := startApprovals(t, t.TempDir())
	id, out := d.hold(t, 994, "late", "DELETE FROM sales.orders WHERE id = 7", 20*time.Millisecond)
	o := outcome(t, out)
	if o.Decision != approval.TimedOut || !strings.Contains(o.Message, "`sluice approve "+id+"`") {
		t.Fatalf("outcome %+v", o)
	}
	list, err := runCLI(d.sock, approvalsList)
	if err != nil || !strings.Contains(list, id+"  timed out") {
		t.Fatalf("list: %v\n%s", err, list)
	}
	got, err := runCLI(d.sock, approve, id)
	if err != nil || !strings.HasPrefix(got, "approved "+id+" once: the statement runs the next time nightly-etl sends it to orders-db (until ") {
		t.Fatalf("approve: %q, %v", got, err)
	}
	rerun := approval.Request{
		Identity: "nightly-etl", Target: "orders-db", Fingerprint: "fp-late",
		Exact: approval.Exact("DELETE FROM sales.orders WHERE id = 7", nil), Attribution: identity.Attribution{UID: 994},
	}
	if g, ok := d.b.Check(&rerun); !ok || !g.Once {
		t.Fatalf("no once grant: %+v", g)
	}
}

func TestSelfApprovalCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("runs the commands as root")
	}
	d := startApprovals(t, t.TempDir())
	id, _ := d.hold(t, 0, "root-job", "DROP TABLE sales.orders", 0)
	_, err := runCLI(d.sock, approve, id, "--reason", "mine")
	if err == nil || !strings.HasPrefix(err.Error(), "approve: cannot approve one's own request: the statement of request "+id+" was sent by a process running as uid 0") {
		t.Fatalf("self-approval: %v", err)
	}
	// Denying one's own request is allowed: it only makes things stricter.
	if out, err := runCLI(d.sock, deny, id, "--reason", "wrong database"); err != nil || !strings.HasPrefix(out, "denied "+id) {
		t.Fatalf("deny: %q, %v", out, err)
	}
}

// TestApprovalsWatchCommand watches while requests come and are decided,
// until the daemon stops.
func TestApprovalsWatchCommand(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("watches as root")
	}
	d := startApprovals(t, t.TempDir())
	first, _ := d.hold(t, 994, "w1", "DELETE FROM sales.orders", 0)
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := runCLI(d.sock, func(_ io.Writer, sock string, args []string) error { return approvalsWatch(w, sock, args) })
		w.Close()
		done <- err
	}()
	lines := bufio.NewScanner(r)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); !strings.Contains(l, "open       "+first+"  nightly-etl@orders-db  uid 994  /opt/etl/bin/orders-sync (pid 23911)  [waiting (") ||
		!strings.HasSuffix(l, "DELETE FROM sales.orders") {
		t.Fatalf("first line %q", l)
	}
	second, _ := d.hold(t, 994, "w2", "DELETE FROM sales.refunds", 0)
	if l := next(); !strings.Contains(l, "requested  "+second) {
		t.Fatalf("second line %q", l)
	}
	if _, err := d.b.Deny(approval.Approver{UID: 1000, Name: "alice"}, first, "not now"); err != nil {
		t.Fatal(err)
	}
	if l := next(); !strings.HasSuffix(l, "denied     "+first+"  nightly-etl@orders-db  uid 994  by alice (uid 1000): not now") {
		t.Fatalf("third line %q", l)
	}
	d.stop()
	go io.Copy(io.Discard, r)
	if err := <-done; err == nil || err.Error() != "approvals watch: sluiced ended the stream" {
		t.Fatalf("watch: %v", err)
	}
}

// TestApproveAsAnotherUser runs `sluice approve` and `sluice approvals
// list` in processes of uid 65534, which is no approver.
func TestApproveAsAnotherUser(t *testing.T) {
	privtest.Require(t)
	dir, err := os.MkdirTemp("", "sluice-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sluice-test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	d := startApprovals(t, dir)
	id, out := d.hold(t, 994, "cli", "DELETE FROM sales.orders", 0)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"approve", id, "--for", "10m"}, "sluice: approve: not an approver: uid 65534 is not listed in approvals.approvers"},
		{[]string{"deny", id, "--reason", "no"}, "sluice: deny: not an approver: uid 65534"},
		{[]string{"approvals", "list"}, "sluice: approvals: not an approver: uid 65534"},
		{[]string{"approvals", "watch"}, "sluice: approvals.watch: not an approver: uid 65534"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args[:1], " "), func(t *testing.T) {
			args, _ := json.Marshal(append([]string{"sluice", "--control", d.sock}, tc.args...))
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), cliEnv+"="+string(args))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), tc.want) {
				t.Fatalf("%v: %v, stderr %q; want exit 1 and %q", tc.args, err, stderr.String(), tc.want)
			}
		})
	}
	select {
	case o := <-out:
		t.Fatalf("request decided: %+v", o)
	default:
	}
}

func TestPrintable(t *testing.T) {
	cases := []struct{ in, want string }{
		{"DELETE FROM t", "DELETE FROM t"},
		{"SELECT '\x1b]0;owned\x07'", "SELECT '?]0;owned?'"},
		{"x\u009b31m", "x?31m"},
		{"naïve ✓", "naïve ✓"},
	}
	for _, tc := range cases {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
