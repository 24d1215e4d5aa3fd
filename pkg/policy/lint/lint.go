// Package lint finds what is wrong in a policy set without being an
// error: rules that can never match because an earlier rule of the same
// policy matches everything they do, masking that is never applied
// (column rules an earlier one always takes the columns of, a shadow
// policy's masking), approval settings that are never used or approvals
// nobody but root may give, and configured identities that no enforced
// policy decides for, whose every statement is denied. It is conservative: a
// rule is only reported when it is provably shadowed.
package lint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Finding is one warning, located in a policy file or the configuration.
type Finding struct {
	File string
	Line int    // 0 when unknown
	Path string // key path such as "policies[0].rules[2]"; "" for none
	Msg  string
}

// String formats the finding as "file:line: path: warning: msg".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		b.WriteString(":" + strconv.Itoa(f.Line))
	}
	b.WriteString(": ")
	if f.Path != "" {
		b.WriteString(f.Path + ": ")
	}
	b.WriteString("warning: " + f.Msg)
	return b.String()
}

// Check returns the findings of set, in file order, then those about
// cfg's identities and targets (cfgFile names the configuration in them).
// cfg may be nil: identities, and masking per identity and target, are
// then not checked.
func Check(set *policy.Set, cfg *config.Config, cfgFile string) []Finding {
	var out []Finding
	index := map[string]int{} // policies seen per file
	for _, p := range set.Policies() {
		pi := index[p.File]
		index[p.File]++
		for j, r := range p.Rules {
			for i := range j {
				if why := shadows(p.Rules[i], r); why != "" {
					out = append(out, Finding{
						File: p.File, Line: r.Line, Path: fmt.Sprintf("policies[%d].rules[%d]", pi, j),
						Msg: fmt.Sprintf("rule %q never matches: rule %q (line %d) before it %s", r.Name, p.Rules[i].Name, p.Rules[i].Line, why),
					})
					break
				}
			}
		}
		out = append(out, masking(p, pi)...)
	}
	out = append(out, approvals(set, cfg, cfgFile)...)
	if cfg != nil {
		out = append(out, conflicts(set, cfg)...)
		out = append(out, uncovered(set, cfg, cfgFile)...)
	}
	return out
}

// shadows says why rule a, earlier in the same policy, matches every
// request rule b matches, or returns "" when that is not certain. Only
// these are certain:
//
//   - a has no condition and no matcher: it matches every request;
//   - a has no condition and its only constraint is a kinds list (or it
//     is postgres: {}), and b has a postgres matcher whose kinds are all
//     in a's list (every kind when a has none).
//
// A condition on a, or any other key of its matcher, makes the outcome
// depend on the request, and nothing is reported.
func shadows(a, b *policy.Rule) string {
	if a.When != "" {
		return ""
	}
	if a.Postgres == nil {
		return "matches every request"
	}
	if !kindsOnly(a.Postgres) || b.Postgres == nil {
		return ""
	}
	if len(a.Postgres.Kinds) == 0 {
		return "matches every statement"
	}
	if len(b.Postgres.Kinds) == 0 || !subset(b.Postgres.Kinds, a.Postgres.Kinds) {
		return ""
	}
	if len(a.Postgres.Kinds) == 1 {
		return "matches every statement of kind " + joinKinds(a.Postgres.Kinds)
	}
	return "matches every statement of the kinds " + joinKinds(a.Postgres.Kinds)
}

// kindsOnly reports whether m constrains nothing but the kinds.
func kindsOnly(m *policy.PostgresMatch) bool {
	return m.Reads == nil && m.Writes == nil && m.Relations == nil && m.Schemas == nil &&
		m.Functions == nil && m.Text == "" && m.Unfiltered == nil
}

func subset(a, b []sqlclass.Kind) bool {
	for _, k := range a {
		if !slices.Contains(b, k) {
			return false
		}
	}
	return true
}

func joinKinds(ks []sqlclass.Kind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// uncovered reports configured identities that no enforced policy
// decides for on some target. A policy that abstains by default and has
// no allow rule cannot let a statement through on its own, so an identity
// that only such policies cover is reported too.
func uncovered(set *policy.Set, cfg *config.Config, cfgFile string) []Finding {
	var out []Finding
	policies := set.Policies()
	for _, id := range cfg.Identities {
		var covering, allowing []string
		for _, p := range policies {
			if !p.Enforce || !p.CoversIdentity(id.Name) {
				continue
			}
			covering = append(covering, p.Name)
			if p.Default != policy.Abstain || slices.ContainsFunc(p.Rules, func(r *policy.Rule) bool { return r.Action == policy.Allow }) {
				allowing = append(allowing, p.Name)
			}
		}
		switch {
		case len(covering) == 0:
			out = append(out, Finding{File: cfgFile, Msg: fmt.Sprintf(
				"identity %q is covered by no enforced policy: every statement it sends is denied", id.Name)})
		case len(allowing) == 0:
			out = append(out, Finding{File: cfgFile, Msg: fmt.Sprintf(
				"identity %q is only covered by policies that abstain and allow nothing (%s): every statement it sends is denied",
				id.Name, strings.Join(covering, ", "))})
		}
	}
	return out
}
