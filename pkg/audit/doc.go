// Package audit writes sluice's structured event stream: one JSON object per
// line, with an `event` field naming the type. The field names are a stable
// interface documented in docs/events.md; security teams tail and parse it.
// Events go to standard output and, optionally, to a file rotated by size
// (rotate.go); the most recent ones are also held in memory, in a bounded
// ring that readers follow (stream.go, `sluice logs`).
//
// Nothing passed to this package may hold a secret: callers hand it
// identities, attribution and addresses, never credentials, and statement
// texts only once their secrets are redacted (sqlclass).
package audit
