package identity

import (
	"errors"
	"time"
)

// OIDC is what a verified OIDC token says about the workload that presented
// it: who issued it, whom it names, the identity its claims map to, the
// claims policies may read, and until when it holds. It never holds the
// token itself. A value is immutable once made: copies of an Attribution
// share it.
type OIDC struct {
	Issuer   string    // the issuer's URL, the token's iss
	Subject  string    // sub
	Identity string    // the identity name the issuer's template rendered
	JTI      string    // jti, "" when the token has none
	Expires  time.Time // exp: the binding ends then
	IssuedAt time.Time // iat, the zero time when the token has none
	// Claims are the claims the issuer exposes (oidc.issuers[].expose),
	// keyed by claim name; values as JSON decodes them (integers as
	// int64).
	Claims map[string]any
	// Keep says that open sessions outlive the token
	// (identities[].oidc.on_expiry: keep); new ones are refused after
	// Expires all the same.
	Keep bool
}

// ErrExpired is matched (errors.Is) by the errors and context causes of
// bindings whose token expired.
var ErrExpired = errors.New("the OIDC token of the identity expired")

// Expired reports whether the token has expired at now.
func (o *OIDC) Expired(now time.Time) bool { return !now.Before(o.Expires) }
