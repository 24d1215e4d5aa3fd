package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	idA = "5d5c748f35ba0c1e"
	idB = "9a1b2c3d4e5f6071"
)

// lines reads a file as lines, each with its newline.
func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte{'\n'})
}

func writeLines(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rehash recomputes the hash a line carries after its content changed,
// as someone forging an event would.
func rehash(line []byte) []byte {
	body := bytes.TrimSuffix(line, []byte{'\n'})
	prefix := body[:len(body)-hashSuffix]
	h := sha256.Sum256(prefix)
	return []byte(string(prefix) + hashMarker + hex.EncodeToString(h[:]) + "\"}\n")
}

func TestVerify(t *testing.T) {
	fileA := "2026/11/22/" + idA + ".jsonl"
	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		state  string // of recording A
	}{
		{"clean", func(*testing.T, string) {}, StateOK},
		{"modified event", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			ls[4] = bytes.Replace(ls[4], []byte("DROP TABLE sales.orders"), []byte("SELECT 1 FROM sales.orders"), 1)
			writeLines(t, p, ls)
		}, StateInvalid},
		{"modified event with its hash recomputed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			ls[4] = rehash(bytes.Replace(ls[4], []byte(`"decision":"deny"`), []byte(`"decision":"allow"`), 2))
			writeLines(t, p, ls)
		}, StateInvalid},
		{"truncated file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			writeLines(t, p, lines(t, p)[:4])
		}, StateInvalid},
		{"truncated mid-line", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			ls[3] = ls[3][:40]
			writeLines(t, p, ls[:4])
		}, StateInvalid},
		{"deleted recording", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, fileA)); err != nil {
				t.Fatal(err)
			}
		}, StateMissing},
		{"forged head", func(t *testing.T, dir string) {
			// The end event rewritten to hide the denial, its hash
			// recomputed, and the signature line pointed at the new head.
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			old := ls[6][len(ls[6])-hashSuffix-1+len(hashMarker) : len(ls[6])-3]
			ls[6] = rehash(bytes.Replace(ls[6], []byte(`"denied":1`), []byte(`"denied":0`), 1))
			now := ls[6][len(ls[6])-hashSuffix-1+len(hashMarker) : len(ls[6])-3]
			ls[7] = bytes.Replace(ls[7], old, now, 1)
			writeLines(t, p, ls)
		}, StateInvalid},
		{"forged signature", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			i := bytes.Index(ls[7], []byte(`"sig":"`)) + len(`"sig":"`)
			if ls[7][i] == 'A' {
				ls[7][i] = 'B'
			} else {
				ls[7][i] = 'A'
			}
			writeLines(t, p, ls)
		}, StateInvalid},
		{"reordered lines", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			ls[2], ls[3] = ls[3], ls[2]
			writeLines(t, p, ls)
		}, StateInvalid},
		{"removed event", func(t *testing.T, dir string) {
			p := filepath.Join(dir, fileA)
			ls := lines(t, p)
			writeLines(t, p, append(ls[:3:3], ls[4:]...))
		}, StateInvalid},
		{"head log record removed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "log", "records")
			ls := lines(t, p)
			writeLines(t, p, ls[1:])
		}, StateUnlogged},
		{"head log record modified", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "log", "records")
			ls := lines(t, p)
			ls[0] = bytes.Replace(ls[0], []byte(`"events":7`), []byte(`"events":5`), 1)
			writeLines(t, p, ls)
		}, StateInvalid},
		{"head log tree head forged", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "log", "tree")
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte(`"size":2`), []byte(`"size":1`), 1)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, StateOK},
		{"recording put in by hand", func(t *testing.T, dir string) {
			src := filepath.Join(dir, fileA)
			b, _ := os.ReadFile(src)
			dst := filepath.Join(dir, "2026/11/21", idA+".jsonl")
			_ = os.MkdirAll(filepath.Dir(dst), 0o700)
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, StateOK},
	}
	var golden strings.Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t, Options{FsyncInterval: time.Hour})
			record(t, s, idA)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			record(t, s, idB)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, dir)
			rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&golden, "## %s\n", tt.name)
			for _, p := range rep.Problems {
				fmt.Fprintln(&golden, p.String())
			}
			if (tt.name == "clean") != (len(rep.Problems) == 0) {
				t.Errorf("problems: %v", rep.Problems)
			}
			state := ""
			for _, c := range rep.Recordings {
				if c.Session == idA && c.File == fileA {
					state = c.State
				}
				if c.Session == idB && c.State != StateOK && !strings.Contains(tt.name, "head log") {
					t.Errorf("recording B: %+v", c)
				}
			}
			if state != tt.state {
				t.Errorf("recording A state %q, want %q", state, tt.state)
			}
			// One recording: the same problems, restricted to it and to
			// the head log.
			one, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey(), Session: idA})
			if err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for _, p := range rep.Problems {
				if p.Session == idA || p.Session == "" {
					want = append(want, p.String())
				}
			}
			for _, p := range one.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("verify %s alone:\n%s\nwant\n%s", idA, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	const path = "testdata/verify.golden"
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if golden.String() != string(want) {
		t.Errorf("verify messages differ from %s (run go test -update if intended):\ngot:\n%s", path, golden.String())
	}
}
