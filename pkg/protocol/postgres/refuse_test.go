package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// TestRefuse: a connection over a session limit reads FATAL 53300 after
// its startup phase, as from a server at max_connections; the upstream is
// never dialed.
func TestRefuse(t *testing.T) {
	reason := fmt.Errorf("%w for identity %q: 2 open, its max_sessions is 2", protocol.ErrTooManySessions, testIdentity)
	tests := []struct {
		name   string
		before [][]byte // sent before the startup packet, each answered with one byte
		packet []byte
		want   []string
		msg    string
	}{
		{
			name:   "startup",
			packet: startupPacket(3, 0, "user", "alice", "database", "app"),
			want:   []string{"ErrorResponse FATAL 53300"},
			msg:    `sluice refuses the session: too many sessions for identity "` + testIdentity + `": 2 open, its max_sessions is 2`,
		},
		{
			name:   "SSLRequest and GSSENCRequest first are answered N",
			before: [][]byte{requestPacket(codeGSSENCRequest), requestPacket(codeSSLRequest)},
			packet: startupPacket(3, 0, "user", "alice"),
			want:   []string{"ErrorResponse FATAL 53300"},
			msg:    "too many sessions",
		},
		{
			name:   "a malformed startup packet is a protocol violation",
			packet: []byte{0, 0, 0, 8, 0, 9, 0, 0},
			want:   []string{"ErrorResponse FATAL 0A000"},
			msg:    "unsupported frontend protocol",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			clientEnd, serverEnd := connPair(t, overTCP)
			defer clientEnd.Close()
			dialed := false
			dial := func(context.Context) (net.Conn, error) { dialed = true; return nil, errors.New("no upstream") }
			done := make(chan bool, 1)
			go func() {
				done <- e.h.Refuse(t.Context(), testSession("sess-1"), serverEnd, dial, reason)
				serverEnd.Close()
			}()
			c := &pgClient{t: t, conn: clientEnd, fe: pgproto3.NewFrontend(clientEnd, clientEnd)}
			for _, b := range tc.before {
				c.sendRaw(b)
				if got := c.readByte(); got != 'N' {
					t.Fatalf("answer to %x: %q, want N", b, got)
				}
			}
			c.sendRaw(tc.packet)
			x := c.untilClosed()
			if !slices.Equal(x.msgs, tc.want) || !strings.Contains(x.errMessage(), tc.msg) {
				t.Errorf("received %v %q, want %v %q", x.msgs, x.errMessage(), tc.want, tc.msg)
			}
			select {
			case refused := <-done:
				if !refused {
					t.Error("Refuse returned false (served) for a refusal")
				}
			case <-time.After(ioTimeout):
				t.Fatal("Refuse did not return")
			}
			if dialed {
				t.Error("Refuse dialed the upstream")
			}
		})
	}
}

// TestRefuseRoutesCancel: a CancelRequest over a session limit reaches
// the server all the same, as a cancel and nothing more.
func TestRefuseRoutesCancel(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, _ := e.connect(nil)
	if c.key == nil {
		t.Fatal("no BackendKeyData at login")
	}
	dials := e.fake.dialCount()
	clientEnd, serverEnd := connPair(t, overTCP)
	defer clientEnd.Close()
	done := make(chan bool, 1)
	go func() {
		done <- e.h.Refuse(t.Context(), testSession("sess-cancel"), serverEnd, e.fake.dial, protocol.ErrTooManySessions)
		serverEnd.Close()
	}()
	cc := &pgClient{t: t, conn: clientEnd, fe: pgproto3.NewFrontend(clientEnd, clientEnd)}
	req := pgproto3.CancelRequest{ProcessID: c.key.ProcessID, SecretKey: slices.Clone(c.key.SecretKey)}
	b, err := req.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	cc.sendRaw(b)
	if x := cc.untilClosed(); len(x.msgs) != 0 {
		t.Errorf("the cancelling client received %v", x.msgs)
	}
	if refused := <-done; refused {
		t.Error("Refuse returned true (refused) for a routed CancelRequest")
	}
	if got := e.fake.cancelRequests(); len(got) != 1 || got[0].ProcessID != fakePID {
		t.Errorf("server got cancel requests %+v, want one with its own key", got)
	}
	if n := e.fake.dialCount() - dials; n != 1 {
		t.Errorf("%d dials for the cancel, want 1 (no session)", n)
	}
	checkEvents(t, e.audit.events(t, audit.DBCancel), []fields{{"outcome": "routed", "cancelled_session": "sess-1", "session": "sess-cancel"}})
}

// TestRefuseEndsWithContext: a client that sends nothing does not hold
// Refuse past its context, cancelled before or during the refusal.
func TestRefuseEndsWithContext(t *testing.T) {
	for _, before := range []bool{true, false} {
		t.Run(fmt.Sprintf("cancelled before %t", before), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			clientEnd, serverEnd := connPair(t, overTCP)
			defer clientEnd.Close()
			ctx, cancel := context.WithCancel(t.Context())
			if before {
				cancel()
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				e.h.Refuse(ctx, testSession("sess-1"), serverEnd, nil, protocol.ErrTooManySessions)
			}()
			time.Sleep(50 * time.Millisecond)
			cancel()
			select {
			case <-done:
			case <-time.After(2 * time.Second): // well under refuseTimeout
				t.Fatal("Refuse did not return once its context was cancelled")
			}
		})
	}
}
