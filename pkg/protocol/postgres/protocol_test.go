package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
)

// rawFrame encodes a frame whose length word declares declared body bytes,
// followed by body.
func rawFrame(typ byte, declared int, body []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(declared+4))
	return append(b, body...)
}

func encodeMsgs(t testing.TB, msgs ...pgproto3.FrontendMessage) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		var err error
		if out, err = m.Encode(out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestClientProtocolErrors: a client that breaks the protocol after login
// gets a FATAL error naming the problem, the connection closes, Serve
// returns an error wrapping ErrProtocol, and the upstream never sees the
// offending message.
func TestClientProtocolErrors(t *testing.T) {
	const limit = 4096
	query := func(n int) []byte {
		// A body of n bytes: the text and its terminating zero.
		return encodeMsgs(t, &pgproto3.Query{String: "SELECT '" + strings.Repeat("x", n-10) + "'"})
	}
	tests := []struct {
		name     string
		send     func(t *testing.T) []byte
		wantCode string
		wantMsg  string
		upstream []string
	}{
		{
			name:     "query one byte over the limit",
			send:     func(t *testing.T) []byte { return query(limit + 1) },
			wantCode: "54000",
			wantMsg:  "too large",
		},
		{
			name:     "declared length of 1 GiB",
			send:     func(t *testing.T) []byte { return rawFrame('Q', 1<<30, []byte("SELECT 1")) },
			wantCode: "54000",
			wantMsg:  "too large",
		},
		{
			name:     "copy data over the limit",
			send:     func(t *testing.T) []byte { return rawFrame('d', limit+1, make([]byte, limit+1)) },
			wantCode: "54000",
		},
		{
			name: "oversized message while skipping to Sync",
			send: func(t *testing.T) []byte {
				return append(encodeMsgs(t, parse("", "DELETE FROM t")), rawFrame('B', limit+1, make([]byte, limit+1))...)
			},
			wantCode: "54000",
			// The replacement Parse was still buffered when the session
			// ended.
			upstream: []string{},
		},
		{
			name:     "unknown message type",
			send:     func(t *testing.T) []byte { return rawFrame('z', 3, []byte("abc")) },
			wantCode: "08P01",
			wantMsg:  "invalid frontend message type",
		},
		{
			name:     "length word below 4",
			send:     func(t *testing.T) []byte { return []byte{'Q', 0, 0, 0, 2} },
			wantCode: "08P01",
			wantMsg:  "malformed",
		},
		{
			name:     "password message after login",
			send:     func(t *testing.T) []byte { return rawFrame('p', 4, []byte("pw\x00\x00")) },
			wantCode: "08P01",
		},
		{
			name:     "malformed Bind",
			send:     func(t *testing.T) []byte { return rawFrame('B', 3, []byte("\x00\x00\xff")) },
			wantCode: "08P01",
		},
		{
			name:     "Query without its terminating zero",
			send:     func(t *testing.T) []byte { return rawFrame('Q', 8, []byte("SELECT 1")) },
			wantCode: "08P01",
		},
		{
			name:     "malformed Close",
			send:     func(t *testing.T) []byte { return rawFrame('C', 1, []byte("S")) },
			wantCode: "08P01",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{pg: config.Postgres{MaxMessageSize: limit}})
			c, _ := e.connect(nil)
			e.fake.resetLog()
			c.sendRaw(tt.send(t))
			x := c.untilClosed()
			if len(x.errs) == 0 {
				t.Fatalf("no error before the connection closed; received %v", x.msgs)
			}
			last := x.errs[len(x.errs)-1]
			if last.Severity != "FATAL" || last.Code != tt.wantCode || !strings.Contains(last.Message, tt.wantMsg) {
				t.Errorf("got %s %s %q, want FATAL %s containing %q", last.Severity, last.Code, last.Message, tt.wantCode, tt.wantMsg)
			}
			if r := c.wait(); !errors.Is(r.err, ErrProtocol) {
				t.Errorf("Serve returned %v, want an error wrapping ErrProtocol", r.err)
			}
			checkUpstream(t, e, tt.upstream, []string{"xxxx"})
		})
	}
}

// TestMessageAtTheLimit: a message exactly at the limit is accepted.
func TestMessageAtTheLimit(t *testing.T) {
	const limit = 4096
	e := newEnv(t, envOptions{pg: config.Postgres{MaxMessageSize: limit}})
	c, _ := e.connect(nil)
	text := "SELECT '" + strings.Repeat("x", limit-10) + "'" // + NUL = limit
	c.send(&pgproto3.Query{String: text})
	x := c.untilReady()
	if x.msgs[len(x.msgs)-2] != "CommandComplete SELECT 3" {
		t.Fatalf("received %v", x.msgs)
	}
	if r := c.terminate(); r.err != nil {
		t.Errorf("Serve: %v", r.err)
	}
}

