package privtest

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// LineServer is a loopback TCP server that answers every line a client
// sends with one line. It is closed when the test ends, or by Close.
type LineServer struct {
	Addr netip.AddrPort
	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

// ServeLines listens on addr (a loopback address; port 0 picks one) and
// answers each received line with reply(conn, line).
func ServeLines(t testing.TB, network, addr string, reply func(c net.Conn, line string) string) *LineServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	s := &LineServer{ln: ln, Addr: netip.MustParseAddrPort(ln.Addr().String())}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintln(c, reply(c, strings.TrimSpace(line)))
				}
			}()
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops accepting and waits for the open connections to end.
func (s *LineServer) Close() {
	s.once.Do(func() { s.ln.Close() })
	s.wg.Wait()
}
