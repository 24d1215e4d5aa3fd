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

// gatedWriter blocks every write until its gate is opened, and counts the
// bytes written.
type gatedWriter struct {
	gate    chan struct{}
	mu      sync.Mutex
	written int
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.written += len(p)
	return len(p), nil
}

// TestBufferedWriterKeepsWritesOffTheCaller: a caller never waits for the
// file while less than twice maxBuffered is held, even when the file is
// stuck; past that it waits (bounded memory) and goes on once the file
// takes writes again; nothing is lost.
func TestBufferedWriterKeepsWritesOffTheCaller(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{})}
	b := newBufferedWriter(g)
	line := []byte(strings.Repeat("x", 1023) + "\n")

	// The flusher takes what is held (at its tick, or once maxBuffered
	// is) and is stuck writing it; whatever it took, twice maxBuffered
	// fit in memory without waiting.
	n := 2 * maxBuffered / len(line)
	wrote := make(chan struct{})
	go func() {
		for range n {
			_, _ = b.Write(line)
		}
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("a caller waited for a stuck file with less than twice maxBuffered held")
	}

	// More than that (the flusher took at most twice maxBuffered): the
	// caller waits.
	more := 3 * maxBuffered / len(line)
	blocked := make(chan struct{})
	go func() {
		for range more {
			_, _ = b.Write(line)
		}
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("a caller went on with more than twice maxBuffered held and the file stuck")
	case <-time.After(100 * time.Millisecond):
	}

	close(g.gate) // the file takes writes again
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the caller still waits once the file takes writes")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	want := (n + more) * len(line)
	if g.written != want {
		t.Fatalf("%d bytes written, want %d", g.written, want)
	}
}
