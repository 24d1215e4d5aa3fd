package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/record"
)

const testToken = "a-valid-token"

// fakeTokens accepts testToken for an identity whose token expires ttl
// after it was verified.
type fakeTokens struct {
	ttl     time.Duration
	keep    bool
	expired chan *protocol.Session
}

func newFakeTokens(ttl time.Duration, keep bool) *fakeTokens {
	return &fakeTokens{ttl: ttl, keep: keep, expired: make(chan *protocol.Session, 4)}
}

func (f *fakeTokens) VerifyToken(_ context.Context, token string, _ *protocol.Session) (*identity.OIDC, error) {
	if token != testToken {
		return nil, errors.New("not a signed JWT")
	}
	return &identity.OIDC{Issuer: "https://issuer.test", Subject: "repo:acme/app", Identity: "gha:acme/app",
		JTI: "jti-1", Expires: time.Now().Add(f.ttl), Keep: f.keep}, nil
}

func (f *fakeTokens) SessionExpired(s *protocol.Session) { f.expired <- s }

// connectWithToken logs in to an auth: oidc target with testToken as the
// password.
func (e *testEnv) connectWithToken() *pgClient {
	e.t.Helper()
	c := e.serve(testSession("sess-1"))
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "job", "database": "app"}})
	m, err := c.receive()
	if _, ok := m.(*pgproto3.AuthenticationCleartextPassword); !ok || err != nil {
		e.t.Fatalf("login: %T %v, want a password request", m, err)
	}
	c.send(&pgproto3.PasswordMessage{Password: testToken})
	if x := c.untilReady(); x.msgs[len(x.msgs)-1] != "ReadyForQuery I" {
		e.t.Fatalf("login: %v", x.msgs)
	}
	return c
}

// oidcEnv is a test environment whose target takes OIDC tokens as
// passwords, recording.
func oidcEnv(t *testing.T, tokens *fakeTokens, fake fakeOptions) (*testEnv, *record.Store) {
	store := openSampleStore(t, 0)
	e := newEnv(t, envOptions{records: store, tokens: tokens, fake: fake, pg: config.Postgres{
		Auth: config.AuthOIDC, Credentials: config.Credentials{Username: "app", PasswordEnv: "SLUICE_TEST_UNUSED_PASSWORD"},
	}})
	return e, store
}

