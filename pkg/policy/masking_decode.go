package policy

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// The masking: block of a policy (docs/policy.md, "Masking"). Its checks
// are strict: a key that would change nothing (a strategy without
// detectors, a hint for a detector that does not run) is an error, since
// it is most likely a mistake that would leave values unmasked.

// Group names detectors and strategies keys accept besides detector names.
const (
	groupSecrets  = "secrets"
	groupDefaults = "defaults"
	groupAll      = "all"
)

// hintDetectors are the detectors a column hint changes (mask.Context).
const hintDetectors = mask.Set(1<<mask.SSN | 1<<mask.Phone)

// maskLines records where the keys of a masking: block are, for the checks
// that span several keys.
type maskLines struct {
	strategy, region int
	strategies       []maskEntry // strategies entries, in file order
	hints            []maskEntry // column hints
	qualified        []maskEntry // schema.table.column rules
}

// maskEntry is one detector named by a strategies key or a hint.
type maskEntry struct {
	name string
	set  mask.Set
	line int
	path string
}

// masking decodes a policy's masking: block, and returns its
// schema.table.column rules apart (their check needs the policy's
// targets). It returns nil when the block is not a mapping.
func (d *decoder) masking(n *yaml.Node, path string) (*Masking, []maskEntry) {
	m := &Masking{}
	var at maskLines
	present, ok := d.mapping(n, path, []field{
		{key: "detectors", decode: func(d *decoder, n *yaml.Node, path string) {
			d.stringList(n, path, emptyMatcher, func(s string, line int, p string) {
				if set, ok := d.detector(s, true, line, p); ok {
					m.Detectors |= set
				}
			})
		}},
		{key: "strategy", decode: func(d *decoder, n *yaml.Node, path string) {
			at.strategy = n.Line
			m.Strategy, _ = d.strategyValue(n, path)
		}},
		{key: "strategies", decode: func(d *decoder, n *yaml.Node, path string) {
			d.maskStrategies(n, path, m, &at)
		}},
		{key: "region", decode: func(d *decoder, n *yaml.Node, path string) {
			if s, line, ok := d.str(n, path); ok {
				at.region = line
				if d.region(s, line, path) {
					m.Region = s
				}
			}
		}},
		{key: "columns", decode: func(d *decoder, n *yaml.Node, path string) {
			count := 0
			ok := d.sequence(n, path, func(item *yaml.Node, p string) {
				count++
				if c, ok := d.maskColumn(item, p, &at); ok {
					m.Columns = append(m.Columns, c)
				}
			})
			if ok && count == 0 {
				d.errorf(n.Line, path, "%s", emptyMatcher)
			}
		}},
		{key: "whole_result", decode: func(d *decoder, n *yaml.Node, path string) {
			m.Whole, _ = d.strategyValue(n, path)
		}},
	})
	if !ok {
		return nil, nil
	}
	d.checkMasking(m, present, &at, n.Line, path)
	return m, at.qualified
}

// checkCatalogRules refuses schema.table.column rules in an enforced
// policy that covers a target whose catalog sluice cannot read (see
// Known.Passthrough): at run time every statement the policy masks there
// would be refused (masking-unavailable), so the mistake is reported at
// load instead. Shadow policies never mask.
func (d *decoder) checkCatalogRules(p *Policy, qualified []maskEntry) {
	if len(qualified) == 0 || !p.Enforce {
		return
	}
	var covered []string
	for _, name := range d.known.Passthrough {
		if slices.ContainsFunc(p.targets, func(g glob) bool { return g.match(name) }) {
			covered = append(covered, name)
		}
	}
	if len(covered) == 0 {
		return
	}
	for _, q := range qualified {
		d.errorf(q.line, q.path, "%q names a schema.table.column, which sluice resolves through the target's catalog over a login of its own, "+
			"but the policy covers %s with auth: passthrough, where it has none (use auth: inject on the target, a bare column name such as %q, "+
			"or a policy whose targets leave it out)", q.name, quoteList("target", covered), q.name[strings.LastIndexByte(q.name, '.')+1:])
	}
}

// quoteList names things for a message: target "a", targets "a", "b".
func quoteList(what string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) > 1 {
		what += "s"
	}
	return what + " " + strings.Join(q, ", ")
}

