package postgres

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Extended-protocol message shorthands.
func parse(name, sql string) *pgproto3.Parse { return &pgproto3.Parse{Name: name, Query: sql} }

func bind(portal, stmt string, params ...string) *pgproto3.Bind {
	b := &pgproto3.Bind{DestinationPortal: portal, PreparedStatement: stmt}
	for _, p := range params {
		b.Parameters = append(b.Parameters, []byte(p))
	}
	return b
}

func execute(portal string, maxRows uint32) *pgproto3.Execute {
	return &pgproto3.Execute{Portal: portal, MaxRows: maxRows}
}

var (
	syncMsg = &pgproto3.Sync{}
	flush   = &pgproto3.Flush{}
	deniedP = "P(" + deniedName + ") " + deniedText
)

func msgs(m ...pgproto3.FrontendMessage) []pgproto3.FrontendMessage { return m }

func TestExtendedProtocol(t *testing.T) {
	runQueryCases(t, []queryCase{
		{
			name: "allowed statement",
			steps: []step{{
				send: msgs(parse("", "SELECT 1"), bind("", ""), &pgproto3.Describe{ObjectType: 'P'}, execute("", 0), syncMsg),
				want: []string{"ParseComplete", "BindComplete", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"},
			}},
			upstream: []string{"P() SELECT 1", "B(,)", "D(P )", "E()", "S"},
			events: []fields{
				{"phase": "parse", "decision": "allow", "statement": "SELECT 1", "rows": "-", "prepared": "-"},
				{"phase": "execute", "decision": "allow", "statement": "SELECT 1", "rows": "1"},
			},
		},
		{
			name: "pipeline with a denied statement",
			steps: []step{
				{
					send: msgs(
						parse("", "SELECT 1"), bind("", ""), execute("", 0),
						parse("", "DELETE FROM t WHERE id = $1"), bind("", "", "7"), execute("", 0),
						syncMsg,
					),
					want: []string{
						"ParseComplete", "BindComplete", "DataRow 1", "CommandComplete SELECT 1",
						"ErrorResponse ERROR 42501", "ReadyForQuery I",
					},
					wantErr: []string{`policy "etl-guard"`, `rule "no-delete"`},
				},
				{
					send: msgs(parse("", "UPDATE t SET a = $1"), bind("", "", "2"), execute("", 0), syncMsg),
					want: []string{"ParseComplete", "BindComplete", "CommandComplete UPDATE 2", "ReadyForQuery I"},
				},
			},
			upstream: []string{
				"P() SELECT 1", "B(,)", "E()", deniedP, "S",
				"P() UPDATE t SET a = $1", "B(,)", "E()", "S",
			},
			forbidden: []string{"DELETE"},
			events: []fields{
				{"phase": "parse", "statement": "SELECT 1"},
				{"phase": "execute", "statement": "SELECT 1", "rows": "1"},
				{"phase": "parse", "decision": "deny", "statement": "DELETE FROM t WHERE id = $1", "sqlstate": "42501"},
				{"phase": "parse", "statement": "UPDATE t SET a = $1"},
				{"phase": "execute", "statement": "UPDATE t SET a = $1", "rows": "2", "params": "[2]"},
			},
		},
		{
			name: "named statement executed twice",
			steps: []step{
				{send: msgs(parse("s1", "SELECT * FROM t"), syncMsg), want: []string{"ParseComplete", "ReadyForQuery I"}},
				{
					send: msgs(bind("", "s1"), execute("", 0), syncMsg),
					want: []string{"BindComplete", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"},
				},
				{
					send: msgs(bind("p1", "s1"), execute("p1", 0), syncMsg),
					want: []string{"BindComplete", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"},
				},
			},
			upstream: []string{"P(s1) SELECT * FROM t", "S", "B(,s1)", "E()", "S", "B(p1,s1)", "E(p1)", "S"},
			events: []fields{
				{"phase": "parse", "prepared": "s1"},
				{"phase": "execute", "prepared": "s1", "rows": "3"},
				{"phase": "execute", "prepared": "s1", "rows": "3"},
			},
		},
		{
			name: "denied at Execute after a policy change",
			steps: []step{
				{send: msgs(parse("s1", "UPDATE t SET a = 1"), syncMsg), want: []string{"ParseComplete", "ReadyForQuery I"}},
				{
					before:  func(e *testEnv) { e.policy.deny(sqlclass.KindUpdate, "freeze") },
					send:    msgs(bind("", "s1"), execute("", 0), syncMsg),
					want:    []string{"BindComplete", "ErrorResponse ERROR 42501", "ReadyForQuery I"},
					wantErr: []string{`rule "freeze"`},
				},
			},
			upstream: []string{"P(s1) UPDATE t SET a = 1", "S", "B(,s1)", deniedP, "S"},
			events: []fields{
				{"phase": "parse", "decision": "allow"},
				{"phase": "execute", "decision": "deny", "rule": "freeze", "sqlstate": "42501", "prepared": "s1"},
			},
		},
		{
			name: "Execute of a portal never bound",
			steps: []step{{
				send:    msgs(execute("cur", 0), syncMsg),
				want:    []string{"ErrorResponse ERROR 42501", "ReadyForQuery I"},
				wantErr: []string{`rule "unknown-portal"`, `portal "cur"`},
			}},
			upstream: []string{deniedP, "S"},
			events:   []fields{{"phase": "execute", "decision": "deny", "rule": "unknown-portal"}},
		},
		{
			name: "unparseable Parse is denied",
			steps: []step{{
				send:    msgs(parse("", "SELEC 1"), bind("", ""), execute("", 0), syncMsg),
				want:    []string{"ErrorResponse ERROR 42501", "ReadyForQuery I"},
				wantErr: []string{`rule "unparseable"`},
			}},
			upstream:  []string{deniedP, "S"},
			forbidden: []string{"SELEC"},
			events:    []fields{{"phase": "parse", "decision": "deny", "kind": "unparseable", "rule": "unparseable"}},
		},
		{
			name: "two statements in one Parse are denied",
			steps: []step{{
				send:    msgs(parse("", "SELECT 1; SELECT 2"), syncMsg),
				want:    []string{"ErrorResponse ERROR 42501", "ReadyForQuery I"},
				wantErr: []string{`rule "unparseable"`},
			}},
			upstream: []string{deniedP, "S"},
			events:   []fields{{"phase": "parse", "kind": "unparseable"}},
		},
		{
			name: "server error skips to Sync",
			steps: []step{
				{
					send: msgs(
						parse("", "SELECT * FROM missing"), bind("", ""), execute("", 0),
						parse("", "SELECT 1"), bind("", ""), execute("", 0),
						syncMsg,
					),
					want:    []string{"ErrorResponse ERROR 42P01", "ReadyForQuery I"},
					wantErr: []string{`relation "missing" does not exist`},
				},
				{
					send: msgs(parse("", "SELECT 2"), bind("", ""), execute("", 0), syncMsg),
					want: []string{"ParseComplete", "BindComplete", "DataRow 2", "CommandComplete SELECT 1", "ReadyForQuery I"},
				},
			},
			upstream: []string{
				"P() SELECT * FROM missing", "B(,)", "E()", "P() SELECT 1", "B(,)", "E()", "S",
				"P() SELECT 2", "B(,)", "E()", "S",
			},
			events: []fields{
				{"phase": "parse", "statement": "SELECT * FROM missing", "sqlstate": "42P01"},
				{"phase": "parse", "statement": "SELECT 2"},
				{"phase": "execute", "statement": "SELECT 2", "rows": "1"},
			},
		},
		{
			// The server ignores a simple Query while it skips to Sync;
			// responses must stay matched to requests afterwards.
			name: "simple query skipped after an error in a pipeline",
			steps: []step{
				{
					send:    msgs(parse("", "SELECT * FROM missing"), &pgproto3.Query{String: "SELECT 7"}, syncMsg),
					want:    []string{"ErrorResponse ERROR 42P01", "ReadyForQuery I"},
					wantErr: []string{`relation "missing"`},
				},
				q("DELETE FROM t", "ErrorResponse ERROR 42501", "ReadyForQuery I").errContains(`rule "no-delete"`),
				q("UPDATE t SET a = 1", "CommandComplete UPDATE 2", "ReadyForQuery I"),
			},
			upstream:  []string{"P() SELECT * FROM missing", "Q SELECT 7", "S", denied, "Q UPDATE t SET a = 1"},
			forbidden: []string{"DELETE"},
			events: []fields{
				// Messages the server skipped are not reported.
				{"phase": "parse", "statement": "SELECT * FROM missing", "sqlstate": "42P01"},
				{"phase": "query", "statement": "DELETE FROM t", "decision": "deny", "sqlstate": "42501"},
				{"phase": "query", "statement": "UPDATE t SET a = 1", "rows": "2", "sqlstate": "-"},
			},
		},
		{
			name: "denied statement after an error in the same pipeline",
			steps: []step{
				{
					send: msgs(
						parse("", "SELECT * FROM missing"), bind("", ""), execute("", 0),
						parse("", "DELETE FROM t"), bind("", ""), execute("", 0),
						syncMsg,
					),
					want: []string{"ErrorResponse ERROR 42P01", "ReadyForQuery I"},
				},
				q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
			},
			upstream:  []string{"P() SELECT * FROM missing", "B(,)", "E()", deniedP, "S", "Q SELECT 1"},
			forbidden: []string{"DELETE"},
			events: []fields{
				// The refusal never reached the client (the server skipped
				// its replacement): like every skipped message, it is not
				// reported.
				{"phase": "parse", "statement": "SELECT * FROM missing", "sqlstate": "42P01"},
				{"phase": "query", "statement": "SELECT 1", "rows": "1"},
			},
		},
		{
			name: "execution error skips to Sync",
			steps: []step{
				{
					send: msgs(
						parse("", "SELECT 1/0"), bind("", ""), execute("", 0),
						parse("", "UPDATE t SET a = 1"), bind("", ""), execute("", 0),
						syncMsg,
					),
					want: []string{"ParseComplete", "BindComplete", "ErrorResponse ERROR 22012", "ReadyForQuery I"},
				},
				q("SELECT 3", "RowDescription", "DataRow 3", "CommandComplete SELECT 1", "ReadyForQuery I"),
			},
			upstream: []string{"P() SELECT 1/0", "B(,)", "E()", "P() UPDATE t SET a = 1", "B(,)", "E()", "S", "Q SELECT 3"},
			events: []fields{
				{"phase": "parse", "statement": "SELECT 1/0"},
				{"phase": "execute", "statement": "SELECT 1/0", "sqlstate": "22012"},
				{"phase": "query", "statement": "SELECT 3", "rows": "1"},
			},
		},
		{
			name: "denial inside a transaction aborts it",
			steps: []step{
				q("BEGIN", "CommandComplete BEGIN", "ReadyForQuery T"),
				{
					send:    msgs(parse("", "DELETE FROM t"), bind("", ""), execute("", 0), syncMsg),
					want:    []string{"ErrorResponse ERROR 42501", "ReadyForQuery E"},
					wantErr: []string{`rule "no-delete"`},
				},
				{
					send: msgs(parse("", "SELECT 1"), bind("", ""), execute("", 0), syncMsg),
					want: []string{"ErrorResponse ERROR 25P02", "ReadyForQuery E"},
				},
				{
					send: msgs(parse("", "ROLLBACK"), bind("", ""), execute("", 0), syncMsg),
					want: []string{"ParseComplete", "BindComplete", "CommandComplete ROLLBACK", "ReadyForQuery I"},
				},
			},
			upstream: []string{
				"Q BEGIN", deniedP, "S",
				"P() SELECT 1", "B(,)", "E()", "S",
				"P() ROLLBACK", "B(,)", "E()", "S",
			},
			forbidden: []string{"DELETE"},
			events: []fields{
				{"statement": "BEGIN"},
				{"phase": "parse", "decision": "deny"},
				{"phase": "parse", "statement": "SELECT 1", "sqlstate": "25P02"},
				{"phase": "parse", "statement": "ROLLBACK"},
				{"phase": "execute", "statement": "ROLLBACK"},
			},
		},
		{
			name: "describe and close",
			steps: []step{
				{
					send: msgs(parse("s2", "UPDATE t SET a = 1"), &pgproto3.Describe{ObjectType: 'S', Name: "s2"}, bind("", "s2"), execute("", 0), syncMsg),
					want: []string{"ParseComplete", "ParameterDescription", "NoData", "BindComplete", "CommandComplete UPDATE 2", "ReadyForQuery I"},
				},
				{
					send: msgs(&pgproto3.Close{ObjectType: 'S', Name: "s2"}, syncMsg),
					want: []string{"CloseComplete", "ReadyForQuery I"},
				},
				{
					send: msgs(bind("", "s2"), syncMsg),
					want: []string{"ErrorResponse ERROR 26000", "ReadyForQuery I"},
				},
			},
			upstream: []string{
				"P(s2) UPDATE t SET a = 1", "D(S s2)", "B(,s2)", "E()", "S",
				"C(S s2)", "S",
				"B(,s2)", "S",
			},
			events: []fields{
				{"phase": "parse", "prepared": "s2"},
				{"phase": "execute", "prepared": "s2", "rows": "2"},
			},
		},
	})
}

// TestSuspendedPortal runs a portal in pieces, reading each after Flush.
func TestSuspendedPortal(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, _ := e.connect(nil)
	e.fake.resetLog()
	c.send(parse("s1", "SELECT * FROM t"), bind("p", "s1"), execute("p", 2), flush)
	want := []string{"ParseComplete", "BindComplete", "DataRow 1", "DataRow 2", "PortalSuspended"}
	var got []string
	for len(got) < len(want) {
		m, err := c.receive()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, summarize(m))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v", got, want)
	}
	c.send(execute("p", 0), syncMsg)
	if x := c.untilReady(); !slices.Equal(x.msgs, []string{"DataRow 3", "CommandComplete SELECT 1", "ReadyForQuery I"}) {
		t.Fatalf("received %v", x.msgs)
	}
	checkUpstream(t, e, []string{"P(s1) SELECT * FROM t", "B(p,s1)", "E(p)", "H", "E(p)", "S"}, nil)
	c.terminate()
	checkEvents(t, e.audit.events(t, audit.DBQuery), []fields{
		{"phase": "parse", "prepared": "s1"},
		{"phase": "execute", "prepared": "s1", "rows": "-"}, // suspended: no row count yet
		{"phase": "execute", "prepared": "s1", "rows": "1"},
	})
}

// TestPreparedReanalysed: PostgreSQL analyses a prepared statement again
// when the search_path changed since it was prepared; sluice classifies
// its text again, and decides on what it now reads.
func TestPreparedReanalysed(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, _ := e.connect(nil)
	c.send(parse("s1", "SELECT 1 FROM t"), &pgproto3.Sync{})
	c.untilReady()
	c.send(&pgproto3.Query{String: "SET search_path = secret"})
	c.untilReady()
	c.send(&pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	c.untilReady()
	reqs := e.policy.requests()
	last := reqs[len(reqs)-1]
	if len(last.SQL.Reads) != 1 || last.SQL.Reads[0].String() != "secret.t" {
		t.Fatalf("Execute decided on reads %v, want secret.t", last.SQL.Reads)
	}
	if first := reqs[0]; len(first.SQL.Reads) != 1 || first.SQL.Reads[0].String() != "public.t" {
		t.Fatalf("Parse decided on reads %v, want public.t", first.SQL.Reads)
	}
}
