package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/oidctest"
)

// issuerConfig is the configuration of a GitHub-like issuer at url, as a
// sluice.yaml would hold it.
func issuerConfig(t *testing.T, url string) config.OIDCIssuer {
	t.Helper()
	c, err := config.Parse("sluice.yaml", []byte(`
oidc:
  issuers:
    - name: ci
      issuer: `+url+`
      audiences: [sluice]
      algorithms: [RS256, ES256]
      clock_skew: 30s
      identity: "gha:{repository}@{ref}"
      required: {repository_owner: acme}
      expose: [ref, environment]
`))
	if err != nil {
		t.Fatal(err)
	}
	return c.OIDC.Issuers[0]
}

// workloadClaims are the claims of a GitHub Actions job of acme/app on main.
func workloadClaims(is *oidctest.Issuer, ttl time.Duration) map[string]any {
	c := is.Claims("repo:acme/app:ref:refs/heads/main", "sluice", ttl)
	c["repository"], c["repository_owner"], c["ref"], c["environment"] = "acme/app", "acme", "refs/heads/main", "production"
	return c
}

func newVerifier(t *testing.T, cfgs ...config.OIDCIssuer) *Verifier {
	t.Helper()
	v, err := New(cfgs, Options{MinRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyValid(t *testing.T) {
	is := oidctest.New(t)
	v := newVerifier(t, issuerConfig(t, is.URL))
	c := workloadClaims(is, 5*time.Minute)
	tok, err := v.Verify(context.Background(), is.Sign(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject != "repo:acme/app:ref:refs/heads/main" || tok.JTI != c["jti"] || tok.Issuer.Name != "ci" ||
		tok.Expires.Unix() != c["exp"].(int64) {
		t.Fatalf("token %+v", tok)
	}
	w, err := tok.Workload()
	if err != nil {
		t.Fatal(err)
	}
	if w.Identity != "gha:acme/app@refs/heads/main" || w.Issuer != is.URL || w.Subject != tok.Subject ||
		len(w.Claims) != 2 || w.Claims["ref"] != "refs/heads/main" || w.Claims["environment"] != "production" {
		t.Fatalf("workload %+v", w)
	}
	if _, leaked := w.Claims["repository_owner"]; leaked {
		t.Error("a claim that is not exposed was exposed")
	}
}

// TestVerifyRefused: every way a token can be wrong is refused, each
// with its own reason and message, and no message holds the token.
func TestVerifyRefused(t *testing.T) {
	is := oidctest.New(t)
	other := oidctest.New(t)
	cfg := issuerConfig(t, is.URL)
	v := newVerifier(t, cfg)
	unpublished := oidctest.NewKey(t, "key-1", jose.RS256) // same kid, other key
	es := oidctest.NewKey(t, "key-es", jose.ES256)
	tests := []struct {
		name   string
		token  func() string
		reason Reason
		msg    string
	}{
		{"expired", func() string {
			c := workloadClaims(is, -time.Minute)
			return is.Sign(t, c)
		}, ReasonExpired, "the token expired at"},
		{"wrong audience", func() string {
			c := workloadClaims(is, time.Minute)
			c["aud"] = []string{"vault", "aws"}
			return is.Sign(t, c)
		}, ReasonAudience, `the token is for audience ["vault", "aws"], not for ["sluice"]`},
		{"wrong issuer", func() string {
			c := workloadClaims(other, time.Minute)
			return other.Sign(t, c)
		}, ReasonIssuer, "are not accepted (it is not in oidc.issuers)"},
		{"iss of ours, signed by another issuer", func() string {
			c := workloadClaims(is, time.Minute)
			return oidctest.SignWith(t, unpublished, c)
		}, ReasonSignature, `the signature does not verify with the issuer's key "key-1"`},
		{"tampered claims", func() string {
			c := workloadClaims(is, time.Minute)
			tok := is.Sign(t, c)
			c["repository"] = "acme/prod"
			return oidctest.Tamper(t, tok, c)
		}, ReasonSignature, "the signature does not verify"},
		{"alg none", func() string {
			return oidctest.Unsigned(t, workloadClaims(is, time.Minute))
		}, ReasonAlgorithm, `the token is not signed (alg "none")`},
		{"algorithm not trusted", func() string {
			c := workloadClaims(is, time.Minute)
			k := oidctest.NewKey(t, "key-rs", jose.RS256)
			tok := oidctest.SignWith(t, k, c)
			return strings.Replace(tok, strings.Split(tok, ".")[0], "eyJhbGciOiJQUzUxMiIsImtpZCI6ImtleS1ycyJ9", 1)
		}, ReasonAlgorithm, `signing algorithm "PS512" is not accepted for issuer "ci"`},
		{"unknown key", func() string {
			return oidctest.SignWith(t, es, workloadClaims(is, time.Minute))
		}, ReasonUnknownKey, `the issuer publishes no key with id "key-es"`},
		{"missing required claim", func() string {
			c := workloadClaims(is, time.Minute)
			delete(c, "repository_owner")
			return is.Sign(t, c)
		}, ReasonClaims, `claim "repository_owner" is missing (required: "acme")`},
		{"required claim of another value", func() string {
			c := workloadClaims(is, time.Minute)
			c["repository_owner"] = "evil"
			return is.Sign(t, c)
		}, ReasonClaims, `claim "repository_owner" is "evil" (required: "acme")`},
		{"not yet valid", func() string {
			c := workloadClaims(is, time.Hour)
			c["nbf"] = time.Now().Add(10 * time.Minute).Unix()
			return is.Sign(t, c)
		}, ReasonNotYetValid, "the token is not valid before"},
		{"issued in the future", func() string {
			c := workloadClaims(is, time.Hour)
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			return is.Sign(t, c)
		}, ReasonNotYetValid, "the token was issued in the future"},
		{"no expiry", func() string {
			c := workloadClaims(is, time.Hour)
			delete(c, "exp")
			return is.Sign(t, c)
		}, ReasonClaims, "the token has no expiry (exp)"},
		{"no subject", func() string {
			c := workloadClaims(is, time.Hour)
			delete(c, "sub")
			return is.Sign(t, c)
		}, ReasonClaims, "the token names no subject (sub)"},
		{"a second subject named in another case", func() string {
			// encoding/json would take the last one, "SUB", for the
			// subject; a map of the claims keeps both.
			c := workloadClaims(is, time.Hour)
			b, _ := json.Marshal(c)
			payload := strings.TrimSuffix(string(b), "}") + `,"SUB":"repo:evil/app:ref:refs/heads/main"}`
			return oidctest.SignPayload(t, is.SigningKey(), []byte(payload))
		}, ReasonMalformed, `the token's claims are ambiguous: two claim names differ only in case: "SUB" and "sub"`},
		{"an expired token with a later expiry named in another case", func() string {
			c := workloadClaims(is, -time.Hour)
			b, _ := json.Marshal(c)
			payload := strings.TrimSuffix(string(b), "}") + fmt.Sprintf(`,"EXP":%d}`, time.Now().Add(time.Hour).Unix())
			return oidctest.SignPayload(t, is.SigningKey(), []byte(payload))
		}, ReasonMalformed, `two claim names differ only in case: "EXP" and "exp"`},
		{"a second subject named with a long s", func() string {
			c := workloadClaims(is, time.Hour)
			b, _ := json.Marshal(c)
			payload := strings.TrimSuffix(string(b), "}") + `,"\u017Fub":"repo:evil/app:ref:refs/heads/main"}`
			return oidctest.SignPayload(t, is.SigningKey(), []byte(payload))
		}, ReasonMalformed, "two claim names differ only in case"},
		{"not a JWT", func() string { return "hunter2" }, ReasonMalformed, "not a signed JWT"},
		{"garbage header", func() string { return "!!!.e30.e30" }, ReasonMalformed, "the JWT header is not base64url"},
		{"header without alg", func() string { return "e30.e30.e30" }, ReasonMalformed, "names no algorithm"},
		{"oversized", func() string { return strings.Repeat("a", MaxToken+1) }, ReasonMalformed, "at most 16384 are accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token()
			_, err := v.Verify(context.Background(), raw)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify = %v, want a refusal", err)
			}
			if e.Reason != tt.reason || !strings.Contains(e.Error(), tt.msg) {
				t.Fatalf("Verify = %q (%s), want %s: %q", e.Error(), e.Reason, tt.reason, tt.msg)
			}
			if len(raw) > 20 && strings.Contains(e.Error(), raw[len(raw)-20:]) || strings.Contains(e.Error(), raw) {
				t.Fatalf("the error holds the token: %q", e.Error())
			}
		})
	}
}

// TestKeyRotation: after the issuer rotates its key and withdraws the old
// one, a token of the new key is accepted (the key set is fetched again
// for the unknown key) and a token of the old one is refused.
func TestKeyRotation(t *testing.T) {
	is := oidctest.New(t)
	v := newVerifier(t, issuerConfig(t, is.URL))
	ctx := context.Background()
	old := is.Sign(t, workloadClaims(is, time.Hour))
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	fetches := is.JWKSFetches()
	if _, err := v.Verify(ctx, is.Sign(t, workloadClaims(is, time.Hour))); err != nil || is.JWKSFetches() != fetches {
		t.Fatalf("a second token of a known key: %v, %d fetches (want the cached keys)", err, is.JWKSFetches()-fetches)
	}

	is.Rotate(oidctest.NewKey(t, "key-2", jose.ES256), true)
	if _, err := v.Verify(ctx, is.Sign(t, workloadClaims(is, time.Hour))); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if is.JWKSFetches() != fetches+1 {
		t.Errorf("JWKS fetched %d times for the new key, want once", is.JWKSFetches()-fetches)
	}
	_, err := v.Verify(ctx, old)
	if ReasonOf(err) != string(ReasonUnknownKey) || !strings.Contains(err.Error(), `no key with id "key-1"`) {
		t.Fatalf("token of the withdrawn key: %v", err)
	}
}

// TestKeysExpire: keys older than jwks_max_age are fetched again, so a
// withdrawn key stops being trusted even when no new key shows up.
func TestKeysExpire(t *testing.T) {
	is := oidctest.New(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v, err := New([]config.OIDCIssuer{issuerConfig(t, is.URL)}, Options{Now: clock, MinRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := is.Sign(t, workloadClaims(is, 24*time.Hour))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	is.Rotate(oidctest.NewKey(t, "key-2", jose.RS256), true)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("within jwks_max_age the cached key still verifies: %v", err)
	}
	mu.Lock()
	now = now.Add(config.DefaultJWKSMaxAge + time.Second)
	mu.Unlock()
	if _, err := v.Verify(ctx, tok); ReasonOf(err) != string(ReasonUnknownKey) {
		t.Fatalf("after jwks_max_age: %v", err)
	}
}

func TestVerifyIssuer(t *testing.T) {
	is := oidctest.New(t)
	other := oidctest.New(t)
	a, b := issuerConfig(t, is.URL), issuerConfig(t, other.URL)
	b.Name = "other"
	v := newVerifier(t, a, b)
	tok := other.Sign(t, workloadClaims(other, time.Minute))
	if _, err := v.VerifyIssuer(context.Background(), "other", tok); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyIssuer(context.Background(), "ci", tok); ReasonOf(err) != string(ReasonIssuer) {
		t.Fatalf("token of another configured issuer: %v", err)
	}
}

func TestIssuerUnavailable(t *testing.T) {
	cfg := issuerConfig(t, "http://127.0.0.1:1")
	v := newVerifier(t, cfg)
	c := map[string]any{"iss": cfg.URL, "sub": "x", "aud": "sluice", "exp": time.Now().Add(time.Hour).Unix()}
	_, err := v.Verify(context.Background(), oidctest.SignWith(t, oidctest.NewKey(t, "k", jose.RS256), c))
	if ReasonOf(err) != string(ReasonUnavailable) || !strings.Contains(err.Error(), `issuer "ci" is unavailable: discovery of http://127.0.0.1:1 failed`) {
		t.Fatalf("Verify = %v", err)
	}
}

func TestWorkloadRefused(t *testing.T) {
	is := oidctest.New(t)
	v := newVerifier(t, issuerConfig(t, is.URL))
	c := workloadClaims(is, time.Minute)
	c["ref"] = "refs/heads/a@b"
	tok, err := v.Verify(context.Background(), is.Sign(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Workload(); ReasonOf(err) != string(ReasonIdentity) || !strings.Contains(err.Error(), `claim "ref" holds "refs/heads/a@b", which contains "@"`) {
		t.Fatalf("Workload = %v", err)
	}
}

// TestIssuerDownNotHammered: once the keys are too old to use and the
// issuer's JWKS fails, tokens are refused without each sending it a
// request; it is asked again after MinRefresh.
func TestIssuerDownNotHammered(t *testing.T) {
	is := oidctest.New(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v, err := New([]config.OIDCIssuer{issuerConfig(t, is.URL)}, Options{Now: clock, MinRefresh: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := is.Sign(t, workloadClaims(is, 24*time.Hour))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	is.FailJWKS(true)
	mu.Lock()
	now = now.Add(config.DefaultJWKSMaxAge + time.Second)
	mu.Unlock()
	before := is.JWKSFetches()
	for range 200 {
		if _, err := v.Verify(ctx, tok); ReasonOf(err) != string(ReasonUnavailable) {
			t.Fatalf("with the JWKS failing: %v", err)
		}
	}
	if n := is.JWKSFetches() - before; n != 1 {
		t.Fatalf("%d JWKS fetches for 200 tokens, want 1", n)
	}
	is.FailJWKS(false)
	mu.Lock()
	now = now.Add(6 * time.Second)
	mu.Unlock()
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after MinRefresh, with the issuer back: %v", err)
	}
}
