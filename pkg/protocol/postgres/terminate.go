package postgres

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/record"
)

// codeAdminShutdown is what PostgreSQL sends a session it terminates from
// outside (pg_terminate_backend, a fast shutdown); sluice sends it to a
// session it ends because the OIDC token of its identity expired, or
// because sluiced stops.
const codeAdminShutdown = "57P01"

// endGrace bounds how long a session being ended waits for the upstream
// side to tell the client why (it may be writing a large row to a client
// that does not read, or waiting for a catalog lookup) before both
// connections are closed.
const endGrace = 5 * time.Second

// terminated is the error of a session sluice ended from outside: its
// FATAL for the client, and the end reason of its recording.
type terminated struct {
	reason string // the recording's end reason
	fatal  *pgproto3.ErrorResponse
	err    error // for events: what ended the session
}

func (t *terminated) Error() string { return "the session was ended: " + t.err.Error() }
func (t *terminated) Unwrap() error { return t.err }

// tokenExpired is the ending of a session whose identity's OIDC token
// expired: as a job's binding (sluice run --oidc-token-file) or as the
// password of the session (auth: oidc, with the kernel's identity in
// kernelIdentity).
func tokenExpired(o *identity.OIDC, kernelIdentity string) *terminated {
	at := o.Expires.UTC().Format(time.RFC3339)
	hint := "Refresh the job's token (sluice run --refresh), then connect again."
	if kernelIdentity != "" {
		hint = "Connect again with a valid token as the password."
	}
	return &terminated{
		reason: "token_expired",
		fatal: &pgproto3.ErrorResponse{
			Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: codeAdminShutdown,
			Message: fmt.Sprintf("terminating connection because the OIDC token of identity %q expired at %s", o.Identity, at),
			Detail:  "sluice ends the sessions of an identity claimed with an OIDC token when the token expires.",
			Hint:    hint,
		},
		err: fmt.Errorf("%w at %s", identity.ErrExpired, at),
	}
}

// errShutdown is what ends the sessions of a sluiced that stops.
var errShutdown = errors.New("sluiced is shutting down")

// shuttingDown is the ending of every session when sluiced stops: the
// client is told, as PostgreSQL tells its clients at a fast shutdown,
// rather than finding its connection closed.
func shuttingDown() *terminated {
	return &terminated{
		reason: record.ReasonShutdown,
		fatal: &pgproto3.ErrorResponse{
			Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: codeAdminShutdown,
			Message: "terminating connection because sluiced is shutting down",
			Detail:  "A statement still running is cancelled on the server; an open transaction is rolled back.",
			Hint:    "Connect again once sluiced is back.",
		},
		err: errShutdown,
	}
}

// unsafeSettingEnd is the ending of a session whose server reported a
// setting under which sluice cannot read its statements as the server
// does (sqlclass.UnsafeSetting).
func unsafeSettingEnd(why string) *terminated {
	return &terminated{
		reason: "unsafe_setting",
		fatal: &pgproto3.ErrorResponse{
			Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: codeInsufficientPrivilege,
			Message: "terminating connection: " + why,
			Hint:    unsafeSettingHint,
		},
		err: &unsafeSetting{why: why},
	}
}

// protocolLost is the ending of a session whose server answered a request
// sluice did not see it answer (front: the oldest pending request, nil if
// none): the client is told, the session ends.
func protocolLost(front *pending) *terminated {
	what := "no request"
	if front != nil {
		what = fmt.Sprintf("a %q message", front.kind)
	}
	return &terminated{
		reason: "protocol_error",
		fatal: &pgproto3.ErrorResponse{
			Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: codeProtocolViolation,
			Message: "terminating connection: protocol synchronization was lost (the server's ReadyForQuery answered " + what + ")",
		},
		err: fmt.Errorf("%w: the server's ReadyForQuery answered %s", ErrProtocol, what),
	}
}

// ending ends a session from outside its two goroutines (an expiry timer,
// the proxy's context), without writing to the client itself: the
// upstream side owns the client's writer, and it writes the FATAL between
// two messages, never inside one it relays. ending wakes it when it waits
// for the server, and closes both connections if it has not finished
// within endGrace. A session ended during its login is told as soon as it
// runs, if the login finishes within endGrace; its client's connection is
// closed otherwise. Safe for concurrent use.
type ending struct {
	set atomic.Bool // why is set: the upstream side checks at each message

	mu      sync.Mutex
	why     *terminated
	closers []func() // hard close: the client's connection, then the upstream's
	up      net.Conn // the upstream transport, once the session runs
	waiting bool     // the upstream side waits for the server's next message
	timer   *time.Timer
	closed  bool
}

// newEnding returns the ending of a session whose client connection
// closeClient closes.
func newEnding(closeClient func()) *ending {
	return &ending{closers: []func(){closeClient}}
}

// run marks the session running over the upstream transport up: an end
// from now on is told to the client. It reports false if the session was
// already closed.
func (e *ending) run(up net.Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.up = up
	e.closers = append(e.closers, func() { _ = up.Close() })
	return !e.closed
}

// end ends the session for why; the first call wins (see ending).
func (e *ending) end(why *terminated) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.why != nil || e.closed {
		return
	}
	e.why = why
	e.set.Store(true)
	if e.waiting {
		_ = e.up.SetReadDeadline(time.Unix(1, 0))
	}
	e.timer = time.AfterFunc(endGrace, e.close)
}

// close closes the session's connections at once.
func (e *ending) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closeLocked()
}

func (e *ending) closeLocked() {
	if e.closed {
		return
	}
	e.closed = true
	for _, c := range e.closers {
		c()
	}
}

// stop is called when the session is over: the grace timer is not needed.
func (e *ending) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
	}
}

// wait is called by the upstream side before it blocks for the server's
// next message. It reports false when the session is being ended.
func (e *ending) wait() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.why != nil {
		return false
	}
	e.waiting = true
	return true
}

// woke is called when that wait is over: a header came in (ok) or the
// read failed. A header that came in just as the session was being ended
// is read to its end: the deadline that was to wake the wait is lifted.
func (e *ending) woke(ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waiting = false
	if ok && e.why != nil {
		_ = e.up.SetReadDeadline(time.Time{})
	}
}

// reason returns why the session is being ended, or nil.
func (e *ending) reason() *terminated {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.why
}
