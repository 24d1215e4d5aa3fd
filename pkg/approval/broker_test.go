package approval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Fingerprints of the tests' statements (their values do not matter).
const (
	fpDelete = "d1f0a3c2b4e59687"
	fpUpdate = "0a1b2c3d4e5f6071"
)

func TestDecisions(t *testing.T) {
	cases := []struct {
		name string
		// decide acts on the held request.
		decide       func(tb *testBroker, h held) error
		want         State
		wantEvent    string
		wantApprover string
		wantOpen     bool   // still listed afterwards
		wantMessage  string // in Outcome.Message
		wantGrant    string // "once", "for" or ""
	}{
		{
			name: "approve once",
			decide: func(tb *testBroker, h held) error {
				_, err := tb.Approve(alice, h.id, Once(), "ticket OPS-12")
				return err
			},
			want: Approved, wantEvent: "approval.approved", wantApprover: "alice", wantGrant: "once",
		},
		{
			name: "approve for 30m by a member of an approvers group",
			decide: func(tb *testBroker, h held) error {
				_, err := tb.Approve(bob, h.id, For(30*time.Minute), "cleanup window")
				return err
			},
			want: Approved, wantEvent: "approval.approved", wantApprover: "bob", wantGrant: "for",
		},
		{
			name: "deny",
			decide: func(tb *testBroker, h held) error {
				_, err := tb.Deny(alice, h.id, "not during business hours")
				return err
			},
			want: Denied, wantEvent: "approval.denied", wantApprover: "alice",
			wantMessage: "denied by alice (uid 1000): not during business hours",
		},
		{
			name: "timeout",
			decide: func(tb *testBroker, h held) error {
				tb.clock.Advance(DefaultTimeout)
				return nil
			},
			want: TimedOut, wantEvent: "approval.timeout", wantOpen: true,
			wantMessage: "got no decision within 10m; the statement did not run. Once an approver has run `sluice approve ",
		},
		{
			name: "client gives up",
			decide: func(tb *testBroker, h held) error {
				h.cancel()
				return nil
			},
			want: Withdrawn, wantEvent: "approval.withdrawn", wantOpen: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBroker(t, Options{})
			h := tb.hold(t, deleteRequest(fpDelete))
			if got := testutil.ToFloat64(tb.m.Pending); got != 1 {
				t.Errorf("pending gauge = %v, want 1", got)
			}
			tb.clock.Advance(DefaultTimeout - time.Second)
			h.stillHeld(t)
			if err := tc.decide(tb, h); err != nil {
				t.Fatal(err)
			}
			o := h.outcome(t)
			if o.Decision != tc.want || o.ID != h.id {
				t.Fatalf("outcome %+v, want %s of %s", o, tc.want, h.id)
			}
			if tc.wantApprover != "" && (o.Approver == nil || o.Approver.Name != tc.wantApprover) {
				t.Errorf("approver %+v, want %s", o.Approver, tc.wantApprover)
			}
			if !strings.Contains(o.Message, tc.wantMessage) {
				t.Errorf("message %q, want %q", o.Message, tc.wantMessage)
			}
			if tc.want == TimedOut && !strings.Contains(o.Message, "sluice approve "+h.id) {
				t.Errorf("timeout message %q does not name the command", o.Message)
			}
			switch {
			case tc.wantGrant == "" && o.Grant != nil:
				t.Errorf("grant %+v, want none", o.Grant)
			case tc.wantGrant == "once" && (o.Grant == nil || !o.Grant.Once):
				t.Errorf("grant %+v, want a once grant", o.Grant)
			case tc.wantGrant == "for" && (o.Grant == nil || o.Grant.Once || !o.Grant.Expires.Equal(tb.clock.Now().Add(30*time.Minute))):
				t.Errorf("grant %+v, want a 30m grant", o.Grant)
			}
			open := tb.List()
			if (len(open) == 1) != tc.wantOpen {
				t.Errorf("open requests %+v, want open = %v", open, tc.wantOpen)
			}
			if tc.wantOpen && open[0].State != tc.want {
				t.Errorf("listed state %s, want %s", open[0].State, tc.want)
			}
			evs := tb.events.events(t, tc.wantEvent)
			if len(evs) != 1 || evs[0]["id"] != h.id || evs[0]["identity"] != "nightly-etl" || evs[0]["uid"] != float64(jobUID) {
				t.Fatalf("%s events: %v", tc.wantEvent, evs)
			}
			if tc.wantApprover != "" && evs[0]["approver"] != tc.wantApprover {
				t.Errorf("event approver %v", evs[0]["approver"])
			}
			req := tb.events.events(t, "approval.requested")
			if len(req) != 1 || req[0]["statement"] != deleteRequest("").Statement || req[0]["approve_command"] != "sluice approve "+h.id {
				t.Errorf("approval.requested: %v", req)
			}
			if got := testutil.ToFloat64(tb.m.Decisions.WithLabelValues(string(tc.want))); got != 1 {
				t.Errorf("sluice_approvals_total{decision=%q} = %v", tc.want, got)
			}
			if got := testutil.ToFloat64(tb.m.Pending); got != 0 {
				t.Errorf("pending gauge = %v, want 0", got)
			}
			var m dto.Metric
			if err := tb.m.HoldSeconds.WithLabelValues(string(tc.want)).(prometheus.Histogram).Write(&m); err != nil {
				t.Fatal(err)
			}
			if n, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); n != 1 || sum < (DefaultTimeout-time.Second).Seconds() {
				t.Errorf("sluice_approval_hold_seconds{decision=%q}: %d samples, sum %v; want 1 of at least %v", tc.want, n, sum, DefaultTimeout-time.Second)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	rootJob := deleteRequest(fpDelete)
	rootJob.Attribution.UID = 0
	aliceJob := deleteRequest(fpDelete)
	aliceJob.Attribution.UID = alice.UID
	cases := []struct {
		name     string
		approver Approver
		req      Request
		want     error
	}{
		{"listed uid", alice, deleteRequest(fpDelete), nil},
		{"supplementary group listed", bob, deleteRequest(fpDelete), nil},
		{"primary group listed", Approver{UID: 1003, GID: approversGID}, deleteRequest(fpDelete), nil},
		{"root approves another uid's request", root, deleteRequest(fpDelete), nil},
		{"not listed", mal, deleteRequest(fpDelete), ErrNotApprover},
		{"the job's own uid, not listed", Approver{UID: jobUID, GID: jobUID}, deleteRequest(fpDelete), ErrNotApprover},
		{"an approver's own job", alice, aliceJob, ErrSelfApproval},
		{"root's own job", root, rootJob, ErrSelfApproval},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBroker(t, Options{})
			h := tb.hold(t, tc.req)
			_, err := tb.Approve(tc.approver, h.id, Once(), "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Approve: %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				h.stillHeld(t)
				if l := tb.List(); len(l) != 1 || l[0].State != Waiting {
					t.Fatalf("after a refused approval: %+v", l)
				}
				if len(tb.events.events(t, "approval.approved")) != 0 {
					t.Fatal("refused approval has an event")
				}
				return
			}
			if o := h.outcome(t); o.Decision != Approved {
				t.Fatalf("outcome %+v", o)
			}
		})
	}
}

