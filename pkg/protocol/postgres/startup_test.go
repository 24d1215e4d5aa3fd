package postgres

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// startupPacket encodes a StartupMessage with the given version and
// parameters (name, value, name, value...), in order.
func startupPacket(major, minor uint16, params ...string) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[4:], uint32(major)<<16|uint32(minor))
	for _, p := range params {
		b = append(append(b, p...), 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// requestPacket encodes an 8-byte startup-phase request (SSLRequest,
// GSSENCRequest).
func requestPacket(code uint32) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, 8)
	binary.BigEndian.PutUint32(b[4:], code)
	return b
}

// lengthOnly encodes a startup packet header declaring l bytes, with
// body following.
func lengthOnly(l uint32, body []byte) []byte {
	b := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(b, l)
	return append(b, body...)
}

var loginOK = []string{"AuthenticationOk", "ParameterStatus server_version", "ParameterStatus client_encoding", "BackendKeyData", "ReadyForQuery I"}

func TestStartup(t *testing.T) {
	alice := []string{"user", "alice", "database", "app"}
	tests := []struct {
		name    string
		pg      config.Postgres
		before  [][]byte // startup-phase requests, each answered with one byte
		answers string
		startup []byte
		want    []string // up to ReadyForQuery or a FATAL error
		wantErr string   // substring of the FATAL's message
		// upstream is a subset of the parameters the server must get; nil
		// when the server must not be dialed.
		upstream map[string]string
		absent   []string // parameters the server must not get
	}{
		{
			name:     "protocol 3.0",
			startup:  startupPacket(3, 0, alice...),
			want:     loginOK,
			upstream: map[string]string{"user": "alice", "database": "app"},
		},
		{
			name:     "SSLRequest refused without client_tls",
			before:   [][]byte{requestPacket(codeSSLRequest)},
			answers:  "N",
			startup:  startupPacket(3, 0, alice...),
			want:     loginOK,
			upstream: map[string]string{"user": "alice"},
		},
		{
			name:     "GSSENCRequest refused",
			before:   [][]byte{requestPacket(codeGSSENCRequest)},
			answers:  "N",
			startup:  startupPacket(3, 0, alice...),
			want:     loginOK,
			upstream: map[string]string{"user": "alice"},
		},
		{
			name:     "GSSENCRequest then SSLRequest",
			before:   [][]byte{requestPacket(codeGSSENCRequest), requestPacket(codeSSLRequest)},
			answers:  "NN",
			startup:  startupPacket(3, 0, alice...),
			want:     loginOK,
			upstream: map[string]string{"user": "alice"},
		},
		{
			name:    "protocol 2.0",
			startup: startupPacket(2, 0, alice...),
			want:    []string{"ErrorResponse FATAL 0A000"},
			wantErr: "unsupported frontend protocol 2.0",
		},
		{
			name:    "protocol 4.0",
			startup: startupPacket(4, 0, alice...),
			want:    []string{"ErrorResponse FATAL 0A000"},
			wantErr: "unsupported frontend protocol 4.0",
		},
		{
			name:     "protocol 3.2 is negotiated down",
			startup:  startupPacket(3, 2, alice...),
			want:     append([]string{"NegotiateProtocolVersion 3.0 []"}, loginOK...),
			upstream: map[string]string{"user": "alice"},
		},
		{
			name:     "a future protocol 3.x is negotiated down",
			startup:  startupPacket(3, 9, alice...),
			want:     append([]string{"NegotiateProtocolVersion 3.0 []"}, loginOK...),
			upstream: map[string]string{"user": "alice"},
		},
		{
			name:     "protocol options are reported unsupported",
			startup:  startupPacket(3, 0, "user", "alice", "_pq_.test_option", "on"),
			want:     append([]string{"NegotiateProtocolVersion 3.0 [_pq_.test_option]"}, loginOK...),
			upstream: map[string]string{"user": "alice"},
			absent:   []string{"_pq_.test_option"},
		},
		{
			name:    "replication=database refused",
			startup: startupPacket(3, 0, "user", "alice", "replication", "database"),
			want:    []string{"ErrorResponse FATAL 0A000"},
			wantErr: "replication connections are not supported",
		},
		{
			name:    "replication=true refused",
			startup: startupPacket(3, 0, "user", "alice", "replication", "true"),
			want:    []string{"ErrorResponse FATAL 0A000"},
			wantErr: "replication",
		},
		{
			name:     "replication=off accepted",
			startup:  startupPacket(3, 0, "user", "alice", "replication", "off"),
			want:     loginOK,
			upstream: map[string]string{"user": "alice", "replication": "off"},
		},
		{
			name:     "database defaults to the user name",
			startup:  startupPacket(3, 0, "user", "bob"),
			want:     loginOK,
			upstream: map[string]string{"user": "bob", "database": "bob"},
		},
		{
			name:     "configured user and database replace the client's",
			pg:       config.Postgres{User: "svc", Database: "prod"},
			startup:  startupPacket(3, 0, "user", "alice", "database", "app", "application_name", "nightly"),
			want:     loginOK,
			upstream: map[string]string{"user": "svc", "database": "prod", "application_name": "nightly"},
		},
		{
			name:    "no user name",
			startup: startupPacket(3, 0, "database", "app"),
			want:    []string{"ErrorResponse FATAL 08P01"},
			wantErr: "no PostgreSQL user name",
		},
		{
			name:    "parameters without their terminator",
			startup: lengthOnly(17, []byte("\x00\x03\x00\x00user\x00bob\x00")),
			want:    []string{"ErrorResponse FATAL 08P01"},
		},
		{
			name:    "packet longer than 10000 bytes",
			startup: lengthOnly(10001, nil),
			want:    []string{"ErrorResponse FATAL 08P01"},
			wantErr: "startup packet length 10001",
		},
		{
			name:    "packet shorter than 8 bytes",
			startup: lengthOnly(4, nil),
			want:    []string{"ErrorResponse FATAL 08P01"},
			wantErr: "startup packet length 4",
		},
		{
			name:    "malformed CancelRequest",
			startup: lengthOnly(10, []byte{0x04, 0xd2, 0x16, 0x2e, 0, 1}),
			want:    []string{"ErrorResponse FATAL 08P01"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{pg: tt.pg})
			c := e.serve(testSession("sess-1"))
			for i, p := range tt.before {
				c.sendRaw(p)
				if got := c.readByte(); got != tt.answers[i] {
					t.Fatalf("answer %d = %q, want %q", i, got, tt.answers[i])
				}
			}
			c.sendRaw(tt.startup)
			x := c.untilReady()
			if !slices.Equal(x.msgs, tt.want) {
				t.Fatalf("received %v, want %v (errors %v)", x.msgs, tt.want, x.errs)
			}
			if !strings.Contains(x.errMessage(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", x.errMessage(), tt.wantErr)
			}
			if tt.upstream == nil {
				if more := c.untilClosed(); len(more.msgs) > 0 {
					t.Errorf("received %v after the FATAL error", more.msgs)
				}
				if r := c.wait(); !errors.Is(r.err, ErrProtocol) {
					t.Errorf("Serve returned %v, want an error wrapping ErrProtocol", r.err)
				}
				if n := e.fake.dialCount(); n != 0 {
					t.Errorf("the upstream was dialed %d times", n)
				}
				return
			}
			got := e.fake.startupParams()
			if len(got) != 1 {
				t.Fatalf("%d upstream startups", len(got))
			}
			for k, v := range tt.upstream {
				if got[0][k] != v {
					t.Errorf("upstream %s = %q, want %q (all: %v)", k, got[0][k], v, got[0])
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[0][k]; ok {
					t.Errorf("upstream got %s", k)
				}
			}
			if v := e.fake.startupVersions(); !slices.Equal(v, []uint32{pgproto3.ProtocolVersion30}) {
				t.Errorf("upstream protocol versions %#x, want 3.0", v)
			}
			if r := c.terminate(); r.err != nil {
				t.Errorf("Serve: %v", r.err)
			}
		})
	}
}

// TestDialFailure: an unreachable upstream gives the client a FATAL error
// naming the target, and a failed db.login event.
func TestDialFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	clientEnd, serverEnd := connPair(t, overTCP)
	defer clientEnd.Close()
	dial := func(context.Context) (net.Conn, error) { return nil, errors.New("connection refused") }
	done := make(chan error, 1)
	go func() {
		_, err := e.h.Serve(t.Context(), testSession("sess-1"), serverEnd, dial)
		done <- err
	}()
	c := &pgClient{t: t, conn: clientEnd, fe: pgproto3.NewFrontend(clientEnd, clientEnd)}
	c.sendRaw(startupPacket(3, 0, "user", "alice"))
	x := c.untilClosed()
	if !slices.Equal(x.msgs, []string{"ErrorResponse FATAL 08006"}) || !strings.Contains(x.errMessage(), `target "pg"`) {
		t.Errorf("received %v %q", x.msgs, x.errMessage())
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve returned nil")
		}
	case <-time.After(ioTimeout):
		t.Fatal("Serve did not return")
	}
	checkEvents(t, e.audit.events(t, audit.DBLogin), []fields{{"outcome": "failure", "client_user": "alice"}})
}

