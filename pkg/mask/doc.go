// Package mask finds sensitive values in text and rewrites them in line.
//
// A Masker is compiled once from a Config: which content detectors run
// (payment cards, e-mail addresses, US social security numbers, IBANs,
// phone numbers, secrets, and optionally IPv4 and IPv6 addresses), which
// strategy each one applies (redact, partial, hash, null) and the key of
// the hash strategy. A Masker is immutable and safe for concurrent use.
//
// A Scanner does the work. It holds the scratch state of one goroutine (the
// keyed hash), so each goroutine that masks gets its own with
// Masker.Scanner. Scanner.Text scans a value once, left to right, and
// rewrites what the detectors find: in free text, in JSON documents
// (escaped strings included), and in PostgreSQL array and composite text
// output. Replacements never introduce a quote, a backslash, a delimiter or
// white space, and keep escape sequences and separators where they were,
// so a JSON document stays valid JSON and an array literal keeps its
// elements. Scanner's whole-value methods (Redact, Partial, HashText,
// HashBytes, PermuteInt) serve column rules, where the whole value is
// masked whatever it holds.
//
// The scanner uses no regular expressions and allocates nothing for a
// value in which nothing is found: APIs are append-style and return dst
// untouched when the value stays as it is.
//
// The hash key is held in a Key, which never prints: fmt, JSON and text
// marshalling all show "[redacted]".
package mask
