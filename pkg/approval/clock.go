package approval

import "time"

// Clock is the broker's time source.
//
// Contract: AfterFunc calls f once, in a goroutine of its own, no earlier
// than d after the call, unless stop is called first; stop reports
// whether it prevented the call. Tests use a fake clock that fires timers
// when told.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