// writeCert writes a self-signed certificate and key for 127.0.0.1.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sluice test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestClientTLS: with client_tls, SSLRequest is answered S and the session
// runs over TLS; bytes sent after the SSLRequest before the answer are
// refused (CVE-2021-23214).
func TestClientTLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	pg := config.Postgres{ClientTLS: config.ClientTLS{CertFile: certFile, KeyFile: keyFile}}

	t.Run("session over TLS", func(t *testing.T) {
		e := newEnv(t, envOptions{pg: pg})
		c := e.serve(testSession("sess-1"))
		c.sendRaw(requestPacket(codeSSLRequest))
		if got := c.readByte(); got != 'S' {
			t.Fatalf("answer %q, want S", got)
		}
		tc := tls.Client(c.conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		_ = tc.SetDeadline(time.Now().Add(ioTimeout))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		c.conn, c.fe = tc, pgproto3.NewFrontend(tc, tc)
		// A second SSLRequest inside TLS is refused.
		c.sendRaw(requestPacket(codeSSLRequest))
		if got := c.readByte(); got != 'N' {
			t.Fatalf("answer to a second SSLRequest %q, want N", got)
		}
		c.sendRaw(startupPacket(3, 0, "user", "alice"))
		if x := c.untilReady(); !slices.Equal(x.msgs, loginOK) {
			t.Fatalf("received %v", x.msgs)
		}
		runSteps(t, e, c, []step{q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")})
		if r := c.terminate(); r.err != nil {
			t.Errorf("Serve: %v", r.err)
		}
	})

	t.Run("data after SSLRequest", func(t *testing.T) {
		e := newEnv(t, envOptions{pg: pg})
		c := e.serve(testSession("sess-1"))
		c.sendRaw(append(requestPacket(codeSSLRequest), startupPacket(3, 0, "user", "alice")...))
		x := c.untilClosed()
		if !slices.Equal(x.msgs, []string{"ErrorResponse FATAL 08P01"}) || !strings.Contains(x.errMessage(), "unencrypted data after SSL request") {
			t.Errorf("received %v %q", x.msgs, x.errMessage())
		}
		if n := e.fake.dialCount(); n != 0 {
			t.Errorf("the upstream was dialed %d times", n)
		}
	})
}

// TestStartupStalledClient: a client that never completes its startup
// packet is dropped when the context ends.
func TestStartupStalledClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	clientEnd, serverEnd := connPair(t, overTCP)
	defer clientEnd.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		_, _ = e.h.Serve(ctx, &protocol.Session{ID: "stalled"}, serverEnd, e.fake.dial)
		close(done)
	}()
	if _, err := clientEnd.Write(lengthOnly(100, []byte("\x00\x03"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}

// TestStartupSearchPath: the server applies a search_path sent as a
// startup parameter as it does one in options; so does the classifier.
func TestStartupSearchPath(t *testing.T) {
	for name, params := range map[string]map[string]string{
		"parameter":              {"user": "alice", "database": "app", "search_path": "secret"},
		"options":                {"user": "alice", "database": "app", "options": "-c search_path=secret"},
		"parameter over options": {"user": "alice", "database": "app", "options": "-c search_path=public", "search_path": "secret"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c, _ := e.connect(params)
			c.send(&pgproto3.Query{String: "SELECT 1 FROM t"})
			c.untilReady()
			reqs := e.policy.requests()
			if len(reqs) != 1 || len(reqs[0].SQL.Reads) != 1 || reqs[0].SQL.Reads[0].String() != "secret.t" {
				t.Fatalf("requests %+v, want a read of secret.t", reqs)
			}
		})
	}
}

// Setting names are case-insensitive to the server: so they are to the
// inspector, and two spellings of one name in a startup packet (the
// server would apply both, in an order the inspector no longer has) are
// refused.
func TestStartupSettingNames(t *testing.T) {
	startupOf := func(params map[string]string) (*startup, error) {
		b, err := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: params}).Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		return parseStartup(b[4:])
	}
	st, err := startupOf(map[string]string{"user": "etl", "SEARCH_PATH": "secret, public", "options": "-c search_path=public"})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := startupSetting(st.params, "search_path"); !ok || v != "secret, public" {
		t.Errorf("search_path = %q, %v; want the parameter's, whatever its case", v, ok)
	}
	if _, err := startupOf(map[string]string{"user": "etl", "search_path": "public", "Search_Path": "secret"}); !errors.Is(err, ErrProtocol) {
		t.Errorf("two spellings of search_path: %v", err)
	}
}

