package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/protocol/tcp"
	"github.com/sluicehq/sluice/pkg/target"
)

func TestSessionLimits(t *testing.T) {
	etl := Identity{Name: "etl", MaxSessions: 2}
	ci := Identity{Name: "ci"} // no bound of its own
	tests := []struct {
		name string
		all  uint32
		take []Identity // in order; the last one is checked
		want string     // "" = admitted, else part of the error
	}{
		{"under the identity's bound", 0, []Identity{etl, etl}, ""},
		{"over the identity's bound", 0, []Identity{etl, etl, etl}, `identity "etl": 2 open, its max_sessions is 2`},
		{"another identity is not counted", 0, []Identity{etl, etl, ci}, ""},
		{"unbounded identity", 0, []Identity{ci, ci, ci, ci}, ""},
		{"over the daemon's bound", 3, []Identity{ci, etl, ci, ci}, "through sluice: 3 open, max_sessions is 3"},
		{"the identity's bound first", 3, []Identity{etl, etl, etl}, "its max_sessions is 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l sessionLimits
			var err error
			for _, id := range tc.take {
				_, err = l.take(tc.all, id)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.Is(err, protocol.ErrTooManySessions) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want ErrTooManySessions and %q", err, tc.want)
			}
		})
	}

	t.Run("release admits again, once", func(t *testing.T) {
		var l sessionLimits
		one, _ := l.take(0, etl)
		if _, err := l.take(0, etl); err != nil {
			t.Fatal(err)
		}
		one()
		one() // a second call counts nothing out
		if _, err := l.take(0, etl); err != nil {
			t.Fatalf("after a release: %v", err)
		}
		if _, err := l.take(0, etl); err == nil {
			t.Fatal("a release called twice freed two places")
		}
		if l.total != 2 || l.byIdentity["etl"] != 2 {
			t.Fatalf("counts %d / %v, want 2 / 2", l.total, l.byIdentity)
		}
	})
}

// refusingHold holds each session until its client closes, and answers
// refusals with a line.
type refusingHold struct{}

func (refusingHold) Serve(_ context.Context, _ *protocol.Session, c net.Conn, _ protocol.Dialer) (protocol.Result, error) {
	defer c.Close()
	_, err := io.Copy(io.Discard, c)
	return protocol.Result{}, err
}

func (refusingHold) Refuse(_ context.Context, _ *protocol.Session, c net.Conn, _ protocol.Dialer, reason error) bool {
	_, _ = c.Write([]byte("refused: " + reason.Error() + "\n"))
	return true
}

// TestMaxSessions: through the proxy, an identity at its max_sessions has
// its next connection refused by the handler's Refuse, counted as limited, with an event; a session that
// ends frees its place.
func TestMaxSessions(t *testing.T) {
	up := netip.MustParseAddrPort("127.0.0.1:5432") // never dialed
	look := &fakeLookup{recs: map[uint16]intercept.Origin{}}
	m := metrics.New()
	var events syncBuf
	log, err := audit.New(&events, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	routes := &Routes{
		Identities: map[uint32]Identity{1: {Name: "etl", Egress: EgressDeny, MaxSessions: 1}, 2: {Name: "ci", Egress: EgressDeny, MaxSessions: 1}},
		Targets:    target.New([]*target.Target{{Name: "db", Protocol: "postgres", Host: "127.0.0.1", Port: up.Port()}}, nil),
		Handlers:   map[string]protocol.Handler{"db": refusingHold{}},
	}
	p := New(Options{Lookup: look, Log: log, Metrics: m}, routes)
	ln := serve(t, p)
	connect := func(id uint32) net.Conn {
		t.Helper()
		c := look.dial(t, ln, intercept.Origin{Identity: id, Dst: up})
		t.Cleanup(func() { c.Close() })
		return c
	}
	read := func(c net.Conn) string {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 256)
		n, _ := c.Read(b)
		return string(b[:n])
	}
	active := m.Active.WithLabelValues("etl", "db")
	waitActive := func(want float64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(active) != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%v etl sessions active, want %v", testutil.ToFloat64(active), want)
			}
		}
	}

	first := connect(1)
	waitActive(1)
	if got := read(connect(1)); got != "refused: too many sessions for identity \"etl\": 1 open, its max_sessions is 1\n" {
		t.Fatalf("second etl connection read %q", got)
	}
	limited := m.Connections.WithLabelValues("etl", "db", metrics.OutcomeLimited)
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(limited) != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v connections counted limited, want 1", testutil.ToFloat64(limited))
		}
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(events.String(), `"reason":"too many sessions for identity \"etl\"`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no connection.denied event:\n%s", events.String())
		}
	}
	// Another identity has its own count.
	connect(2)
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(m.Active.WithLabelValues("ci", "db")) != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ci session was not admitted")
		}
	}

	// The first session ends: its place is free again.
	first.Close()
	for deadline := time.Now().Add(5 * time.Second); p.OpenSessions()["etl"] != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first session's place was not freed")
		}
	}
	connect(1)
	waitActive(1)
}

// stallingRefuser refuses by holding the connection until its client
// closes it.
type stallingRefuser struct{ refusingHold }

func (stallingRefuser) Refuse(_ context.Context, _ *protocol.Session, c net.Conn, _ protocol.Dialer, _ error) bool {
	_, _ = c.Write([]byte("refusing\n"))
	_, _ = io.Copy(io.Discard, c)
	return true
}

