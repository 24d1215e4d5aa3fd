package sqlclass

import (
	"slices"
	"testing"
)

func TestParseSearchPath(t *testing.T) {
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g123456789"
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`"$user", public`, []string{"$user", "public"}},
		{`"$user",public,"My Schema"`, []string{"$user", "public", "My Schema"}},
		{`App, "App"`, []string{"app", "App"}},
		{`  a ,  b  `, []string{"a", "b"}},
		{`"with ""quote"""`, []string{`with "quote"`}},
		{``, []string{}},
		{`   `, []string{}},
		{`a,,b`, []string{"a", "b"}},
		{`"unterminated`, []string{"unterminated"}},
		{long, []string{long[:63]}},
		{`ÄB`, []string{"Äb"}},
	} {
		got := ParseSearchPath(tc.in)
		if !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("ParseSearchPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewSessionDefaults(t *testing.T) {
	s := NewSession("bob", nil)
	if got := s.SearchPath(); !slices.Equal(got, []string{"$user", "public"}) {
		t.Fatalf("default path %v", got)
	}
	got := s.SearchPath()
	got[0] = "x"
	if s.SearchPath()[0] != "$user" {
		t.Fatal("SearchPath returned the session's own slice")
	}
}

func classifyApply(t *testing.T, c *Classifier, s *Session, q string) []Statement {
	t.Helper()
	stmts, err := c.Classify(s, q)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stmts {
		s.Apply(&stmts[i])
	}
	return stmts
}

func readOf(t *testing.T, c *Classifier, s *Session, q string) string {
	t.Helper()
	stmts, err := c.Classify(s, q)
	if err != nil {
		t.Fatal(err)
	}
	last := stmts[len(stmts)-1]
	if len(last.Reads) == 0 {
		t.Fatalf("%q: no reads: %+v", q, last)
	}
	return last.Reads[0].String()
}

func TestClassifyDoesNotChangeSession(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	stmts, err := c.Classify(s, "SET search_path = app; CREATE TEMP TABLE x (a int); PREPARE p AS SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("%d statements", len(stmts))
	}
	if got := s.SearchPath(); !slices.Equal(got, []string{"$user", "public"}) {
		t.Fatalf("path changed to %v", got)
	}
	if got := readOf(t, c, s, "SELECT * FROM x"); got != "public.x" {
		t.Fatalf("temp leaked into session: %s", got)
	}
	if _, ok := s.Prepared("p"); ok {
		t.Fatal("prepared statement leaked into session")
	}
	for i := range stmts {
		s.Apply(&stmts[i])
	}
	if got := readOf(t, c, s, "SELECT * FROM x"); got != "pg_temp.x" {
		t.Fatalf("after Apply: %s", got)
	}
	if got := readOf(t, c, s, "SELECT * FROM y"); got != "app.y" {
		t.Fatalf("after Apply: %s", got)
	}
}

func TestSetSearchPathBeforeStatements(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	s.SetSearchPath([]string{"app"}) // startup option
	classifyApply(t, c, s, "SET search_path = other")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "other.t" {
		t.Fatal(got)
	}
	classifyApply(t, c, s, "RESET search_path")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "app.t" {
		t.Fatalf("RESET went to %s", got)
	}
	s.SetSearchPath([]string{"reported"}) // ParameterStatus later
	classifyApply(t, c, s, "RESET ALL")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "app.t" {
		t.Fatalf("RESET ALL went to %s", got)
	}
}

func TestTransactionBlocks(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	classifyApply(t, c, s, "BEGIN")
	classifyApply(t, c, s, "SET LOCAL search_path = loc")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "loc.t" {
		t.Fatalf("in block: %s", got)
	}
	classifyApply(t, c, s, "SET search_path = sess")
	classifyApply(t, c, s, "SET LOCAL search_path = loc2")
	classifyApply(t, c, s, "COMMIT")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "sess.t" {
		t.Fatalf("after commit: %s", got)
	}
	classifyApply(t, c, s, "BEGIN; SET search_path = x; SAVEPOINT a; SET search_path = y; RELEASE a; ROLLBACK")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "sess.t" {
		t.Fatalf("after rollback: %s", got)
	}
	classifyApply(t, c, s, "BEGIN; SET search_path = x; COMMIT AND CHAIN; SET search_path = y; ROLLBACK")
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "x.t" {
		t.Fatalf("after commit and chain: %s", got)
	}
}

func TestReadyForQuery(t *testing.T) {
	c := newTestClassifier(t, Options{})

	// A query string whose last statement failed: its implicit transaction
	// rolled back the temporary table.
	s := NewSession("u", nil)
	s.ReadyForQuery('I', false)
	classifyApply(t, c, s, "CREATE TEMP TABLE users (id int); SELECT 1/0")
	s.ReadyForQuery('I', true)
	if got := readOf(t, c, s, "SELECT * FROM users"); got != "public.users" {
		t.Fatalf("after failed implicit transaction: %s", got)
	}

	// A successful one commits.
	classifyApply(t, c, s, "CREATE TEMP TABLE users (id int)")
	s.ReadyForQuery('I', false)
	if got := readOf(t, c, s, "SELECT * FROM users"); got != "pg_temp.users" {
		t.Fatalf("after success: %s", got)
	}

	// A failed block: COMMIT rolls back.
	classifyApply(t, c, s, "BEGIN")
	s.ReadyForQuery('T', false)
	classifyApply(t, c, s, "SET search_path = evil")
	s.ReadyForQuery('T', false)
	classifyApply(t, c, s, "SELECT 1/0")
	s.ReadyForQuery('E', true)
	classifyApply(t, c, s, "COMMIT")
	s.ReadyForQuery('I', false)
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "public.t" {
		t.Fatalf("after failed block: %s", got)
	}

	// SET LOCAL lasts until the transaction ends.
	classifyApply(t, c, s, "SET LOCAL search_path = loc")
	s.ReadyForQuery('I', false)
	if got := readOf(t, c, s, "SELECT * FROM t"); got != "public.t" {
		t.Fatalf("SET LOCAL outlived its transaction: %s", got)
	}
}

func TestDiscardAll(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", []string{"app"})
	classifyApply(t, c, s, "SET search_path = x; CREATE TEMP TABLE tt (a int); PREPARE p AS SELECT 1")
	classifyApply(t, c, s, "DISCARD ALL")
	if got := readOf(t, c, s, "SELECT * FROM tt"); got != "app.tt" {
		t.Fatal(got)
	}
	if _, ok := s.Prepared("p"); ok {
		t.Fatal("prepared statement survived DISCARD ALL")
	}
}

func TestRecordPrepared(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	st, err := c.ClassifyOne(s, "DELETE FROM t WHERE id = $1")
	if err != nil {
		t.Fatal(err)
	}
	s.RecordPrepared("stmt1", &st)
	got, _ := c.ClassifyOne(s, "EXECUTE stmt1(1)")
	if got.Kind != KindDelete || len(got.Writes) != 1 || got.Writes[0].String() != "public.t" {
		t.Fatalf("EXECUTE of protocol statement: %+v", got)
	}
	s.ForgetPrepared("stmt1")
	got, _ = c.ClassifyOne(s, "EXECUTE stmt1(1)")
	if got.Kind != KindExecute {
		t.Fatalf("after ForgetPrepared: %+v", got)
	}
}

// TestExplainCreatesNothing: EXPLAIN without ANALYZE of a CREATE TEMP
// TABLE ... AS or a SELECT ... INTO TEMP creates no table, so the name
// still resolves to the real one; with ANALYZE it does create it.
func TestExplainCreatesNothing(t *testing.T) {
	c := newTestClassifier(t, Options{})
	for _, tc := range []struct{ sql, want string }{
		{"EXPLAIN CREATE TEMP TABLE t3 AS SELECT 1", "public.t3"},
		{"EXPLAIN SELECT 1 INTO TEMP t3", "public.t3"},
		{"EXPLAIN ANALYZE CREATE TEMP TABLE t3 AS SELECT 1", "pg_temp.t3"},
	} {
		s := NewSession("u", nil)
		classifyApply(t, c, s, tc.sql)
		s.ReadyForQuery('I', false)
		if got := readOf(t, c, s, "SELECT * FROM t3"); got != tc.want {
			t.Errorf("after %q: t3 is %s, want %s", tc.sql, got, tc.want)
		}
	}
}

// TestPreparedUnderAnotherPath: PostgreSQL analyses a prepared statement
// again when the search_path or the relations it uses change, so an
// EXECUTE of one prepared under another state cannot be classified from
// what was prepared: it is unsafe.
func TestPreparedUnderAnotherPath(t *testing.T) {
	c := newTestClassifier(t, Options{})
	t.Run("search_path changed since", func(t *testing.T) {
		s := NewSession("u", nil)
		classifyApply(t, c, s, "PREPARE p AS SELECT v FROM t")
		if st := classifyApply(t, c, s, "EXECUTE p"); st[0].Unsafe != "" {
			t.Fatalf("EXECUTE under the same path: unsafe %q", st[0].Unsafe)
		}
		classifyApply(t, c, s, "SET search_path = secret")
		if st := classifyApply(t, c, s, "EXECUTE p"); st[0].Unsafe == "" {
			t.Fatal("EXECUTE after SET search_path is not unsafe")
		}
		classifyApply(t, c, s, "RESET search_path")
		if st := classifyApply(t, c, s, "EXECUTE p"); st[0].Unsafe != "" {
			t.Fatalf("EXECUTE back under the same path: unsafe %q", st[0].Unsafe)
		}
	})
	t.Run("in one query", func(t *testing.T) {
		s := NewSession("u", nil)
		st := classifyApply(t, c, s, "PREPARE p AS SELECT v FROM t; SET search_path = secret; EXECUTE p")
		if st[2].Unsafe == "" {
			t.Fatal("EXECUTE after a SET search_path of the same query is not unsafe")
		}
		st = classifyApply(t, c, s, "SET search_path = secret; PREPARE q AS SELECT v FROM t; EXECUTE q")
		if st[2].Unsafe != "" {
			t.Fatalf("EXECUTE of a statement prepared after the SET: unsafe %q", st[2].Unsafe)
		}
	})
	t.Run("temporary table dropped since", func(t *testing.T) {
		s := NewSession("u", nil)
		classifyApply(t, c, s, "CREATE TEMP TABLE t2 (v text)")
		classifyApply(t, c, s, "PREPARE d AS DELETE FROM t2")
		classifyApply(t, c, s, "DROP TABLE pg_temp.t2")
		if st := classifyApply(t, c, s, "EXECUTE d"); st[0].Unsafe == "" {
			t.Fatal("EXECUTE after the temporary table it named was dropped is not unsafe")
		}
		if st := classifyApply(t, c, s, "EXPLAIN EXECUTE d"); st[0].Unsafe != "" {
			t.Fatalf("EXPLAIN EXECUTE runs nothing: unsafe %q", st[0].Unsafe)
		}
	})
}
