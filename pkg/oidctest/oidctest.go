// Package oidctest is a local OIDC issuer for tests: an httptest server on
// loopback serving a discovery document and a JWKS, and tokens signed with
// its keys (go-jose). Keys can be added, rotated and removed while it runs,
// and it counts the JWKS fetches. It also makes the bad tokens tests need:
// unsigned (alg none), signed by a key it does not publish, or with any
// claims.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a signing key of the issuer.
type Key struct {
	ID  string
	Alg jose.SignatureAlgorithm
	key any // *rsa.PrivateKey or *ecdsa.PrivateKey
}

// NewKey returns a fresh key: RS256 (2048-bit RSA) or ES256 (P-256).
func NewKey(t testing.TB, id string, alg jose.SignatureAlgorithm) *Key {
	t.Helper()
	var k any
	var err error
	switch alg {
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{ID: id, Alg: alg, key: k}
}

func (k *Key) public() jose.JSONWebKey {
	var pub any
	switch p := k.key.(type) {
	case *rsa.PrivateKey:
		pub = &p.PublicKey
	case *ecdsa.PrivateKey:
		pub = &p.PublicKey
	}
	return jose.JSONWebKey{Key: pub, KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}
}

// Issuer is a running test issuer.
type Issuer struct {
	URL    string // the issuer identifier, http://127.0.0.1:PORT
	server *httptest.Server

	mu        sync.Mutex
	signing   *Key   // tokens are signed with it
	published []*Key // the JWKS
	fetches   atomic.Int64
	failing   atomic.Bool // the JWKS answers 500
}

// New starts an issuer on loopback with one RS256 key, "key-1"; it stops
// when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("/jwks", is.jwks)
	is.server = httptest.NewServer(mux)
	t.Cleanup(is.server.Close)
	is.URL = is.server.URL
	k := NewKey(t, "key-1", jose.RS256)
	is.signing, is.published = k, []*Key{k}
	return is
}

func (is *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                is.URL,
		"jwks_uri":                              is.URL + "/jwks",
		"authorization_endpoint":                is.URL + "/authorize",
		"token_endpoint":                        is.URL + "/token",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func (is *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	is.fetches.Add(1)
	if is.failing.Load() {
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return
	}
	is.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range is.published {
		set.Keys = append(set.Keys, k.public())
	}
	is.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// FailJWKS makes the JWKS endpoint answer 500 (true) or serve the keys
// again (false).
func (is *Issuer) FailJWKS(fail bool) { is.failing.Store(fail) }

// JWKSFetches returns how many times the JWKS was fetched.
func (is *Issuer) JWKSFetches() int64 { return is.fetches.Load() }

// Rotate publishes k and signs with it from now on; with removeOld, the
// keys published before are withdrawn from the JWKS.
func (is *Issuer) Rotate(k *Key, removeOld bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if removeOld {
		is.published = nil
	}
	is.published = append(is.published, k)
	is.signing = k
}

// SigningKey returns the key tokens are signed with now.
func (is *Issuer) SigningKey() *Key {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.signing
}

// Claims returns the claims of a valid token for subject: iss, sub, aud,
// iat, nbf, exp (ttl from now) and a random jti. Callers add or change
// entries before signing.
func (is *Issuer) Claims(subject, audience string, ttl time.Duration) map[string]any {
	now := time.Now()
	var id [8]byte
	_, _ = rand.Read(id[:])
	return map[string]any{
		"iss": is.URL, "sub": subject, "aud": audience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"jti": fmt.Sprintf("%x", id),
	}
}

// Sign signs claims with the issuer's signing key.
func (is *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return SignWith(t, is.SigningKey(), claims)
}

// SignWith signs claims with k, whether the issuer publishes it or not.
func SignWith(t testing.TB, k *Key, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return SignPayload(t, k, payload)
}

// SignPayload signs payload, JSON written as the test wants it (key order,
// repeated names), with k.
func SignPayload(t testing.TB, k *Key, payload []byte) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: jose.JSONWebKey{Key: k.key, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Unsigned returns a token of claims with alg "none" and no signature.
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// Tamper returns token with its payload replaced by claims and its
// signature kept: a token whose signature no longer verifies.
func Tamper(t testing.TB, token string, claims map[string]any) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}
