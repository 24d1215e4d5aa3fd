package approval

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Exact identifies one statement for a once grant: a SHA-256 of its text
// and parameters, each length-prefixed, so that no two different
// statements, or one statement with its parameters cut differently, share
// it. Callers pass the text and parameters as approvers and events see
// them (secrets redacted), never raw secrets: the digest is kept in the
// grants file.
func Exact(text string, params []string) string {
	return digest(text, params)
}

// Scope identifies what a statement does for grants: a SHA-256 of parts
// (its kind, the relations it reads and writes, the functions it calls,
// the policy and rule that sent it to review, as the caller lists them in
// a fixed order), each length-prefixed.
func Scope(parts ...string) string {
	return digest("scope", parts)
}

func digest(text string, params []string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put(text)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(params)))])
	for _, p := range params {
		put(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
