// Package postgres is the PostgreSQL inspector. It speaks protocol 3.0 to
// the client as a server would and to the upstream as a client would:
// answers SSLRequest and GSSENCRequest, authenticates (passing the
// upstream's exchange through, or accepting the client on its kernel
// identity and logging in upstream with injected credentials), routes
// CancelRequest to the right backend, and then classifies every statement
// (simple and extended protocol) with pkg/sqlclass and asks the policy
// whether it may run.
//
// A denied statement is never forwarded. So that the session behaves
// exactly as if the server had refused it, including aborting an open
// transaction and skipping the rest of an extended-protocol pipeline up to
// Sync, the inspector sends the upstream a statement that fails to parse in
// its place and replaces the resulting error with its own ErrorResponse
// (SQLSTATE 42501, naming the policy and rule). Responses are matched to
// requests in order, so the replacement is exact even with pipelining.
//
// Frames the inspector does not need to read (rows, COPY data) are copied
// through without decoding; a client message longer than the configured
// limit ends the session with a FATAL error.
package postgres
