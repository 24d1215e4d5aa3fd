package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// The test policy sends INSERT to review (rule review-inserts) and denies
// DELETE.
const heldInsert = "INSERT INTO t VALUES (1)"

// heldEnv is an inspector whose statements under review go to a fake
// broker, with a logged-in client.
func heldEnv(t *testing.T, params map[string]string) (*testEnv, *fakeBroker, *pgClient) {
	t.Helper()
	b := newFakeBroker(t)
	e := newEnv(t, envOptions{approvals: b})
	c, _ := e.connect(params)
	e.fake.resetLog()
	return e, b, c
}

// expect reads up to ReadyForQuery and compares what came.
func (c *pgClient) expect(want ...string) exchange {
	c.t.Helper()
	x := c.untilReady()
	if strings.Join(x.msgs, "\n") != strings.Join(want, "\n") {
		c.t.Fatalf("received\n\t%s\nwant\n\t%s\nerrors %+v", strings.Join(x.msgs, "\n\t"), strings.Join(want, "\n\t"), x.errs)
	}
	return x
}

func TestHoldApproved(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	c.send(&pgproto3.Query{String: heldInsert}, &pgproto3.Query{String: "SELECT 2"})
	h := b.next()
	checkUpstream(t, e, []string{}, nil) // nothing forwarded while held
	fp, err := sqlclass.Fingerprint(heldInsert)
	if err != nil {
		t.Fatal(err)
	}
	r := h.r
	if r.Identity != testIdentity || r.Target != testTarget || r.Database != "app" || r.User != "alice" || r.Session != "sess-1" ||
		r.Statement != heldInsert || r.Kind != "insert" || r.Command != "INSERT" || strings.Join(r.Writes, ",") != "public.t" ||
		r.Policy != testPolicyName || r.Rule != "review-inserts" || r.Message != "inserts need a second pair of eyes" || r.Fingerprint != fp {
		t.Errorf("request %+v", r)
	}
	h.approve(true)
	c.expect("CommandComplete INSERT 0 1", "ReadyForQuery I")
	c.expect("RowDescription", "DataRow 2", "CommandComplete SELECT 1", "ReadyForQuery I")
	checkUpstream(t, e, []string{"Q " + heldInsert, "Q SELECT 2"}, nil)
	if b.checked[0] != fp {
		t.Errorf("grants checked for %v, want %s", b.checked, fp)
	}
	c.terminate()
	evs := e.audit.events(t, audit.DBQuery)
	checkEvents(t, evs, []fields{
		{"decision": "review", "rule": "review-inserts", "approval": h.id, "approval_outcome": "approved", "approval_grant": "once",
			"approver": "alice", "approver_uid": "1001", "approval_reason": "ticket 42", "rows": "1", "error": "-", "note": "-"},
		{"decision": "allow", "approval": "-", "statement": "SELECT 2"},
	})
	if _, ok := evs[0]["held_ms"]; !ok {
		t.Error("db.query of the held statement has no held_ms")
	}
}

func TestHoldRefused(t *testing.T) {
	tests := []struct {
		name    string
		decide  func(h *heldRequest)
		code    string
		message []string // parts of the message
	}{
		{
			name:    "denied",
			decide:  func(h *heldRequest) { h.deny("not during the sale") },
			code:    "42501",
			message: []string{`permission denied by sluice policy "etl-guard" rule "review-inserts": approval request `, "denied by alice (uid 1001): not during the sale"},
		},
		{
			name:    "timed out",
			decide:  func(h *heldRequest) { h.timeout() },
			code:    "42501",
			message: []string{"sluice approval request ", "got no decision within 10m", "Once an approver has run `sluice approve "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, b, c := heldEnv(t, nil)
			c.send(&pgproto3.Query{String: heldInsert})
			h := b.next()
			tt.decide(h)
			x := c.expect("ErrorResponse ERROR "+tt.code, "ReadyForQuery I")
			for _, m := range append(tt.message, h.id) {
				if !strings.Contains(x.errMessage(), m) {
					t.Errorf("error %q does not contain %q", x.errMessage(), m)
				}
			}
			if tt.name == "timed out" && !strings.Contains(x.errMessage(), "sluice approve "+h.id) {
				t.Errorf("timeout error %q does not give the command", x.errMessage())
			}
			// The connection is still usable.
			c.send(&pgproto3.Query{String: "SELECT 1"})
			c.expect("RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")
			checkUpstream(t, e, []string{denied, "Q SELECT 1"}, []string{"INSERT"})
			c.terminate()
			checkEvents(t, e.audit.events(t, audit.DBQuery), []fields{
				{"decision": "review", "approval": h.id, "approval_outcome": string(h.outcome(t).Decision), "sqlstate": tt.code},
				{"decision": "allow"},
			})
		})
	}
}