// checkMasking checks what spans the keys of a masking: block.
func (d *decoder) checkMasking(m *Masking, present map[string]bool, at *maskLines, line int, path string) {
	if !present["detectors"] && !present["columns"] && !present["whole_result"] {
		d.errorf(line, path, "masks nothing: give detectors, columns or whole_result (or remove the key)")
		return
	}
	noDetectors := func(key string, line int) {
		d.errorf(line, yamldoc.JoinPath(path, key), "applies to the content detectors, and detectors lists none")
	}
	if !present["detectors"] {
		if present["strategy"] {
			noDetectors("strategy", at.strategy)
		}
		if len(at.strategies) > 0 {
			noDetectors("strategies", at.strategies[0].line)
		}
		if m.Region != "" {
			d.errorf(at.region, yamldoc.JoinPath(path, "region"), "only the phone detector reads it, and detectors lists none")
		}
		for _, h := range at.hints {
			d.errorf(h.line, h.path, "a hint sharpens the content detectors, and detectors lists none (add %s to detectors)", h.name)
		}
		return
	}
	if m.Detectors == 0 {
		return // the detectors were reported
	}
	for _, e := range at.strategies {
		if m.Detectors&e.set == 0 {
			d.errorf(e.line, e.path, "detectors does not include %s (add it to detectors, or remove the entry)", e.name)
		}
	}
	if m.Region != "" && !m.Detectors.Has(mask.Phone) {
		d.errorf(at.region, yamldoc.JoinPath(path, "region"), "only the phone detector reads it, and detectors does not include phone")
	}
	for _, h := range at.hints {
		if m.Detectors&h.set == 0 {
			d.errorf(h.line, h.path, "detectors does not include %s: the hint would change nothing (add %s to detectors)", h.name, h.name)
		}
	}
}

// maskStrategies decodes strategies: a mapping of detector names (or
// secrets) to strategies. A detector's own entry beats the secrets entry,
// whatever their order.
func (d *decoder) maskStrategies(n *yaml.Node, path string, m *Masking, at *maskLines) {
	names := append(detectorNames(), groupSecrets)
	var group mask.Strategy
	own := map[mask.Detector]mask.Strategy{}
	fields := make([]field, len(names))
	for i, name := range names {
		fields[i] = field{key: name, decode: func(d *decoder, n *yaml.Node, p string) {
			s, ok := d.strategyValue(n, p)
			set, _ := mask.ParseSet([]string{name})
			at.strategies = append(at.strategies, maskEntry{name: name, set: set, line: n.Line, path: p})
			switch {
			case !ok:
			case name == groupSecrets:
				group = s
			default:
				det, _ := mask.ParseDetector(name)
				own[det] = s
			}
		}}
	}
	r, ok := d.resolve(n)
	if !ok {
		return
	}
	if _, ok := d.mapping(r, path, fields); !ok {
		return
	}
	if len(r.Content) == 0 {
		d.errorf(n.Line, path, "must not be empty (remove the key to use strategy for every detector)")
		return
	}
	m.Strategies = map[mask.Detector]mask.Strategy{}
	if group != 0 {
		for det := mask.Detector(1); int(det) < mask.NumDetectors; det++ {
			if mask.Secrets.Has(det) {
				m.Strategies[det] = group
			}
		}
	}
	for det, s := range own {
		m.Strategies[det] = s
	}
}

// maskColumn decodes one item of columns.
func (d *decoder) maskColumn(n *yaml.Node, path string, at *maskLines) (MaskColumn, bool) {
	c := MaskColumn{Line: n.Line}
	good := true
	var hint maskEntry
	present, ok := d.mapping(n, path, []field{
		{key: "match", decode: func(d *decoder, n *yaml.Node, path string) {
			s, line, ok := d.str(n, path)
			if ok && d.columnGlob(s, line, path) {
				c.Match = s
				if strings.Count(s, ".") == 2 {
					at.qualified = append(at.qualified, maskEntry{name: s, line: line, path: path})
				}
			} else {
				good = false
			}
		}},
		{key: "strategy", decode: func(d *decoder, n *yaml.Node, path string) {
			var ok bool
			if c.Strategy, ok = d.strategyValue(n, path); !ok {
				good = false
			}
		}},
		{key: "hint", decode: func(d *decoder, n *yaml.Node, path string) {
			s, line, ok := d.str(n, path)
			if !ok {
				good = false
				return
			}
			set, ok := d.hint(s, line, path)
			if !ok {
				good = false
				return
			}
			c.Hint = set
			hint = maskEntry{name: s, set: set, line: line, path: path}
		}},
	})
	if !ok {
		return c, false
	}
	switch {
	case !present["match"]:
		d.errorf(n.Line, path, "match is required")
	case present["strategy"] && present["hint"]:
		d.errorf(n.Line, path, "strategy and hint exclude each other: a strategy masks the whole value, a hint only sharpens the detectors")
	case !present["strategy"] && !present["hint"]:
		d.errorf(n.Line, path, "strategy or hint is required")
	default:
		if good && c.Hint != 0 {
			at.hints = append(at.hints, hint)
		}
		return c, good
	}
	return c, false
}

