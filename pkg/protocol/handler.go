package protocol

import (
	"context"
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
