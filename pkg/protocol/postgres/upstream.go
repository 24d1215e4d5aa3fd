package postgres

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// dialUpstream connects to the upstream and negotiates TLS as configured.
func (h *Handler) dialUpstream(ctx context.Context, dial protocol.Dialer) (*conn, error) {
	nc, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to upstream: %w", err)
	}
	c := newConn(nc)
	if deadline, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	}
	if h.upTLS == nil {
		return c, nil
	}
	var req [8]byte
	binary.BigEndian.PutUint32(req[:4], 8)
	binary.BigEndian.PutUint32(req[4:], codeSSLRequest)
	c.w.Raw(req[:])
	if err := c.w.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("upstream SSLRequest: %w", err)
	}
	var answer [1]byte
	if _, err := io.ReadFull(nc, answer[:]); err != nil {
		nc.Close()
		return nil, fmt.Errorf("upstream SSLRequest: %w", err)
	}
	if answer[0] != 'S' {
		nc.Close()
		return nil, fmt.Errorf("upstream refused TLS (tls: %s is configured)", h.opts.TLS)
	}
	tc := tls.Client(c.counted, h.upTLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	c.use(tc)
	return c, nil
}

// sendStartup writes a protocol 3.0 StartupMessage.
func sendStartup(c *conn, params map[string]string) error {
	if err := c.w.Send(&pgproto3.StartupMessage{ProtocolVersion: protocol30, Parameters: params}); err != nil {
		return err
	}
	return c.w.Flush()
}

// authRequest decodes an Authentication* message body.
func authRequest(body []byte) (pgproto3.BackendMessage, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("%w: short authentication message", ErrProtocol)
	}
	var m interface {
		pgproto3.BackendMessage
		Decode([]byte) error
	}
	switch t := binary.BigEndian.Uint32(body); t {
	case pgproto3.AuthTypeOk:
		m = &pgproto3.AuthenticationOk{}
	case pgproto3.AuthTypeCleartextPassword:
		m = &pgproto3.AuthenticationCleartextPassword{}
	case pgproto3.AuthTypeMD5Password:
		m = &pgproto3.AuthenticationMD5Password{}
	case pgproto3.AuthTypeSASL:
		m = &pgproto3.AuthenticationSASL{}
	case pgproto3.AuthTypeSASLContinue:
		m = &pgproto3.AuthenticationSASLContinue{}
	case pgproto3.AuthTypeSASLFinal:
		m = &pgproto3.AuthenticationSASLFinal{}
	default:
		return nil, fmt.Errorf("%w: authentication method %d (GSSAPI, SSPI) is not supported through sluice", errUnsupported, t)
	}
	if err := m.Decode(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return m, nil
}

// decodeError decodes an ErrorResponse body.
func decodeError(body []byte) *pgproto3.ErrorResponse {
	var e pgproto3.ErrorResponse
	if err := e.Decode(body); err != nil {
		return fatal(codeProtocolViolation, "malformed error from the upstream")
	}
	return &e
}

// closeQuietly closes c, ignoring errors (teardown paths).
func closeQuietly(c net.Conn) { _ = c.Close() }

// inClear reports whether what sluice sends on up crosses a network in
// clear: no TLS (tls: disable), and an upstream not on a loopback address.
func (h *Handler) inClear(up *conn) bool {
	if h.opts.TLS != config.TLSDisable {
		return false
	}
	ap, err := netip.ParseAddrPort(up.counted.RemoteAddr().String())
	return err != nil || !ap.Addr().Unmap().IsLoopback()
}
