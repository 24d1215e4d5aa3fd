package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
)

// fakeBroker is an Approvals for unit tests: every request is handed to
// the test (next), which decides it; grants are given by fingerprint.
type fakeBroker struct {
	t       testing.TB
	reqs    chan *heldRequest
	mu      sync.Mutex
	grants  map[string]*approval.Grant // by fingerprint
	checked []string                   // fingerprints asked about
	n       int
}

// heldRequest is one Request call, waiting for the test.
type heldRequest struct {
	r      approval.Request
	id     string
	ctx    context.Context
	decide chan approval.Outcome
	ended  chan approval.Outcome // what Request returned
}

func newFakeBroker(t testing.TB) *fakeBroker {
	return &fakeBroker{t: t, reqs: make(chan *heldRequest, 64), grants: map[string]*approval.Grant{}}
}

func (b *fakeBroker) Check(r *approval.Request) (*approval.Grant, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checked = append(b.checked, r.Fingerprint)
	g, ok := b.grants[r.Fingerprint]
	if ok && g.Once {
		delete(b.grants, r.Fingerprint)
	}
	return g, ok
}

func (b *fakeBroker) Request(ctx context.Context, r approval.Request) approval.Outcome {
	b.mu.Lock()
	b.n++
	h := &heldRequest{r: r, id: fmt.Sprintf("req%013d", b.n), ctx: ctx, decide: make(chan approval.Outcome, 1), ended: make(chan approval.Outcome, 1)}
	b.mu.Unlock()
	b.reqs <- h
	var o approval.Outcome
	select {
	case o = <-h.decide:
	case <-ctx.Done():
		o = approval.Outcome{Decision: approval.Withdrawn, Message: "the client gave up waiting"}
	}
	o.ID = h.id
	h.ended <- o
	return o
}

// next waits for the next request.
func (b *fakeBroker) next() *heldRequest {
	b.t.Helper()
	select {
	case h := <-b.reqs:
		return h
	case <-time.After(ioTimeout):
		b.t.Fatalf("no approval request within %v", ioTimeout)
		return nil
	}
}

// none checks that no request is waiting.
func (b *fakeBroker) none() {
	b.t.Helper()
	select {
	case h := <-b.reqs:
		b.t.Fatalf("unexpected approval request for %q", h.r.Statement)
	default:
	}
}

func (b *fakeBroker) grant(fingerprint string, g *approval.Grant) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.grants[fingerprint] = g
}

var approverAlice = approval.Approver{UID: 1001, GID: 1001, Name: "alice"}

func (h *heldRequest) approve(once bool) {
	a := approverAlice
	g := &approval.Grant{Request: h.id, Identity: h.r.Identity, Target: h.r.Target, Fingerprint: h.r.Fingerprint, Once: once, Approver: a, Reason: "ticket 42"}
	h.decide <- approval.Outcome{Decision: approval.Approved, Approver: &a, Reason: "ticket 42", Grant: g}
}

func (h *heldRequest) deny(reason string) {
	a := approverAlice
	h.decide <- approval.Outcome{Decision: approval.Denied, Approver: &a, Reason: reason, Message: "denied by alice (uid 1001): " + reason}
}

func (h *heldRequest) timeout() {
	h.decide <- approval.Outcome{Decision: approval.TimedOut, Message: approval.TimeoutMessage(h.id, 10*time.Minute)}
}

// outcome waits for what Request returned.
func (h *heldRequest) outcome(t testing.TB) approval.Outcome {
	t.Helper()
	select {
	case o := <-h.ended:
		return o
	case <-time.After(ioTimeout):
		t.Fatalf("request %s still held after %v", h.id, ioTimeout)
		return approval.Outcome{}
	}
}
