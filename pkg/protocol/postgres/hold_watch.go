package postgres

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// holdGate is where a CancelRequest for the session finds the statement
// it holds for approval, if any. Safe for concurrent use.
type holdGate struct {
	mu     sync.Mutex
	cancel context.CancelCauseFunc // set while a statement is held
}

// open marks a statement held; cancel withdraws it.
func (g *holdGate) open(cancel context.CancelCauseFunc) {
	g.mu.Lock()
	g.cancel = cancel
	g.mu.Unlock()
}

// close marks the hold over.
func (g *holdGate) close() {
	g.mu.Lock()
	g.cancel = nil
	g.mu.Unlock()
}

// interrupt withdraws the held statement, as a CancelRequest does, and
// reports whether one was held. When none is, the cancel is for a
// statement the server runs.
func (g *holdGate) interrupt() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel == nil {
		return false
	}
	g.cancel(errCancelRequested)
	return true
}

// watchHold ends the hold (cancel, with the reason as cause) when the
// client closes its connection or the server's side of the session ends.
// The client's connection is watched without reading from it: bytes the
// client pipelined behind the held statement stay in the socket, in
// order, and cost sluice no memory. stop ends the watch; it returns once
// nothing watches the connection any more.
func (ss *session) watchHold(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ss.upDone:
			cancel(errUpstreamGone)
		case <-ctx.Done():
		case <-done:
		}
	}()
	nc := ss.c.counted.Conn
	sc, ok := nc.(syscall.Conn)
	var raw syscall.RawConn
	if ok {
		var err error
		if raw, err = sc.SyscallConn(); err != nil {
			ok = false
		}
	}
	if ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if peerClosed(raw) {
				cancel(errClientGone)
			}
		}()
	}
	return func() {
		close(done)
		if ok {
			// Wake the watcher, then give the connection back to the
			// client side as it was: without a deadline, unless the
			// server's side ended meanwhile and set one to end the session.
			_ = nc.SetReadDeadline(time.Unix(1, 0))
		}
		wg.Wait()
		if ok && !ss.upGone.Load() {
			_ = nc.SetReadDeadline(time.Time{})
		}
	}
}

// TCP states (include/net/tcp_states.h) in which the peer has sent its
// FIN, or the connection is gone.
const (
	tcpClose     = 7
	tcpCloseWait = 8
	tcpLastAck   = 9
	tcpClosing   = 11
)

// peerClosed waits until the peer of a TCP socket closed its side (FIN)
// or reset the connection, and reports true; false when the wait was
// ended by a read deadline or the socket's closing. It never consumes
// bytes: it peeks, and asks the kernel for the connection's state.
func peerClosed(raw syscall.RawConn) bool {
	closed := false
	err := raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			return false // nothing yet: wait for the socket to change
		case err != nil || n == 0:
			closed = true // reset, or end of stream
			return true
		}
		// Bytes are waiting (pipelined by the client): a FIN may be
		// behind them.
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil {
			switch info.State {
			case tcpClose, tcpCloseWait, tcpLastAck, tcpClosing:
				closed = true
				return true
			}
		}
		return false
	})
	return closed && (err == nil || !errors.Is(err, net.ErrClosed))
}
