// Package audit writes sluice's structured event stream: one JSON object per
// line, with an `event` field naming the type. The field names are a stable
// interface documented in docs/events.md; security teams tail and parse it.
//
// Nothing passed to this package may hold a secret: callers hand it
// identities, attribution and addresses, never credentials.
package audit
