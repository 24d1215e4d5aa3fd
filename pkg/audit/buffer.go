package audit

import (
	"io"
	"sync"
	"time"
)

// Buffering bounds: events wait at most flushInterval before they are
// written, sooner once maxBuffered bytes wait; a writer waits only when
// twice that is held while the previous batch is still being written.
const (
	flushInterval = 20 * time.Millisecond
	maxBuffered   = 256 << 10
)

// bufferedWriter batches event lines: one write(2) per flush interval
// instead of one per event, which matters at tens of thousands of
// statements per second. Only its flusher goroutine (and Flush, Close)
// writes to the file: a session emitting an event copies it into memory
// and goes on, and never holds up other sessions with a write. Lines are
// never split. Flush and Close write out what is held; a daemon killed
// with SIGKILL loses at most the last interval of events (session
// recordings, not the event stream, are the durable record).
type bufferedWriter struct {
	w io.Writer

	mu    sync.Mutex
	room  *sync.Cond // signalled when the flusher takes the held lines
	buf   []byte     // lines held
	spare []byte     // the batch written last, for reuse
	err   error

	flushMu sync.Mutex // one batch written at a time, in order
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newBufferedWriter(w io.Writer) *bufferedWriter {
	b := &bufferedWriter{w: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	b.room = sync.NewCond(&b.mu)
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
		case <-b.kick:
		}
		_ = b.Flush()
	}
}

// Write appends one event line. It wakes the flusher once maxBuffered
// bytes are held, and waits while twice that is held (the file is slower
// than the events): memory stays bounded.
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.buf) >= 2*maxBuffered {
		b.room.Wait()
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= maxBuffered {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes out the lines held, and returns the first write error
// seen so far.
func (b *bufferedWriter) Flush() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	out := b.buf
	b.buf, b.spare = b.spare[:0], nil
	b.room.Broadcast()
	b.mu.Unlock()

	var err error
	if len(out) > 0 {
		_, err = b.w.Write(out)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if cap(out) <= 4*maxBuffered {
		b.spare = out[:0]
	}
	if err != nil && b.err == nil {
		b.err = err
	}
	return b.err
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
