package postgres

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestUnsafeSettings: sluice parses statements as PostgreSQL does with
// standard_conforming_strings on and a client encoding that never hides
// an ASCII byte in a multibyte character. A statement that would change
// either is refused whatever the policy says; a session whose server
// reports either at login is refused; one whose server reports a change
// mid-session (from inside a function) is ended.
func TestUnsafeSettings(t *testing.T) {
	t.Run("a SET that would change them is refused", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		c, _ := e.connect(nil)
		runSteps(t, e, c, []step{
			q("SET standard_conforming_strings = off", "ErrorResponse ERROR 42501", "ReadyForQuery I").
				errContains(`rule "unsafe-setting"`, `standard_conforming_strings is "off"`),
			q(`SET standard_conforming_strings = off; SELECT 'x\''; DROP TABLE t; --'`, "ErrorResponse ERROR 42501", "ReadyForQuery I"),
			q("SET NAMES 'SJIS'", "ErrorResponse ERROR 42501", "ReadyForQuery I").errContains(`client_encoding "SJIS"`),
			q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
		})
		checkUpstream(t, e, []string{denied, denied, denied, "Q SELECT 1"}, nil)
	})

	t.Run("a session that starts with them is refused", func(t *testing.T) {
		for name, value := range map[string]string{"standard_conforming_strings": "off", "client_encoding": "BIG5"} {
			e := newEnv(t, envOptions{fake: fakeOptions{params: map[string]string{name: value}}})
			c := e.serve(testSession("sess-1"))
			c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice", "database": "app"}})
			x := c.untilClosed()
			if len(x.msgs) == 0 || x.msgs[len(x.msgs)-1] != "ErrorResponse FATAL 42501" {
				t.Fatalf("%s %s: received %v, want a FATAL", name, value, x.msgs)
			}
			if m := x.errs[len(x.errs)-1]; !strings.HasPrefix(m.Message, "sluice refuses this session: "+name) || m.Hint == "" {
				t.Errorf("FATAL %q (hint %q)", m.Message, m.Hint)
			}
			if r := c.wait(); !errors.Is(r.err, ErrUnsafeSetting) {
				t.Errorf("Serve: %v, want ErrUnsafeSetting", r.err)
			}
		}
	})

	t.Run("a session whose server reports a change is ended", func(t *testing.T) {
		e := newEnv(t, envOptions{fake: fakeOptions{handle: func(conn net.Conn, q string) bool {
			if q != "SELECT public.flip()" {
				return false
			}
			be := pgproto3.NewBackend(conn, conn)
			be.Send(rowDescription([]string{"flip"}))
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte("off")}})
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
			be.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "off"})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			_ = be.Flush()
			return true
		}}})
		c, _ := e.connect(nil)
		c.send(&pgproto3.Query{String: "SELECT public.flip()"})
		x := c.untilClosed()
		if len(x.msgs) == 0 || x.msgs[len(x.msgs)-1] != "ErrorResponse FATAL 42501" {
			t.Fatalf("received %v, want the FATAL last", x.msgs)
		}
		if m := x.errs[len(x.errs)-1].Message; m != `terminating connection: standard_conforming_strings is "off": sluice reads statements as PostgreSQL does with it on` {
			t.Errorf("FATAL %q", m)
		}
		if r := c.wait(); !errors.Is(r.err, ErrUnsafeSetting) {
			t.Errorf("Serve: %v, want ErrUnsafeSetting", r.err)
		}
	})
}
