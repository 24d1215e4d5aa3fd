package protocol

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/sluicehq/sluice/pkg/identity"
)

// Session describes one intercepted connection.
type Session struct {
	ID       string // unique per connection; carried by every event
	Identity string // configured identity name
	// KernelIdentity is the identity the kernel tagged the connection
	// with, when a token the client presented (PostgreSQL auth: oidc)
	// gave the session another one; "" otherwise.
	KernelIdentity string
	Attribution    identity.Attribution // from the kernel
	Target         string               // configured target name; "" for plain egress
	Dst            netip.AddrPort       // the original destination
	Src            netip.AddrPort       // the client's address, as the proxy accepted it
	Started        time.Time
}

// Dialer opens a connection to the session's upstream. The proxy's dialer
// marks its sockets so they are never intercepted themselves.
type Dialer func(ctx context.Context) (net.Conn, error)

// Result is what a Handler reports when a session ends.
type Result struct {
	BytesUp   int64 // client to upstream
	BytesDown int64 // upstream to client
}

// Handler serves one intercepted connection.
//
// Contract: Serve owns client and must close it before returning. It dials
// the upstream with dial when (and if) it needs it, and closes that
// connection too. It returns when the session is over: either peer closed,
// an error occurred, or ctx was cancelled (daemon shutdown), in which case
// it must unblock promptly. The error is nil for an orderly end.
//
// A Handler that holds resources its sessions share (connection pools)
// also implements io.Closer. Its owner calls Close once no new session
// will be routed to it: when a configuration reload replaces it, or at
// shutdown. Close must not end sessions in progress; what they share is
// released when the last of them ends.
type Handler interface {
	Serve(ctx context.Context, s *Session, client net.Conn, dial Dialer) (Result, error)
}

// Refuser is implemented by a Handler that can turn a connection away in
// its protocol's own terms, before any session starts (the proxy refuses
// a connection that would exceed a session limit).
//
// Contract: Refuse tells the client that its session is refused and why
// (reason's text is written for the client: it names the limit, never a
// secret), without opening a session upstream, and returns when client
// may be closed; the caller closes it. Refuse bounds the time and memory
// a client can make it spend, and unblocks when ctx is cancelled. It may
// still serve, with dial, what the protocol lets through without a
// session: a PostgreSQL CancelRequest is routed, so that a job at its
// limit can cancel its own queries. It returns false when it served such
// a request (the connection asked for no session, and it is not counted
// as refused), true otherwise.
type Refuser interface {
	Refuse(ctx context.Context, s *Session, client net.Conn, dial Dialer, reason error) (refused bool)
}

// ErrTooManySessions is wrapped by the reason a connection is refused with
// when a session limit (max_sessions) is reached.
var ErrTooManySessions = errors.New("too many sessions")