func TestHoldAbortsTheTransaction(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	c.send(&pgproto3.Query{String: "BEGIN"})
	c.expect("CommandComplete BEGIN", "ReadyForQuery T")
	c.send(&pgproto3.Query{String: heldInsert})
	b.next().deny("no")
	c.expect("ErrorResponse ERROR 42501", "ReadyForQuery E")
	c.send(&pgproto3.Query{String: "SELECT 1"})
	c.expect("ErrorResponse ERROR 25P02", "ReadyForQuery E")
	c.send(&pgproto3.Query{String: "ROLLBACK"})
	c.expect("CommandComplete ROLLBACK", "ReadyForQuery I")
	checkUpstream(t, e, []string{"Q BEGIN", denied, "Q SELECT 1", "Q ROLLBACK"}, []string{"INSERT"})
}

func TestHoldMultiStatementQuery(t *testing.T) {
	t.Run("one under review holds the whole query", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		q := "SELECT 1; " + heldInsert + "; SELECT 2"
		c.send(&pgproto3.Query{String: q})
		h := b.next()
		if h.r.Statement != heldInsert {
			t.Errorf("request for %q", h.r.Statement)
		}
		checkUpstream(t, e, []string{}, nil)
		h.approve(true)
		c.expect("RowDescription", "DataRow 1", "CommandComplete SELECT 1", "CommandComplete INSERT 0 1",
			"RowDescription", "DataRow 2", "CommandComplete SELECT 1", "ReadyForQuery I")
		checkUpstream(t, e, []string{"Q " + q}, nil)
	})
	t.Run("a denied statement refuses it without a request", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		c.send(&pgproto3.Query{String: heldInsert + "; DELETE FROM t"})
		x := c.expect("ErrorResponse ERROR 42501", "ReadyForQuery I")
		if !strings.Contains(x.errMessage(), `rule "no-delete"`) {
			t.Errorf("error %q", x.errMessage())
		}
		b.none()
		checkUpstream(t, e, []string{denied}, []string{"INSERT", "DELETE"})
	})
	t.Run("each under review in turn, the first refusal refuses all", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		c.send(&pgproto3.Query{String: heldInsert + "; INSERT INTO u VALUES (2)"})
		b.next().approve(true)
		h2 := b.next()
		if h2.r.Statement != "INSERT INTO u VALUES (2)" {
			t.Errorf("second request for %q", h2.r.Statement)
		}
		h2.deny("not u")
		c.expect("ErrorResponse ERROR 42501", "ReadyForQuery I")
		checkUpstream(t, e, []string{denied}, []string{"INSERT"})
		c.terminate()
		evs := e.audit.events(t, audit.DBQuery)
		checkEvents(t, evs, []fields{
			{"approval_outcome": "approved", "note": "not run: another statement of the same query was refused"},
			{"approval_outcome": "denied", "approval": h2.id},
		})
	})
}

