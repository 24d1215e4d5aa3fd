package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readLines returns the JSON lines of a file, checking each is whole.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: a line that is not one JSON object: %q", path, sc.Text())
		}
		out = append(out, ev)
	}
	return out
}

func TestLogFileRotation(t *testing.T) {
	tests := []struct {
		name     string
		maxSize  int64
		maxFiles int
		events   int
		files    []string // that must exist afterwards
		gone     []string // that must not
	}{
		{"never rotated", 0, 3, 200, []string{""}, []string{".1"}},
		{"three kept", 4096, 3, 200, []string{"", ".1", ".2", ".3"}, []string{".4"}},
		{"none kept", 4096, 0, 200, []string{""}, []string{".1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			var stdout syncBuffer
			l, err := New(&stdout, Options{File: path, MaxSize: tt.maxSize, MaxFiles: tt.maxFiles, Buffered: true})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.events {
				l.Event(DBQuery).Int("i", i).Str("pad", strings.Repeat("x", 100)).Msg("statement")
				if i%10 == 9 {
					// Flushed in batches of ten events, as the
					// flusher would under load.
					if err := l.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.files {
				fi, err := os.Stat(path + s)
				if err != nil {
					t.Fatalf("%s: %v", path+s, err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, want 0600", path+s, fi.Mode().Perm())
				}
				// One batch may take a file past the bound, no more.
				if tt.maxSize > 0 && fi.Size() > tt.maxSize+2048 {
					t.Errorf("%s: %d bytes, bound %d", path+s, fi.Size(), tt.maxSize)
				}
			}
			for _, s := range tt.gone {
				if _, err := os.Stat(path + s); err == nil {
					t.Errorf("%s exists", path+s)
				}
			}
			// The files, oldest first, hold the last events in order
			// and without a gap; the newest is the last one written.
			var got []float64
			for i := len(tt.files) - 1; i >= 0; i-- {
				for _, ev := range readLines(t, path+tt.files[i]) {
					got = append(got, ev["i"].(float64))
				}
			}
			if len(got) == 0 || got[len(got)-1] != float64(tt.events-1) {
				t.Fatalf("last event %v, want %d", got, tt.events-1)
			}
			for k := 1; k < len(got); k++ {
				if got[k] != got[k-1]+1 {
					t.Fatalf("events out of order or missing at %d: %v", k, got)
				}
			}
			if tt.maxSize == 0 && len(got) != tt.events {
				t.Errorf("%d events in the file, want %d", len(got), tt.events)
			}
			if n := strings.Count(stdout.String(), "\n"); n != tt.events {
				t.Errorf("%d events on stdout, want all %d", n, tt.events)
			}
		})
	}
}

// TestLogFileAppends: a restarted daemon appends to the file it finds,
// and counts its size toward the bound.
func TestLogFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(`{"event":"daemon.stop"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := New(&syncBuffer{}, Options{File: path, MaxSize: 1 << 20, MaxFiles: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.Event(DaemonStart).Msg("started")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	evs := readLines(t, path)
	if len(evs) != 2 || evs[0]["event"] != DaemonStop || evs[1]["event"] != DaemonStart {
		t.Errorf("file holds %v", evs)
	}
}

func TestLogFileUnwritable(t *testing.T) {
	_, err := New(&syncBuffer{}, Options{File: filepath.Join(t.TempDir(), "missing", "events.jsonl")})
	if err == nil || !strings.Contains(err.Error(), "open log file") {
		t.Errorf("New with a file in a missing directory: %v", err)
	}
}

func ExampleOptions_rotation() {
	dir, _ := os.MkdirTemp("", "sluice-example-")
	defer os.RemoveAll(dir)
	l, _ := New(&syncBuffer{}, Options{File: filepath.Join(dir, "events.jsonl"), MaxSize: 512, MaxFiles: 2})
	for range 20 {
		l.Event(ConnectionOpen).Str("identity", "nightly-etl").Msg("connection open")
	}
	_ = l.Close()
	for _, name := range []string{"events.jsonl", "events.jsonl.1", "events.jsonl.2", "events.jsonl.3"} {
		_, err := os.Stat(filepath.Join(dir, name))
		fmt.Println(name, err == nil)
	}
	// Output:
	// events.jsonl true
	// events.jsonl.1 true
	// events.jsonl.2 true
	// events.jsonl.3 false
}
