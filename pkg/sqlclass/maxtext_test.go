package sqlclass

import (
	"strings"
	"sync"
	"testing"
)

// A query string longer than MaxText is refused unparsed: the parser's
// memory grows with the text, a few hundred times over.
func TestMaxText(t *testing.T) {
	c, err := New(Options{MaxText: 4096})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession("etl", nil)
	cases := []struct {
		name string
		text string
		want Kind
	}{
		{"at the limit", "SELECT 1" + strings.Repeat(" ", 4096-8), KindSelect},
		{"one byte over", "SELECT 1" + strings.Repeat(" ", 4096-7), KindUnparseable},
		{"a long IN list", "SELECT 1 FROM t WHERE id IN (" + strings.Repeat("1,", 4096) + "1)", KindUnparseable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.Classify(s, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 || st[0].Kind != tc.want {
				t.Fatalf("Classify = %+v, want one %s", st, tc.want)
			}
			if tc.want == KindUnparseable && !strings.Contains(st[0].Error, "max_statement_size") {
				t.Errorf("error %q does not name the setting", st[0].Error)
			}
		})
	}
	if d, _ := New(Options{}); d.maxText != DefaultMaxText {
		t.Errorf("default MaxText %d", d.maxText)
	}
}

// Large texts are parsed at most cap(bigParses) at a time.
func TestBigParsesBounded(t *testing.T) {
	c, err := New(Options{CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	text := "SELECT 1 WHERE 1 IN (" + strings.Repeat("1,", bigText/2) + "1)"
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Classify(NewSession("etl", nil), text)
			if err != nil || len(st) != 1 || st[0].Kind != KindSelect {
				t.Errorf("Classify = %v, %v", st, err)
			}
		}()
	}
	wg.Wait()
	if n := len(bigParses); n != 0 {
		t.Fatalf("%d parse slots still held", n)
	}
}