func TestDecisionErrors(t *testing.T) {
	tb := newTestBroker(t, Options{})
	h := tb.hold(t, deleteRequest(fpDelete))
	cases := []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"unknown id", func() error { _, err := tb.Approve(alice, "aaaaaaaaaaaaaaaa", Once(), ""); return err },
			ErrNotFound, `no such approval request "aaaaaaaaaaaaaaaa"`},
		{"window too long", func() error { _, err := tb.Approve(alice, h.id, For(48*time.Hour), ""); return err },
			ErrBadWindow, "--for must be between 1s and 24h0m0s, got 48h0m0s"},
		{"window too short", func() error { _, err := tb.Approve(alice, h.id, For(time.Millisecond), ""); return err },
			ErrBadWindow, "--for must be at least 1s"},
		{"deny without a reason", func() error { _, err := tb.Deny(alice, h.id, "  "); return err },
			ErrNoReason, "a reason is required to deny a request"},
		{"deny by a non-approver", func() error { _, err := tb.Deny(mal, h.id, "no"); return err },
			ErrNotApprover, "uid 1002 is not listed in approvals.approvers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	h.stillHeld(t)
	if _, err := tb.Deny(bob, h.id, "wrong table"); err != nil {
		t.Fatal(err)
	}
	if o := h.outcome(t); o.Decision != Denied || o.Reason != "wrong table" {
		t.Fatalf("outcome %+v", o)
	}
	_, err := tb.Approve(alice, h.id, Once(), "")
	if !errors.Is(err, ErrDecided) || !strings.Contains(err.Error(), "was denied by bob (uid 1001)") {
		t.Fatalf("approve after deny: %v", err)
	}
}

