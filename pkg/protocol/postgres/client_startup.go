package postgres

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/protocol/postgres/wire"
)

// clientStartup runs the client's startup phase up to its StartupMessage:
// SSLRequest (TLS when configured), GSSENCRequest (always refused), and
// CancelRequest, which ends the phase with a cancel to route.
func (h *Handler) clientStartup(c *conn) (*startup, *pgproto3.CancelRequest, error) {
	tlsDone := false
	for {
		body, err := c.r.ReadStartup()
		if err != nil {
			if errors.Is(err, wire.ErrMalformed) {
				return nil, nil, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			return nil, nil, err
		}
		code := binary.BigEndian.Uint32(body)
		switch code {
		case codeSSLRequest:
			if tlsDone || h.clientTLS == nil {
				c.w.Raw([]byte{'N'})
				if err := c.w.Flush(); err != nil {
					return nil, nil, err
				}
				continue
			}
			if c.r.Buffered() > 0 {
				// Bytes after SSLRequest before our answer: a
				// man-in-the-middle injection (CVE-2021-23214).
				return nil, nil, fmt.Errorf("%w: received unencrypted data after SSL request", ErrProtocol)
			}
			c.w.Raw([]byte{'S'})
			if err := c.w.Flush(); err != nil {
				return nil, nil, err
			}
			tc := tls.Server(c.conn, h.clientTLS)
			if err := tc.Handshake(); err != nil {
				return nil, nil, fmt.Errorf("client TLS handshake: %w", err)
			}
			c.use(tc)
			tlsDone = true
		case codeGSSENCRequest:
			c.w.Raw([]byte{'N'})
			if err := c.w.Flush(); err != nil {
				return nil, nil, err
			}
		case codeCancelRequest:
			var m pgproto3.CancelRequest
			if err := m.Decode(body); err != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			return nil, &m, nil
		default:
			st, err := parseStartup(body)
			if err != nil {
				if strings.Contains(err.Error(), "unsupported frontend protocol") {
					return nil, nil, fmt.Errorf("%w: %w", errUnsupported, err)
				}
				return nil, nil, err
			}
			if r := st.params["replication"]; r != "" && r != "false" && r != "off" && r != "no" && r != "0" {
				return nil, nil, fmt.Errorf("%w: replication connections are not supported through sluice", errUnsupported)
			}
			if st.minor > 0 || len(st.unknown) > 0 {
				// Like the server: answer with the version and options
				// we support and go on with 3.0.
				if err := c.w.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: st.unknown}); err != nil {
					return nil, nil, err
				}
			}
			return st, nil, nil
		}
	}
}
