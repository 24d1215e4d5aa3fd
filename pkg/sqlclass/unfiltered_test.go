package sqlclass

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// unfilteredCases are statements and whether each is unfiltered.
var unfilteredCases = []struct {
	name  string
	setup []string // classified and applied before sql
	sql   string
	want  []bool // Unfiltered of each statement
}{
	// No WHERE.
	{name: "delete without where", sql: "DELETE FROM sales.orders", want: []bool{true}},
	{name: "update without where", sql: "UPDATE sales.orders SET state = 'closed'", want: []bool{true}},
	{name: "update from without where", sql: "UPDATE sales.orders o SET total = p.total FROM staging.prices p", want: []bool{true}},
	{name: "delete using without where", sql: "DELETE FROM sales.orders USING sales.customers", want: []bool{true}},
	{name: "delete returning", sql: "DELETE FROM sales.orders RETURNING id", want: []bool{true}},
	{name: "only", sql: "DELETE FROM ONLY sales.orders", want: []bool{true}},

	// Constant conditions.
	{name: "where true", sql: "DELETE FROM sales.orders WHERE true", want: []bool{true}},
	{name: "where 1=1", sql: "UPDATE sales.orders SET state = 'x' WHERE 1=1", want: []bool{true}},
	{name: "where 1 = 1 spaced", sql: "update sales.orders set state = 'x' where 1 = 1", want: []bool{true}},
	{name: "where 'a' = 'a'", sql: "DELETE FROM sales.orders WHERE 'a' = 'a'", want: []bool{true}},
	{name: "where not false", sql: "DELETE FROM sales.orders WHERE NOT false", want: []bool{true}},
	{name: "where true or true", sql: "DELETE FROM sales.orders WHERE true OR 1 = 2", want: []bool{true}},
	{name: "where false counts too", sql: "DELETE FROM sales.orders WHERE 1 = 2", want: []bool{true}},
	{name: "where null", sql: "DELETE FROM sales.orders WHERE NULL", want: []bool{true}},
	{name: "where parameter", sql: "DELETE FROM sales.orders WHERE $1", want: []bool{true}},
	{name: "where parameter comparison", sql: "UPDATE sales.orders SET state = $1 WHERE $2 = $3", want: []bool{true}},
	{name: "where function of constants", sql: "DELETE FROM sales.orders WHERE now() > '2000-01-01'", want: []bool{true}},
	{name: "where sub-select without columns", sql: "DELETE FROM sales.orders WHERE EXISTS (SELECT 1)", want: []bool{true}},
	{name: "where cast", sql: "DELETE FROM sales.orders WHERE 't'::boolean", want: []bool{true}},

	// Filters.
	{name: "where column", sql: "DELETE FROM sales.orders WHERE id = 42", want: []bool{false}},
	{name: "where qualified column", sql: "UPDATE sales.orders o SET state = 'x' WHERE o.id = $1", want: []bool{false}},
	{name: "where column on the right", sql: "DELETE FROM sales.orders WHERE 42 = id", want: []bool{false}},
	{name: "where column in a function", sql: "DELETE FROM sales.orders WHERE lower(state) = 'x'", want: []bool{false}},
	{name: "where column and true", sql: "DELETE FROM sales.orders WHERE true AND id = 1", want: []bool{false}},
	{name: "where column or true", sql: "DELETE FROM sales.orders WHERE id = 1 OR true", want: []bool{false}},
	{name: "where sub-select with a column", sql: "DELETE FROM sales.orders WHERE id IN (SELECT order_id FROM sales.refunds)", want: []bool{false}},
	{name: "where is not null", sql: "UPDATE sales.orders SET state = 'x' WHERE closed_at IS NULL", want: []bool{false}},
	{name: "where current of", sql: "DELETE FROM sales.orders WHERE CURRENT OF c", want: []bool{false}},
	{name: "update from with join condition", sql: "UPDATE sales.orders o SET total = p.total FROM staging.prices p WHERE p.id = o.id", want: []bool{false}},
	{name: "where whole-row reference", sql: "DELETE FROM sales.orders o WHERE o IS NOT NULL", want: []bool{false}},

	// Where the UPDATE or DELETE is.
	{name: "cte delete without where", sql: "WITH d AS (DELETE FROM sales.orders RETURNING *) SELECT count(*) FROM d", want: []bool{true}},
	{name: "cte delete with where", sql: "WITH d AS (DELETE FROM sales.orders WHERE id = 1 RETURNING *) SELECT count(*) FROM d", want: []bool{false}},
	{name: "cte update where true", sql: "WITH u AS (UPDATE sales.orders SET state = 'x' WHERE true RETURNING id) INSERT INTO audit.log SELECT id FROM u", want: []bool{true}},
	{name: "filtered outer, unfiltered cte", sql: "WITH d AS (DELETE FROM staging.tmp RETURNING id) DELETE FROM sales.orders WHERE id IN (SELECT id FROM d)", want: []bool{true}},
	{name: "nested cte in a sub-select", sql: "SELECT * FROM (WITH d AS (DELETE FROM logs RETURNING *) SELECT * FROM d) s", want: []bool{true}},
	{name: "explain does not run", sql: "EXPLAIN DELETE FROM sales.orders", want: []bool{false}},
	{name: "explain analyze runs", sql: "EXPLAIN ANALYZE DELETE FROM sales.orders", want: []bool{true}},
	{name: "prepare", sql: "PREPARE q AS DELETE FROM sales.orders", want: []bool{true}},
	{name: "execute of a known statement", setup: []string{"PREPARE q AS UPDATE sales.orders SET state = 'x'"}, sql: "EXECUTE q", want: []bool{true}},
	{name: "execute of a filtered statement", setup: []string{"PREPARE q AS DELETE FROM sales.orders WHERE id = $1"}, sql: "EXECUTE q(1)", want: []bool{false}},
	{name: "prepare then execute in one query", sql: "PREPARE q AS DELETE FROM sales.orders; EXECUTE q", want: []bool{true, true}},
	{name: "explain of execute does not run", setup: []string{"PREPARE q AS DELETE FROM sales.orders"}, sql: "EXPLAIN EXECUTE q", want: []bool{false}},
	{name: "rule action", sql: "CREATE RULE r AS ON INSERT TO sales.orders DO ALSO DELETE FROM staging.tmp", want: []bool{true}},

	// Other statements.
	{name: "multi-statement", sql: "DELETE FROM a WHERE id = 1; DELETE FROM b; UPDATE c SET x = 1 WHERE x = 2", want: []bool{false, true, false}},
	{name: "insert", sql: "INSERT INTO sales.orders VALUES (1)", want: []bool{false}},
	{name: "upsert", sql: "INSERT INTO sales.orders VALUES (1) ON CONFLICT (id) DO UPDATE SET state = 'x'", want: []bool{false}},
	{name: "truncate has its own kind", sql: "TRUNCATE sales.orders", want: []bool{false}},
	{name: "merge", sql: "MERGE INTO sales.orders o USING staging.orders s ON o.id = s.id WHEN MATCHED THEN DELETE", want: []bool{false}},
	{name: "select", sql: "SELECT * FROM sales.orders", want: []bool{false}},
	{name: "unparseable", sql: "DELETE FROM", want: []bool{false}},
}

