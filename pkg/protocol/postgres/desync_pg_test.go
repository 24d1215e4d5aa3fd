package postgres

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Attacks on the inspector's view of the server's state, each run against
// PostgreSQL itself: a table public.t the policy lets the client read, a
// table secret.t it does not, and nothing of secret.t may reach the client.

const desyncSeed = `
CREATE SCHEMA secret;
CREATE TABLE public.t (v text); INSERT INTO public.t VALUES ('public-row');
CREATE TABLE secret.t (v text); INSERT INTO secret.t VALUES ('TOPSECRET');
CREATE TABLE public.sink (v text);
GRANT USAGE ON SCHEMA secret TO sluice_catalog;
GRANT SELECT ON public.t, secret.t TO sluice_catalog;
GRANT SELECT, INSERT ON public.sink TO sluice_catalog;
CREATE ROLE secret; GRANT secret TO sluice_catalog;
GRANT SELECT ON secret.t TO secret; GRANT USAGE ON SCHEMA secret TO secret;
`

// noSecrets refuses any statement that reads or writes schema secret.
type noSecrets struct{}

func (noSecrets) Decide(r *policy.Request) policy.Decision {
	if r.SQL == nil || r.SQL.Kind == sqlclass.KindUnparseable {
		return policy.Decision{Action: policy.Deny, Policy: "test", Rule: "unparseable"}
	}
	for _, rel := range append(append([]sqlclass.Relation(nil), r.SQL.Reads...), r.SQL.Writes...) {
		if rel.Schema == "secret" {
			return policy.Decision{Action: policy.Deny, Policy: "test", Rule: "no-secrets"}
		}
	}
	return policy.Decision{Action: policy.Allow, Policy: "test", Rule: "rest"}
}

// rawClient is a client that speaks the protocol message by message.
type rawClient struct {
	t     *testing.T
	fe    *pgproto3.Frontend
	c     net.Conn
	login []string // what the login got, up to ReadyForQuery or a FATAL
}

// desyncClient logs in through an inspector of srv with startup
// parameters params.
func desyncClient(t *testing.T, srv *pgtest.Server, params map[string]string) *rawClient {
	t.Helper()
	log, err := audit.New(io.Discard, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New("db", srv.Host, testConfig(config.Postgres{
		Auth:        config.AuthInject,
		Credentials: config.Credentials{Username: "sluice_catalog", PasswordEnv: "SLUICE_TEST_CATALOG_PW"},
	}), Deps{Log: log, Policy: noSecrets{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	client, server := connPair(t, overTCP)
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Addr().String())
	}
	go h.Serve(context.Background(), &protocol.Session{ID: "desync", Identity: "etl", Target: "db", Started: time.Now()}, server, dial)
	t.Cleanup(func() { client.Close() })
	rc := &rawClient{t: t, fe: pgproto3.NewFrontend(client, client), c: client}
	p := map[string]string{"user": "job", "database": "shop"}
	for k, v := range params {
		p[k] = v
	}
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: p})
	rc.login = rc.until('Z')
	return rc
}

func (rc *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	rc.t.Helper()
	for _, m := range msgs {
		rc.fe.Send(m)
	}
	if err := rc.fe.Flush(); err != nil {
		rc.t.Fatal(err)
	}
}

// until reads messages up to one of type typ and returns what came, in
// short form: "D:<first column>", "E:<code>", or the type letter.
func (rc *rawClient) until(typ byte) []string {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got []string
	for {
		m, err := rc.fe.Receive()
		if err != nil {
			rc.t.Fatalf("receive after %v: %v", got, err)
		}
		var s string
		var b byte
		switch m := m.(type) {
		case *pgproto3.DataRow:
			s, b = "D:"+string(m.Values[0]), 'D'
		case *pgproto3.ErrorResponse:
			s, b = "E:"+m.Code, 'E'
			if m.Severity == "FATAL" {
				return append(got, "FATAL:"+m.Code)
			}
		case *pgproto3.ReadyForQuery:
			s, b = "Z", 'Z'
		case *pgproto3.CopyInResponse:
			s, b = "G", 'G'
		default:
			continue
		}
		got = append(got, s)
		if b == typ {
			return got
		}
	}
}