// detector parses a detector name or, with groups, also secrets, defaults
// or all.
func (d *decoder) detector(s string, groups bool, line int, path string) (mask.Set, bool) {
	names := detectorNames()
	if groups {
		names = append(names, groupSecrets, groupDefaults, groupAll)
	}
	for _, n := range names {
		if n == s {
			set, err := mask.ParseSet([]string{s})
			return set, err == nil
		}
	}
	if sug := yamldoc.Suggest(strings.ToLower(s), names); sug != "" {
		d.errorf(line, path, "unknown detector %q (did you mean %q?)", s, sug)
	} else {
		d.errorf(line, path, "unknown detector %q (detectors: %s)", s, strings.Join(names, ", "))
	}
	return 0, false
}

// hint parses a column hint: ssn or phone.
func (d *decoder) hint(s string, line int, path string) (mask.Set, bool) {
	set, ok := d.detector(s, false, line, path)
	if ok && set&hintDetectors == 0 {
		d.errorf(line, path, "a hint only sharpens ssn and phone (bare digit runs of the column count); %s is found without one", s)
		return 0, false
	}
	return set, ok
}

// strategyValue decodes a strategy. The word null, which YAML reads as a
// null, is the null strategy; an empty value is not. The hash strategy is
// refused when the daemon has no hash key.
func (d *decoder) strategyValue(n *yaml.Node, path string) (mask.Strategy, bool) {
	if r, ok := d.resolve(n); ok && yamldoc.IsNull(r) && r.Value == "null" {
		return mask.Null, true
	}
	s, line, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	st, err := mask.ParseStrategy(s)
	if err != nil {
		names := strategyNames()
		if sug := yamldoc.Suggest(strings.ToLower(s), names); sug != "" {
			d.errorf(line, path, "unknown strategy %q (did you mean %q?)", s, sug)
		} else {
			d.errorf(line, path, "unknown strategy %q (strategies: %s)", s, strings.Join(names, ", "))
		}
		return 0, false
	}
	if st == mask.Hash && d.known.NoHashKey {
		d.errorf(line, path, "the hash strategy needs a hash key, and the daemon configuration has none (set masking.hash_key_file)")
		return 0, false
	}
	return st, true
}

// region checks a phone region: an ISO 3166 code the phone metadata
// knows, in capitals.
func (d *decoder) region(s string, line int, path string) bool {
	letters := len(s) == 2 && strings.IndexFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }) < 0
	switch {
	case !letters:
		d.errorf(line, path, "invalid region %q: an ISO 3166 two-letter country code, such as US or DE", s)
	case s != strings.ToUpper(s):
		d.errorf(line, path, "invalid region %q: write it in capitals (did you mean %q?)", s, strings.ToUpper(s))
	default:
		if _, err := mask.New(mask.Config{Region: s}); err != nil {
			d.errorf(line, path, "unknown region %q: no phone numbering plan for it", s)
			return false
		}
		return true
	}
	return false
}

// columnGlob checks a column rule's match as the inspector compiles it
// (path.Match syntax, case-insensitive): a bare column-name glob, or a
// schema.table.column glob of three non-empty parts.
func (d *decoder) columnGlob(s string, line int, at string) bool {
	parts := strings.Split(s, ".")
	switch {
	case s == "":
		d.errorf(line, at, "must not be empty")
	case len(s) > maxGlobLen:
		d.errorf(line, at, "longer than %d bytes", maxGlobLen)
	case len(parts) == 2:
		d.errorf(line, at, "bad column glob %q: write a column name, or schema.table.column (*.%s for any schema)", s, s)
	case len(parts) > 3:
		d.errorf(line, at, "bad column glob %q: write a column name, or schema.table.column (a glob cannot match a dot in a name)", s)
	default:
		for _, part := range parts {
			if part == "" {
				d.errorf(line, at, "bad column glob %q: empty part on one side of a dot", s)
				return false
			}
			if _, err := path.Match(strings.ToLower(part), ""); err != nil {
				d.errorf(line, at, "bad column glob %q: %v", s, err)
				return false
			}
		}
		return true
	}
	return false
}

// detectorNames lists the detector names, in detector order.
func detectorNames() []string {
	var names []string
	for det := mask.Detector(1); int(det) < mask.NumDetectors; det++ {
		names = append(names, det.String())
	}
	return names
}

// strategyNames lists the strategy names.
func strategyNames() []string {
	return []string{mask.Redact.String(), mask.Partial.String(), mask.Hash.String(), mask.Null.String()}
}