func TestUnfiltered(t *testing.T) {
	tests := unfilteredCases
	for _, cacheSize := range []int{0, -1} {
		c := newTestClassifier(t, Options{CacheSize: cacheSize})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for range 2 { // the second run is served by the cache when there is one
					s := NewSession("alice", nil)
					for _, q := range tt.setup {
						stmts, err := c.Classify(s, q)
						if err != nil {
							t.Fatal(err)
						}
						for i := range stmts {
							s.Apply(&stmts[i])
						}
					}
					got, err := c.Classify(s, tt.sql)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != len(tt.want) {
						t.Fatalf("%d statements, want %d: %+v", len(got), len(tt.want), got)
					}
					for i, w := range tt.want {
						if got[i].Unfiltered != w {
							t.Errorf("statement %d (%s %q): Unfiltered %v, want %v", i, got[i].Kind, got[i].Text, got[i].Unfiltered, w)
						}
					}
				}
			})
		}
	}
}

// TestUnfilteredSameShape checks that texts differing only in their
// constants, which the cache serves by shape, agree on Unfiltered.
func TestUnfilteredSameShape(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("alice", nil)
	for _, tt := range []struct {
		sql  string
		want bool
	}{
		{"DELETE FROM sales.orders WHERE 1 = 2", true},
		{"DELETE FROM sales.orders WHERE 1 = 1", true},
		{"UPDATE sales.orders SET state = 'a' WHERE id = 1", false},
		{"UPDATE sales.orders SET state = 'b' WHERE id = 2", false},
		{"DELETE FROM sales.orders WHERE false", true},
		{"DELETE FROM sales.orders WHERE true", true},
	} {
		st, err := c.ClassifyOne(s, tt.sql)
		if err != nil {
			t.Fatal(err)
		}
		if st.Unfiltered != tt.want || st.Text != tt.sql {
			t.Errorf("%q: Unfiltered %v text %q, want %v", tt.sql, st.Unfiltered, st.Text, tt.want)
		}
	}
}

// FuzzUnfiltered checks that Unfiltered is only set on statements that
// parse and run an UPDATE or DELETE, and that it does not depend on the
// cache: a text of the same shape (constants changed) served from it
// agrees with its own classification.
func FuzzUnfiltered(f *testing.F) {
	for _, tc := range unfilteredCases {
		f.Add(tc.sql)
	}
	uncached := newTestClassifier(f, Options{CacheSize: -1})
	cached := newTestClassifier(f, Options{CacheSize: 256}) // shared: texts fill it for later ones
	f.Fuzz(func(t *testing.T, q string) {
		if !utf8.ValidString(q) {
			// The shape cache may serve a text with invalid UTF-8 the
			// classification of a valid one, whatever the kind (a
			// cache issue, not one of Unfiltered).
			t.Skip("invalid UTF-8")
		}
		s := NewSession("fuzz", nil)
		a, err := uncached.Classify(s, q)
		if err != nil {
			t.Fatal(err)
		}
		// The same text with other numbers first: when they are
		// constants, it has the same shape and fills the cache for q.
		other := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '0' + (r-'0'+1)%10
			}
			return r
		}, q)
		if _, err := cached.Classify(s, other); err != nil {
			t.Fatal(err)
		}
		b, _ := cached.Classify(s, q)
		c, _ := cached.Classify(s, q)
		for i := range a {
			if a[i].Unfiltered && (a[i].Kind == KindUnparseable || a[i].Kind == KindEmpty) {
				t.Fatalf("%q: unfiltered %s statement", q, a[i].Kind)
			}
			if len(b) != len(a) || len(c) != len(a) || b[i].Unfiltered != a[i].Unfiltered || c[i].Unfiltered != a[i].Unfiltered {
				t.Fatalf("%q: the cache changes Unfiltered:\n%+v\n%+v\n%+v", q, a, b, c)
			}
		}
	})
}
