package tcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Handler relays a connection unchanged.
type Handler struct{}

var _ protocol.Handler = Handler{}

// Serve dials the upstream and copies both ways until both directions are
// done. When one side stops sending, the other side's write half is closed
// so request/response protocols that rely on half-close keep working.
func (Handler) Serve(ctx context.Context, s *protocol.Session, client net.Conn, dial protocol.Dialer) (protocol.Result, error) {
	defer client.Close()
	up, err := dial(ctx)
	if err != nil {
		return protocol.Result{}, fmt.Errorf("tcp: dial upstream: %w", err)
	}
	defer up.Close()
	return Relay(ctx, client, up)
}

// Relay copies between a and b (a is the client) until both directions end
// or ctx is cancelled. On Linux, TCP to TCP copies use splice(2).
func Relay(ctx context.Context, client, upstream net.Conn) (protocol.Result, error) {
	var res protocol.Result
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		res.BytesUp, errs[0] = pipe(upstream, client)
	}()
	go func() {
		defer wg.Done()
		res.BytesDown, errs[1] = pipe(client, upstream)
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		client.Close()
		upstream.Close()
		<-done
		return res, ctx.Err()
	}
	return res, errors.Join(errs...)
}

// pipe copies src to dst; at EOF it half-closes dst. On an error it closes
// both so the other direction ends too.
func pipe(dst, src net.Conn) (int64, error) {
	n, err := io.Copy(dst, src)
	if err != nil {
		if isClosed(err) {
			err = nil
		}
		dst.Close()
		src.Close()
		return n, err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
	return n, nil
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || isReset(err)
}
