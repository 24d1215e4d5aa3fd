package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// channelBindingConfig has three inject targets with tls: require (the
// server's certificate is not verified), each reached through its own
// TLS-terminating relay in front of the same server: bound binds its
// SCRAM login to the TLS session (the default, channel_binding: prefer),
// unbound does not; ed25519 is bound too, but its relay presents an
// Ed25519 certificate, for which no binding is defined.
const channelBindingConfig = pgDaemon + `
targets:
  - name: bound
    protocol: postgres
    address: {{.MITMBound}}
    postgres:
      auth: inject
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      database: orders
      tls: require
  - name: unbound
    protocol: postgres
    address: {{.MITMUnbound}}
    postgres:
      auth: inject
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      channel_binding: disable
      database: orders
      tls: require
  - name: ed25519
    protocol: postgres
    address: {{.MITMEd25519}}
    postgres:
      auth: inject
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      database: orders
      tls: require
`

// TestPostgresChannelBinding: someone in between who terminates TLS with
// a certificate of their own (which tls: require accepts) and relays the
// login to the real server gets a session when the login is not bound to
// the TLS session, and none when it is: the server checks the binding
// against its own certificate (real PostgreSQL 15, SCRAM-SHA-256-PLUS).
func TestPostgresChannelBinding(t *testing.T) {
	e := newEnv(t)
	srv := pgtest.StartT(t, pgtest.Options{Host: "127.0.0.10", TLS: true})
	if err := srv.CreateUser("etl", etlPassword, pgtest.SCRAM); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDatabase("orders", "etl"); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(e.dir, "mitm.crt"), filepath.Join(e.dir, "mitm.key")
	writeSelfSigned(t, cert, key)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	bound := startTLSRelay(t, "127.0.0.11:0", srv.Addr().String(), pair)
	unbound := startTLSRelay(t, "127.0.0.12:0", srv.Addr().String(), pair)
	ed := startTLSRelay(t, "127.0.0.14:0", srv.Addr().String(), ed25519Pair(t))
	e.vars["MITMBound"], e.vars["MITMUnbound"], e.vars["MITMEd25519"] = bound, unbound, ed
	write(t, filepath.Join(e.dir, "etl.password"), etlPassword+"\n")
	write(t, filepath.Join(e.dir, "policies", "etl.yaml"), selectPolicy("[bound, unbound, ed25519]"))
	w := &pgWorld{env: e, pg: srv}
	e.start(e.writeConfig(channelBindingConfig))

	psql := func(addr string) jobResult {
		host, port, _ := net.SplitHostPort(addr)
		return w.job(t, "legacy-etl", []string{"PGPASSWORD=irrelevant", "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable"},
			"", "/usr/bin/psql", "-X", "-At", "-h", host, "-p", port, "-U", "whoever", "-d", "orders", "-c", "SELECT current_user")
	}
	if r := psql(unbound); r.code != 0 || strings.TrimSpace(r.stdout) != "etl" {
		t.Fatalf("without channel binding, the login through the relay should work (that is the attack): %+v", r)
	}
	r := psql(bound)
	if r.code == 0 {
		t.Fatalf("a login bound to the relay's TLS session reached the server: %+v", r)
	}
	if !strings.Contains(r.stderr, "channel binding") {
		t.Errorf("psql's error does not name the failed channel binding:\n%s", r.stderr)
	}
	w.daemon.waitEvent(t, "db.login failure", func(ev event) bool {
		return ev.str("event") == "db.login" && ev.str("target") == "bound" && ev.str("outcome") == "failure"
	})
	// A certificate without a defined binding must not turn binding off.
	r = psql(ed)
	if r.code == 0 {
		t.Fatalf("a login through a relay with an Ed25519 certificate reached the server: %+v", r)
	}
	if !strings.Contains(r.stderr, "set channel_binding: disable") {
		t.Errorf("psql's error does not say why:\n%s", r.stderr)
	}
}

// ed25519Pair is a self-signed Ed25519 certificate for 127.0.0.1.
func ed25519Pair(t *testing.T) tls.Certificate {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startTLSRelay listens on listen and, for each connection that opens
// with an SSLRequest, terminates TLS with pair, opens TLS to upstream
// (PostgreSQL's SSLRequest, no verification) and copies bytes both ways.
// It returns its address; it stops with the test.
func startTLSRelay(t *testing.T, listen, upstream string, pair tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				relayTLS(c, upstream, pair)
			}()
		}
	}()
	return ln.Addr().String()
}

func relayTLS(c net.Conn, upstream string, pair tls.Certificate) {
	defer c.Close()
	var req [8]byte
	if _, err := io.ReadFull(c, req[:]); err != nil || binary.BigEndian.Uint32(req[4:]) != 80877103 {
		return
	}
	if _, err := c.Write([]byte{'S'}); err != nil {
		return
	}
	down := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{pair}})
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	var answer [1]byte
	if _, err := u.Write(req[:]); err != nil {
		return
	}
	if _, err := io.ReadFull(u, answer[:]); err != nil || answer[0] != 'S' {
		return
	}
	up := tls.Client(u, &tls.Config{InsecureSkipVerify: true}) // the relay poses as sluice to the server
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, down); _ = up.CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(down, up); _ = down.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}