// TestPendingAuditsAtSessionEnd: statements still pending when the session
// ends are reported with a note.
func TestPendingAuditsAtSessionEnd(t *testing.T) {
	e := newEnv(t, envOptions{pg: config.Postgres{MaxMessageSize: 4096}})
	c, _ := e.connect(nil)
	// The oversized message follows the Parse in the same write: the
	// session ends before the upstream answers the Parse.
	c.sendRaw(append(encodeMsgs(t, parse("s1", "SELECT 1"), bind("", "s1"), execute("", 0)), rawFrame('Q', 1<<20, nil)...))
	c.untilClosed()
	c.wait()
	evs := e.audit.events(t, audit.DBQuery)
	if len(evs) == 0 {
		t.Fatal("no db.query event")
	}
	for _, ev := range evs {
		if ev["error"] == nil && !strings.HasPrefix(fmt.Sprint(ev["note"]), "session ended") {
			t.Errorf("event without an outcome: %v", ev)
		}
	}
}

// TestOversizedServerMessage: a server message sluice must decode is
// bounded by MaxMessageSize too; the session ends instead of reading
// (and allocating) a huge body.
func TestOversizedServerMessage(t *testing.T) {
	const limit = 4096
	e := newEnv(t, envOptions{
		pg: config.Postgres{MaxMessageSize: limit},
		fake: fakeOptions{handle: func(conn net.Conn, q string) bool {
			if q != "SELECT 'huge'" {
				return false
			}
			// A CommandComplete declaring 1 GiB, and then nothing.
			_, _ = conn.Write(rawFrame('C', 1<<30, []byte("SELECT")))
			return true
		}},
	})
	c, _ := e.connect(nil)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	c.send(&pgproto3.Query{String: "SELECT 'huge'"})
	done := make(chan exchange, 1)
	go func() { done <- c.untilClosed() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.conn.Close()
		<-done
		t.Fatal("the session still waits for the body of a 1 GiB server message")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("%d MiB allocated for one server message", grew>>20)
	}
	if r := c.wait(); r.err == nil {
		t.Error("Serve returned no error")
	}
}

// TestStreamedServerMessagesAreNotLimited: rows and other frames passed
// through without decoding may exceed MaxMessageSize.
func TestStreamedServerMessagesAreNotLimited(t *testing.T) {
	const limit = 4096
	big := strings.Repeat("r", 3*limit)
	e := newEnv(t, envOptions{
		pg: config.Postgres{MaxMessageSize: limit},
		fake: fakeOptions{handle: func(conn net.Conn, q string) bool {
			if q != "SELECT 'big'" {
				return false
			}
			be := pgproto3.NewBackend(conn, conn)
			be.Send(rowDescription([]string{"r"}))
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(big)}})
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			_ = be.Flush()
			return true
		}},
	})
	c, _ := e.connect(nil)
	c.send(&pgproto3.Query{String: "SELECT 'big'"})
	x := c.untilReady()
	want := []string{"RowDescription", "DataRow " + big, "CommandComplete SELECT 1", "ReadyForQuery I"}
	if !slices.Equal(x.msgs, want) {
		t.Fatalf("received %d messages: %.80v", len(x.msgs), x.msgs)
	}
	if r := c.terminate(); r.err != nil {
		t.Errorf("Serve: %v", r.err)
	}
}

// TestUpstreamGoneEndsSession: when the server closes the connection,
// the client's connection closes and Serve returns.
func TestUpstreamGoneEndsSession(t *testing.T) {
	e := newEnv(t, envOptions{fake: fakeOptions{handle: func(conn net.Conn, q string) bool {
		if q != "SELECT pg_terminate_backend(pg_backend_pid())" {
			return false
		}
		be := pgproto3.NewBackend(conn, conn)
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
		_ = be.Flush()
		conn.Close()
		return true
	}}})
	c, _ := e.connect(nil)
	c.send(&pgproto3.Query{String: "SELECT pg_terminate_backend(pg_backend_pid())"})
	x := c.untilClosed()
	if !slices.Equal(x.msgs, []string{"ErrorResponse FATAL 57P01"}) {
		t.Errorf("received %v", x.msgs)
	}
	if r := c.wait(); r.err != nil && !isClosed(r.err) {
		t.Errorf("Serve: %v", r.err)
	}
}