func TestHoldExtendedProtocol(t *testing.T) {
	pipeline := msgs(
		parse("", heldInsert), bind("", ""), execute("", 0), syncMsg,
		parse("", "SELECT 1"), bind("", ""), execute("", 0), syncMsg,
	)
	t.Run("approved: the pipeline behind the held Parse goes on in order", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		c.send(pipeline...)
		h := b.next()
		checkUpstream(t, e, []string{}, nil)
		h.approve(true)
		c.expect("ParseComplete", "BindComplete", "CommandComplete INSERT 0 1", "ReadyForQuery I")
		c.expect("ParseComplete", "BindComplete", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")
		b.none() // the Execute runs under the Parse's approval
		checkUpstream(t, e, []string{"P() " + heldInsert, "B(,)", "E()", "S", "P() SELECT 1", "B(,)", "E()", "S"}, nil)
		c.terminate()
		checkEvents(t, e.audit.events(t, audit.DBQuery), []fields{
			{"phase": "parse", "approval": h.id, "approval_outcome": "approved"},
			{"phase": "execute", "approval": h.id, "approval_outcome": "approved", "held_ms": "-", "rows": "1"},
			{"phase": "parse", "statement": "SELECT 1"},
			{"phase": "execute", "statement": "SELECT 1"},
		})
	})
	t.Run("denied: skipped to Sync, then the pipeline goes on", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		c.send(pipeline...)
		b.next().deny("no")
		c.expect("ErrorResponse ERROR 42501", "ReadyForQuery I")
		c.expect("ParseComplete", "BindComplete", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")
		checkUpstream(t, e, []string{deniedP, "S", "P() SELECT 1", "B(,)", "E()", "S"}, []string{"INSERT"})
	})
	t.Run("a prepared statement's later executions are held again", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		c.send(parse("ins", heldInsert), syncMsg)
		b.next().approve(true)
		c.expect("ParseComplete", "ReadyForQuery I")
		c.send(bind("", "ins"), execute("", 0), syncMsg)
		c.expect("BindComplete", "CommandComplete INSERT 0 1", "ReadyForQuery I")
		b.none()
		c.send(bind("", "ins"), execute("", 0), syncMsg)
		h := b.next()
		if h.r.Statement != heldInsert {
			t.Errorf("request for %q", h.r.Statement)
		}
		h.approve(true)
		c.expect("BindComplete", "CommandComplete INSERT 0 1", "ReadyForQuery I")
		checkUpstream(t, e, []string{"P(ins) " + heldInsert, "S", "B(,ins)", "E()", "S", "B(,ins)", "E()", "S"}, nil)
	})
	t.Run("fetching more rows of an approved portal needs no new approval", func(t *testing.T) {
		e, b, c := heldEnv(t, nil)
		e.policy.set(sqlclass.KindSelect, policy.Decision{Action: policy.Review, Policy: testPolicyName, Rule: "review-reads"})
		c.send(parse("", "SELECT n FROM t"), bind("", ""), execute("", 1), execute("", 0), syncMsg)
		b.next().approve(true)
		c.expect("ParseComplete", "BindComplete", "DataRow 1", "PortalSuspended", "DataRow 2", "DataRow 3", "CommandComplete SELECT 2", "ReadyForQuery I")
		b.none()
	})
}

func TestHoldCancelRequest(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	c.send(&pgproto3.Query{String: heldInsert})
	h := b.next()
	cc := e.serve(testSession("sess-cancel"))
	req := pgproto3.CancelRequest{ProcessID: c.key.ProcessID, SecretKey: c.key.SecretKey}
	raw, err := req.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	cc.sendRaw(raw)
	cc.untilClosed()
	x := c.expect("ErrorResponse ERROR 57014", "ReadyForQuery I")
	if x.errMessage() != "canceling statement due to user request" {
		t.Errorf("error %q", x.errMessage())
	}
	if o := h.outcome(t); o.Decision != approval.Withdrawn {
		t.Errorf("request ended %s, want withdrawn", o.Decision)
	}
	if got := e.fake.cancelRequests(); len(got) != 0 {
		t.Errorf("the server got cancel requests %v", got)
	}
	checkEvents(t, e.audit.events(t, audit.DBCancel), []fields{{"outcome": "withdrawn", "cancelled_session": "sess-1"}})
	c.send(&pgproto3.Query{String: "SELECT 1"})
	c.expect("RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")
	checkUpstream(t, e, []string{denied, "Q SELECT 1"}, []string{"INSERT"})
	c.terminate()
	checkEvents(t, e.audit.events(t, audit.DBQuery)[:1], []fields{
		{"approval": h.id, "approval_outcome": "withdrawn", "withdrawn_because": "the client cancelled the statement", "sqlstate": "57014"},
	})
}

