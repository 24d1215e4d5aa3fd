// Package claims reads the claims of verified OIDC tokens for sluice: it
// parses identity name templates ("gha:{repository}@{ref}") and renders
// them from a token's claims, checks required claim values, and selects
// the claims exposed to policies, within size bounds. It knows nothing of
// signatures or issuers (see pkg/oidc): every function here is given
// claims that were already verified, or configuration text.
//
// # Claim paths
//
// A path names a claim: a top-level claim name ("repository"), or a
// nested one with dots ("kubernetes.io.namespace"). Claim names may
// themselves contain dots, so a path is resolved by taking, at each level,
// the longest run of its dot-separated segments that names a key:
// "kubernetes.io.namespace" finds {"kubernetes.io": {"namespace": ...}}.
//
// # Templates
//
// A template is literal text with placeholders, {path}, each naming a
// claim. Rendering never lets two different sets of claims produce the same
// name: two placeholders must be separated by literal text holding one of
// . _ : @ / -, and a claim value may not contain any of those characters
// that the template's literal text uses (with "gha:{repository}@{ref}", no
// value may contain ':' or '@'). A
// value must also be non-empty and made of the characters identity names
// allow.
package claims
