package sqlclass

import (
	"regexp"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestLiteralShape(t *testing.T) {
	cases := []struct {
		name, a, b string
		same       bool // a and b share a key
	}{
		{"integers", "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;", "SELECT abalance FROM pgbench_accounts WHERE aid = 7;", true},
		{"strings", "SELECT * FROM customers WHERE email = 'a@example.com'", "SELECT * FROM customers WHERE email = 'it''s@example.com'", true},
		{"decimals", "UPDATE accounts SET balance = balance + 1.50 WHERE id = 3", "UPDATE accounts SET balance = balance + 20. WHERE id = 4", true},
		{"quoted identifier kept", `SELECT "a b" FROM t WHERE x = 1`, `SELECT "a c" FROM t WHERE x = 1`, false},
		{"identifiers with digits kept", "SELECT * FROM t1 WHERE x = 1", "SELECT * FROM t2 WHERE x = 1", false},
		{"integer and decimal differ", "SELECT * FROM t LIMIT 1", "SELECT * FROM t LIMIT 1.5", false},
		{"integer and long integer differ", "SELECT interval '1' second(3)", "SELECT interval '1' second(3000000000)", false},
		{"ten digits that fit int32 are an integer", "SELECT interval '1' second(3)", "SELECT interval '1' second(2147483647)", true},
		{"past int32 is numeric", "SELECT interval '1' second(2147483647)", "SELECT interval '1' second(2147483648)", false},
		{"string and number differ", "SELECT * FROM t WHERE x = '1'", "SELECT * FROM t WHERE x = 1", false},
		{"a string holding SQL is one constant", "SELECT 'x'; SELECT 1", "SELECT 'x; DROP TABLE t; SELECT 1'", false},
		{"casing kept", "select * from t where x = 1", "SELECT * FROM t WHERE x = 1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ka, oka := literalShape(tc.a)
			kb, okb := literalShape(tc.b)
			if !oka || !okb || ka == "" || kb == "" {
				t.Fatalf("no key: %q %v, %q %v", ka, oka, kb, okb)
			}
			if (ka == kb) != tc.same {
				t.Errorf("keys %q and %q: same %v, want %v", ka, kb, ka == kb, tc.same)
			}
		})
	}

	given := []struct{ name, sql string }{
		{"backslash", `SELECT * FROM t WHERE x = 'a\' OR 1=1 --'`},
		{"escape string", "SELECT E'a' FROM t WHERE x = 1"},
		{"bit string", "SELECT B'101', 1"},
		{"unicode string", "SELECT U&'d\\0061t', 1"},
		{"unicode identifier", `SELECT U&"a", 1`},
		{"dollar quoting", "SELECT $$ 'a$$; DROP TABLE t; --' $$"},
		{"dollar quoting with a tag", "SELECT $q$ 1 $q$"},
		{"parameter", "SELECT * FROM t WHERE id = $1 AND x = 2"},
		{"line comment", "SELECT 1 -- 'x\nFROM t"},
		{"block comment", "SELECT /* ' */ 1"},
		{"exponent", "SELECT 1e5"},
		{"hexadecimal", "SELECT 0x1f"},
		{"underscores", "SELECT 1_000"},
		{"trailing junk", "SELECT 1from t"},
		{"leading dot", "SELECT .5"},
		{"two dots", "SELECT 1..2"},
		{"non-ASCII identifier", "SELECT * FROM café WHERE x = 1"},
		{"unterminated string", "SELECT 'abc"},
		{"unterminated identifier", `SELECT "abc`},
		{"vertical tab", "SELECT\v1"},
	}
	for _, tc := range given {
		t.Run("gives up on "+tc.name, func(t *testing.T) {
			if k, ok := literalShape(tc.sql); ok {
				t.Errorf("key %q, want none", k)
			}
		})
	}
	if k, ok := literalShape("SELECT now() FROM t"); !ok || k != "" {
		t.Errorf("text without constants: %q %v, want an empty key", k, ok)
	}
}

var stringParts = regexp.MustCompile(`'(?:[^']|'')*'`)

