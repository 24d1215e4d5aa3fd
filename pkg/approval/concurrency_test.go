package approval

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestConcurrentRequests holds 20 statements at once and decides each
// differently, from concurrent goroutines: each gets its own decision.
func TestConcurrentRequests(t *testing.T) {
	tb := newTestBroker(t, Options{})
	const n = 20
	hs := make([]held, n)
	for i := range n {
		r := deleteRequest(fmt.Sprintf("%016x", i))
		r.Session = fmt.Sprintf("%016x", 1000+i)
		hs[i] = tb.hold(t, r)
	}
	want := func(i int) State {
		switch i % 4 {
		case 0:
			return Approved
		case 1:
			return Denied
		case 2:
			return Withdrawn
		}
		return Waiting
	}
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			var err error
			switch want(i) {
			case Approved:
				_, err = tb.Approve(alice, h.id, Once(), fmt.Sprint("ok ", i))
			case Denied:
				_, err = tb.Deny(bob, h.id, fmt.Sprint("no ", i))
			case Withdrawn:
				h.cancel()
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, h := range hs {
		if want(i) == Waiting {
			h.stillHeld(t)
			continue
		}
		o := h.outcome(t)
		if o.Decision != want(i) || o.ID != h.id {
			t.Errorf("request %d: %+v, want %s", i, o, want(i))
		}
		if o.Decision == Approved && o.Reason != fmt.Sprint("ok ", i) || o.Decision == Denied && o.Reason != fmt.Sprint("no ", i) {
			t.Errorf("request %d: reason %q", i, o.Reason)
		}
	}
	tb.clock.Advance(DefaultTimeout)
	for i, h := range hs {
		if want(i) == Waiting {
			if o := h.outcome(t); o.Decision != TimedOut {
				t.Errorf("request %d: %+v, want a timeout", i, o)
			}
		}
	}
	if got := testutil.ToFloat64(tb.m.Pending); got != 0 {
		t.Errorf("pending gauge = %v", got)
	}
}

// TestOnceGrantUsedOnce: 50 sessions ask for the same once grant at the
// same moment; exactly one gets it, and the grants file no longer has it.
func TestOnceGrantUsedOnce(t *testing.T) {
	dir := t.TempDir()
	tb := newTestBroker(t, Options{StateDir: dir})
	h := tb.hold(t, deleteRequest(fpDelete))
	h.cancel()
	h.outcome(t)
	if _, err := tb.Approve(alice, h.id, Once(), ""); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			if _, ok := tb.check("nightly-etl", "orders-db", fpDelete); ok {
				got.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got.Load() != 1 {
		t.Fatalf("%d Checks got the once grant, want 1", got.Load())
	}
	reopened := newTestBroker(t, Options{StateDir: dir})
	if _, ok := reopened.check("nightly-etl", "orders-db", fpDelete); ok {
		t.Fatal("used once grant still in the grants file")
	}
}
