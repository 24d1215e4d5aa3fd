package postgres

import (
	"context"
	"net"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Refuse turns a client away before its session starts, as a server at
// max_connections does: it answers the startup phase (SSLRequest,
// GSSENCRequest) as Serve would, then reads the StartupMessage and sends
// FATAL 53300 with reason. A CancelRequest is routed all the same: it
// opens no session, and a job at its limit must be able to cancel its own
// queries. The startup phase is bounded by the same timeout and message
// size as a session's.
func (h *Handler) Refuse(ctx context.Context, s *protocol.Session, client net.Conn, dial protocol.Dialer, reason error) {
	c := newConn(client)
	stop := context.AfterFunc(ctx, func() { _ = client.SetDeadline(time.Now()) })
	defer stop()
	_ = client.SetDeadline(time.Now().Add(startupTimeout))
	_, cancelReq, err := h.clientStartup(c)
	if err != nil {
		h.protocolError(c, err)
		return
	}
	if cancelReq != nil {
		_ = h.cancel(ctx, s, cancelReq, dial)
		return
	}
	e := fatal(codeTooManyConnections, "sluice refuses the session: %s", reason.Error())
	e.Hint = "Close sessions this job holds open, or raise max_sessions in sluice's configuration."
	_ = c.w.Send(e)
	_ = c.w.Flush()
}
