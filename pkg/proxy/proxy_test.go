package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
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
	ln, err := p.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
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
