package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// scramMechanism is SCRAM-SHA-256 without channel binding; inject logins
// bind to the upstream's TLS session when they can (scramPlusMechanism).
const scramMechanism = "SCRAM-SHA-256"

// maxSCRAMIterations bounds the work a hostile upstream can ask for.
const maxSCRAMIterations = 1 << 20

// scramClient runs the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677),
// with channel binding when cbind is set.
type scramClient struct {
	password    string
	gs2         string // the GS2 header: "n,,", "y,," or "p=tls-server-end-point,,"
	cbind       []byte // channel binding data, with the p header
	clientNonce string
	clientFirst string // client-first-message-bare
	authMessage string
	saltedPwd   []byte
	verified    bool // the server's signature checked out
}

// newSCRAMClient starts an exchange. With cbind, the exchange is bound to
// it (tls-server-end-point); without, supportsBinding says whether the
// client could have bound it (it is on TLS but the server offered no
// -PLUS mechanism: "y", so that a server that does support binding sees
// the offer was stripped).
func newSCRAMClient(password string, cbind []byte, supportsBinding bool) (*scramClient, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	c := &scramClient{password: password, clientNonce: base64.RawStdEncoding.EncodeToString(b[:]), gs2: "n,,"}
	switch {
	case cbind != nil:
		c.gs2, c.cbind = "p=tls-server-end-point,,", cbind
	case supportsBinding:
		c.gs2 = "y,,"
	}
	// PostgreSQL ignores the SCRAM user name; the startup message names the user.
	c.clientFirst = "n=,r=" + c.clientNonce
	return c, nil
}

// first returns the client-first-message.
func (c *scramClient) first() []byte { return []byte(c.gs2 + c.clientFirst) }

// final answers the server-first-message with the client-final-message.
func (c *scramClient) final(serverFirst []byte) ([]byte, error) {
	attrs := scramAttrs(string(serverFirst))
	nonce, salt64, iter := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, c.clientNonce) || len(nonce) == len(c.clientNonce) {
		return nil, errors.New("SCRAM: server nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return nil, errors.New("SCRAM: bad salt from server")
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n < 1 || n > maxSCRAMIterations {
		return nil, fmt.Errorf("SCRAM: iteration count %q out of range", iter)
	}
	if c.saltedPwd != nil {
		return nil, errors.New("SCRAM: a second server-first-message")
	}
	c.saltedPwd, err = pbkdf2.Key(sha256.New, c.password, salt, n, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("SCRAM: %w", err)
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(append([]byte(c.gs2), c.cbind...)) + ",r=" + nonce
	c.authMessage = c.clientFirst + "," + string(serverFirst) + "," + withoutProof
	clientKey := hmacSHA256(c.saltedPwd, "Client Key")
	stored := sha256.Sum256(clientKey)
	sig := hmacSHA256(stored[:], c.authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verify checks the server-final-message: the server proves it knows the
// password too.
func (c *scramClient) verify(serverFinal []byte) error {
	if c.saltedPwd == nil {
		// Without the exchange, the expected signature is one anybody
		// can compute.
		return errors.New("SCRAM: the server's final message came before the exchange")
	}
	if c.verified {
		return errors.New("SCRAM: a second server-final-message")
	}
	attrs := scramAttrs(string(serverFinal))
	if e, ok := attrs["e"]; ok {
		return fmt.Errorf("SCRAM: server error %q", e)
	}
	got, err := base64.StdEncoding.DecodeString(attrs["v"])
	if err != nil {
		return errors.New("SCRAM: bad server signature encoding")
	}
	want := hmacSHA256(hmacSHA256(c.saltedPwd, "Server Key"), c.authMessage)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return errors.New("SCRAM: server signature does not match; the upstream does not know the password")
	}
	c.verified = true
	return nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// scramAttrs splits "a=1,b=2" (values may contain '=').
func scramAttrs(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			out[k] = v
		}
	}
	return out
}