// TestRefusalsBounded: at most maxRefusing connections over a limit are
// held by their handler's Refuse at once; more are closed at once; a
// refusal that ends gives its place back.
func TestRefusalsBounded(t *testing.T) {
	up := netip.MustParseAddrPort("127.0.0.1:5432") // never dialed
	look := &fakeLookup{recs: map[uint16]intercept.Origin{}}
	routes := &Routes{
		Identities: map[uint32]Identity{1: {Name: "etl", Egress: EgressDeny}},
		Targets:    target.New([]*target.Target{{Name: "db", Protocol: "postgres", Host: "127.0.0.1", Port: up.Port()}}, nil),
		Handlers:   map[string]protocol.Handler{"db": stallingRefuser{}},
		// Every connection is over this bound.
		MaxSessions: 1,
	}
	p := New(Options{Lookup: look, Log: audit.Discard(), Metrics: metrics.New()}, routes)
	ln := serve(t, p)
	// A session of another identity takes the daemon's only place.
	release, err := p.limits.take(1, Identity{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	refusal := func() (net.Conn, string, error) {
		c := look.dial(t, ln, intercept.Origin{Identity: 1, Dst: up})
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return c, line, err
	}
	var held []net.Conn
	for i := range maxRefusing + 1 {
		c, line, err := refusal()
		held = append(held, c)
		if i < maxRefusing && line != "refusing\n" {
			t.Fatalf("refusal %d read %q, %v", i+1, line, err)
		}
		if i == maxRefusing && (line != "" || !errors.Is(err, io.EOF)) {
			t.Fatalf("refusal %d past the bound read %q, %v; want it closed at once", i+1, line, err)
		}
	}
	for _, c := range held {
		c.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, line, _ := refusal()
		c.Close()
		if line == "refusing\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refusals that ended did not give their places back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLimitedEventsBounded: a job looping on connect over a bound cannot
// write connection.denied events at will; every refusal is counted.
func TestLimitedEventsBounded(t *testing.T) {
	o := newOverBound(t, "tcp", tcp.Handler{}) // no Refuse: closed at once
	const n = 200
	start := time.Now()
	for range n {
		o.dial(t).Close()
	}
	limited := o.m.Connections.WithLabelValues("etl", "db", metrics.OutcomeLimited)
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(limited) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v refusals counted, want %d", testutil.ToFloat64(limited), n)
		}
	}
	written := strings.Count(o.events.String(), `"event":"connection.denied"`)
	most := eventsBurst + int(time.Since(start).Seconds()*eventsPerSecond) + 1
	if written < eventsBurst || written > most || written >= n {
		t.Fatalf("%d connection.denied events for %d refusals, want %d to %d", written, n, eventsBurst, most)
	}
}

// dial connects to the proxy from a fresh loopback port after recording
// origin for it, as the kernel does at connect().
func (f *fakeLookup) dial(t *testing.T, ln net.Listener, origin intercept.Origin) net.Conn {
	t.Helper()
	port := freePort(t)
	f.mu.Lock()
	f.recs[port] = origin
	f.mu.Unlock()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}}
	c, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// servingRefuser serves every connection over a limit as one that asks
// for no session (as a PostgreSQL CancelRequest is).
type servingRefuser struct{ refusingHold }

func (servingRefuser) Refuse(_ context.Context, _ *protocol.Session, c net.Conn, _ protocol.Dialer, _ error) bool {
	_, _ = c.Write([]byte("served\n"))
	return false
}

// TestServedNotCounted: a connection over a limit that its handler serves
// as asking for no session is neither counted as limited nor reported as
// denied.
func TestServedNotCounted(t *testing.T) {
	o := newOverBound(t, "postgres", servingRefuser{})
	c := o.dial(t)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "served\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	// The proxy is done with it once the connection is closed.
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection still open: %v", err)
	}
	if n := testutil.ToFloat64(o.m.Connections.WithLabelValues("etl", "db", metrics.OutcomeLimited)); n != 0 {
		t.Errorf("%v connections counted limited, want 0", n)
	}
	if strings.Contains(o.events.String(), "connection.denied") {
		t.Errorf("a served connection was reported denied:\n%s", o.events.String())
	}
}

// overBound is a proxy whose identity etl (id 1) holds the only session
// its max_sessions allows: each connection it makes to target db is over
// its bound.
type overBound struct {
	look   *fakeLookup
	ln     net.Listener
	m      *metrics.Metrics
	events *syncBuf
	up     netip.AddrPort
}

func newOverBound(t *testing.T, proto string, h protocol.Handler) *overBound {
	t.Helper()
	o := &overBound{
		look: &fakeLookup{recs: map[uint16]intercept.Origin{}}, m: metrics.New(), events: &syncBuf{},
		up: netip.MustParseAddrPort("127.0.0.1:5432"), // never dialed
	}
	log, err := audit.New(o.events, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	routes := &Routes{
		Identities: map[uint32]Identity{1: {Name: "etl", Egress: EgressDeny, MaxSessions: 1}},
		Targets:    target.New([]*target.Target{{Name: "db", Protocol: proto, Host: "127.0.0.1", Port: o.up.Port()}}, nil),
		Handlers:   map[string]protocol.Handler{"db": h},
	}
	p := New(Options{Lookup: o.look, Log: log, Metrics: o.m}, routes)
	o.ln = serve(t, p)
	release, err := p.limits.take(0, routes.Identities[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return o
}

// dial connects as etl to db.
func (o *overBound) dial(t *testing.T) net.Conn {
	t.Helper()
	return o.look.dial(t, o.ln, intercept.Origin{Identity: 1, Dst: o.up})
}
