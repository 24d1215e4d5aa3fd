package postgres

import (
	"net"
	"sync/atomic"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/wire"
)

// counted counts the bytes read from a connection.
type counted struct {
	net.Conn
	read int64
}

func (c *counted) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	atomic.AddInt64(&c.read, int64(n))
	return n, err
}

// conn is one leg of a session with its framing.
type conn struct {
	conn    net.Conn // the current transport (a *tls.Conn after TLS)
	counted *counted
	r       *wire.Reader
	w       *wire.Writer
}

func newConn(nc net.Conn) *conn {
	c := &conn{counted: &counted{Conn: nc}}
	c.use(c.counted)
	return c
}

// use switches the transport (after a TLS handshake).
func (c *conn) use(nc net.Conn) {
	c.conn = nc
	c.r = wire.NewReader(nc, 1<<20)
	c.w = wire.NewWriter(nc)
}

func (c *conn) result() protocol.Result {
	return protocol.Result{BytesUp: atomic.LoadInt64(&c.counted.read)}
}

// BytesRead returns the bytes read so far.
func (c *counted) BytesRead() int64 { return atomic.LoadInt64(&c.read) }
