package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func line(i int, pad int) []byte {
	return []byte(fmt.Sprintf(`{"event":"db.query","i":%d,"pad":%q}`+"\n", i, strings.Repeat("x", pad)))
}

func lineNumber(t *testing.T, b []byte) int {
	t.Helper()
	var ev struct{ I int }
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("line %q: %v", b, err)
	}
	return ev.I
}

func TestStreamKeepsTheNewestLines(t *testing.T) {
	s := NewStream(64 << 10)
	const n = 2000 // about 230 KiB: the ring wraps several times
	for i := range n {
		_, _ = s.Write(line(i, 80))
	}
	lines, next, dropped, err := s.Read(context.Background(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 || next != Cursor(n) || int(dropped)+len(lines) != n {
		t.Fatalf("read from 0: %d lines, %d dropped, next %d; want the %d lines as held or dropped", len(lines), dropped, next, n)
	}
	held := 0
	for _, l := range lines {
		held += len(l)
	}
	if held > 64<<10 {
		t.Errorf("%d bytes held in a ring of 64 KiB", held)
	}
	for k, l := range lines {
		if got, want := lineNumber(t, l), int(dropped)+k; got != want {
			t.Fatalf("line %d is event %d, want %d", k, got, want)
		}
	}
	if h := s.History(); h.Complete || h.Oldest.IsZero() {
		t.Errorf("history %+v: want incomplete, with an oldest line", h)
	}
	if next, _, _, _ := s.Read(context.Background(), next, false); next != nil {
		t.Errorf("read at the end returned %d lines", len(next))
	}
}

func TestStreamLineCountBound(t *testing.T) {
	s := NewStream(16 << 20)
	for range maxHistoryLines + 10 {
		_, _ = s.Write([]byte("{}\n"))
	}
	_, _, dropped, _ := s.Read(context.Background(), 0, false)
	if dropped != 10 {
		t.Errorf("%d lines dropped, want the 10 beyond %d lines", dropped, maxHistoryLines)
	}
}

func TestStreamSinceAndLast(t *testing.T) {
	s := NewStream(1 << 20)
	for i := range 10 {
		_, _ = s.Write(line(i, 0))
	}
	mid := time.Now()
	for i := 10; i < 20; i++ {
		_, _ = s.Write(line(i, 0))
	}
	read := func(c Cursor) []int {
		lines, _, _, err := s.Read(context.Background(), c, false)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, l := range lines {
			out = append(out, lineNumber(t, l))
		}
		return out
	}
	if got := read(s.Since(mid)); len(got) != 10 || got[0] != 10 {
		t.Errorf("since the middle: %v", got)
	}
	if got := read(s.Since(time.Time{})); len(got) != 20 {
		t.Errorf("since the zero time: %v", got)
	}
	if got := read(s.Since(time.Now().Add(time.Hour))); len(got) != 0 {
		t.Errorf("since the future: %v", got)
	}
	if got := read(s.Last(3)); len(got) != 3 || got[0] != 17 {
		t.Errorf("last 3: %v", got)
	}
	if got := read(s.Last(100)); len(got) != 20 {
		t.Errorf("last 100: %v", got)
	}
	if h := s.History(); !h.Complete {
		t.Errorf("history %+v: nothing was dropped", h)
	}
}

// TestStreamFollow: a reader waiting at the end gets each line as it is
// written; a writer never waits for it.
func TestStreamFollow(t *testing.T) {
	s := NewStream(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan int, 1000)
	done := make(chan error, 1)
	cur := s.End()
	go func() {
		for {
			lines, next, dropped, err := s.Read(ctx, cur, true)
			if err != nil {
				done <- err
				return
			}
			if dropped != 0 {
				done <- fmt.Errorf("%d dropped", dropped)
				return
			}
			for _, l := range lines {
				var ev struct{ I int }
				_ = json.Unmarshal(l, &ev)
				got <- ev.I
			}
			cur = next
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				_, _ = s.Write(line(g*100+i, 10))
			}
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < 400 {
		select {
		case i := <-got:
			seen[i] = true
		case err := <-done:
			t.Fatal(err)
		case <-deadline:
			t.Fatalf("the reader got %d of 400 lines", len(seen))
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("reader ended with %v, want context.Canceled", err)
	}
}

// TestStreamSlowReader: a reader that does not read while much more than
// the ring is written loses the lines in between, counted, and goes on
// from the oldest line held.
func TestStreamSlowReader(t *testing.T) {
	s := NewStream(64 << 10)
	cur := s.End()
	for i := range 5000 {
		_, _ = s.Write(line(i, 50))
	}
	lines, _, dropped, err := s.Read(context.Background(), cur, true)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 || len(lines) == 0 || lineNumber(t, lines[0]) != int(dropped) {
		t.Errorf("%d dropped, first line %q", dropped, lines[0])
	}
}

func TestStreamIgnoresHugeLines(t *testing.T) {
	s := NewStream(64 << 10)
	_, _ = s.Write(line(0, 20<<10))
	_, _ = s.Write(line(1, 0))
	lines, _, dropped, _ := s.Read(context.Background(), 0, false)
	if len(lines) != 1 || dropped != 0 || lineNumber(t, lines[0]) != 1 {
		t.Errorf("%d lines, %d dropped", len(lines), dropped)
	}
}

// TestLoggerStreamIsJSON: with the text format, the stream still holds the
// JSON events.
func TestLoggerStreamIsJSON(t *testing.T) {
	var out syncBuffer
	l, err := New(&out, Options{Format: "text", History: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l.Event(ConnectionOpen).Str("identity", "nightly-etl").Msg("connection open")
	lines, _, _, _ := l.Stream().Read(context.Background(), 0, false)
	var ev map[string]any
	if len(lines) != 1 || json.Unmarshal(lines[0], &ev) != nil || ev["event"] != ConnectionOpen {
		t.Errorf("stream holds %q", lines)
	}
	if strings.HasPrefix(out.String(), "{") {
		t.Errorf("the text output is JSON: %q", out.String())
	}
	if Discard().Stream() != nil {
		t.Error("Discard has a stream")
	}
}

func BenchmarkStreamWrite(b *testing.B) {
	s := NewStream(DefaultHistoryBytes)
	p := line(0, 600)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		_, _ = s.Write(p)
	}
}
