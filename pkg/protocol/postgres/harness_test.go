package postgres

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// ioTimeout bounds every read and write of a test client, and the wait
// for Serve to return: no test can hang the suite.
const ioTimeout = 10 * time.Second

const (
	testTarget     = "pg"
	testIdentity   = "etl"
	testPolicyName = "etl-guard"
)

// testPolicy is a Decider with one decision per statement kind; kinds
// without one are allowed. It records the requests it decided.
type testPolicy struct {
	mu    sync.Mutex
	rules map[sqlclass.Kind]policy.Decision
	reqs  []policy.Request
}

func newTestPolicy() *testPolicy {
	p := &testPolicy{rules: map[sqlclass.Kind]policy.Decision{}}
	p.deny(sqlclass.KindDelete, "no-delete")
	p.deny(sqlclass.KindTruncate, "no-truncate")
	p.deny(sqlclass.KindDDL, "no-ddl")
	p.set(sqlclass.KindInsert, policy.Decision{Action: policy.Review, Policy: testPolicyName, Rule: "review-inserts", Message: "inserts need a second pair of eyes"})
	return p
}

func (p *testPolicy) deny(k sqlclass.Kind, rule string) {
	p.set(k, policy.Decision{Action: policy.Deny, Policy: testPolicyName, Rule: rule, Message: fmt.Sprintf("%s statements are not allowed", k)})
}

func (p *testPolicy) allow(k sqlclass.Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.rules, k)
}

func (p *testPolicy) set(k sqlclass.Kind, d policy.Decision) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d.Version = "v1"
	p.rules[k] = d
}

func (p *testPolicy) Decide(r *policy.Request) policy.Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, *r)
	if d, ok := p.rules[r.SQL.Kind]; ok {
		return d
	}
	return policy.Decision{Action: policy.Allow, Policy: testPolicyName, Rule: "allow-rest", Version: "v1"}
}

func (p *testPolicy) requests() []policy.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]policy.Request(nil), p.reqs...)
}

// auditLog collects the JSON audit events; safe for concurrent use.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *auditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

func (a *auditLog) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// events returns the events named name, in order.
func (a *auditLog) events(t testing.TB, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(a.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev["event"] == name {
			out = append(out, ev)
		}
	}
	return out
}

// fields lists the fields an event must have; the value "-" means the
// field must be absent. Values are compared as fmt.Sprint renders them.
type fields map[string]string

func checkEvents(t testing.TB, got []map[string]any, want []fields) {
	t.Helper()
	if len(got) != len(want) {
		for _, ev := range got {
			t.Logf("event: %v", ev)
		}
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		for k, v := range w {
			gv, ok := got[i][k]
			switch {
			case v == "-" && ok:
				t.Errorf("event %d: %s = %v, want it absent", i, k, gv)
			case v != "-" && !ok:
				t.Errorf("event %d: no %s, want %q (event %v)", i, k, v, got[i])
			case v != "-" && fmt.Sprint(gv) != v:
				t.Errorf("event %d: %s = %q, want %q", i, k, fmt.Sprint(gv), v)
			}
		}
	}
}

// envOptions configure a test environment.
type envOptions struct {
	pg   config.Postgres // zero fields get test defaults
	fake fakeOptions
	// client is the transport between the test client and the inspector.
	client transport
	// records and recordFailure are the handler's recording settings.
	records       Recordings
	recordFailure config.RecordFailure
	// approvals holds statements under review; nil refuses them.
	approvals Approvals
	// tokens verifies OIDC tokens given as passwords (auth: oidc).
	tokens TokenVerifier
}

// testEnv is one inspector (Handler) in front of one fake server.
type testEnv struct {
	t       testing.TB
	h       *Handler
	fake    *fakeServer
	audit   *auditLog
	policy  *testPolicy
	cancels *Cancels
	client  transport
}

