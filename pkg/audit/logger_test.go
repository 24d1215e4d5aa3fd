package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEventEnvelope(t *testing.T) {
	var buf bytes.Buffer
	file := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := New(&buf, Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	l.Event(ConnectionOpen).Str("identity", "nightly-etl").Uint32("pid", 42).Msg("connection open")
	l.Debug().Msg("not shown at info level")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
		t.Fatalf("not one JSON object: %q: %v", buf.String(), err)
	}
	if ev["event"] != ConnectionOpen || ev["v"] != float64(SchemaVersion) || ev["identity"] != "nightly-etl" || ev["level"] != "info" {
		t.Errorf("event = %v", ev)
	}
	ts, err := time.Parse(TimeFormat, ev["time"].(string))
	if err != nil || time.Since(ts) > time.Minute || ts.Nanosecond()%1000 != 0 {
		t.Errorf("time %v: %v", ev["time"], err)
	}
	data, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(data, buf.Bytes()) {
		t.Errorf("log file %q differs from stdout %q (%v)", data, buf.Bytes(), err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v %v", fi.Mode(), err)
	}
}

func TestConcurrentEventsDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				l.Event(ConnectionClose).Str("pad", strings.Repeat("x", 512)).Msg("closed")
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Fatalf("mixed line: %.80s", line)
		}
	}
}

func TestBadLevel(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Options{Level: "loud"}); err == nil {
		t.Fatal("want an error for an unknown level")
	}
}
