package audit

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Bounds of a Stream's history.
const (
	// DefaultHistoryBytes is the memory a Stream keeps events in.
	DefaultHistoryBytes = 4 << 20
	// maxHistoryLines bounds the number of lines held, whatever their size.
	maxHistoryLines = 1 << 15
	// readBatch bounds what one Read returns.
	readBatch = 256 << 10
)

// Stream holds the most recent event lines in memory, in a ring of fixed
// size, and lets readers follow them. Writing never waits for a reader: a
// reader that falls behind by more than the ring holds loses the lines
// overwritten in between, and Read tells it how many. Memory is bounded by
// the ring, whatever the number of readers.
//
// Lines are numbered from 0 in the order they were written; a Cursor is
// the number of the next line a reader wants.
type Stream struct {
	mu      sync.Mutex
	buf     []byte        // ring of line bytes
	refs    []lineRef     // ring of lines; refs[seq % len(refs)]
	first   uint64        // number of the oldest line held
	next    uint64        // number of the next line written
	head    uint64        // total bytes ever written to buf; a line's off is in this space
	evicted bool          // a line was ever dropped to make room
	wake    chan struct{} // closed at the next write; nil when nobody waits
}

type lineRef struct {
	off  uint64 // offset in the byte space of head
	n    int
	unix int64 // when it was written, ns
}

// Cursor is the number of the next line a reader wants.
type Cursor uint64

// NewStream returns a Stream keeping up to size bytes of lines (at least
// 64 KiB).
func NewStream(size int) *Stream {
	size = max(size, 64<<10)
	return &Stream{buf: make([]byte, size), refs: make([]lineRef, maxHistoryLines)}
}

// Write keeps a copy of p, one event line. Lines longer than a quarter of
// the ring are not kept. It never fails.
func (s *Stream) Write(p []byte) (int, error) {
	if len(p) == 0 || len(p) > len(s.buf)/4 {
		return len(p), nil
	}
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.next-s.first == uint64(len(s.refs)) || (s.next > s.first && s.head+uint64(len(p))-s.refs[s.first%uint64(len(s.refs))].off > uint64(len(s.buf))) {
		s.first++
		s.evicted = true
	}
	size := uint64(len(s.buf))
	at := s.head % size
	c := copy(s.buf[at:], p)
	copy(s.buf, p[c:])
	s.refs[s.next%uint64(len(s.refs))] = lineRef{off: s.head, n: len(p), unix: now}
	s.head += uint64(len(p))
	s.next++
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	return len(p), nil
}

// History describes what a Stream holds.
type History struct {
	// Oldest is when the oldest line held was written; zero when none is.
	Oldest time.Time
	// Complete: no line was ever dropped, so the history holds every
	// line written since the Stream was created.
	Complete bool
}

// History reports what the Stream holds now.
func (s *Stream) History() History {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := History{Complete: !s.evicted}
	if s.next > s.first {
		h.Oldest = time.Unix(0, s.ref(s.first).unix)
	}
	return h
}

func (s *Stream) ref(seq uint64) lineRef { return s.refs[seq%uint64(len(s.refs))] }

// Since returns the cursor of the first line held that was written at or
// after t.
func (s *Stream) Since(t time.Time) Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := t.UnixNano()
	n := int(s.next - s.first)
	i := sort.Search(n, func(i int) bool { return s.ref(s.first+uint64(i)).unix >= ns })
	return Cursor(s.first + uint64(i))
}

// Last returns the cursor of the last n lines held (all of them when
// fewer are held).
func (s *Stream) Last(n int) Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	if uint64(n) >= s.next-s.first {
		return Cursor(s.first)
	}
	return Cursor(s.next - uint64(n))
}

// End returns the cursor of the next line to be written.
func (s *Stream) End() Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Cursor(s.next)
}

// Read returns copies of the lines from cur on (at most about 256 KiB of
// them), the cursor after them, and how many lines from cur on were no
// longer held (dropped: the reader fell behind). With wait, it waits for
// a line when there is none yet, until ctx ends; without, it returns
// none.
func (s *Stream) Read(ctx context.Context, cur Cursor, wait bool) (lines [][]byte, next Cursor, dropped uint64, err error) {
	for {
		s.mu.Lock()
		c := uint64(cur)
		if c < s.first {
			dropped += s.first - c
			c = s.first
		}
		if c < s.next {
			var total int
			for ; c < s.next && total < readBatch; c++ {
				r := s.ref(c)
				line := make([]byte, r.n)
				at := r.off % uint64(len(s.buf))
				k := copy(line, s.buf[at:])
				copy(line[k:], s.buf)
				lines = append(lines, line)
				total += r.n
			}
			s.mu.Unlock()
			return lines, Cursor(c), dropped, nil
		}
		if !wait {
			s.mu.Unlock()
			return nil, Cursor(c), dropped, nil
		}
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		w := s.wake
		s.mu.Unlock()
		cur = Cursor(c)
		select {
		case <-ctx.Done():
			return nil, cur, dropped, ctx.Err()
		case <-w:
		}
	}
}
