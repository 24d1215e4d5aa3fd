package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/pkg/sqlclass"
	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// nameRE is the rule for policy and rule names: the same characters as
// identity and target names in the daemon configuration.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:@/-]{0,127}$`)

const nameRule = "a name starts with a letter or digit, continues with letters, digits and . _ : @ / -, and is at most 128 characters"

// defaultRule is the Rule of a decision made by a policy's default; no
// rule may take the name.
const defaultRule = "default"

const (
	maxMessageLen = 1024
	maxTextLen    = 4096
	maxKnownShown = 20 // names listed in "unknown identity" messages
)

func (d *decoder) checkName(s, what string, line int, path string) bool {
	switch {
	case !nameRE.MatchString(s):
		d.errorf(line, path, "invalid %s name %q: %s", what, s, nameRule)
	case what == "rule" && s == defaultRule:
		d.errorf(line, path, "%q is reserved: decisions made by a policy's default name that rule", s)
	default:
		return true
	}
	return false
}

// checkAction checks the action of a rule (dflt false) or the default of
// a policy (dflt true), which may also be abstain.
func (d *decoder) checkAction(s string, dflt bool, line int, path string) (Action, bool) {
	valid := actions
	if dflt {
		valid = defaults
	}
	for _, a := range valid {
		if s == string(a) {
			return a, true
		}
	}
	if !dflt && s == string(Abstain) {
		d.errorf(line, path, "abstain is only a policy default (default: abstain); a rule decides allow, deny or review")
		return "", false
	}
	names := make([]string, len(valid))
	for i, a := range valid {
		names[i] = string(a)
	}
	msg := fmt.Sprintf("invalid action %q: must be one of %s", s, strings.Join(names, ", "))
	if sug := yamldoc.Suggest(strings.ToLower(s), names); sug != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	}
	d.errorf(line, path, "%s", msg)
	return "", false
}

// checkMessage refuses messages the wire protocols cannot carry: NUL and
// other control characters (but newline and tab), and very long ones.
func (d *decoder) checkMessage(s string, line int, path string) bool {
	switch {
	case len(s) > maxMessageLen:
		d.errorf(line, path, "longer than %d bytes", maxMessageLen)
	case strings.ContainsFunc(s, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f }):
		d.errorf(line, path, "contains control characters: %q", s)
	default:
		return true
	}
	return false
}

func (d *decoder) kind(s string, line int, path string) (sqlclass.Kind, uint64, bool) {
	k := sqlclass.Kind(s)
	if bit, ok := kindBits[k]; ok {
		return k, bit, true
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	if sug := yamldoc.Suggest(strings.ToLower(s), names); sug != "" {
		d.errorf(line, path, "unknown statement kind %q (did you mean %q?)", s, sug)
	} else {
		d.errorf(line, path, "unknown statement kind %q (kinds: %s)", s, kindNames())
	}
	return "", 0, false
}

// glob compiles a glob, reporting a malformed one.
func (d *decoder) glob(s string, line int, path string) (glob, bool) {
	g, err := compileGlob(s)
	if err != nil {
		d.errorf(line, path, "bad glob %q: %v", s, err)
		return g, false
	}
	return g, true
}

// nameGlob compiles an identity or target glob and, when known is not
// nil, checks it against the configured names.
func (d *decoder) nameGlob(what string, known []string, s string, line int, path string) (glob, bool) {
	g, ok := d.glob(s, line, path)
	if !ok || known == nil {
		return g, ok
	}
	if lit, isLit := g.literal(); isLit {
		if slices.Contains(known, lit) {
			return g, true
		}
		msg := fmt.Sprintf("unknown %s %q (known: %s)", what, lit, listNames(known))
		if sug := yamldoc.Suggest(lit, known); sug != "" {
			msg = fmt.Sprintf("unknown %s %q (did you mean %q?; known: %s)", what, lit, sug, listNames(known))
		}
		d.errorf(line, path, "%s", msg)
		return g, false
	}
	if g.form == formAny || slices.ContainsFunc(known, g.match) {
		return g, true
	}
	d.errorf(line, path, "%s glob %q matches no configured %s (known: %s)", what, s, what, listNames(known))
	return g, false
}

// listNames lists names for a message, the first maxKnownShown of them.
func listNames(names []string) string {
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > maxKnownShown:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:maxKnownShown], ", "), len(names)-maxKnownShown)
	}
	return strings.Join(names, ", ")
}

