// Package pgmask masks PostgreSQL values in line, as they stream from the
// server to the client: in DataRow messages and in COPY TO STDOUT data.
//
// A Plan is compiled once per result from its RowDescription and a
// Resolver, which gives the Rule of each column: a whole-value strategy
// from a column rule, content detectors (a *mask.Masker), or nothing. A
// Plan whose columns have no rules is empty, and an empty or nil Plan
// means "forward untouched": the caller copies rows through as before,
// at no cost beyond framing.
//
// Masking is type-aware: every masked value is valid for its column's
// type, in text and in binary format (see the table in docs/masking.md).
// Where a strategy cannot produce a valid value of the type (partial on an
// integer, say), the value becomes NULL and the column's statistics say
// so. Plan.Row rewrites a DataRow body into a new one with the right
// lengths; Plan.Copy gives a CopyRewriter that does the same for COPY TO
// STDOUT data in text, CSV or binary format.
//
// Column names come from the upstream catalog through a Catalog (one
// query per relation, cached with a TTL and a size bound); RuleSet is the
// Resolver that matches schema.table.column and bare column-name globs.
//
// The package knows nothing of the eBPF side or of the inspector's
// sessions: it turns bytes into bytes.
package pgmask
