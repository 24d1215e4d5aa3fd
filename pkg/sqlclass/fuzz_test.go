package sqlclass

import (
	"reflect"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func FuzzClassify(f *testing.F) {
	for _, tc := range corpus {
		f.Add(tc.sql)
		for _, q := range tc.setup {
			f.Add(q)
		}
	}
	cached := newTestClassifier(f, Options{CacheSize: 256})
	uncached := newTestClassifier(f, Options{CacheSize: -1})
	f.Fuzz(func(t *testing.T, q string) {
		s := NewSession("fuzz", nil)
		a, err := uncached.Classify(s, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 {
			t.Fatal("no statements")
		}
		b, _ := uncached.Classify(s, q)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic:\n%+v\n%+v", a, b)
		}
		c1, _ := cached.Classify(s, q)
		c2, _ := cached.Classify(s, q)
		if !reflect.DeepEqual(a, c1) || !reflect.DeepEqual(a, c2) {
			t.Fatalf("cache changes the result:\n%+v\n%+v\n%+v", a, c1, c2)
		}
		_, parseErr := pg_query.Parse(q)
		parses := parseErr == nil && !strings.ContainsRune(q, 0)
		for _, st := range a {
			if _, ok := ParseKind(string(st.Kind)); !ok {
				t.Fatalf("bad kind %q in %+v", st.Kind, st)
			}
			if strings.HasPrefix(st.Error, "sqlclass: internal error") {
				t.Fatalf("internal error: %s", st.Error)
			}
			if parses && st.Kind == KindUnparseable {
				t.Fatalf("%q parses but is unparseable: %s", q, st.Error)
			}
			if !parses && st.Kind != KindUnparseable {
				t.Fatalf("%q does not parse but is %s", q, st.Kind)
			}
		}
		if _, err := cached.ClassifyOne(s, q); err != nil {
			t.Fatal(err)
		}
		for i := range a {
			s.Apply(&a[i])
		}
		// Once more against the changed session, and a query that uses
		// what it may have changed.
		if _, err := cached.Classify(s, q); err != nil {
			t.Fatal(err)
		}
		if _, err := cached.Classify(s, "SELECT * FROM t; EXECUTE p"); err != nil {
			t.Fatal(err)
		}
	})
}
