package mask

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// corpusLine is one line of a detector corpus.
type corpusLine struct {
	file, tag, in, want string
	line                int
}

// readCorpus reads testdata/detect/NAME: "TAG: INPUT" or "TAG: INPUT =>
// WANT" lines, INPUT and WANT optionally Go-quoted.
func readCorpus(t *testing.T, name string) []corpusLine {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "detect", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tag, rest, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s:%d: no tag", name, n)
		}
		in, want, _ := strings.Cut(rest, " => ")
		out = append(out, corpusLine{file: name, line: n, tag: tag, in: unquote(t, in), want: unquote(t, want)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func unquote(t *testing.T, s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("unquote %s: %v", s, err)
	}
	return u
}

func testKey(t testing.TB) Key {
	t.Helper()
	k, err := NewKey([]byte("test key: 32 bytes of secret ..."))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func scanner(t testing.TB, cfg Config) *Scanner {
	t.Helper()
	if cfg.Key.IsZero() {
		cfg.Key = testKey(t)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m.Scanner()
}

// TestFalseNegatives runs the corpus of values that must be found: each
// line is found by its detector only, and redacted as written.
func TestFalseNegatives(t *testing.T) {
	scanners := map[string]*Scanner{}
	for _, c := range readCorpus(t, "positive.txt") {
		tag, region, _ := strings.Cut(c.tag, "@")
		if region == "" {
			region = "US"
		}
		d, err := ParseDetector(tag)
		if err != nil {
			t.Fatalf("%s:%d: %v", c.file, c.line, err)
		}
		sc := scanners[region]
		if sc == nil {
			sc = scanner(t, Config{Detectors: All, Region: region})
			scanners[region] = sc
		}
		t.Run(c.tag+"/"+strconv.Itoa(c.line), func(t *testing.T) {
			out, res := sc.Text(nil, []byte(c.in), Context{})
			if res.Counts[d] == 0 {
				t.Errorf("%s:%d: %v not found in %q (counts %v)", c.file, c.line, d, c.in, res.Counts)
			}
			if o := res.Counts.Total() - uint64(res.Counts[d]); o != 0 {
				t.Errorf("%s:%d: %d other matches in %q (counts %v)", c.file, c.line, o, c.in, res.Counts)
			}
			if string(out) != c.want {
				t.Errorf("%s:%d: %q\n got %q\nwant %q", c.file, c.line, c.in, out, c.want)
			}
		})
	}
}

// TestFalsePositives runs the corpus of values that must not be found,
// with the default detectors.
func TestFalsePositives(t *testing.T) {
	sc := scanner(t, Config{Detectors: Defaults, Region: "US"})
	for _, c := range readCorpus(t, "negative.txt") {
		t.Run(c.tag+"/"+strconv.Itoa(c.line), func(t *testing.T) {
			out, res := sc.Text(nil, []byte(c.in), Context{})
			if res.Changed || res.Counts.Total() != 0 {
				t.Errorf("%s:%d: %q found (counts %v): %q", c.file, c.line, c.in, res.Counts, out)
			}
		})
	}
}