func TestHoldClientGoesAway(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	// Pipelined behind the held statement: never forwarded.
	c.send(&pgproto3.Query{String: heldInsert}, &pgproto3.Query{String: "SELECT 2"}, &pgproto3.Query{String: "SELECT 3"})
	h := b.next()
	c.conn.Close()
	if o := h.outcome(t); o.Decision != approval.Withdrawn {
		t.Errorf("request ended %s, want withdrawn", o.Decision)
	}
	if r := c.wait(); r.err != nil {
		t.Errorf("Serve: %v", r.err)
	}
	checkUpstream(t, e, []string{}, []string{"INSERT", "SELECT"})
	checkEvents(t, e.audit.events(t, audit.DBQuery), []fields{
		{"approval": h.id, "approval_outcome": "withdrawn", "withdrawn_because": "the client closed the connection",
			"note": "not run: the client closed the connection while a statement was held for approval"},
	})
}

func TestHoldStatementTimeout(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		before string // a query run first
	}{
		{"startup options", map[string]string{"user": "alice", "database": "app", "options": "-c statement_timeout=50ms"}, ""},
		{"startup parameter", map[string]string{"user": "alice", "database": "app", "statement_timeout": "50"}, ""},
		{"SET", nil, "SET statement_timeout = '50ms'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, b, c := heldEnv(t, tt.params)
			if tt.before != "" {
				c.send(&pgproto3.Query{String: tt.before})
				c.expect("CommandComplete SET", "ReadyForQuery I")
			}
			c.send(&pgproto3.Query{String: heldInsert})
			h := b.next()
			// Nobody decides: the statement_timeout ends the hold.
			x := c.expect("ErrorResponse ERROR 57014", "ReadyForQuery I")
			if x.errMessage() != "canceling statement due to statement timeout" {
				t.Errorf("error %q", x.errMessage())
			}
			if o := h.outcome(t); o.Decision != approval.Withdrawn {
				t.Errorf("request ended %s, want withdrawn", o.Decision)
			}
			checkUpstream(t, e, nil, []string{"INSERT"})
		})
	}
	t.Run("in the same query string", func(t *testing.T) {
		_, b, c := heldEnv(t, nil)
		c.send(&pgproto3.Query{String: "SET statement_timeout = 50; " + heldInsert})
		b.next()
		c.expect("ErrorResponse ERROR 57014", "ReadyForQuery I")
	})
}

func TestHoldGrant(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	fp, err := sqlclass.Fingerprint(heldInsert)
	if err != nil {
		t.Fatal(err)
	}
	b.grant(fp, &approval.Grant{Request: "grantreq12345678", Identity: testIdentity, Target: testTarget, Fingerprint: fp, Approver: approverAlice, Reason: "window"})
	c.send(&pgproto3.Query{String: "insert into t values (2)"}) // same shape
	c.expect("CommandComplete INSERT 0 1", "ReadyForQuery I")
	b.none()
	c.terminate()
	checkEvents(t, e.audit.events(t, audit.DBQuery), []fields{
		{"approval": "grantreq12345678", "approval_outcome": "approved", "approval_grant": "for", "approver": "alice", "held_ms": "-"},
	})
}

func TestHoldRequestIsMasked(t *testing.T) {
	b := newFakeBroker(t)
	e := newEnv(t, envOptions{approvals: b})
	e.policy.set(sqlclass.KindInsert, policy.Decision{Action: policy.Review, Policy: testPolicyName, Rule: "review-inserts",
		Masking: &policy.Masking{Policies: []string{testPolicyName}, Detectors: mask.Defaults, Strategy: mask.Redact}})
	c2, _ := e.connect(nil)
	c2.send(&pgproto3.Query{String: "INSERT INTO cards VALUES ('4111 1111 1111 1111')"})
	h := b.next()
	if strings.Contains(h.r.Statement, "4111") {
		t.Errorf("the request shows the card number: %q", h.r.Statement)
	}
	h.deny("no")
	c2.expect("ErrorResponse ERROR 42501", "ReadyForQuery I")
}

