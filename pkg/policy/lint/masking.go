package lint

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
)

// masking returns the findings about the masking: block of p, the pi-th
// policy of its file: a shadow policy's masking, which is never applied;
// whole-result masking beside rules it makes useless; column rules an
// earlier rule of the policy always takes the columns of.
func masking(p *policy.Policy, pi int) []Finding {
	m := p.Masking
	if m == nil {
		return nil
	}
	at := fmt.Sprintf("policies[%d].masking", pi)
	if !p.Enforce {
		return []Finding{{File: p.File, Line: p.Line, Path: at, Msg: fmt.Sprintf(
			"policy %q runs in shadow mode (enforce: false): its masking is never applied, since shadow mode does not change traffic", p.Name)}}
	}
	var out []Finding
	if m.Whole != 0 && (len(m.Columns) > 0 || m.Detectors != 0) {
		out = append(out, Finding{File: p.File, Line: p.Line, Path: at, Msg: fmt.Sprintf(
			"whole_result masks every column of every result with %s: the policy's columns and detectors never apply", m.Whole)})
	}
	for j, c := range m.Columns {
		for i := range j {
			if why := covers(m.Columns[i].Match, c.Match); why != "" {
				out = append(out, Finding{File: p.File, Line: c.Line, Path: fmt.Sprintf("%s.columns[%d]", at, j), Msg: fmt.Sprintf(
					"column rule %q never applies: rule %q (line %d) before it %s, and the first rule that matches a column wins",
					c.Match, m.Columns[i].Match, m.Columns[i].Line, why)})
				break
			}
		}
	}
	return out
}

// covers says why column glob a matches every column glob b matches, or
// returns "" when that is not certain. Globs match case-insensitively; a
// bare glob matches the column's name in the result and in the catalog,
// a schema.table.column glob only the catalog's.
func covers(a, b string) string {
	a, b = strings.ToLower(a), strings.ToLower(b)
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	switch {
	case a == b:
		return "matches the same columns"
	case a == "*":
		return "matches every column"
	case a == "*.*.*" && len(pb) == 3:
		return "matches every table column"
	case len(pa) == 1 && len(pb) == 3 && pb[0] == "*" && pb[1] == "*" && pb[2] == a:
		return "matches every column of that name, in every table"
	}
	return ""
}

// conflicts reports column rules that never apply to some identity on some
// target of cfg: another policy that applies there, earlier in load
// order, has a rule for the same columns that masks them otherwise.
// Each rule is reported once, with the first pair found.
func conflicts(set *policy.Set, cfg *config.Config) []Finding {
	where := map[string]string{} // policy name → file
	for _, p := range set.Policies() {
		where[p.Name] = p.File
	}
	type ruleKey struct {
		policy string
		line   int
	}
	seen := map[ruleKey]bool{}
	var out []Finding
	for _, id := range cfg.Identities {
		for _, t := range cfg.Targets {
			if t.Protocol != config.ProtocolPostgres {
				continue
			}
			m := set.Masking(id.Name, t.Name)
			if m == nil {
				continue
			}
			for j, c := range m.Columns {
				k := ruleKey{c.Policy, c.Line}
				if seen[k] {
					continue
				}
				for _, e := range m.Columns[:j] {
					if e.Policy == c.Policy || !strings.EqualFold(e.Match, c.Match) || (e.Strategy == c.Strategy && e.Hint == c.Hint) {
						continue
					}
					seen[k] = true
					out = append(out, Finding{File: where[c.Policy], Line: c.Line, Msg: fmt.Sprintf(
						"column rule %q of policy %q never applies to identity %q on target %q: policy %q, earlier in load order, masks the same columns with %s (%s:%d)",
						c.Match, c.Policy, id.Name, t.Name, e.Policy, what(e), where[e.Policy], e.Line)})
					break
				}
			}
		}
	}
	return out
}

// what names what a column rule does.
func what(c policy.MaskColumn) string {
	if c.Strategy != 0 {
		return c.Strategy.String()
	}
	return "hint " + c.Hint.String()
}
