package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxJWKS bounds the size of an issuer's JWKS document.
const maxJWKS = 1 << 20

// keySet is an issuer's published keys, implementing go-oidc's KeySet. It
// keeps them for maxAge, and fetches them again when a token names a key
// it does not hold, at most every minRefresh.
type keySet struct {
	url        string
	client     *http.Client
	algs       []jose.SignatureAlgorithm
	maxAge     time.Duration
	minRefresh time.Duration
	now        func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // of keys; zero before the first fetch
	tried   time.Time // the last fetch, successful or not
	err     error     // of the last fetch, when it failed
	busy    chan struct{}
}

// slotKey carries, in the context go-oidc passes to VerifySignature, where
// the key set puts its *Error: go-oidc keeps only the text of errors.
type slotKey struct{}

type slot struct{ err *Error }

func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	e := k.verify(ctx, raw)
	if s, ok := ctx.Value(slotKey{}).(*slot); ok && e.err != nil {
		s.err = e.err
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.payload, nil
}

type verified struct {
	payload []byte
	err     *Error
}

func (k *keySet) verify(ctx context.Context, raw string) verified {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return verified{err: refuse(ReasonMalformed, "not a JWT with one signature")}
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := k.get(ctx, false)
	if err != nil {
		return verified{err: refuse(ReasonUnavailable, "the issuer's keys could not be fetched: %v", err)}
	}
	payload, found, ok := check(jws, keys, kid)
	if !found && k.mayRefresh() {
		if keys, err = k.get(ctx, true); err != nil {
			return verified{err: refuse(ReasonUnavailable, "the issuer's keys could not be fetched: %v", err)}
		}
		payload, found, ok = check(jws, keys, kid)
	}
	switch {
	case ok:
		return verified{payload: payload}
	case !found && kid != "":
		return verified{err: refuse(ReasonUnknownKey, "the issuer publishes no key with id %q (it was rotated out, or the token comes from elsewhere)", clip(kid))}
	case !found:
		return verified{err: refuse(ReasonUnknownKey, "the token names no key (kid) and the issuer publishes no key of its algorithm")}
	}
	return verified{err: refuse(ReasonSignature, "the signature does not verify with the issuer's key %q", clip(kid))}
}

// check verifies jws with the keys of id kid (every signing key when kid
// is empty). found says whether any key was tried.
func check(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) (payload []byte, found, ok bool) {
	alg := jws.Signatures[0].Header.Algorithm
	for i := range keys {
		key := &keys[i]
		if kid != "" && key.KeyID != kid || key.Use != "" && key.Use != "sig" || key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		found = true
		if p, err := jws.Verify(key); err == nil {
			return p, true, true
		}
	}
	return nil, found, false
}

// mayRefresh reports whether an unknown key may fetch the keys again now.
func (k *keySet) mayRefresh() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now().Sub(k.tried) >= k.minRefresh
}

// get returns the keys, fetched again when they are older than maxAge or
// when force is set. One fetch runs at a time; the others wait for it.
func (k *keySet) get(ctx context.Context, force bool) ([]jose.JSONWebKey, error) {
	{
		k.mu.Lock()
		fresh := !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.maxAge
		if !force && fresh {
			keys := k.keys
			k.mu.Unlock()
			return keys, nil
		}
		if k.busy == nil && k.err != nil && k.now().Sub(k.tried) < k.minRefresh {
			// The last fetch failed a moment ago: while the issuer is
			// down, tokens do not each send it a request.
			err := k.err
			k.mu.Unlock()
			return nil, err
		}
		if k.busy == nil {
			k.busy = make(chan struct{})
			k.mu.Unlock()
			keys, err := k.fetch(ctx)
			k.mu.Lock()
			k.tried = k.now()
			if err == nil {
				k.keys, k.fetched, k.err = keys, k.tried, nil
			} else {
				k.err = err
			}
			close(k.busy)
			k.busy = nil
			k.mu.Unlock()
			return keys, err
		}
		busy := k.busy
		k.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		k.mu.Lock()
		keys, err := k.keys, k.err
		k.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return keys, nil
	}
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", k.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", k.url, err)
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("GET %s: the key set is larger than %d bytes", k.url, maxJWKS)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("GET %s: not a JSON Web Key Set: %w", k.url, err)
	}
	return set.Keys, nil
}
