package postgres

import (
	"context"
	"net"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// refuseTimeout bounds a refused client's startup phase: a client turned
// away gets less time than one let in (startupTimeout).
const refuseTimeout = 5 * time.Second

// Refuse turns a client away before its session starts, as a server at
// max_connections does: it answers the startup phase (SSLRequest,
// GSSENCRequest) as Serve would, then reads the StartupMessage and sends
// FATAL 53300 with reason. A CancelRequest is routed all the same: it
// opens no session, and a job at its bound must be able to cancel its own
// queries; Refuse then returns false. The startup phase is bounded by
// refuseTimeout and the startup message size.
func (h *Handler) Refuse(ctx context.Context, s *protocol.Session, client net.Conn, dial protocol.Dialer, reason error) bool {
	c := newConn(client)
	// The deadline first: a context cancelled before Refuse starts must
	// not see its deadline pushed back.
	_ = client.SetDeadline(time.Now().Add(refuseTimeout))
	stop := context.AfterFunc(ctx, func() { _ = client.SetDeadline(time.Now()) })
	defer stop()
	_, cancelReq, err := h.clientStartup(c)
	if err != nil {
		h.protocolError(c, err)
		return true
	}
	if cancelReq != nil {
		_ = h.cancel(ctx, s, cancelReq, dial)
		return false
	}
	e := fatal(codeTooManyConnections, "sluice refuses the session: %s", reason.Error())
	e.Hint = "Sessions open through sluice have reached a max_sessions bound of its configuration: end some, or raise the bound."
	_ = c.w.Send(e)
	_ = c.w.Flush()
	return true
}