func TestForWindowExpires(t *testing.T) {
	tb := newTestBroker(t, Options{})
	h := tb.hold(t, deleteRequest(fpDelete))
	if _, err := tb.Approve(alice, h.id, For(30*time.Minute), "backfill"); err != nil {
		t.Fatal(err)
	}
	if o := h.outcome(t); o.Decision != Approved {
		t.Fatalf("outcome %+v", o)
	}
	steps := []struct {
		name      string
		advance   time.Duration
		identity  string
		target    string
		fp        string
		wantGrant bool
	}{
		{"same shape at once", 0, "nightly-etl", "orders-db", fpDelete, true},
		{"again: a window is not used up", time.Minute, "nightly-etl", "orders-db", fpDelete, true},
		{"another shape", 0, "nightly-etl", "orders-db", fpUpdate, false},
		{"another identity", 0, "ci-job", "orders-db", fpDelete, false},
		{"another target", 0, "nightly-etl", "billing-db", fpDelete, false},
		{"one second before the end", 28*time.Minute + 59*time.Second, "nightly-etl", "orders-db", fpDelete, true},
		{"at the end", time.Second, "nightly-etl", "orders-db", fpDelete, false},
	}
	for _, s := range steps {
		tb.clock.Advance(s.advance)
		g, ok := tb.check(s.identity, s.target, s.fp)
		if ok != s.wantGrant {
			t.Fatalf("%s: Check = %+v, %v; want %v", s.name, g, ok, s.wantGrant)
		}
		if ok && (g.Request != h.id || g.Once || g.Approver.Name != "alice" || g.Reason != "backfill") {
			t.Fatalf("%s: grant %+v", s.name, g)
		}
	}
	// After the window, the statement is held again.
	h2 := tb.hold(t, deleteRequest(fpDelete))
	if h2.id == h.id {
		t.Fatal("same id for a new request")
	}
	h2.stillHeld(t)
}

func TestApproveAfterTimeout(t *testing.T) {
	tb := newTestBroker(t, Options{})
	r := deleteRequest(fpDelete)
	r.Timeout = 2 * time.Minute // the rule's own
	h := tb.hold(t, r)
	tb.clock.Advance(2 * time.Minute)
	o := h.outcome(t)
	if o.Decision != TimedOut || !strings.Contains(o.Message, "within 2m;") {
		t.Fatalf("outcome %+v", o)
	}
	if _, ok := tb.check("nightly-etl", "orders-db", fpDelete); ok {
		t.Fatal("grant before any approval")
	}
	p, err := tb.Approve(alice, h.id, Once(), "one-off fix")
	if err != nil {
		t.Fatal(err)
	}
	if p.State != Approved || p.Grant == nil || !p.Grant.Once || p.Held {
		t.Fatalf("approved %+v", p)
	}
	ev := tb.events.events(t, "approval.approved")
	if len(ev) != 1 || ev[0]["held"] != false || ev[0]["grant"] != "once" {
		t.Fatalf("approval.approved: %v", ev)
	}
	// The re-run passes without a new request, and only once.
	again := tb.Request(context.Background(), r)
	if again.Decision != Approved || again.ID != h.id || again.Grant == nil || again.Approver.Name != "alice" {
		t.Fatalf("re-run: %+v", again)
	}
	if _, ok := tb.check("nightly-etl", "orders-db", fpDelete); ok {
		t.Fatal("once grant used twice")
	}
	if n := len(tb.events.events(t, "approval.requested")); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if got := testutil.ToFloat64(tb.m.GrantUses.WithLabelValues("once")); got != 1 {
		t.Errorf("grant uses = %v", got)
	}
}

func TestWithdrawnThenApproved(t *testing.T) {
	tb := newTestBroker(t, Options{})
	h := tb.hold(t, deleteRequest(fpDelete))
	h.cancel()
	if o := h.outcome(t); o.Decision != Withdrawn {
		t.Fatalf("outcome %+v", o)
	}
	ev := tb.events.events(t, "approval.withdrawn")
	if len(ev) != 1 || ev[0]["reason"] != "the client gave up waiting" {
		t.Fatalf("approval.withdrawn: %v", ev)
	}
	if _, err := tb.Approve(bob, h.id, For(time.Hour), "rerun tonight"); err != nil {
		t.Fatal(err)
	}
	if _, ok := tb.check("nightly-etl", "orders-db", fpDelete); !ok {
		t.Fatal("no grant after approving a withdrawn request")
	}
	if l := tb.List(); len(l) != 0 {
		t.Fatalf("still listed: %+v", l)
	}
}

