package policy

import "github.com/sluicehq/sluice/pkg/mask"

// Masking is how the results of a request are masked: the masking: blocks
// of every enforced policy that applies to the request's identity and
// target, merged in load order (shadow policies never mask: shadow mode
// must not change traffic). It is computed once per (identity, target)
// pair and shared by every Decision for that pair: it must not be
// modified, and its address may key caches (a new policy set makes new
// values).
//
// A nil *Masking masks nothing.
type Masking struct {
	// Policies names the policies that contributed, in load order.
	Policies []string
	// Detectors are the content detectors that run on every column no
	// column rule masks (the union of the policies' detectors).
	Detectors mask.Set
	// Strategy is the strategy of detectors without an entry in
	// Strategies (the first policy's that sets one; zero means redact).
	Strategy mask.Strategy
	// Strategies are per-detector strategies. For each detector, the
	// first policy whose detectors include it decides: its entry for the
	// detector, else its strategy. A merged Masking has an entry for
	// every detector it runs; a single policy's holds what it wrote.
	Strategies map[mask.Detector]mask.Strategy
	// Region is the region of phone numbers in national format (the first
	// policy's that sets one).
	Region string
	// Columns are the column rules of every policy, in policy order then
	// file order; the first that matches a column wins.
	Columns []MaskColumn
	// Whole, when set, masks every column of every result with this
	// strategy (the first policy's whole_result).
	Whole mask.Strategy
}

// MaskColumn is one column rule of a policy's masking: block.
type MaskColumn struct {
	Policy string // the policy it comes from
	// Match is a "schema.table.column" glob or a bare column-name glob.
	Match string
	// Strategy masks the whole value; zero when the rule is only a Hint.
	Strategy mask.Strategy
	// Hint sharpens the content detectors for the column's values (a bare
	// nine-digit value of a column matching "*ssn*" is an SSN).
	Hint mask.Set
	Line int
}

// StrategyOf returns the strategy detector d applies: its entry in
// Strategies, else Strategy, else redact. It does not say whether d runs
// (see Detectors).
func (m *Masking) StrategyOf(d mask.Detector) mask.Strategy {
	if s, ok := m.Strategies[d]; ok && s != 0 {
		return s
	}
	if m.Strategy != 0 {
		return m.Strategy
	}
	return mask.Redact
}
