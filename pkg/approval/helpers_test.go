package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/metrics"
)

// fakeClock is a Clock whose time moves only when Advance says.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at   time.Time
	f    func()
	done bool // fired or stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.done
		t.done = true
		return was
	}
}

// Advance moves the time on and runs the timers due, each in a goroutine
// of its own, and waits for them.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range due {
		wg.Go(t.f)
	}
	wg.Wait()
}

// syncBuffer collects events written concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// events returns the events written so far, decoded, of the given type
// ("" for all).
func (s *syncBuffer) events(t *testing.T, name string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if name == "" || ev["event"] == name {
			out = append(out, ev)
		}
	}
	return out
}

// testBroker is a broker with a fake clock, its events and its metrics.
type testBroker struct {
	*Broker
	clock  *fakeClock
	events *syncBuffer
	m      *metrics.Approvals
}

func newTestBroker(t *testing.T, opts Options) *testBroker {
	t.Helper()
	tb := &testBroker{clock: newFakeClock(), events: &syncBuffer{}, m: metrics.NewApprovals()}
	log, err := audit.New(tb.events, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Clock == nil {
		opts.Clock = tb.clock
	}
	opts.Log, opts.Metrics = log, tb.m
	if opts.Approvers.UIDs == nil && opts.Approvers.GIDs == nil {
		opts.Approvers = Approvers{UIDs: []uint32{alice.UID}, GIDs: []uint32{approversGID}}
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tb.Broker = b
	t.Cleanup(b.Close)
	return tb
}

// Approvers of the tests.
const approversGID = 4000

var (
	alice = Approver{UID: 1000, GID: 1000, Name: "alice"}
	bob   = Approver{UID: 1001, GID: 1001, Groups: []uint32{27, approversGID}, Name: "bob"}
	mal   = Approver{UID: 1002, GID: 1002, Groups: []uint32{27}, Name: "mallory"}
	root  = Approver{UID: 0, GID: 0, Name: "root"}
)

// jobUID is the uid the test jobs run as.
const jobUID = 994

// deleteRequest is a held DELETE of the nightly-etl job; fp varies the
// statement's shape.
func deleteRequest(fp string) Request {
	return Request{
		Identity: "nightly-etl", Target: "orders-db", Database: "orders", User: "etl_writer",
		Attribution: identity.Attribution{PID: 23911, UID: jobUID, GID: jobUID, Comm: "orders-sync",
			Exe: "/opt/etl/bin/orders-sync", Cgroup: "/system.slice/nightly-etl.service", Unit: "nightly-etl.service"},
		Session: "6f2e81b0c5d7a493", Statement: "DELETE FROM sales.orders WHERE created < '2020-01-01'",
		Kind: "delete", Command: "DELETE", Reads: []string{"sales.orders"}, Writes: []string{"sales.orders"},
		Policy: "review-writes", Rule: "deletes", Message: "deletes need a second pair of eyes",
		Fingerprint: fp, Exact: Exact("DELETE FROM sales.orders WHERE created < '2020-01-01'", nil),
	}
}

// check is Check for the statement deleteRequest describes, with its
// identity, target and fingerprint replaced.
func (tb *testBroker) check(identity, target, fp string) (*Grant, bool) {
	r := deleteRequest(fp)
	r.Identity, r.Target = identity, target
	return tb.Check(&r)
}

// held is a request being held: its id, and its outcome once Request
// returns.
type held struct {
	id     string
	cancel context.CancelFunc
	out    chan Outcome
}

// hold makes a request in a goroutine and returns once the broker holds
// it.
func (tb *testBroker) hold(t *testing.T, r Request) held {
	t.Helper()
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	changes := tb.Watch(wctx)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := held{cancel: cancel, out: make(chan Outcome, 1)}
	go func() { h.out <- tb.Request(ctx, r) }()
	for c := range changes {
		if c.Kind == ChangeRequested && c.Request.Session == r.Session && c.Request.Fingerprint == r.Fingerprint && c.Request.Identity == r.Identity {
			h.id = c.Request.ID
			return h
		}
	}
	t.Fatal("watch ended before the request was held")
	return h
}

// outcome waits for the held request's outcome.
func (h held) outcome(t *testing.T) Outcome {
	t.Helper()
	select {
	case o := <-h.out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatalf("request %s still held", h.id)
		return Outcome{}
	}
}

// stillHeld fails if the request's outcome is already known.
func (h held) stillHeld(t *testing.T) {
	t.Helper()
	select {
	case o := <-h.out:
		t.Fatalf("request %s ended: %+v", h.id, o)
	default:
	}
}