// What a startup packet may set: formatting, timeouts, planning; never
// who runs the session or how its statements are enforced.
func TestStartupSettingsAllowed(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]string
		ok     bool
	}{
		{"psql with PGOPTIONS", map[string]string{"user": "etl", "database": "orders", "application_name": "psql", "options": "-c statement_timeout=5min -c search_path=sales,public"}, true},
		{"JDBC defaults", map[string]string{"user": "etl", "database": "orders", "client_encoding": "UTF8", "DateStyle": "ISO", "TimeZone": "UTC", "extra_float_digits": "3", "application_name": "PostgreSQL JDBC Driver"}, true},
		{"planner and memory settings", map[string]string{"user": "etl", "work_mem": "64MB", "options": "--enable-seqscan=off -c jit=off"}, true},
		{"role", map[string]string{"user": "etl", "role": "admin"}, false},
		{"role in options", map[string]string{"user": "etl", "options": "-c role=admin"}, false},
		{"session_authorization", map[string]string{"user": "etl", "options": "--session_authorization=admin"}, false},
		{"default_transaction_read_only", map[string]string{"user": "etl", "default_transaction_read_only": "off"}, false},
		{"row_security", map[string]string{"user": "etl", "options": "-c row_security=off"}, false},
		{"another switch in options", map[string]string{"user": "etl", "options": "-e"}, false},
		{"a word that is no switch", map[string]string{"user": "etl", "options": "orders"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkStartupSettings(tc.params)
			if (err == nil) != tc.ok {
				t.Fatalf("checkStartupSettings = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errStartupSetting) {
				t.Fatalf("error %v is not errStartupSetting", err)
			}
		})
	}
}
