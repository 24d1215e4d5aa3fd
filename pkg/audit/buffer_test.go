package audit

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flusher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBufferedLoggerKeepsEveryLineWhole(t *testing.T) {
	var out syncBuffer
	l, err := New(&out, Options{Buffered: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				l.Event(DBQuery).Int("g", g).Int("i", i).Str("pad", strings.Repeat("x", 100)).Msg("statement")
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 16000 {
		t.Fatalf("%d lines, want 16000", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Fatalf("broken line %q", line)
		}
	}
}

func TestBufferedLoggerFlushesByItself(t *testing.T) {
	var out syncBuffer
	l, err := New(&out, Options{Buffered: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Event(DaemonStart).Msg("started")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), DaemonStart) {
		if time.Now().After(deadline) {
			t.Fatal("event not written without an explicit flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