// serveLoggedIn serves session s under ctx (the proxy's context) and logs
// in as alice; Serve's error arrives on the channel.
func (e *testEnv) serveLoggedIn(ctx context.Context, s *protocol.Session) (*pgClient, <-chan error) {
	e.t.Helper()
	clientEnd, serverEnd := connPair(e.t, overTCP)
	e.t.Cleanup(func() { clientEnd.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := e.h.Serve(ctx, s, serverEnd, e.fake.dial)
		done <- err
	}()
	c := &pgClient{t: e.t, conn: clientEnd, fe: pgproto3.NewFrontend(clientEnd, clientEnd)}
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
	if x := c.untilReady(); x.msgs[len(x.msgs)-1] != "ReadyForQuery I" {
		e.t.Fatalf("login: %v", x.msgs)
	}
	return c, done
}

// checkExpiryFatal checks what the client of an expired session read last.
func checkExpiryFatal(t *testing.T, x exchange, hint string) {
	t.Helper()
	if len(x.msgs) == 0 || x.msgs[len(x.msgs)-1] != "ErrorResponse FATAL 57P01" {
		t.Fatalf("received %v, want the FATAL last", x.msgs)
	}
	e := x.errs[len(x.errs)-1]
	if !strings.HasPrefix(e.Message, `terminating connection because the OIDC token of identity "gha:acme/app" expired at `) || e.Hint != hint {
		t.Errorf("FATAL %q (hint %q)", e.Message, e.Hint)
	}
}

func TestTokenExpiryEndsSession(t *testing.T) {
	t.Run("an idle session is told, then closed", func(t *testing.T) {
		tokens := newFakeTokens(300*time.Millisecond, false)
		e, store := oidcEnv(t, tokens, fakeOptions{})
		c := e.connectWithToken()
		runSteps(t, e, c, []step{q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")})
		checkExpiryFatal(t, c.untilClosed(), "Connect again with a valid token as the password.")
		r := c.wait()
		if !errors.Is(r.err, identity.ErrExpired) || !strings.Contains(r.err.Error(), "the session was ended: the OIDC token of the identity expired at ") {
			t.Errorf("Serve: %v", r.err)
		}
		if s := <-tokens.expired; s.Identity != "gha:acme/app" || s.KernelIdentity != testIdentity {
			t.Errorf("SessionExpired(%+v)", s)
		}
		_, _, end := readRecording(t, store, "sess-1")
		if end == nil || end.Reason != "token_expired" || !strings.Contains(end.Error, "expired at") {
			t.Errorf("end = %+v", end)
		}
	})

	t.Run("a running statement is cancelled on the server", func(t *testing.T) {
		tokens := newFakeTokens(500*time.Millisecond, false)
		e, _ := oidcEnv(t, tokens, fakeOptions{handle: func(conn net.Conn, q string) bool {
			if q != "SELECT pg_sleep(60)" {
				return false
			}
			_, _ = io.Copy(io.Discard, conn) // until sluice closes it
			return true
		}})
		c := e.connectWithToken()
		c.send(&pgproto3.Query{String: "SELECT pg_sleep(60)"})
		checkExpiryFatal(t, c.untilClosed(), "Connect again with a valid token as the password.")
		c.wait()
		if got := e.fake.cancelRequests(); len(got) != 1 || got[0].ProcessID != fakePID {
			t.Errorf("cancel requests %+v, want the session's", got)
		}
		qs := e.audit.events(t, "db.query")
		if len(qs) != 1 || !strings.Contains(qs[0]["note"].(string), "session ended before the statement completed: the OIDC token of the identity expired at") {
			t.Errorf("db.query events %v", qs)
		}
		if cs := e.audit.events(t, "db.cancel"); len(cs) != 1 || cs[0]["outcome"] != "routed" || cs[0]["cancelled_session"] != "sess-1" {
			t.Errorf("db.cancel events %v", cs)
		}
	})

	t.Run("a result being streamed ends between two rows", func(t *testing.T) {
		tokens := newFakeTokens(300*time.Millisecond, false)
		row := &pgproto3.DataRow{Values: [][]byte{[]byte(strings.Repeat("x", 100))}}
		e, _ := oidcEnv(t, tokens, fakeOptions{handle: func(conn net.Conn, q string) bool {
			if q != "SELECT * FROM endless" {
				return false
			}
			be := pgproto3.NewBackend(conn, conn)
			be.Send(rowDescription([]string{"x"}))
			for {
				for range 100 {
					be.Send(row)
				}
				if be.Flush() != nil {
					return true
				}
			}
		}})
		c := e.connectWithToken()
		c.send(&pgproto3.Query{String: "SELECT * FROM endless"})
		x := c.untilClosed()
		checkExpiryFatal(t, x, "Connect again with a valid token as the password.")
		// Under load the token may lapse before the first row: what
		// matters is that only whole messages precede the FATAL.
		for i, m := range x.msgs[:len(x.msgs)-1] {
			if m != "DataRow "+strings.Repeat("x", 100) && (i != 0 || !strings.HasPrefix(m, "RowDescription")) {
				t.Fatalf("a message %.40q between the rows and the FATAL", m)
			}
		}
		c.wait()
	})

	t.Run("a job's binding, through the proxy's context", func(t *testing.T) {
		store := openSampleStore(t, 0)
		e := newEnv(t, envOptions{records: store})
		s := testSession("sess-1")
		s.Attribution.OIDC = &identity.OIDC{Identity: "gha:acme/app", Expires: time.Now()}
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		c, done := e.serveLoggedIn(ctx, s)
		cancel(identity.ErrExpired)
		x := c.untilClosed()
		checkExpiryFatal(t, x, "Refresh the job's token (sluice run --refresh), then connect again.")
		select {
		case <-done:
		case <-time.After(ioTimeout):
			t.Fatal("Serve did not return")
		}
		_, _, end := readRecording(t, store, "sess-1")
		if end == nil || end.Reason != "token_expired" {
			t.Errorf("end = %+v", end)
		}
	})

	t.Run("on_expiry keep: the session goes on", func(t *testing.T) {
		tokens := newFakeTokens(200*time.Millisecond, true)
		e, _ := oidcEnv(t, tokens, fakeOptions{})
		c := e.connectWithToken()
		select {
		case <-tokens.expired:
		case <-time.After(ioTimeout):
			t.Fatal("the expiry was not reported")
		}
		runSteps(t, e, c, []step{q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")})
		if r := c.terminate(); r.err != nil {
			t.Errorf("Serve: %v", r.err)
		}
	})
}

// TestShutdownEndsSession: when sluiced stops (the proxy's context ends
// without a cause of its own), a session is told with a FATAL 57P01, as
// PostgreSQL tells its clients at a fast shutdown, a statement still
// running is cancelled on the server, and the recording ends with reason
// shutdown.
func TestShutdownEndsSession(t *testing.T) {
	for _, running := range []bool{false, true} {
		name := "idle"
		if running {
			name = "running a statement"
		}
		t.Run(name, func(t *testing.T) {
			store := openSampleStore(t, 0)
			e := newEnv(t, envOptions{records: store, fake: fakeOptions{handle: func(conn net.Conn, q string) bool {
				if q != "SELECT pg_sleep(60)" {
					return false
				}
				_, _ = io.Copy(io.Discard, conn) // until sluice closes it
				return true
			}}})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c, done := e.serveLoggedIn(ctx, testSession("sess-1"))
			if running {
				c.send(&pgproto3.Query{String: "SELECT pg_sleep(60)"})
				// Ended once the server has it.
				for deadline := time.Now().Add(ioTimeout); !slices.Contains(e.fake.received(), "Q SELECT pg_sleep(60)"); {
					if time.Now().After(deadline) {
						t.Fatalf("the server never got the query: %v", e.fake.received())
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			cancel()
			x := c.untilClosed()
			if len(x.msgs) == 0 || x.msgs[len(x.msgs)-1] != "ErrorResponse FATAL 57P01" {
				t.Fatalf("received %v, want the FATAL last", x.msgs)
			}
			if m := x.errs[len(x.errs)-1].Message; m != "terminating connection because sluiced is shutting down" {
				t.Errorf("FATAL %q", m)
			}
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Serve: %v, want context.Canceled (an orderly end)", err)
				}
			case <-time.After(ioTimeout):
				t.Fatal("Serve did not return")
			}
			if got := e.fake.cancelRequests(); running != (len(got) == 1) {
				t.Errorf("cancel requests %+v (statement running: %v)", got, running)
			}
			_, _, end := readRecording(t, store, "sess-1")
			if end == nil || end.Reason != record.ReasonShutdown {
				t.Errorf("end = %+v", end)
			}
		})
	}
}
