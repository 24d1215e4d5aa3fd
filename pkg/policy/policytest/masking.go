package policytest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// MaskingExpect is the masking a case expects for the results of its
// identity on its target: none, or some of what it is made of. Fields
// left nil are not checked.
type MaskingExpect struct {
	// None: the results are not masked.
	None bool
	// Policies are the contributing policies, in load order.
	Policies []string
	// Detectors are the content detectors that run, exactly.
	Detectors *mask.Set
	// Columns are the matches of the column rules, in order.
	Columns []string
	// Whole is the whole_result strategy; zero for none.
	Whole *mask.Strategy
}

// masking decodes expect.masking: none, or a mapping of policies,
// detectors, columns and whole_result.
func (d *decoder) masking(n *yaml.Node, path string) *MaskingExpect {
	if r, ok := d.resolve(n); ok && r.Kind == yaml.ScalarNode {
		if r.Value != "none" {
			d.errorf(r.Line, path, "expected none or a mapping {policies, detectors, columns, whole_result}, got %s", yamldoc.Describe(r))
			return nil
		}
		return &MaskingExpect{None: true}
	}
	m := &MaskingExpect{}
	present, ok := d.mapping(n, path, []field{
		{"policies", func(n *yaml.Node, path string) {
			if l, ok := d.strList(n, path); ok {
				m.Policies = l
			}
		}},
		{"detectors", func(n *yaml.Node, path string) { m.Detectors = d.detectors(n, path) }},
		{"columns", func(n *yaml.Node, path string) {
			if l, ok := d.strList(n, path); ok {
				m.Columns = l
			}
		}},
		{"whole_result", func(n *yaml.Node, path string) { m.Whole = d.whole(n, path) }},
	})
	if ok && len(present) == 0 {
		d.errorf(n.Line, path, "must not be empty: write none, or what to check (policies, detectors, columns, whole_result)")
	}
	return m
}

// detectors decodes a list of detector names, secrets, defaults or all.
func (d *decoder) detectors(n *yaml.Node, path string) *mask.Set {
	var set mask.Set
	ok := d.sequence(n, path, func(item *yaml.Node, p string) {
		s, line, ok := d.str(item, p)
		if !ok {
			return
		}
		v, err := mask.ParseSet([]string{s})
		if err != nil {
			msg := fmt.Sprintf("unknown detector %q", s)
			if sug := yamldoc.Suggest(strings.ToLower(s), detectorNames()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			d.errorf(line, p, "%s", msg)
			return
		}
		set |= v
	})
	if !ok {
		return nil
	}
	return &set
}

// whole decodes whole_result: none or a strategy.
func (d *decoder) whole(n *yaml.Node, path string) *mask.Strategy {
	var st mask.Strategy
	if r, ok := d.resolve(n); ok && yamldoc.IsNull(r) && r.Value == "null" {
		st = mask.Null // the word null, which YAML reads as a null
		return &st
	}
	s, line, ok := d.str(n, path)
	if !ok {
		return nil
	}
	if s == "none" {
		return &st
	}
	st, err := mask.ParseStrategy(s)
	if err != nil {
		d.errorf(line, path, "expected none or a strategy (redact, partial, hash, null), got %q", s)
		return nil
	}
	return &st
}

func detectorNames() []string {
	names := []string{"secrets", "defaults", "all"}
	for det := mask.Detector(1); int(det) < mask.NumDetectors; det++ {
		names = append(names, det.String())
	}
	return names
}

// compareMasking lists how m differs from what e expects.
func compareMasking(e *MaskingExpect, m *policy.Masking) []Diff {
	if e == nil {
		return nil
	}
	if e.None {
		if m != nil {
			return []Diff{{"masking", "none", "by " + strings.Join(m.Policies, ", ")}}
		}
		return nil
	}
	got := m
	if got == nil {
		got = &policy.Masking{}
	}
	var out []Diff
	if e.Policies != nil && !slices.Equal(e.Policies, got.Policies) {
		out = append(out, Diff{"masking.policies", list(e.Policies), list(got.Policies)})
	}
	if e.Detectors != nil && *e.Detectors != got.Detectors {
		out = append(out, Diff{"masking.detectors", set(*e.Detectors), set(got.Detectors)})
	}
	if e.Columns != nil {
		var matches []string
		for _, c := range got.Columns {
			matches = append(matches, c.Match)
		}
		if !slices.Equal(e.Columns, matches) {
			out = append(out, Diff{"masking.columns", list(e.Columns), list(matches)})
		}
	}
	if e.Whole != nil && *e.Whole != got.Whole {
		out = append(out, Diff{"masking.whole_result", strategy(*e.Whole), strategy(got.Whole)})
	}
	return out
}

func list(l []string) string { return "[" + strings.Join(l, ", ") + "]" }

func set(s mask.Set) string { return "[" + strings.ReplaceAll(s.String(), ",", ", ") + "]" }

func strategy(s mask.Strategy) string {
	if s == 0 {
		return "none"
	}
	return s.String()
}
