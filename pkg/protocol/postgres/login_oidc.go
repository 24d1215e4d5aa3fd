package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// TokenVerifier checks an OIDC token a client sent as its password
// (auth: oidc). The inspector knows nothing of issuers or keys.
//
// Contract: VerifyToken returns what the token says when it is valid and
// the connection's identity (s.Identity, from the kernel) may present it,
// or an error whose message is fit for the client and the events: it
// never holds the token. SessionExpired is called, once, when the token of
// a session expires; the inspector then ends the session unless the
// token's Keep is set. Both must be safe for concurrent use.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string, s *protocol.Session) (*identity.OIDC, error)
	SessionExpired(s *protocol.Session)
}

// tokenRefused is a token the verifier refused; its text is the
// verifier's, fit for the client.
type tokenRefused struct{ err error }

func (e *tokenRefused) Error() string { return "postgres: " + e.err.Error() }
func (e *tokenRefused) Unwrap() error { return e.err }

// clientToken asks the client for its password (AuthenticationCleartext-
// Password) and verifies it as an OIDC token. It returns the session as
// the token makes it: the token's identity, with the kernel's kept in
// KernelIdentity and the token's claims in the attribution.
func (h *Handler) clientToken(ctx context.Context, s *protocol.Session, c *conn) (*protocol.Session, error) {
	if err := c.w.Send(&pgproto3.AuthenticationCleartextPassword{}); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	typ, body, err := c.r.Next()
	if err != nil {
		return nil, err
	}
	if typ != 'p' {
		return nil, fmt.Errorf("%w: expected a password message, got %q", ErrProtocol, typ)
	}
	var pw pgproto3.PasswordMessage
	if err := pw.Decode(body); err != nil {
		return nil, fmt.Errorf("%w: malformed password message", ErrProtocol)
	}
	if h.deps.Tokens == nil {
		return nil, &tokenRefused{errors.New("OIDC tokens cannot be verified here")}
	}
	o, err := h.deps.Tokens.VerifyToken(ctx, pw.Password, s)
	if err != nil {
		return nil, &tokenRefused{err}
	}
	ts := *s
	ts.KernelIdentity, ts.Identity = s.Identity, o.Identity
	ts.Attribution.OIDC = o
	return &ts, nil
}

// expireAt ends the session when its token expires, unless the token
// keeps sessions; it reports the expiry either way. The returned function
// stops the timer.
func (h *Handler) expireAt(s *protocol.Session, end func()) (stop func() bool) {
	o := s.Attribution.OIDC
	return afterWall(o.Expires, func() {
		if h.deps.Tokens != nil {
			h.deps.Tokens.SessionExpired(s)
		}
		if !o.Keep {
			end()
		}
	})
}

// wallCheck is how often a wall-clock timer looks at the wall clock.
const wallCheck = time.Minute

// afterWall calls f in its own goroutine once the wall clock reaches at.
// Go's timers run on the monotonic clock, which stands still while the
// host is suspended or the VM paused: a timer set for a token's exp would
// honour it for as long again after such a pause. This one looks at the
// wall clock at least every wallCheck. stop reports whether it stopped
// the call.
func afterWall(at time.Time, f func()) (stop func() bool) {
	var mu sync.Mutex
	var t *time.Timer
	done := false
	var check func()
	arm := func() {
		t = time.AfterFunc(min(max(time.Until(at), 0), wallCheck), check)
	}
	check = func() {
		mu.Lock()
		if done {
			mu.Unlock()
			return
		}
		if time.Until(at) > 0 {
			arm()
			mu.Unlock()
			return
		}
		done = true
		mu.Unlock()
		f()
	}
	mu.Lock()
	arm()
	mu.Unlock()
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return false
		}
		done = true
		t.Stop()
		return true
	}
}
