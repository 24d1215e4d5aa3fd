package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxRequest bounds one request line.
const maxRequest = 64 << 10

// Peer is the caller as the kernel reports it.
type Peer struct {
	PID int32
	UID uint32
	GID uint32
	// Groups are the caller's supplementary groups when it connected.
	Groups []uint32
	// start is when the process PID named started, read when the
	// connection was accepted (see Current); 0 when unknown.
	start uint64
}

// Handler answers requests.
//
// Contract: Handle is called concurrently, once per request, with the
// caller's kernel credentials. It must authorize the request itself and must
// not block longer than the operation needs (the caller waits).
type Handler interface {
	Handle(ctx context.Context, peer Peer, req Request) Response
}

// Streamer is implemented by a Handler that answers the streaming
// operations (see Streaming).
//
// Contract: Stream is called instead of Handle, once per such request,
// with the caller's kernel credentials; it must authorize the request
// itself. It sends responses with send, one JSON line each, and returns
// when it is done, when ctx ends (the caller closed the connection or
// sent more data, or the server is stopping) or when send fails (the
// caller stopped reading for 10 seconds). An error it returns reaches the
// caller as a last response.
type Streamer interface {
	Stream(ctx context.Context, peer Peer, req Request, send func(Response) error) error
}

// Server serves a control socket.
type Server struct {
	ln      *net.UnixListener
	path    string
	handler Handler
	wg      sync.WaitGroup
	conns   connLimits
}

// Bounds on the connections of users other than root, which anyone can
// open: one user, and all of them, hold at most this many at once, so
// that a flood cannot take the daemon's file descriptors. Root is not
// counted.
const (
	maxConnsPerUID = 32
	maxConns       = 512
)

// connLimits counts open connections by uid.
type connLimits struct {
	mu    sync.Mutex
	byUID map[uint32]int
	total int
}

// take counts a connection of uid, or reports false when uid or all users
// are at their bound.
func (l *connLimits) take(uid uint32) bool {
	if uid == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUID[uid] >= maxConnsPerUID || l.total >= maxConns {
		return false
	}
	if l.byUID == nil {
		l.byUID = map[uint32]int{}
	}
	l.byUID[uid]++
	l.total++
	return true
}

func (l *connLimits) release(uid uint32) {
	if uid == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUID[uid]--; l.byUID[uid] <= 0 {
		delete(l.byUID, uid)
	}
	l.total--
}

// Listen creates the socket at path (replacing a stale one), world-
// connectable: authorization is per operation, by SO_PEERCRED.
func Listen(path string, h Handler) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return &Server{ln: ln, path: path, handler: h}, nil
}

// removeStale removes a socket file nobody is listening on; a live daemon's
// socket is an error.
func removeStale(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control: %s: another daemon is running", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control: remove stale socket: %w", err)
	}
	return nil
}

// Serve handles connections until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	defer func() {
		s.wg.Wait()
		os.Remove(s.path)
	}()
	var delay time.Duration
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("control: accept: %w", err)
			}
			// Out of file descriptors and such: back off and keep
			// serving; the sessions do not depend on this socket.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	peer, err := peerCred(c)
	if err != nil {
		writeResponse(c, Response{Error: "cannot identify caller: " + err.Error()})
		return
	}
	if !s.conns.take(peer.UID) {
		writeResponse(c, Response{Error: fmt.Sprintf("too many control connections open (at most %d per user, %d for all users but root)", maxConnsPerUID, maxConns)})
		return
	}
	defer s.conns.release(peer.UID)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, err := decodeRequest(bufio.NewReaderSize(c, 4096))
	if err != nil {
		writeResponse(c, Response{Error: "bad request: " + err.Error()})
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if Streaming(req.Op) {
		s.stream(ctx, c, peer, req)
		return
	}
	writeResponse(c, s.handler.Handle(ctx, peer, req))
}

// stream serves a streaming operation until the handler returns. The
// caller sends nothing after its request: reading anything, or the end
// of the connection, ends the stream.
func (s *Server) stream(ctx context.Context, c *net.UnixConn, peer Peer, req Request) {
	st, ok := s.handler.(Streamer)
	if !ok {
		writeResponse(c, Response{Error: "operation " + req.Op + " is not supported"})
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		var b [1]byte
		_, _ = c.Read(b[:])
		cancel()
	}()
	send := func(resp Response) error {
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		data, err := encodeResponse(resp)
		if err != nil {
			return err
		}
		_, err = c.Write(data)
		return err
	}
	if err := st.Stream(ctx, peer, req, send); err != nil {
		_ = send(Response{Error: err.Error()})
	}
}

// decodeRequest reads one request line (at most maxRequest bytes) from a
// caller that may be any local user.
func decodeRequest(r *bufio.Reader) (Request, error) {
	var req Request
	line, err := readLine(r)
	if err != nil {
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, err
	}
	if dec.More() {
		return req, errors.New("more than one JSON value")
	}
	return req, nil
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxRequest {
			return nil, fmt.Errorf("request longer than %d bytes", maxRequest)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

func writeResponse(c net.Conn, resp Response) {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	data, _ := encodeResponse(resp)
	_, _ = c.Write(data)
}

// encodeResponse is one response line. HTML characters are not escaped:
// event lines (OpLogs) pass through as sluiced wrote them.
func encodeResponse(resp Response) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func peerCred(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var groups []uint32
	var cerr, gerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		groups, gerr = peerGroups(int(fd))
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, cerr
	}
	if gerr != nil {
		return Peer{}, fmt.Errorf("control: caller's groups: %w", gerr)
	}
	p := Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid, Groups: groups}
	p.start, _ = procStart(cred.Pid)
	return p, nil
}
