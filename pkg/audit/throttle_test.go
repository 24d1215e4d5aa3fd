package audit

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := NewThrottle(10, 3)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name       string
		advance    time.Duration
		ok         bool
		suppressed uint64
	}{
		{"burst 1", 0, true, 0},
		{"burst 2", 0, true, 0},
		{"burst 3", 0, true, 0},
		{"over the burst", 0, false, 0},
		{"still over", 50 * time.Millisecond, false, 0},
		{"a token later, with the count", 50 * time.Millisecond, true, 2},
		{"none left", 0, false, 0},
		{"a second later the burst is back", time.Second, true, 1},
		{"burst 2 again", 0, true, 0},
		{"burst 3 again", 0, true, 0},
		{"over again", 0, false, 0},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		ok, n := th.Allow(now)
		if ok != s.ok || n != s.suppressed {
			t.Fatalf("%s: Allow = %v, %d; want %v, %d", s.name, ok, n, s.ok, s.suppressed)
		}
	}
}
