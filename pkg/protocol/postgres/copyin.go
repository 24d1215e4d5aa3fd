package postgres

import (
	"fmt"
	"sync/atomic"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// While a server is in COPY IN (after COPY ... FROM STDIN), it ignores the
// Sync and Flush messages a client sends, which then get no
// ReadyForQuery. Whether a statement starts COPY IN is the server's call
// (it may fail first), so the client side, after forwarding a statement
// that may, waits for the server's answer before it reads the client's
// next message: until CopyDone or CopyFail it then passes Sync and Flush
// on without expecting an answer, and refuses any other request, as the
// server would.

// copyGate carries the server's answer from the upstream side to the
// client side waiting for it.
type copyGate struct {
	armed atomic.Pointer[pending] // the request that may start COPY IN
	ch    chan bool               // true: COPY IN started
}

func newCopyGate() copyGate { return copyGate{ch: make(chan bool, 1)} }

// arm makes p the request whose answer the client side waits for.
func (g *copyGate) arm(p *pending) { g.armed.Store(p) }

// answer gives the answer for p, if it is the armed request and has not
// had one (upstream side).
func (g *copyGate) answer(p *pending, started bool) {
	if p != nil && g.armed.CompareAndSwap(p, nil) {
		g.ch <- started
	}
}

// watchCopy answers the armed request after upstream message typ: COPY IN
// started when CopyInResponse answers it, not if it is answered otherwise
// (an error, the end of its query or its Execute).
func (ss *session) watchCopy(typ byte) {
	armed := ss.copy.armed.Load()
	if armed == nil {
		return
	}
	switch {
	case typ == 'G' && ss.q.front() == armed:
		ss.copy.answer(armed, true)
	case !ss.q.contains(armed):
		ss.copy.answer(armed, false)
	}
}

// startsCopyIn reports whether any of the statements of a request that
// runs is COPY ... FROM STDIN.
func startsCopyIn(as []*audited) bool {
	for _, a := range as {
		if a.st.Kind == sqlclass.KindCopyFrom {
			return true
		}
	}
	return false
}

// forward queues p and frames its request (typ, body) for the server; when
// the request may start COPY IN, it waits for the server's answer. The
// gate is armed before the request is framed: a long one is written out
// as it is framed, and the server may answer it at once.
func (ss *session) forward(p *pending, typ byte, body []byte) error {
	ss.q.push(p)
	if p.denied != nil || !startsCopyIn(p.stmts) {
		ss.up.w.Frame(typ, body)
		return nil
	}
	ss.copy.arm(p)
	ss.up.w.Frame(typ, body)
	if err := ss.up.w.Flush(); err != nil {
		return err
	}
	select {
	case started := <-ss.copy.ch:
		ss.copyIn = started
		return nil
	case <-ss.upDone:
		return errUpstreamGone
	}
}

// copyInMessage handles client message typ while the server is in COPY
// IN; it reports whether typ was handled.
func (ss *session) copyInMessage(typ byte, n int) (bool, error) {
	switch typ {
	case 'd', 'S', 'H':
		return true, ss.c.r.Copy(ss.up.w, typ, n)
	case 'c', 'f':
		ss.copyIn = false
		return true, ss.c.r.Copy(ss.up.w, typ, n)
	case 'X':
		return false, nil
	}
	return true, fmt.Errorf("%w: unexpected message type %q during COPY from stdin", ErrProtocol, typ)
}
