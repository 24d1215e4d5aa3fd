package oidc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/sluicehq/sluice/pkg/claims"
)

// MaxToken bounds the size of a token, in bytes.
const MaxToken = 16 << 10

// header is the part of a JOSE header sluice reads before verifying.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// inspect reads a compact JWS without verifying it: its header, to refuse
// an algorithm before anything else, and its claims, to pick the issuer
// whose keys verify it. Nothing read here is trusted.
func inspect(raw string) (header, map[string]any, error) {
	var h header
	if raw == "" {
		return h, nil, refuse(ReasonMalformed, "the token is empty")
	}
	if len(raw) > MaxToken {
		return h, nil, refuse(ReasonMalformed, "the token is %d bytes long; at most %d are accepted", len(raw), MaxToken)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return h, nil, refuse(ReasonMalformed, "not a signed JWT (a compact JWS has 3 dot-separated parts, this has %d)", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return h, nil, refuse(ReasonMalformed, "the JWT header is not base64url")
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, nil, refuse(ReasonMalformed, "the JWT header is not a JSON object")
	}
	if h.Alg == "" {
		return h, nil, refuse(ReasonMalformed, "the JWT header names no algorithm (alg)")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return h, nil, refuse(ReasonMalformed, "the JWT payload is not base64url")
	}
	c, err := claims.Decode(pb)
	if errors.Is(err, claims.ErrFoldedNames) {
		return h, nil, refuse(ReasonMalformed, "the token's claims are ambiguous: %v", err)
	}
	if err != nil {
		return h, nil, refuse(ReasonMalformed, "the JWT payload is not a JSON object of claims")
	}
	return h, c, nil
}
