package postgres

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// SCRAM channel binding (RFC 5802 section 6, RFC 5929 tls-server-end-point):
// over TLS, sluice's SCRAM exchange with the upstream can be bound to the
// certificate the upstream presented in this TLS session. The server
// checks the binding against its own certificate, so someone who
// terminates TLS in between (with a certificate of their own, which tls:
// require accepts) and relays the exchange to the real server fails it.

// scramPlusMechanism is SCRAM-SHA-256 with channel binding.
const scramPlusMechanism = "SCRAM-SHA-256-PLUS"

// errNoBinding: the connection offers no channel binding data.
var errNoBinding = errors.New("no TLS session to bind to")

// errBindingUndefined: on TLS, but the binding of the upstream's
// certificate is not defined.
var errBindingUndefined = errors.New("no channel binding for this certificate")

// tlsServerEndPoint returns the tls-server-end-point channel binding data
// of c: the hash of the upstream's leaf certificate, by the hash of its
// signature algorithm (SHA-256 for MD5 and SHA-1). It fails with
// errNoBinding when c is not TLS, and with errBindingUndefined for
// certificates whose signature has no such hash (Ed25519).
func tlsServerEndPoint(c *conn) ([]byte, error) {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return nil, errNoBinding
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errNoBinding
	}
	var h crypto.Hash
	switch certs[0].SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("%w: the upstream's certificate is signed with %s, for which tls-server-end-point is not defined", errBindingUndefined, certs[0].SignatureAlgorithm)
	}
	d := h.New()
	d.Write(certs[0].Raw)
	return d.Sum(nil), nil
}
