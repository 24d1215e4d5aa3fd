package oidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/config"
)

// Timing of the issuer's endpoints.
const (
	httpTimeout = 10 * time.Second
	// retryDiscovery is how long a failed discovery is remembered before
	// the next token tries again.
	retryDiscovery = 5 * time.Second
	// DefaultMinRefresh is how often, at most, a token naming an unknown
	// key fetches the keys again.
	DefaultMinRefresh = 5 * time.Second
)

// issuer is one configured issuer: its discovery, keys and checks.
type issuer struct {
	cfg    config.OIDCIssuer
	client *http.Client
	opts   *Options

	mu       sync.Mutex
	verifier *gooidc.IDTokenVerifier // nil until discovered
	tried    time.Time
	err      error
}

func newIssuer(cfg config.OIDCIssuer, opts *Options) (*issuer, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("oidc: issuer %s: ca_file: %w", cfg.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("oidc: issuer %s: ca_file %s holds no PEM certificate", cfg.Name, cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &issuer{cfg: cfg, client: &http.Client{Transport: tr, Timeout: httpTimeout}, opts: opts}, nil
}

// ready returns the issuer's verifier, discovering the issuer first if
// needed. A failed discovery is retried by the next token after
// retryDiscovery.
func (is *issuer) ready(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.verifier != nil {
		return is.verifier, nil
	}
	if is.err != nil && is.opts.now().Sub(is.tried) < retryDiscovery {
		return nil, is.err
	}
	is.tried = is.opts.now()
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, is.client), is.cfg.URL)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			is.err = fmt.Errorf("the discovery document of %s names another issuer, %q", is.cfg.URL, clip(mismatch.Discovered))
		} else {
			is.err = fmt.Errorf("discovery of %s failed: %w", is.cfg.URL, err)
		}
		return nil, is.err
	}
	var doc struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKS == "" {
		is.err = fmt.Errorf("the discovery document of %s names no jwks_uri", is.cfg.URL)
		return nil, is.err
	}
	algs := make([]jose.SignatureAlgorithm, len(is.cfg.Algorithms))
	for i, a := range is.cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	keys := &keySet{
		url: doc.JWKS, client: is.client, algs: algs, maxAge: is.cfg.JWKSMaxAge,
		minRefresh: is.opts.MinRefresh, now: is.opts.now,
	}
	// The issuer and the signature are go-oidc's checks; audience, times
	// and claims are checked in verify, with the issuer's settings.
	is.verifier = gooidc.NewVerifier(is.cfg.URL, keys, &gooidc.Config{
		SkipClientIDCheck: true, SkipExpiryCheck: true, SupportedSigningAlgs: is.cfg.Algorithms,
	})
	is.err = nil
	return is.verifier, nil
}

// verify checks a token of this issuer whose header was read already.
func (is *issuer) verify(ctx context.Context, h header, raw string) (*Token, error) {
	t, err := is.verifyToken(ctx, h, raw)
	if e, ok := err.(*Error); ok {
		e.Issuer = is.cfg.Name
	}
	return t, err
}

func (is *issuer) verifyToken(ctx context.Context, h header, raw string) (*Token, error) {
	if !slices.Contains(is.cfg.Algorithms, h.Alg) {
		if h.Alg == "none" {
			return nil, refuse(ReasonAlgorithm, "the token is not signed (alg \"none\")")
		}
		return nil, refuse(ReasonAlgorithm, "signing algorithm %q is not accepted for issuer %q (algorithms: %v)", clip(h.Alg), is.cfg.Name, is.cfg.Algorithms)
	}
	v, err := is.ready(ctx)
	if err != nil {
		return nil, refuse(ReasonUnavailable, "issuer %q is unavailable: %v", is.cfg.Name, err)
	}
	s := &slot{}
	idt, err := v.Verify(context.WithValue(ctx, slotKey{}, s), raw)
	if err != nil {
		if s.err != nil {
			return nil, s.err
		}
		return nil, refuse(ReasonMalformed, "the token could not be verified as a JWT of issuer %q", is.cfg.Name)
	}
	var payload json.RawMessage
	if err := idt.Claims(&payload); err != nil {
		return nil, refuse(ReasonMalformed, "the token's claims are not a JSON object")
	}
	c, err := claims.Decode(payload) // inspect refused ambiguous names already
	if err != nil {
		return nil, refuse(ReasonMalformed, "the token's claims are not a JSON object")
	}
	return is.check(idt, c)
}
