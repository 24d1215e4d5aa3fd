package audit

import (
	"io"
	"sync"
	"time"
)

// Buffering bounds: events wait at most flushInterval before they are
// written, and a writer never holds more than maxBuffered bytes (past it,
// the event that crosses the bound is written out at once, by its caller).
const (
	flushInterval = 20 * time.Millisecond
	maxBuffered   = 256 << 10
)

// bufferedWriter batches event lines: one write(2) per flush interval
// instead of one per event, which matters at tens of thousands of
// statements per second. Lines are never split. Flush and Close write out
// what is held; a daemon killed with SIGKILL loses at most the last
// interval of events (session recordings, not the event stream, are the
// durable record).
type bufferedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	err  error
	stop chan struct{}
	done chan struct{}
}

func newBufferedWriter(w io.Writer) *bufferedWriter {
	b := &bufferedWriter{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *bufferedWriter) loop() {
	defer close(b.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}

// Write appends one event line.
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= maxBuffered {
		b.flushLocked()
	}
	return len(p), nil
}

// Flush writes out the buffered lines.
func (b *bufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

func (b *bufferedWriter) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil && b.err == nil {
		b.err = err
	}
	if cap(b.buf) > 4*maxBuffered {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
}

// Close stops the flusher and writes out what is left.
func (b *bufferedWriter) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}
