package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// cancelKey is a backend's process id and secret key.
type cancelKey struct {
	pid    uint32
	secret []byte
}

// cancelEntry is what a client's cancel key stands for.
type cancelEntry struct {
	identity string
	session  string
	dst      netip.AddrPort
	upstream cancelKey
	started  time.Time
	hold     *holdGate // the session's statement held for approval, if any
}

// Cancels maps the cancel keys sluice hands to clients to upstream
// backends. Clients never see an upstream's key: a CancelRequest (which
// arrives on a new connection, itself redirected) is routed only when its
// key is known, it comes from the same identity and it is sent to the same
// destination as the session it cancels. Safe for concurrent use; shared by
// every PostgreSQL target.
type Cancels struct {
	mu sync.Mutex
	m  map[uint64]cancelEntry
}

// NewCancels returns an empty registry.
func NewCancels() *Cancels { return &Cancels{m: map[uint64]cancelEntry{}} }

// register stores e under a fresh random key.
func (c *Cancels) register(e cancelEntry) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		k := binary.BigEndian.Uint64(b[:])
		// A process id of 0 confuses some clients.
		if k>>32 == 0 {
			continue
		}
		if _, dup := c.m[k]; !dup {
			c.m[k] = e
			return k
		}
	}
}

func (c *Cancels) lookup(k uint64) (cancelEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *Cancels) remove(k uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// Len returns how many sessions can be cancelled.
func (c *Cancels) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// cancel routes a CancelRequest. Like the server, it never answers the
// client; the outcome is an event.
func (h *Handler) cancel(ctx context.Context, s *protocol.Session, req *pgproto3.CancelRequest, dial protocol.Dialer) error {
	var e cancelEntry
	ok := false
	if len(req.SecretKey) == 4 {
		e, ok = h.deps.Cancels.lookup(uint64(req.ProcessID)<<32 | uint64(binary.BigEndian.Uint32(req.SecretKey)))
	}
	ev := func(outcome, reason string) {
		l := h.deps.Log.Event(audit.DBCancel)
		if outcome != "routed" {
			l = h.deps.Log.Warn(audit.DBCancel)
		}
		l = s.Fields(l).Str("outcome", outcome)
		if ok {
			l = l.Str("cancelled_session", e.session)
		}
		if reason != "" {
			l = l.Str("reason", reason)
		}
		l.Msg("cancel request")
	}
	switch {
	case !ok:
		ev("refused", "unknown cancel key")
		return nil
	case e.identity != s.Identity:
		ev("refused", fmt.Sprintf("the session belongs to identity %q", e.identity))
		return nil
	case e.dst != s.Dst:
		ev("refused", "sent to "+s.Dst.String()+", the session's destination is "+e.dst.String())
		return nil
	case e.hold != nil && e.hold.interrupt():
		// The statement to cancel is held for approval, not running: its
		// request is withdrawn and the server is not bothered.
		ev("withdrawn", "the statement was held for approval; its request is withdrawn")
		return nil
	}
	if err := h.sendCancel(ctx, dial, e.upstream); err != nil {
		ev("failed", err.Error())
		return err
	}
	ev("routed", "")
	return nil
}

// sendCancel sends the server a CancelRequest for the backend key, over a
// new connection.
func (h *Handler) sendCancel(ctx context.Context, dial protocol.Dialer, key cancelKey) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	up, err := h.dialUpstream(ctx, dial)
	if err != nil {
		return err
	}
	defer up.conn.Close()
	if err := up.w.Send(&pgproto3.CancelRequest{ProcessID: key.pid, SecretKey: key.secret}); err != nil {
		return err
	}
	if err := up.w.Flush(); err != nil {
		return err
	}
	// The server closes the connection when it has read the request.
	var b [1]byte
	_ = up.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = up.conn.Read(b[:])
	return nil
}

// cancelRunning cancels what the server runs for a session sluice ends
// (why), even once the session's context is done: a db.cancel event of
// the session says how it went.
func (ss *session) cancelRunning(why *terminated) {
	if ss.up.key == nil {
		return
	}
	outcome, l := "routed", ss.h.deps.Log.Event(audit.DBCancel)
	err := ss.h.sendCancel(context.WithoutCancel(ss.ctx), ss.dial, *ss.up.key)
	if err != nil {
		outcome, l = "failed", ss.h.deps.Log.Warn(audit.DBCancel)
	}
	l = ss.s.Fields(l).Str("outcome", outcome).Str("cancelled_session", ss.s.ID).Str("reason", why.Error())
	if err != nil {
		l = l.Str("error", err.Error())
	}
	l.Msg("cancel request")
}