// noSecret fails if secret.t's row is among got.
func noSecret(t *testing.T, what string, got []string) {
	t.Helper()
	for _, g := range got {
		if strings.Contains(g, "TOPSECRET") {
			t.Fatalf("%s: secret.t reached the client: %v", what, got)
		}
	}
}

func TestDesyncAttacks(t *testing.T) {
	srv := maskServer(t)
	if _, err := srv.Exec("shop", desyncSeed); err != nil {
		t.Fatal(err)
	}

	t.Run("a Sync during COPY FROM STDIN", func(t *testing.T) {
		// The server ignores it: no ReadyForQuery answers it.
		c := desyncClient(t, srv, nil)
		c.send(&pgproto3.Query{String: "COPY sink FROM STDIN"})
		c.until('G')
		c.send(&pgproto3.Sync{}, &pgproto3.Flush{}, &pgproto3.CopyData{Data: []byte("x\n")}, &pgproto3.CopyDone{})
		c.until('Z')
		c.send(&pgproto3.Query{String: "SET search_path TO secret, public"})
		c.until('Z')
		c.send(&pgproto3.Query{String: "SELECT v FROM t"})
		got := c.until('Z')
		noSecret(t, "SELECT after the COPY", got)
		if got[0] != "E:42501" {
			t.Fatalf("SELECT v FROM t under search_path secret: %v, want 42501", got)
		}
		c.send(&pgproto3.Query{String: "SELECT count(*)::text FROM public.sink"})
		if got := c.until('Z'); got[0] != "D:1" {
			t.Fatalf("rows copied: %v", got)
		}
	})

	t.Run("a query sent during COPY FROM STDIN ends the session", func(t *testing.T) {
		c := desyncClient(t, srv, nil)
		c.send(&pgproto3.Query{String: "COPY sink FROM STDIN"})
		c.until('G')
		c.send(&pgproto3.Query{String: "SELECT v FROM secret.t"})
		got := c.until('Z')
		noSecret(t, "a query inside COPY", got)
		if got[len(got)-1] != "FATAL:08P01" {
			t.Fatalf("got %v, want FATAL 08P01", got)
		}
	})

	t.Run("the search_path of Bind, not of Execute", func(t *testing.T) {
		// PostgreSQL plans the portal at Bind.
		c := desyncClient(t, srv, nil)
		c.send(&pgproto3.Parse{Name: "sA", Query: "SELECT v FROM t"}, &pgproto3.Sync{})
		c.until('Z')
		c.send(&pgproto3.Query{String: "BEGIN"})
		c.until('Z')
		c.send(&pgproto3.Query{String: "SET search_path TO secret, public"})
		c.until('Z')
		c.send(&pgproto3.Bind{PreparedStatement: "sA", DestinationPortal: "p"}, &pgproto3.Sync{})
		c.until('Z')
		c.send(&pgproto3.Query{String: "SET search_path TO public"})
		c.until('Z')
		c.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
		got := c.until('Z')
		noSecret(t, "Execute", got)
		if got[0] != "E:42501" {
			t.Fatalf("Execute of a portal bound under secret: %v, want 42501", got)
		}
	})

	t.Run("a Bind that fails leaves the old portal", func(t *testing.T) {
		c := desyncClient(t, srv, nil)
		c.send(&pgproto3.Parse{Name: "sA", Query: "SELECT v FROM t"}, &pgproto3.Parse{Name: "sB", Query: "SELECT 'harmless'"}, &pgproto3.Sync{})
		c.until('Z')
		c.send(&pgproto3.Query{String: "BEGIN; SET LOCAL search_path TO secret, public"})
		c.until('Z')
		c.send(&pgproto3.Bind{PreparedStatement: "sA", DestinationPortal: "p"}, &pgproto3.Sync{})
		c.until('Z')
		c.send(&pgproto3.Query{String: "SAVEPOINT s"})
		c.until('Z')
		// p exists: 42P03, and the server keeps p as it was.
		c.send(&pgproto3.Bind{PreparedStatement: "sB", DestinationPortal: "p"}, &pgproto3.Sync{})
		if got := c.until('Z'); got[0] != "E:42P03" {
			t.Fatalf("Bind to an existing portal: %v", got)
		}
		c.send(&pgproto3.Query{String: "ROLLBACK TO s"})
		c.until('Z')
		c.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
		got := c.until('Z')
		noSecret(t, "Execute", got)
		if got[0] != "E:42501" {
			t.Fatalf("Execute of the portal the server kept: %v, want 42501", got)
		}
	})

	t.Run("a client far ahead of the server", func(t *testing.T) {
		// Past maxPending requests, sluice reads no more until the server
		// has answered some: every query is still answered, in order.
		c := desyncClient(t, srv, nil)
		const n = 3 * maxPending
		sent := make(chan error, 1)
		go func() {
			for range n {
				c.fe.Send(&pgproto3.Query{String: "SELECT 1"})
			}
			sent <- c.fe.Flush()
		}()
		for i := range n {
			if got := c.until('Z'); len(got) != 2 || got[0] != "D:1" {
				t.Fatalf("answer %d: %v", i, got)
			}
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a long batch rebinding one portal", func(t *testing.T) {
		// Each Bind keeps only its own statement and a link to the
		// portal before it (the union grew with the batch, squared).
		c := desyncClient(t, srv, nil)
		const n = 20000
		sent := make(chan error, 1)
		go func() {
			c.fe.Send(&pgproto3.Parse{Name: "s1", Query: "SELECT 1"})
			for range n {
				c.fe.Send(&pgproto3.Bind{PreparedStatement: "s1"})
				c.fe.Send(&pgproto3.Execute{})
			}
			c.fe.Send(&pgproto3.Sync{})
			sent <- c.fe.Flush()
		}()
		got := c.until('Z')
		if rows := strings.Count(strings.Join(got, " "), "D:1"); rows != n {
			t.Fatalf("%d rows for %d executions", rows, n)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a batch that fills the pending requests with small ones", func(t *testing.T) {
		// What sluice holds framed must reach the server while it waits
		// for room.
		c := desyncClient(t, srv, nil)
		sent := make(chan error, 1)
		go func() {
			for range 2 * maxPending {
				c.fe.Send(&pgproto3.Close{ObjectType: 'P'})
			}
			c.fe.Send(&pgproto3.Sync{})
			sent <- c.fe.Flush()
		}()
		c.until('Z')
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"search_path in upper case", map[string]string{"SEARCH_PATH": "secret, public"}},
		{"options split on a form feed", map[string]string{"options": "-c\fsearch_path=secret,public"}},
		{"options split on a carriage return", map[string]string{"options": "-c\rsearch_path=secret,public"}},
		{"grouped switches in options", map[string]string{"options": "-ecsearch_path=secret,public"}},
		// Settings that would act without a statement policies see.
		{"role as a parameter", map[string]string{"role": "secret"}},
		{"role in options", map[string]string{"options": "-c role=secret"}},
		{"session_authorization in options", map[string]string{"options": "--session-authorization=secret"}},
	} {
		t.Run("startup: "+tc.name, func(t *testing.T) {
			c := desyncClient(t, srv, tc.params)
			if l := c.login[len(c.login)-1]; l != "Z" {
				// Refused at login: nothing ran.
				if l != "FATAL:42501" {
					t.Fatalf("login: %v, want ReadyForQuery or FATAL 42501", c.login)
				}
				return
			}
			c.send(&pgproto3.Query{String: "SELECT v FROM t"})
			got := c.until('Z')
			noSecret(t, "SELECT", got)
			if got[0] != "E:42501" {
				t.Fatalf("SELECT v FROM t: %v, want 42501", got)
			}
		})
	}
}