func testConfig(pg config.Postgres) config.Postgres {
	if pg.Auth == "" {
		pg.Auth = config.AuthPassthrough
	}
	if pg.TLS == "" {
		pg.TLS = config.TLSDisable
	}
	if pg.MaxMessageSize == 0 {
		pg.MaxMessageSize = 1 << 20
	}
	if pg.SearchPath == nil {
		pg.SearchPath = []string{"public"}
	}
	return pg
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	e := &testEnv{t: t, audit: &auditLog{}, policy: newTestPolicy(), cancels: NewCancels(), client: o.client}
	log, err := audit.New(e.audit, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.h, err = New(testTarget, "127.0.0.1", testConfig(o.pg), Deps{
		Log: log, Policy: e.policy, Cancels: e.cancels, Records: o.records, RecordFailure: o.recordFailure,
		Approvals: o.approvals, Tokens: o.tokens,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.fake = newFake(t, o.fake)
	return e
}

func testSession(id string) *protocol.Session {
	return &protocol.Session{
		ID: id, Identity: testIdentity, Target: testTarget,
		Dst: netip.MustParseAddrPort("127.0.0.1:5432"), Started: time.Now(),
	}
}

// served is what Serve returned.
type served struct {
	res protocol.Result
	err error
}

// pgClient is a test client driving one Serve call.
type pgClient struct {
	t    testing.TB
	conn net.Conn
	fe   *pgproto3.Frontend
	done chan served

	once   sync.Once
	result served
	// key is the BackendKeyData the client got at login.
	key *pgproto3.BackendKeyData
}

// serve starts Serve for a new client connection of session s.
func (e *testEnv) serve(s *protocol.Session) *pgClient {
	e.t.Helper()
	clientEnd, serverEnd := connPair(e.t, e.client)
	c := &pgClient{t: e.t, conn: clientEnd, fe: pgproto3.NewFrontend(clientEnd, clientEnd), done: make(chan served, 1)}
	ctx := e.t.Context()
	go func() {
		res, err := e.h.Serve(ctx, s, serverEnd, e.fake.dial)
		c.done <- served{res, err}
	}()
	e.t.Cleanup(func() {
		c.conn.Close()
		c.wait()
	})
	return c
}

// connect starts a session and logs in with the client's startup
// parameters (user "alice" by default).
func (e *testEnv) connect(params map[string]string) (*pgClient, exchange) {
	e.t.Helper()
	c := e.serve(testSession("sess-1"))
	if params == nil {
		params = map[string]string{"user": "alice", "database": "app"}
	}
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params})
	x := c.untilReady()
	if last := x.msgs[len(x.msgs)-1]; last != "ReadyForQuery I" {
		e.t.Fatalf("login ended with %s: %v", last, x.msgs)
	}
	c.key = x.key
	return c, x
}

// wait waits for Serve to return and returns what it did.
func (c *pgClient) wait() served {
	c.once.Do(func() {
		select {
		case c.result = <-c.done:
		case <-time.After(ioTimeout):
			c.result = served{err: errors.New("Serve did not return")}
			c.t.Errorf("Serve did not return within %v", ioTimeout)
		}
	})
	return c.result
}

// send writes messages and flushes them.
func (c *pgClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := c.fe.Flush(); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// sendRaw writes bytes as they are.
func (c *pgClient) sendRaw(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// readByte reads one raw byte (the answer to SSLRequest).
func (c *pgClient) readByte() byte {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [1]byte
	if _, err := io.ReadFull(c.conn, b[:]); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return b[0]
}

func (c *pgClient) receive() (pgproto3.BackendMessage, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	return c.fe.Receive()
}

// exchange is what the client received, summarized, with the details
// tests look at copied out.
type exchange struct {
	msgs   []string
	errs   []pgproto3.ErrorResponse
	sasl   []string // mechanisms of an AuthenticationSASL
	negoti *pgproto3.NegotiateProtocolVersion
	key    *pgproto3.BackendKeyData
}

func (x *exchange) add(m pgproto3.BackendMessage) {
	x.msgs = append(x.msgs, summarize(m))
	switch m := m.(type) {
	case *pgproto3.ErrorResponse:
		x.errs = append(x.errs, *m)
	case *pgproto3.AuthenticationSASL:
		x.sasl = slices.Clone(m.AuthMechanisms)
	case *pgproto3.NegotiateProtocolVersion:
		x.negoti = &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: m.NewestMinorProtocol, UnrecognizedOptions: slices.Clone(m.UnrecognizedOptions)}
	case *pgproto3.BackendKeyData:
		x.key = &pgproto3.BackendKeyData{ProcessID: m.ProcessID, SecretKey: slices.Clone(m.SecretKey)}
	}
}

// errMessage is the message of the first error, or "".
func (x *exchange) errMessage() string {
	if len(x.errs) == 0 {
		return ""
	}
	return x.errs[0].Message
}

// summarize names a backend message for comparisons.
func summarize(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return "ErrorResponse " + m.Severity + " " + m.Code
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery " + string(m.TxStatus)
	case *pgproto3.ParameterStatus:
		return "ParameterStatus " + m.Name
	case *pgproto3.DataRow:
		vals := make([]string, len(m.Values))
		for i, v := range m.Values {
			vals[i] = string(v)
		}
		return "DataRow " + strings.Join(vals, ",")
	case *pgproto3.AuthenticationSASL:
		return "AuthenticationSASL " + strings.Join(m.AuthMechanisms, ",")
	case *pgproto3.NegotiateProtocolVersion:
		return fmt.Sprintf("NegotiateProtocolVersion 3.%d %v", m.NewestMinorProtocol, m.UnrecognizedOptions)
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3.")
}

// untilReady reads up to and including ReadyForQuery. A FATAL error or
// the end of the connection ends it too.
func (c *pgClient) untilReady() exchange {
	c.t.Helper()
	var x exchange
	for {
		m, err := c.receive()
		if err != nil {
			c.t.Fatalf("receive after %v: %v", x.msgs, err)
		}
		x.add(m)
		if e, ok := m.(*pgproto3.ErrorResponse); ok && e.Severity == "FATAL" {
			return x
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return x
		}
	}
}

// untilClosed reads until the connection ends and reports what came
// before; it fails the test if the connection stays open.
func (c *pgClient) untilClosed() exchange {
	c.t.Helper()
	var x exchange
	for {
		m, err := c.receive()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v (received %v)", ioTimeout, x.msgs)
			}
			return x
		}
		x.add(m)
	}
}