// qualified compiles the two halves of a "schema.name" glob.
func (d *decoder) qualified(s, schema, name string, line int, path string) (glob, glob, bool) {
	if schema == "" || name == "" {
		d.errorf(line, path, "bad glob %q: empty schema or name on one side of the dot", s)
		return glob{}, glob{}, false
	}
	gs, err1 := compileGlob(schema)
	gn, err2 := compileGlob(name)
	if err := firstErr(err1, err2); err != nil {
		d.errorf(line, path, "bad glob %q: %v", s, err)
		return gs, gn, false
	}
	return gs, gn, true
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// relGlob compiles a relation glob, which must be schema.table.
func (d *decoder) relGlob(s string, line int, path string) (relGlob, bool) {
	schema, name, ok := splitQualified(s)
	if !ok {
		d.errorf(line, path, "relation glob %q has no schema: write schema.table; use *.%s for any schema", s, s)
		return relGlob{}, false
	}
	gs, gn, ok := d.qualified(s, schema, name, line, path)
	return relGlob{schema: gs, name: gn}, ok
}

// schemaGlob compiles a schema glob, which must not hold a dot.
func (d *decoder) schemaGlob(s string, line int, path string) (glob, bool) {
	if _, _, dot := splitQualified(s); dot {
		d.errorf(line, path, "schema glob %q has a dot: schemas takes schema names; use relations for schema.table globs (\\. for a dot in a name)", s)
		return glob{}, false
	}
	return d.glob(s, line, path)
}

// funcGlob compiles a function glob: schema.name, or a bare name.
func (d *decoder) funcGlob(s string, line int, path string) (funcGlob, bool) {
	schema, name, dot := splitQualified(s)
	if !dot {
		g, ok := d.glob(s, line, path)
		return funcGlob{name: g}, ok
	}
	gs, gn, ok := d.qualified(s, schema, name, line, path)
	return funcGlob{qualified: true, schema: gs, name: gn}, ok
}

func (d *decoder) regexp(s string, line int, path string) (*regexp.Regexp, bool) {
	switch {
	case s == "":
		d.errorf(line, path, "must not be empty (remove the key to leave it unconstrained)")
	case len(s) > maxTextLen:
		d.errorf(line, path, "longer than %d bytes", maxTextLen)
	default:
		re, err := regexp.Compile(s)
		if err == nil {
			return re, true
		}
		d.errorf(line, path, "bad regular expression: %s", yamldoc.Safe(err.Error()))
	}
	return nil, false
}

// when decodes and compiles a rule's condition. Errors are reported at
// the line of the expression they are on: for a literal block scalar
// (when: |), line k of the expression is k lines below the key.
func (d *decoder) when(n *yaml.Node, path string) (string, *condition) {
	s, line, ok := d.str(n, path)
	if !ok {
		return "", nil
	}
	switch {
	case strings.TrimSpace(s) == "":
		d.errorf(line, path, "must not be empty (remove the key for a rule without a condition)")
		return "", nil
	case len(s) > maxWhenLen:
		d.errorf(line, path, "longer than %d bytes", maxWhenLen)
		return "", nil
	}
	c, problems := compileCondition(s)
	literal := n.Style&yaml.LiteralStyle != 0 || (n.Kind == yaml.AliasNode && n.Alias != nil && n.Alias.Style&yaml.LiteralStyle != 0)
	nlines := strings.Count(strings.TrimRight(s, "\n"), "\n") + 1
	oneLine := nlines == 1
	for _, p := range problems {
		p.line = min(p.line, nlines) // an error at the end of the text is on its last line
		at, where := line, ""
		switch {
		case p.line == 0:
		case literal:
			at = line + p.line
			where = fmt.Sprintf(" (column %d)", p.col)
		case oneLine:
			where = fmt.Sprintf(" (column %d)", p.col)
		default:
			where = fmt.Sprintf(" (line %d, column %d of the expression)", p.line, p.col)
		}
		d.errorf(at, path, "bad condition: %s%s", yamldoc.Safe(p.msg), where)
	}
	return s, c
}
