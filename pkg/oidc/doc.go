// Package oidc verifies the OIDC tokens sluice accepts: workload tokens
// (sluice run --oidc-token-file, PostgreSQL auth: oidc) and the bearer
// tokens of human approvers. It uses github.com/coreos/go-oidc/v3 for
// discovery and the checks of the token's issuer and signature, and checks
// the rest itself: the signing algorithms each issuer is trusted with, the
// audience, expiry, not-before and issued-at with the issuer's clock skew,
// and the required claims.
//
// # Keys
//
// The issuer's keys (its JWKS) are fetched on first use and kept for the
// issuer's jwks_max_age; a token signed by a key the cache does not hold
// fetches them again at once (at most every few seconds), so a rotation
// is followed without delay, and a key the issuer withdrew stops being
// trusted at the latest jwks_max_age after. go-oidc's own key set keeps
// keys until a signature fails, so a withdrawn key would stay trusted: it
// is not used.
//
// # Errors
//
// Every refusal is an *Error with a Reason (malformed, algorithm, issuer,
// unknown_key, signature, audience, expired, not_yet_valid, claims,
// identity, issuer_unavailable) and a message meant for the one who sent
// the token. No error, and nothing this package logs, ever holds the
// token or a part of its signature.
package oidc
