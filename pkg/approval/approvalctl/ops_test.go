package approvalctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/privtest"
)

// childEnv makes the test binary a control client (see TestMain).
const childEnv = "SLUICE_APPROVALCTL_CLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// childSpec is what the client process does: one call.
type childSpec struct {
	Socket  string          `json:"socket"`
	Request control.Request `json:"request"`
}

// runChild makes the call and prints its error ("" when it succeeded).
func runChild(spec string) int {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Println(err)
		return 1
	}
	if _, err := control.Call(s.Socket, s.Request, 10*time.Second); err != nil {
		fmt.Print(err.Error())
	}
	return 0
}

// callAs makes one control call from a process running as uid/gid.
func callAs(t *testing.T, exe string, uid, gid uint32, socket string, req control.Request) string {
	t.Helper()
	spec, _ := json.Marshal(childSpec{Socket: socket, Request: req})
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client as uid %d: %v: %s", uid, err, out)
	}
	return string(out)
}

// sharedDir is a directory any uid can enter, removed when t ends.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sluice-approvals-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clientBinary copies the test binary where any uid can run it.
func clientBinary(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "client")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// serve serves ops on a control socket in dir.
func serve(t *testing.T, dir string, ops *Ops) string {
	t.Helper()
	path := filepath.Join(dir, "control.sock")
	srv, err := control.Listen(path, ops)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

func newBroker(t *testing.T, ap approval.Approvers) *approval.Broker {
	t.Helper()
	b, err := approval.New(approval.Options{Settings: approval.Settings{Approvers: ap}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// hold holds a DELETE sent by a process of uid, and returns the
// request's id and its outcome to come.
func hold(t *testing.T, b *approval.Broker, uid uint32, session string) (string, <-chan approval.Outcome) {
	t.Helper()
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	changes := b.Watch(wctx)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan approval.Outcome, 1)
	go func() {
		out <- b.Request(ctx, approval.Request{
			Identity: "nightly-etl", Target: "orders-db", Database: "orders", User: "etl_writer",
			Attribution: identity.Attribution{PID: 4242, UID: uid, GID: uid, Exe: "/opt/etl/bin/orders-sync"},
			Session:     session, Statement: "DELETE FROM sales.orders WHERE id = 7", Kind: "delete", Command: "DELETE",
			Policy: "review-writes", Rule: "deletes", Fingerprint: "d1f0a3c2b4e59687",
		})
	}()
	for c := range changes {
		if c.Kind == approval.ChangeRequested && c.Request.Session == session {
			return c.Request.ID, out
		}
	}
	t.Fatal("request not held")
	return "", nil
}

func wait(t *testing.T, out <-chan approval.Outcome) approval.Outcome {
	t.Helper()
	select {
	case o := <-out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("still held")
		return approval.Outcome{}
	}
}

// TestOperations drives every operation through a real control socket,
// as root.
func TestOperations(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the operations are called as root here; TestAuthorization covers other callers")
	}
	b := newBroker(t, approval.Approvers{UIDs: []uint32{1000}})
	sock := serve(t, t.TempDir(), &Ops{Broker: b})
	id, out := hold(t, b, 994, "s1")
	call := func(req control.Request) (control.Response, error) {
		return control.Call(sock, req, 10*time.Second)
	}

	resp, err := call(control.Request{Op: control.OpApprovals})
	if err != nil || len(resp.Approvals) != 1 {
		t.Fatalf("approvals: %+v, %v", resp, err)
	}
	if a := resp.Approvals[0]; a.ID != id || a.State != "waiting" || a.UID != 994 || a.Statement != "DELETE FROM sales.orders WHERE id = 7" || a.Deadline.IsZero() {
		t.Fatalf("listed %+v", a)
	}

	errs := []struct {
		name string
		req  control.Request
		want string
	}{
		{"no id", control.Request{Op: control.OpApprove}, "approve: no request id"},
		{"not an id", control.Request{Op: control.OpApprove, ID: "../../etc/passwd"}, `approve: no such approval request "../../etc/passwd": request ids are 16 characters`},
		{"unknown id", control.Request{Op: control.OpDeny, ID: "aaaaaaaaaaaaaaaa", Reason: "x"}, `deny: no such approval request "aaaaaaaaaaaaaaaa"`},
		{"bad window", control.Request{Op: control.OpApprove, ID: id, For: "half an hour"}, `approve: invalid grant window: --for "half an hour": write a duration such as 30m or 2h`},
		{"window too long", control.Request{Op: control.OpApprove, ID: id, For: "48h"}, "approve: invalid grant window: --for must be between 1s and 24h0m0s"},
		{"deny without reason", control.Request{Op: control.OpDeny, ID: id}, "deny: a reason is required to deny a request"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := call(tc.req); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}

	resp, err = call(control.Request{Op: control.OpApprove, ID: id, For: "30m", Reason: "OPS-12"})
	if err != nil {
		t.Fatal(err)
	}
	if a := resp.Approval; a == nil || a.State != "approved" || a.Grant == nil || a.Grant.Mode != "for" || a.Approver.UID != 0 || a.Reason != "OPS-12" {
		t.Fatalf("approved %+v", resp.Approval)
	}
	if o := wait(t, out); o.Decision != approval.Approved {
		t.Fatalf("outcome %+v", o)
	}
	if _, err := call(control.Request{Op: control.OpDeny, ID: id, Reason: "too late"}); err == nil || !strings.Contains(err.Error(), "deny: already decided: request "+id+" was approved by ") {
		t.Fatalf("deny after approve: %v", err)
	}
	resp, err = call(control.Request{Op: control.OpApprovals})
	if err != nil || len(resp.Approvals) != 0 {
		t.Fatalf("approvals after the decision: %+v, %v", resp, err)
	}
}

// TestAuthorization checks who may do what, with the credentials a
// caller would have.
func TestAuthorization(t *testing.T) {
	b := newBroker(t, approval.Approvers{UIDs: []uint32{1000, 994}, GIDs: []uint32{4000}})
	ops := &Ops{Broker: b}
	cases := []struct {
		name string
		peer control.Peer
		op   string
		want string // "" for success
	}{
		{"listed uid lists", control.Peer{PID: 1, UID: 1000, GID: 1000}, control.OpApprovals, ""},
		{"unlisted uid cannot list", control.Peer{PID: 1, UID: 65534, GID: 65534}, control.OpApprovals, "approvals: not an approver: uid 65534 is not listed in approvals.approvers"},
		{"unlisted uid cannot approve", control.Peer{PID: 1, UID: 65534, GID: 65534}, control.OpApprove, "approve: not an approver: uid 65534"},
		{"unlisted uid cannot deny", control.Peer{PID: 1, UID: 65534, GID: 65534}, control.OpDeny, "deny: not an approver: uid 65534"},
		{"the job's uid, although an approver, cannot approve", control.Peer{PID: 1, UID: 994, GID: 994}, control.OpApprove,
			"approve: cannot approve one's own request: the statement of request "},
		{"supplementary group approves", control.Peer{PID: 777, UID: 1005, GID: 1005, Groups: []uint32{27, 4000}}, control.OpApprove, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, out := hold(t, b, 994, tc.name)
			resp := ops.Handle(context.Background(), tc.peer, control.Request{Op: tc.op, ID: id, Reason: "r"})
			if tc.want == "" {
				if !resp.OK {
					t.Fatalf("refused: %s", resp.Error)
				}
				if tc.op == control.OpApprove {
					if o := wait(t, out); o.Decision != approval.Approved {
						t.Fatalf("outcome %+v", o)
					}
				}
				return
			}
			if resp.OK || !strings.HasPrefix(resp.Error, tc.want) {
				t.Fatalf("response %+v, want error %q", resp, tc.want)
			}
		})
	}
	err := ops.Stream(context.Background(), control.Peer{UID: 65534, GID: 65534}, control.Request{Op: control.OpApprovalsWatch},
		func(control.Response) error { t.Error("sent to a non-approver"); return nil })
	if err == nil || !strings.Contains(err.Error(), "not an approver") {
		t.Fatalf("watch by a non-approver: %v", err)
	}
}

// TestCrossUID makes real calls from processes of other uids: one that is
// no approver, and one approving its own job's request.
func TestCrossUID(t *testing.T) {
	privtest.Require(t)
	const nobody = 65534
	dir := sharedDir(t)
	exe := clientBinary(t, dir)
	b := newBroker(t, approval.Approvers{UIDs: []uint32{1000}})
	sock := serve(t, dir, &Ops{Broker: b})
	id, out := hold(t, b, 994, "cross-uid")

	got := callAs(t, exe, nobody, nobody, sock, control.Request{Op: control.OpApprove, ID: id})
	if want := "approve: not an approver: uid 65534 is not listed in approvals.approvers"; !strings.HasPrefix(got, want) {
		t.Fatalf("uid %d: %q, want %q", nobody, got, want)
	}
	got = callAs(t, exe, nobody, nobody, sock, control.Request{Op: control.OpApprovals})
	if !strings.Contains(got, "not an approver") {
		t.Fatalf("uid %d lists: %q", nobody, got)
	}

	if err := b.Configure(approval.Settings{Approvers: approval.Approvers{UIDs: []uint32{1000, nobody}}}); err != nil {
		t.Fatal(err)
	}
	self, _ := hold(t, b, nobody, "self")
	got = callAs(t, exe, nobody, nobody, sock, control.Request{Op: control.OpApprove, ID: self})
	if !strings.HasPrefix(got, "approve: cannot approve one's own request") {
		t.Fatalf("self-approval: %q", got)
	}
	// Now an approver, uid 65534 approves another uid's request.
	if got := callAs(t, exe, nobody, nobody, sock, control.Request{Op: control.OpApprove, ID: id}); got != "" {
		t.Fatalf("approval by uid %d: %q", nobody, got)
	}
	if o := wait(t, out); o.Decision != approval.Approved || o.Approver.UID != nobody {
		t.Fatalf("outcome %+v", o)
	}
}

func TestWatchOverSocket(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("watches as root")
	}
	b := newBroker(t, approval.Approvers{})
	sock := serve(t, t.TempDir(), &Ops{Broker: b})
	first, _ := hold(t, b, 994, "w1")
	var second string
	var kinds []string
	stop := fmt.Errorf("done")
	err := control.Stream(sock, control.Request{Op: control.OpApprovalsWatch}, func(r control.Response) error {
		kinds = append(kinds, r.Change+" "+r.Approval.ID)
		switch len(kinds) {
		case 1:
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			go b.Request(ctx, approval.Request{Identity: "ci-job", Target: "orders-db", Session: "w2",
				Attribution: identity.Attribution{UID: 1001}, Statement: "DROP TABLE t", Fingerprint: "0a1b2c3d4e5f6071"})
		case 2:
			second = r.Approval.ID
			if _, err := b.Deny(approval.Approver{UID: 0}, first, "no"); err != nil {
				return err
			}
		case 3:
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatal(err)
	}
	want := []string{"open " + first, "requested " + second, "denied " + first}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("changes %v, want %v", kinds, want)
	}
}

// TestWatchRevoked: an approver removed by a reload while watching sees
// no request made after that, and the watch ends.
func TestWatchRevoked(t *testing.T) {
	b := newBroker(t, approval.Approvers{UIDs: []uint32{1000}})
	ops := &Ops{Broker: b}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- ops.Stream(ctx, control.Peer{UID: 1000, GID: 1000}, control.Request{Op: control.OpApprovalsWatch},
			func(r control.Response) error {
				seen <- r.Approval.Session
				return nil
			})
	}()
	hold(t, b, 994, "s1")
	if s := <-seen; s != "s1" {
		t.Fatalf("first change: session %q", s)
	}
	if err := b.Configure(approval.Settings{Approvers: approval.Approvers{UIDs: []uint32{1001}}}); err != nil {
		t.Fatal(err)
	}
	hold(t, b, 994, "s2")
	select {
	case err := <-done:
		if !errors.Is(err, approval.ErrNotApprover) {
			t.Fatalf("watch ended with %v", err)
		}
	case s := <-seen:
		t.Fatalf("request of session %q sent after the approver was removed", s)
	case <-time.After(10 * time.Second):
		t.Fatal("the watch went on")
	}
}
