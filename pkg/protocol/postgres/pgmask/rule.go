package pgmask

import (
	"context"
	"errors"

	"github.com/sluicehq/sluice/pkg/mask"
)

// ErrNoKey is returned by Compile for a Hash rule without a hash key.
var ErrNoKey = errors.New("pgmask: hash rule without a key")

// Rule says how one column is masked. The zero Rule leaves it alone.
type Rule struct {
	// Strategy, when set, masks every value of the column, whatever it
	// holds: the column matched a column rule (or the whole result is
	// masked). Hash needs Masker, for its key.
	Strategy mask.Strategy
	// Masker runs its content detectors on the column's text-like values
	// (text, varchar, bpchar, name, json, jsonb, xml, arrays of them,
	// composite and user-defined types in text format) when Strategy is
	// not set. Nil: no detectors.
	Masker *mask.Masker
	// Hint tells the detectors what the column holds (mask.Context.Hint):
	// with mask.SSN, bare nine-digit numbers are SSNs.
	Hint mask.Set
	// Name names the rule in statistics; empty is fine.
	Name string
}

// IsZero reports whether r leaves the column alone.
func (r Rule) IsZero() bool {
	return r.Strategy == 0 && (r.Masker == nil || r.Masker.Detectors() == 0)
}

// Resolver gives the rule of each column of a result.
//
// Rule is called once per column while a Plan is compiled, with the
// column's name as the result labels it, and its table OID and attribute
// number (both 0 when the column is not a plain table column). It returns
// the zero Rule for columns it leaves alone. An error fails the
// compilation: the caller must then not forward the result unmasked.
type Resolver interface {
	Rule(ctx context.Context, name string, tableOID uint32, attr int16) (Rule, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, name string, tableOID uint32, attr int16) (Rule, error)

// Rule calls f.
func (f ResolverFunc) Rule(ctx context.Context, name string, tableOID uint32, attr int16) (Rule, error) {
	return f(ctx, name, tableOID, attr)
}
