package postgres

import (
	"testing"
	"time"
)

func TestAfterWall(t *testing.T) {
	fired := make(chan time.Time, 2)
	at := time.Now().Add(50 * time.Millisecond).Round(0) // a wall time, as a token's exp
	afterWall(at, func() { fired <- time.Now() })
	select {
	case when := <-fired:
		if when.Before(at) {
			t.Fatalf("fired at %v, before %v", when, at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not fire")
	}
	// Already past: fires at once, in its own goroutine.
	afterWall(time.Now().Add(-time.Hour), func() { fired <- time.Now() })
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("a time in the past did not fire")
	}
	// Stopped: never fires.
	stop := afterWall(time.Now().Add(30*time.Millisecond), func() { fired <- time.Now() })
	if !stop() {
		t.Fatal("stop before the time = false")
	}
	if stop() {
		t.Fatal("a second stop = true")
	}
	select {
	case <-fired:
		t.Fatal("fired after stop")
	case <-time.After(100 * time.Millisecond):
	}
}