// terminate ends the session as a client does and waits for Serve.
func (c *pgClient) terminate() served {
	c.t.Helper()
	c.send(&pgproto3.Terminate{})
	c.conn.Close()
	return c.wait()
}

// step is one round trip: messages sent, and what the client must
// receive up to ReadyForQuery.
type step struct {
	before  func(e *testEnv) // runs before the messages are sent
	send    []pgproto3.FrontendMessage
	want    []string
	wantErr []string // substrings of the first error's message
}

// q is a simple-query step.
func q(sql string, want ...string) step {
	return step{send: []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}, want: want}
}

func (s step) errContains(subs ...string) step {
	s.wantErr = subs
	return s
}

// runSteps runs steps on a logged-in client.
func runSteps(t *testing.T, e *testEnv, c *pgClient, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.before != nil {
			s.before(e)
		}
		c.send(s.send...)
		x := c.untilReady()
		if !slices.Equal(x.msgs, s.want) {
			t.Fatalf("step %d: received\n\t%v\nwant\n\t%v\nerrors %v", i, strings.Join(x.msgs, "\n\t"), strings.Join(s.want, "\n\t"), x.errs)
		}
		for _, sub := range s.wantErr {
			if !strings.Contains(x.errMessage(), sub) {
				t.Errorf("step %d: error %q does not contain %q", i, x.errMessage(), sub)
			}
		}
	}
}

// checkUpstream compares what the fake received since login with want and
// checks that none of it contains a forbidden text.
func checkUpstream(t *testing.T, e *testEnv, want []string, forbidden []string) {
	t.Helper()
	got := e.fake.received()
	if want != nil && !slices.Equal(got, want) {
		t.Errorf("upstream received\n\t%v\nwant\n\t%v", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for _, f := range forbidden {
		for _, g := range got {
			if strings.Contains(g, f) {
				t.Errorf("upstream received %q, which contains %q", g, f)
			}
		}
	}
}
