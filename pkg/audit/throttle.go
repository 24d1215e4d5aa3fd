package audit

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Throttle bounds how often one kind of event is written, for the events
// anyone can cause at will (a connection to the proxy port, a refused
// control request): a flood of them must not push the other events out of
// a rotated log file or the journal. Up to burst events pass at once, then
// perSecond; those held back are counted, and the next event written says
// how many (its caller adds the count as `suppressed`). Safe for concurrent
// use.
type Throttle struct {
	mu         sync.Mutex
	perSecond  float64
	burst      float64
	tokens     float64
	last       time.Time
	suppressed uint64
}

// NewThrottle returns a Throttle letting perSecond events through, bursts
// of burst.
func NewThrottle(perSecond, burst int) *Throttle {
	return &Throttle{perSecond: float64(perSecond), burst: float64(burst), tokens: float64(burst)}
}

// Pass returns e, with `suppressed` when events were held back before it,
// or a nil event (which writes nothing) when e is held back.
func (t *Throttle) Pass(e *zerolog.Event) *zerolog.Event {
	ok, n := t.Allow(time.Now())
	if !ok {
		return e.Discard()
	}
	if n > 0 {
		e = e.Uint64("suppressed", n)
	}
	return e
}

// Allow reports whether an event may be written at now and, if so, how
// many were held back since the last one written.
func (t *Throttle) Allow(now time.Time) (bool, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() {
		t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.perSecond)
	}
	t.last = now
	if t.tokens < 1 {
		t.suppressed++
		return false, 0
	}
	t.tokens--
	n := t.suppressed
	t.suppressed = 0
	return true, n
}
