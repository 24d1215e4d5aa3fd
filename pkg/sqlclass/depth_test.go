package sqlclass

import (
	"strings"
	"testing"
)

// Deeply nested statements are refused before pg_query walks their tree
// recursively (at some 25,000 levels it overflows the stack and kills the
// process); long flat ones are parsed.
func TestNesting(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep := strings.Repeat
	cases := []struct {
		name string
		text string
		deep bool
	}{
		{"a chain of 30,000 additions", "SELECT " + rep("1+", 30000) + "1", true},
		{"a chain of concatenations", "SELECT " + rep("'a'||", 30000) + "'a'", true},
		{"casts on casts", "SELECT 1" + rep("::int", 30000), true},
		{"unary minus", "SELECT " + rep("- ", 30000) + "1", true},
		{"parentheses", "SELECT " + rep("(", 30000) + "1" + rep(")", 30000), true},
		{"a chain of UNIONs", rep("SELECT 1 UNION ", 5000) + "SELECT 1", true},
		{"CASEs chained by an operator", "SELECT 1" + rep(" + CASE WHEN true THEN 1 END", 25000), true},
		{"CASEs nested", "SELECT " + rep("CASE WHEN true THEN ", 30000) + "1" + rep(" END", 30000), true},
		{"700 UNION ALL branches of filtered selects", rep("SELECT a FROM t WHERE x = 1 AND y > 2 UNION ALL ", 700) + "SELECT a FROM t", false},
		{"a password beside a deep expression", "ALTER ROLE etl PASSWORD 'hunter2' " + rep("1+", 30000), true},
		{"10,000 rows of VALUES", "INSERT INTO t VALUES " + rep("(1, -2, 'x'), ", 10000) + "(1, -2, 'x')", false},
		{"an IN list of 50,000", "SELECT 1 FROM t WHERE id IN (" + rep("1, ", 50000) + "1)", false},
		{"10,000 ORs", "SELECT 1 FROM t WHERE " + rep("a = 1 OR ", 10000) + "a = 2", false},
		{"10,000 ANDs", "SELECT 1 FROM t WHERE " + rep("a <> 1 AND ", 10000) + "true", false},
		{"a CASE of 5,000 branches", "SELECT CASE " + rep("WHEN a = 1 THEN 'x' ", 5000) + "ELSE 'y' END FROM t", false},
		{"1,000 additions", "SELECT " + rep("1+", 1000) + "1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.Classify(NewSession("etl", nil), tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 {
				t.Fatalf("%d statements", len(st))
			}
			refused := st[0].Kind == KindUnparseable && strings.Contains(st[0].Error, "levels deep")
			if refused != tc.deep {
				t.Fatalf("kind %s, error %q; want refused for its nesting: %v", st[0].Kind, st[0].Error, tc.deep)
			}
			if strings.Contains(st[0].Text, "hunter2") {
				t.Errorf("the password is in the statement's text")
			}
			if _, err := Fingerprint(tc.text); (err != nil) != tc.deep {
				t.Errorf("Fingerprint error %v, want one: %v", err, tc.deep)
			}
		})
	}
}