// checkLiteralShape compares literalShape with PostgreSQL's own lexer:
// when both read a text, the key must be the text with exactly the
// string, integer and numeric tokens the lexer finds replaced by
// placeholders. The scanner runs with standard_conforming_strings on;
// literalShape gives up at any backslash, so texts whose tokens that
// setting changes never get a key.
func checkLiteralShape(t *testing.T, q string) {
	key, ok := literalShape(q)
	if !ok {
		return
	}
	scan, err := pg_query.Scan(q)
	if err != nil {
		// Such a text does not parse, whatever its constants (those
		// errors that depend on one, like 1abc or an unterminated
		// string, make literalShape give up), so the cache never holds
		// its shape.
		return
	}
	var want strings.Builder
	pos, literals := 0, 0
	for _, tok := range scan.Tokens {
		start, end := int(tok.Start), int(tok.End)
		text := q[start:end]
		var repl string
		switch tok.Token {
		case pg_query.Token_SCONST:
			repl = stringParts.ReplaceAllString(text, litString)
		case pg_query.Token_ICONST:
			repl = litInteger
		case pg_query.Token_FCONST:
			repl = litLong
			if strings.Contains(text, ".") {
				repl = litDecimal
			}
		default:
			continue
		}
		literals++
		want.WriteString(q[pos:start])
		want.WriteString(repl)
		pos = end
	}
	want.WriteString(q[pos:])
	w := want.String()
	if literals == 0 {
		w = ""
	}
	if key != w {
		t.Fatalf("%q: literalShape %q, PostgreSQL's lexer %q", q, key, w)
	}
}

func TestLiteralShapeAgreesWithLexer(t *testing.T) {
	for _, q := range literalShapeSeeds {
		checkLiteralShape(t, q)
	}
}

var literalShapeSeeds = []string{
	"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;",
	"UPDATE pgbench_accounts SET abalance = abalance + -4711 WHERE aid = 99;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);",
	"SELECT * FROM customers WHERE email = 'it''s@example.com' AND id IN (1, 2.5, 30000000000)",
	"SELECT 'a'\n'b' AS joined, \"Mixed\"\"Case\" FROM t",
	"SELECT x::numeric(10,2), interval '1 day' FROM t WHERE y >= 1. LIMIT 5 OFFSET 10",
	"SELECT 'x'; DELETE FROM t WHERE id = 1",
	"SELECT \"it's\" FROM t WHERE c = 'say \"hi\"'",
	"select*from t where a=1and b=2",
	"SELECT 1 AS \"1\", 'a' AS b",
}

// FuzzLiteralShape: wherever literalShape gives a key, it is the text as
// PostgreSQL's lexer tokenizes it, constants replaced.
func FuzzLiteralShape(f *testing.F) {
	for _, q := range literalShapeSeeds {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.IndexByte(q, 0) >= 0 {
			return // the C lexer stops at a zero byte; shapeKey never gets here
		}
		checkLiteralShape(t, q)
	})
}

// TestShapeCacheDollarQuoting: a text the lexer would misread if it read
// dollar quotes as SQL must not be served the classification of a
// harmless text of the same apparent shape.
func TestShapeCacheDollarQuoting(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	for range 2 {
		if _, err := c.Classify(s, "SELECT $$ 'b' $$"); err != nil {
			t.Fatal(err)
		}
	}
	stmts, err := c.Classify(s, "SELECT $$ 'a$$; DROP TABLE t; --' $$")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || stmts[1].Kind != KindDDL {
		t.Fatalf("classified as %+v, want a SELECT and a DROP TABLE", stmts)
	}
}

// TestShapeCacheAgreesWithParser: texts whose shape a cached one shares,
// classified through the cache, agree with a classifier without one.
func TestShapeCacheAgreesWithParser(t *testing.T) {
	cases := []struct{ name, warm, text string }{
		{"EXPLAIN options are literals", "EXPLAIN (ANALYZE 1) DELETE FROM t WHERE id = 1", "EXPLAIN (ANALYZE 0) DELETE FROM t WHERE id = 1"},
		{"a text that looks like a shape key", "SELECT 1", "\x00lex\x00SELECT \x00i"},
		{"a shape key is not a text", "\x00lex\x00SELECT \x00i", "SELECT 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fresh := newTestClassifier(t, Options{CacheSize: -1})
			want, err := fresh.Classify(NewSession("u", nil), tc.text)
			if err != nil {
				t.Fatal(err)
			}
			c := newTestClassifier(t, Options{})
			s := NewSession("u", nil)
			for range 2 {
				if _, err := c.Classify(s, tc.warm); err != nil {
					t.Fatal(err)
				}
			}
			got, err := c.Classify(s, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || got[0].Kind != want[0].Kind {
				t.Fatalf("after %q: %+v, want %+v", tc.warm, got, want)
			}
		})
	}
}
