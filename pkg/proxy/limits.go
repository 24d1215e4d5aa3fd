package proxy

import (
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// sessionLimits counts the sessions open through the proxy, all together
// and by identity name, and admits new ones within the bounds of the
// routes they start under. Counts are by name, so they carry over a
// configuration reload; a bound lowered by a reload ends no session
// already open, it only refuses new ones until the count is under it.
type sessionLimits struct {
	mu         sync.Mutex
	total      uint32
	byIdentity map[string]uint32
}

// take admits one more session of identity id when fewer than all (0: no
// bound) sessions are open in all and fewer than id.MaxSessions (0: no
// bound) of id's. It returns the function that counts the session out
// (call it once), or an error wrapping protocol.ErrTooManySessions naming
// the bound reached.
func (l *sessionLimits) take(all uint32, id Identity) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.byIdentity[id.Name]
	switch {
	case id.MaxSessions > 0 && n >= id.MaxSessions:
		return nil, fmt.Errorf("%w for identity %q: %d open, its max_sessions is %d",
			protocol.ErrTooManySessions, id.Name, n, id.MaxSessions)
	case all > 0 && l.total >= all:
		return nil, fmt.Errorf("%w through sluice: %d open, max_sessions is %d",
			protocol.ErrTooManySessions, l.total, all)
	}
	if l.byIdentity == nil {
		l.byIdentity = map[string]uint32{}
	}
	l.byIdentity[id.Name] = n + 1
	l.total++
	var once sync.Once
	return func() { once.Do(func() { l.release(id.Name) }) }, nil
}

// open returns the sessions open by identity name (a copy).
func (l *sessionLimits) open() map[string]uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint32, len(l.byIdentity))
	for name, n := range l.byIdentity {
		out[name] = n
	}
	return out
}

// release counts one session of identity name out.
func (l *sessionLimits) release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n := l.byIdentity[name]; n > 1 {
		l.byIdentity[name] = n - 1
	} else {
		delete(l.byIdentity, name)
	}
}
