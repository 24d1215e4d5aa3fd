package sqlclass

import "testing"

func TestStatementTimeout(t *testing.T) {
	tests := []struct {
		name    string
		startup string // the startup value, "" for none
		queries []string
		want    string
	}{
		{"none", "", []string{"SELECT 1"}, ""},
		{"startup", "5s", []string{"SELECT 1"}, "5s"},
		{"set string", "", []string{"SET statement_timeout = '250ms'"}, "250ms"},
		{"set number", "", []string{"SET statement_timeout TO 5000"}, "5000"},
		{"set session", "", []string{"SET SESSION statement_timeout = '2min'"}, "2min"},
		{"reset to startup", "5s", []string{"SET statement_timeout = 0", "RESET statement_timeout"}, "5s"},
		{"default", "5s", []string{"SET statement_timeout = 0", "SET statement_timeout TO DEFAULT"}, "5s"},
		{"reset all", "5s", []string{"SET statement_timeout = 1", "RESET ALL"}, "5s"},
		{"discard all", "", []string{"SET statement_timeout = 1", "DISCARD ALL"}, ""},
		{"other setting", "5s", []string{"SET work_mem = '1GB'", "RESET work_mem"}, "5s"},
		{"set_config", "", []string{"SELECT set_config('statement_timeout', '3s', false)"}, "3s"},
		{"set_config not bare", "", []string{"SELECT set_config('statement_timeout', '3s', false) FROM t"}, ""},
		{"set local outside a block does nothing", "", []string{"SET LOCAL statement_timeout = '1s'"}, ""},
		{"set local in a block", "", []string{"BEGIN", "SET LOCAL statement_timeout = '1s'"}, "1s"},
		{"set local ends with the block", "2s", []string{"BEGIN", "SET LOCAL statement_timeout = '1s'", "COMMIT"}, "2s"},
		{"rolled back", "", []string{"BEGIN", "SET statement_timeout = '1s'", "ROLLBACK"}, ""},
		{"committed", "", []string{"BEGIN", "SET statement_timeout = '1s'", "COMMIT"}, "1s"},
		{"savepoint", "", []string{"BEGIN", "SET statement_timeout = '1s'", "SAVEPOINT a", "SET statement_timeout = '9s'", "ROLLBACK TO a"}, "1s"},
		{"session set after local", "", []string{"BEGIN", "SET LOCAL statement_timeout = '1s'", "SET statement_timeout = '7s'", "COMMIT"}, "7s"},
	}
	c := newTestClassifier(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSession("u", nil)
			if tt.startup != "" {
				s.SetStatementTimeout(tt.startup)
			}
			for _, q := range tt.queries {
				classifyApply(t, c, s, q)
			}
			if got := s.StatementTimeout(); got != tt.want {
				t.Errorf("statement_timeout = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatementTimeoutFailedTransaction(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	s.ReadyForQuery('I', false)
	classifyApply(t, c, s, "SET statement_timeout = '1s'; SELECT 1/0")
	s.ReadyForQuery('I', true) // the implicit transaction failed: the SET is undone
	if got := s.StatementTimeout(); got != "" {
		t.Errorf("after a failed query string: %q, want none", got)
	}
}

func TestStatementTimeoutAfter(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	s.SetStatementTimeout("5s")
	stmts, err := c.Classify(s, "SET statement_timeout = '1s'; DELETE FROM t; RESET statement_timeout; DELETE FROM u")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"5s", "1s", "1s", "5s"} {
		if got := s.StatementTimeoutAfter(stmts[:i]); got != want {
			t.Errorf("before statement %d: %q, want %q", i+1, got, want)
		}
	}
}