func TestForReleasesHeldOfSameShape(t *testing.T) {
	tb := newTestBroker(t, Options{})
	var same []held
	for i := range 3 {
		r := deleteRequest(fpDelete)
		r.Session = fmt.Sprintf("session-%d", i)
		same = append(same, tb.hold(t, r))
	}
	other := tb.hold(t, deleteRequest(fpUpdate))
	otherJob := deleteRequest(fpDelete)
	otherJob.Identity, otherJob.Session = "ci-job", "session-ci"
	otherIdentity := tb.hold(t, otherJob)

	p, err := tb.Approve(alice, same[0].id, For(10*time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Released) != 2 || !p.Held {
		t.Fatalf("released %v, want the two others", p.Released)
	}
	for _, h := range same {
		if o := h.outcome(t); o.Decision != Approved || o.Grant == nil || o.Grant.Request != same[0].id {
			t.Fatalf("%s: %+v", h.id, o)
		}
	}
	other.stillHeld(t)
	otherIdentity.stillHeld(t)
	if l := tb.List(); len(l) != 2 {
		t.Fatalf("open %+v, want 2", l)
	}
	released := 0
	for _, ev := range tb.events.events(t, "approval.approved") {
		if ev["released_by"] == same[0].id {
			released++
		}
	}
	if released != 2 {
		t.Fatalf("%d released events, want 2", released)
	}
}

// TestOnceApprovalDoesNotRelease: an approval --once lets exactly the
// approved statement run; another held statement of the same shape waits.
func TestOnceApprovalDoesNotRelease(t *testing.T) {
	tb := newTestBroker(t, Options{})
	r1, r2 := deleteRequest(fpDelete), deleteRequest(fpDelete)
	r2.Session = "other-session"
	h1, h2 := tb.hold(t, r1), tb.hold(t, r2)
	if _, err := tb.Approve(alice, h1.id, Once(), ""); err != nil {
		t.Fatal(err)
	}
	if o := h1.outcome(t); o.Decision != Approved {
		t.Fatalf("outcome %+v", o)
	}
	h2.stillHeld(t)
	if _, ok := tb.check("nightly-etl", "orders-db", fpDelete); ok {
		t.Fatal("once approval of a held statement left a grant")
	}
}

func TestClose(t *testing.T) {
	tb := newTestBroker(t, Options{})
	h := tb.hold(t, deleteRequest(fpDelete))
	changes := tb.Watch(context.Background())
	tb.Close()
	if o := h.outcome(t); o.Decision != Withdrawn || o.Message != "sluiced is stopping" {
		t.Fatalf("outcome %+v", o)
	}
	for range changes { // closed by Close
	}
	if o := tb.Request(context.Background(), deleteRequest(fpUpdate)); o.Decision != Withdrawn {
		t.Fatalf("request after close: %+v", o)
	}
}

func TestWatch(t *testing.T) {
	tb := newTestBroker(t, Options{})
	first := tb.hold(t, deleteRequest(fpDelete))
	ctx, cancel := context.WithCancel(context.Background())
	changes := tb.Watch(ctx)
	next := func() Change {
		t.Helper()
		select {
		case c, ok := <-changes:
			if !ok {
				t.Fatal("watch closed")
			}
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no change")
			return Change{}
		}
	}
	if c := next(); c.Kind != ChangeOpen || c.Request.ID != first.id {
		t.Fatalf("first change %+v", c)
	}
	second := tb.hold(t, deleteRequest(fpUpdate))
	if c := next(); c.Kind != ChangeRequested || c.Request.ID != second.id || c.Request.Statement == "" {
		t.Fatalf("second change %+v", c)
	}
	if _, err := tb.Deny(alice, first.id, "no"); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != "denied" || c.Request.ID != first.id || c.Request.Approver.Name != "alice" {
		t.Fatalf("third change %+v", c)
	}
	cancel()
	for range changes {
	}
}

func TestValidID(t *testing.T) {
	for range 100 {
		if id := newID(); !ValidID(id) {
			t.Fatalf("newID() = %q is not valid", id)
		}
	}
	for _, s := range []string{"", "ABCDEFGHIJKLMNOP", "abcdefghijklmno1", "abcdefghijklmnop/", "../../etc/passwd"} {
		if ValidID(s) {
			t.Errorf("ValidID(%q)", s)
		}
	}
}

// TestLongStatementCut: a huge statement is kept, logged and shown cut.
func TestLongStatementCut(t *testing.T) {
	tb := newTestBroker(t, Options{})
	r := deleteRequest(fpDelete)
	r.Statement = "DELETE FROM t WHERE id IN (" + strings.Repeat("1, ", 100000) + "1)"
	tb.hold(t, r)
	l := tb.List()
	if len(l) != 1 || len(l[0].Statement) > MaxStatement || !strings.HasSuffix(l[0].Statement, "…") || !strings.HasPrefix(l[0].Statement, "DELETE FROM t WHERE id IN (1, 1") {
		t.Fatalf("statement of %d bytes kept", len(l[0].Statement))
	}
	if ev := tb.events.events(t, "approval.requested"); len(ev[0]["statement"].(string)) > MaxStatement {
		t.Fatal("event statement not cut")
	}
}
