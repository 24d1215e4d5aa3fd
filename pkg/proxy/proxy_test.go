package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/protocol/tcp"
	"github.com/sluicehq/sluice/pkg/target"
)

// fakeLookup plays the kernel: records are keyed by the client's port.
type fakeLookup struct {
	mu   sync.Mutex
	recs map[uint16]intercept.Origin
}

func (f *fakeLookup) Lookup(client, _ netip.AddrPort) (intercept.Origin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.recs[client.Port()]
	if !ok {
		return o, intercept.ErrNoRecord
	}
	return o, nil
}

func echo(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "echo %s", line)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestHandle(t *testing.T) {
	up := echo(t)
	other := echo(t)
	look := &fakeLookup{recs: map[uint16]intercept.Origin{}}
	m := metrics.New()
	routes := &Routes{
		Identities: map[uint32]Identity{1: {Name: "etl", Egress: EgressDeny}, 2: {Name: "ci", Egress: EgressAllow}},
		Targets:    target.New([]*target.Target{{Name: "db", Protocol: "tcp", Host: "127.0.0.1", Port: up.Port()}}, nil),
		Handlers:   map[string]protocol.Handler{"db": tcp.Handler{}},
		Egress:     tcp.Handler{},
	}
	p := New(Options{Lookup: look, Log: audit.Discard(), Metrics: m}, routes)
	ln := serve(t, p)
	proxyAddr := netip.MustParseAddrPort(ln.Addr().String())

	cases := []struct {
		name      string
		record    *intercept.Origin // nil: no kernel record
		wantReply string            // "" = connection closed without a reply
		outcome   []string          // identity, target, outcome label values
	}{
		{"no record is rejected", nil, "", []string{"", "", metrics.OutcomeRejected}},
		{"target is relayed", &intercept.Origin{Identity: 1, Dst: up}, "echo hi", []string{"etl", "db", metrics.OutcomeAccepted}},
		{"no target and egress deny", &intercept.Origin{Identity: 1, Dst: other}, "", []string{"etl", "", metrics.OutcomeDenied}},
		{"no target and egress allow", &intercept.Origin{Identity: 2, Dst: other}, "echo hi", []string{"ci", "", metrics.OutcomeAccepted}},
		{"unknown identity is denied", &intercept.Origin{Identity: 99, Dst: up}, "", []string{"", "", metrics.OutcomeDenied}},
		{"the proxy itself is denied", &intercept.Origin{Identity: 2, Dst: proxyAddr}, "", []string{"ci", "", metrics.OutcomeDenied}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(m.Connections.WithLabelValues(tc.outcome...))
			// The kernel records before the connection reaches the proxy:
			// pick the client port first.
			port := freePort(t)
			if tc.record != nil {
				look.mu.Lock()
				look.recs[port] = *tc.record
				look.mu.Unlock()
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}}
			c, err := d.Dial("tcp4", proxyAddr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintln(c, "hi")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			reply, _ := bufio.NewReader(c).ReadString('\n')
			if strings.TrimSpace(reply) != tc.wantReply {
				t.Errorf("reply = %q, want %q", reply, tc.wantReply)
			}
			c.Close()
			deadline := time.Now().Add(5 * time.Second)
			for testutil.ToFloat64(m.Connections.WithLabelValues(tc.outcome...)) != before+1 {
				if time.Now().After(deadline) {
					t.Fatalf("sluice_connections_total%v not incremented", tc.outcome)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func freePort(t *testing.T) uint16 {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

// fakeBindings answers Binding from a table keyed by the origin's pid.
type fakeBindings map[uint32]func() (Lease, error)

func (f fakeBindings) Binding(o intercept.Origin, _ string) (Lease, error) {
	if b, ok := f[o.PID]; ok {
		return b()
	}
	return Lease{}, errors.New("no binding")
}

// TestBoundIdentity: a connection of an identity claimed with a token is
// relayed with its binding, denied without one or when it expired, and
// ended when its binding's sessions must end; every lease is released
// when its connection ends, relayed or refused.
func TestBoundIdentity(t *testing.T) {
	up := echo(t)
	m := metrics.New()
	var buf syncBuffer
	log, err := audit.New(&buf, audit.Options{Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	tok := &identity.OIDC{Issuer: "https://issuer.example.com", Subject: "repo:acme/app", Identity: "gha", Expires: time.Now().Add(time.Hour)}
	end := make(chan struct{})
	look := &fakeLookup{recs: map[uint16]intercept.Origin{}}
	routes := &Routes{
		Identities: map[uint32]Identity{7: {Name: "gha", Egress: EgressDeny, Bound: true}},
		Targets:    target.New([]*target.Target{{Name: "db", Protocol: "tcp", Host: "127.0.0.1", Port: up.Port()}}, nil),
		Handlers:   map[string]protocol.Handler{"db": holdHandler{}},
	}
	var held, released atomic.Int64
	lease := func(done <-chan struct{}) Lease {
		held.Add(1)
		return Lease{OIDC: tok, Done: done, Release: func() { released.Add(1) }}
	}
	p := New(Options{Lookup: look, Log: log, Metrics: m, Bindings: fakeBindings{
		1: func() (Lease, error) { return lease(end), nil },
		2: func() (Lease, error) {
			return lease(nil), fmt.Errorf("%w at T", identity.ErrExpired)
		},
	}}, routes)
	ln := serve(t, p)
	connect := func(pid uint32) net.Conn {
		port := freePort(t)
		look.mu.Lock()
		look.recs[port] = intercept.Origin{Identity: 7, Dst: up, PID: pid}
		look.mu.Unlock()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}}
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	waitLog := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := buf.String()
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(s, w)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("log lacks %q:\n%s", want, s)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c := connect(1)
	defer c.Close()
	waitLog(`"event":"connection.open"`, `"oidc":{"issuer":"https://issuer.example.com","subject":"repo:acme/app"`)
	close(end)
	waitLog(`"event":"connection.close"`, `the session was ended: the OIDC token of the identity expired`)
	connect(2).Close()
	waitLog(`"event":"connection.denied"`, `"reason":"the OIDC token of the identity expired at T"`)
	connect(3).Close()
	waitLog(`"reason":"no binding"`)
	deadline := time.Now().Add(10 * time.Second)
	for released.Load() != held.Load() || held.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d leases taken, %d released; want 2 and 2", held.Load(), released.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// holdHandler holds a session until it is cancelled.
type holdHandler struct{}

func (holdHandler) Serve(ctx context.Context, _ *protocol.Session, c net.Conn, _ protocol.Dialer) (protocol.Result, error) {
	defer c.Close()
	<-ctx.Done()
	return protocol.Result{}, ctx.Err()
}

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// syncBuf is an io.Writer safe for the proxy's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Anyone on the host can connect to the proxy port: a flood of such
// connections is rejected and counted, but writes a bounded number of
// events, the next of which says how many were held back.
func TestRejectedEventsBounded(t *testing.T) {
	events := &syncBuf{}
	log, err := audit.New(events, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	p := New(Options{Lookup: &fakeLookup{}, Log: log, Metrics: m}, &Routes{})
	ln := serve(t, p)

	const n = 300
	start := time.Now()
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	rejected := m.Connections.WithLabelValues("", "", metrics.OutcomeRejected)
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(rejected) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v rejections counted, want %d", testutil.ToFloat64(rejected), n)
		}
	}
	written := strings.Count(events.String(), `"event":"connection.rejected"`)
	most := eventsBurst + int(time.Since(start).Seconds()*eventsPerSecond) + 1
	if written < eventsBurst || written > most || written >= n {
		t.Fatalf("%d connection.rejected events for %d connections, want %d to %d", written, n, eventsBurst, most)
	}
	time.Sleep(200 * time.Millisecond)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(events.String(), `"suppressed":`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no event says how many were held back")
		}
	}
}

// serve starts p on a loopback listener until the test ends.
func serve(t *testing.T, p *Proxy) net.Listener {
	t.Helper()
	ln, err := p.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln
}
