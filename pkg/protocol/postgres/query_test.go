package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
)

const denied = "Q " + deniedText

// queryCase is a session of steps on a logged-in client, with what the
// upstream must (and must not) receive and the db.query events.
type queryCase struct {
	name      string
	steps     []step
	upstream  []string // exactly what the fake receives after login
	forbidden []string // texts no upstream message may contain
	events    []fields
}

func runQueryCases(t *testing.T, tests []queryCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			c, _ := e.connect(nil)
			e.fake.resetLog()
			runSteps(t, e, c, tt.steps)
			checkUpstream(t, e, tt.upstream, tt.forbidden)
			if r := c.terminate(); r.err != nil {
				t.Errorf("Serve: %v", r.err)
			}
			checkEvents(t, e.audit.events(t, audit.DBQuery), tt.events)
		})
	}
}

func TestSimpleQuery(t *testing.T) {
	runQueryCases(t, []queryCase{
		{
			name:     "allowed query passes through",
			steps:    []step{q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")},
			upstream: []string{"Q SELECT 1"},
			events: []fields{{
				"decision": "allow", "kind": "select", "rule": "allow-rest", "policy": testPolicyName, "policy_version": "v1",
				"rows": "1", "statement": "SELECT 1", "phase": "query", "command": "SELECT",
				"session": "sess-1", "identity": testIdentity, "target": testTarget, "user": "alice", "database": "app",
				"protocol": "postgres", "error": "-", "sqlstate": "-", "note": "-",
			}},
		},
		{
			name:     "row count of a write",
			steps:    []step{q("UPDATE t SET a = 1", "CommandComplete UPDATE 2", "ReadyForQuery I")},
			upstream: []string{"Q UPDATE t SET a = 1"},
			events: []fields{{
				"decision": "allow", "kind": "update", "rows": "2", "writes": "[public.t]", "statement": "UPDATE t SET a = 1",
			}},
		},
		{
			name: "denied query",
			steps: []step{q("DELETE FROM t WHERE id = 1", "ErrorResponse ERROR 42501", "ReadyForQuery I").
				errContains("permission denied", `policy "etl-guard"`, `rule "no-delete"`, "delete statements are not allowed")},
			upstream:  []string{denied},
			forbidden: []string{"DELETE"},
			events: []fields{{
				"decision": "deny", "kind": "delete", "rule": "no-delete", "policy": testPolicyName,
				"statement": "DELETE FROM t WHERE id = 1", "sqlstate": "42501", "rows": "-",
				"reason": "delete statements are not allowed", "writes": "[public.t]",
			}},
		},
		{
			name: "statement under review is refused",
			steps: []step{q("INSERT INTO t VALUES (1)", "ErrorResponse ERROR 42501", "ReadyForQuery I").
				errContains("needs approval", `rule "review-inserts"`)},
			upstream:  []string{denied},
			forbidden: []string{"INSERT"},
			events:    []fields{{"decision": "review", "kind": "insert", "rule": "review-inserts", "sqlstate": "42501"}},
		},
		{
			name: "multi-statement query with one denied runs none",
			steps: []step{q("SELECT 1; DELETE FROM t; UPDATE t SET a = 1", "ErrorResponse ERROR 42501", "ReadyForQuery I").
				errContains(`rule "no-delete"`)},
			upstream:  []string{denied},
			forbidden: []string{"SELECT", "DELETE", "UPDATE"},
			events: []fields{
				{"decision": "allow", "kind": "select", "statement": "SELECT 1", "sqlstate": "42501", "note": "not run: another statement of the same query was refused"},
				{"decision": "deny", "kind": "delete", "statement": "DELETE FROM t", "sqlstate": "42501", "note": "-"},
				{"decision": "allow", "kind": "update", "statement": "UPDATE t SET a = 1", "note": "not run: another statement of the same query was refused"},
			},
		},
		{
			name: "multi-statement query allowed",
			steps: []step{q("SELECT 1; UPDATE t SET a = 1",
				"RowDescription", "DataRow 1", "CommandComplete SELECT 1", "CommandComplete UPDATE 2", "ReadyForQuery I")},
			upstream: []string{"Q SELECT 1; UPDATE t SET a = 1"},
			events: []fields{
				{"decision": "allow", "statement": "SELECT 1", "rows": "1"},
				{"decision": "allow", "statement": "UPDATE t SET a = 1", "rows": "2"},
			},
		},
		{
			name: "server error in the middle of a query",
			steps: []step{q("SELECT 1; SELECT * FROM missing; UPDATE t SET a = 1",
				"RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ErrorResponse ERROR 42P01", "ReadyForQuery I").
				errContains(`relation "missing" does not exist`)},
			upstream: []string{"Q SELECT 1; SELECT * FROM missing; UPDATE t SET a = 1"},
			events: []fields{
				{"statement": "SELECT 1", "rows": "1", "sqlstate": "-"},
				{"statement": "SELECT * FROM missing", "sqlstate": "42P01", "rows": "-"},
				{"statement": "UPDATE t SET a = 1", "note": "not run: an earlier statement of the same query failed", "rows": "-"},
			},
		},
		{
			name: "unparseable statement is denied",
			steps: []step{q("SELEC 1", "ErrorResponse ERROR 42501", "ReadyForQuery I").
				errContains(`policy "sluice"`, `rule "unparseable"`, "could not be parsed")},
			upstream:  []string{denied},
			forbidden: []string{"SELEC"},
			events:    []fields{{"decision": "deny", "kind": "unparseable", "rule": "unparseable", "policy": "sluice", "statement": "SELEC 1"}},
		},
		{
			name:     "empty query",
			steps:    []step{q("", "EmptyQueryResponse", "ReadyForQuery I")},
			upstream: []string{"Q "},
			events:   []fields{{"decision": "allow", "kind": "empty"}},
		},
		{
			name: "denial inside a transaction aborts it",
			steps: []step{
				q("BEGIN", "CommandComplete BEGIN", "ReadyForQuery T"),
				q("DELETE FROM t", "ErrorResponse ERROR 42501", "ReadyForQuery E").errContains(`rule "no-delete"`),
				q("SELECT 1", "ErrorResponse ERROR 25P02", "ReadyForQuery E"),
				q("ROLLBACK", "CommandComplete ROLLBACK", "ReadyForQuery I"),
				q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
			},
			upstream:  []string{"Q BEGIN", denied, "Q SELECT 1", "Q ROLLBACK", "Q SELECT 1"},
			forbidden: []string{"DELETE"},
			events: []fields{
				{"decision": "allow", "kind": "transaction", "statement": "BEGIN"},
				{"decision": "deny", "statement": "DELETE FROM t", "sqlstate": "42501"},
				{"decision": "allow", "statement": "SELECT 1", "sqlstate": "25P02"},
				{"decision": "allow", "statement": "ROLLBACK", "sqlstate": "-"},
				{"decision": "allow", "statement": "SELECT 1", "rows": "1"},
			},
		},
		{
			name: "COMMIT of an aborted transaction rolls back",
			steps: []step{
				q("BEGIN; UPDATE t SET a = 1", "CommandComplete BEGIN", "CommandComplete UPDATE 2", "ReadyForQuery T"),
				q("TRUNCATE t", "ErrorResponse ERROR 42501", "ReadyForQuery E").errContains(`rule "no-truncate"`),
				q("COMMIT", "CommandComplete ROLLBACK", "ReadyForQuery I"),
			},
			upstream:  []string{"Q BEGIN; UPDATE t SET a = 1", denied, "Q COMMIT"},
			forbidden: []string{"TRUNCATE"},
			events: []fields{
				{"statement": "BEGIN"}, {"statement": "UPDATE t SET a = 1", "rows": "2"},
				{"decision": "deny", "kind": "truncate"},
				{"statement": "COMMIT"},
			},
		},
		{
			name: "transaction in a denied query never starts",
			steps: []step{
				q("BEGIN; DROP TABLE t; COMMIT", "ErrorResponse ERROR 42501", "ReadyForQuery I").errContains(`rule "no-ddl"`),
			},
			upstream:  []string{denied},
			forbidden: []string{"BEGIN", "DROP"},
			events: []fields{
				{"statement": "BEGIN", "note": "not run: another statement of the same query was refused"},
				{"statement": "DROP TABLE t", "decision": "deny"},
				{"statement": "COMMIT", "note": "not run: another statement of the same query was refused"},
			},
		},
		{
			name: "fast-path function call is refused",
			steps: []step{{
				send:    []pgproto3.FrontendMessage{&pgproto3.FunctionCall{Function: 1598, Arguments: [][]byte{[]byte("x")}}},
				want:    []string{"ErrorResponse ERROR 42501", "ReadyForQuery I"},
				wantErr: []string{`rule "fast-path-call"`},
			}},
			upstream: []string{denied},
			events:   []fields{{"decision": "deny", "rule": "fast-path-call", "phase": "function_call", "kind": "call"}},
		},
		{
			name: "COPY messages outside COPY pass through",
			steps: []step{{
				send: []pgproto3.FrontendMessage{&pgproto3.CopyData{Data: []byte("1\n")}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "SELECT 2"}},
				want: []string{"RowDescription", "DataRow 2", "CommandComplete SELECT 1", "ReadyForQuery I"},
			}},
			upstream: []string{"d 1\n", "c", "Q SELECT 2"},
			events:   []fields{{"statement": "SELECT 2", "rows": "1"}},
		},
		{
			name: "denials do not disturb later queries",
			steps: []step{
				q("DELETE FROM t", "ErrorResponse ERROR 42501", "ReadyForQuery I"),
				q("SELECT * FROM t", "RowDescription", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"),
				q("DELETE FROM t", "ErrorResponse ERROR 42501", "ReadyForQuery I"),
				q("SELECT 5", "RowDescription", "DataRow 5", "CommandComplete SELECT 1", "ReadyForQuery I"),
			},
			upstream:  []string{denied, "Q SELECT * FROM t", denied, "Q SELECT 5"},
			forbidden: []string{"DELETE"},
			events: []fields{
				{"decision": "deny"}, {"statement": "SELECT * FROM t", "rows": "3", "reads": "[public.t]"},
				{"decision": "deny"}, {"statement": "SELECT 5", "rows": "1"},
			},
		},
	})
}

// TestDeniedErrorDetail checks the parts of the denial a user reads.
func TestDeniedErrorDetail(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, _ := e.connect(nil)
	c.send(&pgproto3.Query{String: "DELETE FROM sales.orders"})
	x := c.untilReady()
	if len(x.errs) != 1 {
		t.Fatalf("received %v", x.msgs)
	}
	er := x.errs[0]
	if er.Severity != "ERROR" || er.Code != "42501" {
		t.Errorf("severity %s code %s", er.Severity, er.Code)
	}
	want := `permission denied by sluice policy "etl-guard" rule "no-delete": delete statements are not allowed`
	if er.Message != want {
		t.Errorf("message %q, want %q", er.Message, want)
	}
	if er.Detail != "Statement kind: delete. Writes: sales.orders." {
		t.Errorf("detail %q", er.Detail)
	}
	for _, sub := range []string{"sess-1", testIdentity, testTarget} {
		if !strings.Contains(er.Hint, sub) {
			t.Errorf("hint %q does not name %q", er.Hint, sub)
		}
	}
	reqs := e.policy.requests()
	if len(reqs) != 1 || reqs[0].Identity != testIdentity || reqs[0].Target != testTarget || reqs[0].Protocol != "postgres" {
		t.Errorf("policy requests %+v", reqs)
	}
}

// TestLoginEvent checks the db.login event of a passthrough login.
func TestLoginEvent(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, x := e.connect(map[string]string{"user": "alice", "database": "app", "application_name": "nightly"})
	want := []string{"AuthenticationOk", "ParameterStatus server_version", "ParameterStatus client_encoding", "BackendKeyData", "ReadyForQuery I"}
	if !slices.Equal(x.msgs, want) {
		t.Errorf("login messages %v, want %v", x.msgs, want)
	}
	c.terminate()
	checkEvents(t, e.audit.events(t, audit.DBLogin), []fields{{
		"outcome": "success", "auth": "passthrough", "client_user": "alice", "user": "alice",
		"client_database": "app", "database": "app", "application_name": "nightly", "error": "-",
	}})
	if got := e.fake.startupParams(); len(got) != 1 || got[0]["user"] != "alice" || got[0]["database"] != "app" || got[0]["application_name"] != "nightly" {
		t.Errorf("upstream startup %v", got)
	}
}
