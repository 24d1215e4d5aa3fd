package policy

import (
	"path"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		glob string
		yes  []string
		no   []string
	}{
		{"orders", []string{"orders"}, []string{"order", "orders2", "Orders", ""}},
		{"*", []string{"", "a", "a/b", "a.b"}, nil},
		{"ci-*", []string{"ci-", "ci-build", "ci-a/b"}, []string{"ci", "xci-build"}},
		{"*.service", []string{"a.service", ".service"}, []string{"a.services"}},
		{"*etl*", []string{"etl", "legacy-etl", "etl-x"}, []string{"et"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbbc", "a/b/c"}, []string{"ab", "acb", "abcd"}},
		{"job-?", []string{"job-1", "job-é"}, []string{"job-", "job-12"}},
		{"[a-c]x", []string{"ax", "cx"}, []string{"dx", "x"}},
		{"[^a-c]x", []string{"dx", "/x"}, []string{"ax"}},
		{`a\*b`, []string{"a*b"}, []string{"axb"}},
		{`\[x]`, []string{"[x]"}, []string{"x"}},
		{"refresh_*_v[0-9]", []string{"refresh_totals_v2", "refresh__v0"}, []string{"refresh_totals_v", "refresh_totals_v22"}},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.glob)
		if err != nil {
			t.Errorf("%q: %v", tt.glob, err)
			continue
		}
		for _, s := range tt.yes {
			if !g.match(s) {
				t.Errorf("%q does not match %q", tt.glob, s)
			}
		}
		for _, s := range tt.no {
			if g.match(s) {
				t.Errorf("%q matches %q", tt.glob, s)
			}
		}
	}
}

func TestGlobErrors(t *testing.T) {
	for _, p := range []string{"", "[", "[]", "[^]", "[a-", "a[", `a\`, "[z-]", strings.Repeat("a", maxGlobLen+1)} {
		if _, err := compileGlob(p); err == nil {
			t.Errorf("%q compiled", p)
		}
	}
}

func TestSplitQualified(t *testing.T) {
	tests := []struct {
		in, schema, name string
		ok               bool
	}{
		{"sales.orders", "sales", "orders", true},
		{"*.orders", "*", "orders", true},
		{"sales.x.y", "sales", "x.y", true},
		{`a\.b.c`, `a\.b`, "c", true},
		{"[.]x.y", "[.]x", "y", true},
		{"[]].y", "[]]", "y", true},
		{"orders", "", "orders", false},
		{`a\.b`, "", `a\.b`, false},
	}
	for _, tt := range tests {
		schema, name, ok := splitQualified(tt.in)
		if schema != tt.schema || name != tt.name || ok != tt.ok {
			t.Errorf("splitQualified(%q) = %q, %q, %v", tt.in, schema, name, ok)
		}
	}
}

// FuzzGlob checks globs against path.Match on names without a slash,
// where the two must agree.
func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"ci-*", "ci-build"}, {"a*b*c", "axbxc"}, {"[^a-c]?", "dé"}, {`\*x`, "*x"},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaa"}, {"[", "["}, {"[a-]", "a"}, {"*?", "é"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if strings.Contains(name, "/") || strings.Contains(pattern, "/") {
			return
		}
		g, err := compileGlob(pattern)
		want, werr := path.Match(pattern, name)
		if pattern == "" || len(pattern) > maxGlobLen {
			if err == nil {
				t.Fatalf("%q compiled", pattern)
			}
			return
		}
		if (err != nil) != (werr != nil) {
			t.Fatalf("compileGlob(%q) error %v, path.Match error %v", pattern, err, werr)
		}
		if err != nil {
			return
		}
		if got := g.match(name); got != want {
			t.Fatalf("%q on %q: %v, path.Match says %v", pattern, name, got, want)
		}
	})
}
