package oidc

import (
	"errors"
	"fmt"
)

// Reason classifies a refusal; it is the reason label of the verification
// metrics.
type Reason string

// Reasons.
const (
	ReasonMalformed   Reason = "malformed"          // not a signed JWT, or claims that are not JSON
	ReasonAlgorithm   Reason = "algorithm"          // a signing algorithm the issuer is not trusted with (none included)
	ReasonIssuer      Reason = "issuer"             // an issuer sluice does not trust, or not the one expected
	ReasonUnknownKey  Reason = "unknown_key"        // the issuer publishes no key with the token's key id
	ReasonSignature   Reason = "signature"          // the signature does not verify
	ReasonAudience    Reason = "audience"           // aud holds none of the configured audiences
	ReasonExpired     Reason = "expired"            // exp has passed
	ReasonNotYetValid Reason = "not_yet_valid"      // nbf or iat lies ahead, beyond the clock skew
	ReasonClaims      Reason = "claims"             // a required claim is missing or does not hold
	ReasonIdentity    Reason = "identity"           // the claims give no identity, or one that may not be used
	ReasonUnavailable Reason = "issuer_unavailable" // discovery or the JWKS could not be fetched
)

// Error is a refused token.
type Error struct {
	Reason Reason
	Msg    string
	// Issuer names the configured issuer the token claimed to come from;
	// "" when it names none sluice knows.
	Issuer string
}

func (e *Error) Error() string { return "OIDC token refused: " + e.Msg }

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// IssuerOf returns the configured issuer of a refused token, "" when none.
func IssuerOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Issuer
	}
	return ""
}

// ReasonOf returns the reason of a refusal, "error" for any other error.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return string(e.Reason)
	}
	return "error"
}

// clip bounds a value quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