func TestHoldRuleSettings(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	e.policy.set(sqlclass.KindInsert, policy.Decision{Action: policy.Review, Policy: testPolicyName, Rule: "review-inserts",
		Approval: &policy.Approval{Timeout: 90e9, Webhooks: []policy.Webhook{{URL: "http://127.0.0.1:9/hook", Format: "slack", Timeout: 2e9}}}})
	c.send(&pgproto3.Query{String: heldInsert})
	h := b.next()
	if h.r.Timeout != 90e9 || len(h.r.Webhooks) != 1 || h.r.Webhooks[0].URL != "http://127.0.0.1:9/hook" || h.r.Webhooks[0].Format != approval.FormatSlack {
		t.Errorf("request timeout %v, webhooks %+v", h.r.Timeout, h.r.Webhooks)
	}
	h.approve(true)
	c.expect("CommandComplete INSERT 0 1", "ReadyForQuery I")
}

func TestReviewWithoutBroker(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, _ := e.connect(nil)
	c.send(&pgproto3.Query{String: heldInsert})
	x := c.expect("ErrorResponse ERROR 42501", "ReadyForQuery I")
	if !strings.Contains(x.errs[0].Hint, "No approval broker serves this target") {
		t.Errorf("hint %q", x.errs[0].Hint)
	}
}

func TestHoldRecording(t *testing.T) {
	store := openStore(t)
	b := newFakeBroker(t)
	e := newEnv(t, envOptions{approvals: b, records: store})
	c, _ := e.connect(nil)
	c.send(&pgproto3.Query{String: heldInsert})
	h1 := b.next()
	h1.approve(true)
	c.expect("CommandComplete INSERT 0 1", "ReadyForQuery I")
	// The client reads its answer before the result is recorded (events
	// and the result follow the flush): wait for the first statement's
	// event, written after its result, so the lines come in one order.
	for deadline := time.Now().Add(ioTimeout); len(e.audit.events(t, audit.DBQuery)) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no db.query event for the first statement")
		}
	}
	c.send(&pgproto3.Query{String: "INSERT INTO u VALUES (2)"})
	h2 := b.next()
	h2.deny("not u")
	c.expect("ErrorResponse ERROR 42501", "ReadyForQuery I")
	c.terminate()

	_, lines, end := readRecording(t, store, "sess-1")
	want := []string{
		"login user=alice database=app auth=passthrough",
		// Written once decided, before the statement is forwarded.
		`statement 2 query approved "INSERT INTO t VALUES (1)" class=insert rule=review-inserts`,
		"approval " + h1.id + " of 2 granted by alice uid=1001 grant=once note=ticket 42",
		"result of 2 rows=1",
		`statement 5 query review "INSERT INTO u VALUES (2)" class=insert rule=review-inserts`,
		"approval " + h2.id + " of 5 refused by alice uid=1001 note=not u",
		"result of 5 code=42501",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("recording:\n\t%s\nwant\n\t%s", strings.Join(lines, "\n\t"), strings.Join(want, "\n\t"))
	}
	if end == nil || end.Statements != 2 || end.Denied != 1 {
		t.Errorf("end = %+v, want 2 statements, 1 denied", end)
	}
}

func TestHoldBlocksOnlyItsSession(t *testing.T) {
	e, b, c := heldEnv(t, nil)
	c.send(&pgproto3.Query{String: heldInsert})
	h := b.next()
	other := e.serve(testSession("sess-2"))
	other.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "bob", "database": "app"}})
	other.untilReady()
	for range 3 {
		other.send(&pgproto3.Query{String: "SELECT 1"})
		other.expect("RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")
	}
	other.terminate()
	h.approve(true)
	c.expect("CommandComplete INSERT 0 1", "ReadyForQuery I")
}
