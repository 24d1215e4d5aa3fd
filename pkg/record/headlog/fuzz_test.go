package headlog

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

var update = flag.Bool("update", false, "rewrite the seed corpus in testdata")

// testKey loads the record package's test host key.
func testKey(t testing.TB) *hostkey.Key {
	t.Helper()
	b, err := os.ReadFile("../testdata/host_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "host_key")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := hostkey.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func FuzzCheck(f *testing.F) {
	key := testKey(f)
	if seeds, _ := filepath.Glob("testdata/fuzz/FuzzCheck/*"); len(seeds) == 0 {
		f.Fatal("no seed corpus in testdata/fuzz/FuzzCheck (run go test -run TestFuzzSeeds -update)")
	}
	f.Fuzz(func(t *testing.T, records, tree []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "records"), records, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tree"), tree, 0o600); err != nil {
			t.Fatal(err)
		}
		s, probs := Check(dir, key.Public())
		for _, p := range probs {
			if p.Error() == "" {
				t.Fatal("empty problem")
			}
		}
		if s == nil {
			if len(probs) == 0 {
				t.Fatal("no snapshot and no problem")
			}
			return
		}
		if s.Valid && len(probs) == 0 {
			for _, e := range s.Entries {
				if err := s.Prove(e); err != nil {
					t.Fatalf("valid log, record %d not proved: %v", e.Index, err)
				}
			}
		}
		for _, line := range bytes.Split(records, []byte{'\n'}) {
			if r, err := parseRecord(line); err == nil {
				if _, err := r.encode(); err != nil {
					t.Fatalf("a record that parses does not encode: %v", err)
				}
			}
		}
	})
}

// TestFuzzSeeds checks the seed corpus of FuzzCheck: the whole log
// verifies, the damaged ones do not. With -update it first writes the
// corpus anew from a real log.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeFuzzSeeds(t)
	}
	key := testKey(t)
	for _, name := range []string{"log", "cut-records", "bad-tree", "negative-size"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzCheck", name))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(b), "\n")
			dir := t.TempDir()
			for i, file := range []string{"records", "tree"} {
				v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1+i], "[]byte("), ")"))
				if err != nil {
					t.Fatalf("corpus file: %v", err)
				}
				if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, probs := Check(dir, key.Public())
			if whole := name == "log"; whole != (len(probs) == 0 && s != nil && s.Valid && len(s.Entries) == 4) {
				t.Errorf("check: %v", probs)
			}
		})
	}
}

func writeFuzzSeeds(t *testing.T) {
	key := testKey(t)
	dir := filepath.Join(t.TempDir(), "log")
	l, err := Open(dir, key, func() time.Time { return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Append([]Record{head(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append([]Record{{Type: TypeExpire, Session: head(0).Session, Path: head(0).Path, Head: head(0).Head,
		Reason: "max_size", Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	records, _ := os.ReadFile(filepath.Join(dir, "records"))
	tree, _ := os.ReadFile(filepath.Join(dir, "tree"))
	seeds := map[string][2][]byte{
		"log":           {records, tree},
		"cut-records":   {records[:len(records)/2], tree},
		"bad-tree":      {records, []byte(`{"size":1,"root":"zz"}`)},
		"negative-size": {nil, []byte(`{"size":-1}`)},
	}
	out := "testdata/fuzz/FuzzCheck"
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s[0])) + ")\n[]byte(" + strconv.Quote(string(s[1])) + ")\n"
		if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
