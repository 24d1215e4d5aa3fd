package postgres

import (
	"testing"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// A Parse of a name that already exists fails on the server and leaves the
// old statement in place: its text must not stand in for the old one when
// the name is executed.
func TestReparseCannotSmuggleAStatement(t *testing.T) {
	runQueryCases(t, []queryCase{
		{
			name: "re-Parse of an existing name in the same pipeline as its Execute",
			steps: []step{
				{send: msgs(parse("s1", "UPDATE t SET a = 1"), syncMsg), want: []string{"ParseComplete", "ReadyForQuery I"}},
				{
					before: func(e *testEnv) { e.policy.deny(sqlclass.KindUpdate, "freeze") },
					send:   msgs(parse("s1", "SELECT 1"), bind("", "s1"), execute("", 0), syncMsg),
					// The server refuses the Parse (42P05) and skips the rest.
					want: []string{"ErrorResponse ERROR 42P05", "ReadyForQuery I"},
				},
				{
					send:    msgs(bind("", "s1"), execute("", 0), syncMsg),
					want:    []string{"BindComplete", "ErrorResponse ERROR 42501", "ReadyForQuery I"},
					wantErr: []string{`rule "freeze"`},
				},
			},
			upstream: []string{
				"P(s1) UPDATE t SET a = 1", "S",
				"P(s1) SELECT 1", "B(,s1)", deniedP, "S",
				"B(,s1)", deniedP, "S",
			},
			events: []fields{
				{"phase": "parse", "statement": "UPDATE t SET a = 1", "decision": "allow"},
				{"phase": "parse", "statement": "SELECT 1", "sqlstate": "42P05"},
				{"phase": "execute", "statement": "UPDATE t SET a = 1", "decision": "deny", "rule": "freeze"},
			},
		},
		{
			name: "a name whose Parse failed takes the new text",
			steps: []step{
				{send: msgs(parse("s2", "SELEC broken"), syncMsg), want: []string{"ErrorResponse ERROR 42501", "ReadyForQuery I"}},
				{
					send: msgs(parse("s2", "SELECT 1"), bind("", "s2"), execute("", 0), syncMsg),
					want: []string{"ParseComplete", "BindComplete", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"},
				},
			},
			upstream: []string{deniedP, "S", "P(s2) SELECT 1", "B(,s2)", "E()", "S"},
			events: []fields{
				{"phase": "parse", "decision": "deny", "rule": "unparseable"},
				{"phase": "parse", "statement": "SELECT 1"},
				{"phase": "execute", "statement": "SELECT 1", "rows": "1"},
			},
		},
	})
}
