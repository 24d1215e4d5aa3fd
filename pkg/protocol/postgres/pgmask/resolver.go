package pgmask

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/sluicehq/sluice/pkg/mask"
)

// ErrPattern is wrapped by NewRuleSet errors for bad column globs.
var ErrPattern = errors.New("pgmask: bad column pattern")

// ColumnRule masks the columns matching Pattern with Strategy.
type ColumnRule struct {
	// Name names the rule in statistics.
	Name string
	// Pattern is a glob (path.Match syntax, case-insensitive): with two
	// dots, "schema.table.column" matched part by part against the
	// column's place in the catalog ("public.customers.email",
	// "*.*.ssn"); without, a bare column name ("*email*"), matched
	// against the catalog name and the name the result gives the column.
	Pattern string
	// Strategy masks the whole value.
	Strategy mask.Strategy
	// Hint tells content detectors what the column holds, when Strategy
	// is zero: a rule with a Hint and no Strategy only sharpens the
	// detectors (a bare 9-digit value of a column matching "*ssn*" is an
	// SSN).
	Hint mask.Set
}

// RuleSet is a Resolver made of column rules, the content detectors of a
// policy, and whole-result masking.
type RuleSet struct {
	rules   []compiledRule
	content *mask.Masker
	whole   mask.Strategy
	masker  *mask.Masker
	catalog Catalog
	needCat bool
}

type compiledRule struct {
	ColumnRule
	parts []string // schema, table, column globs; or one bare-name glob
}

// RuleSetConfig configures a RuleSet.
type RuleSetConfig struct {
	// Columns are tried in order; the first match wins.
	Columns []ColumnRule
	// Content runs its detectors on every other column; nil: none. Its
	// key also serves the Hash strategy of column rules.
	Content *mask.Masker
	// Whole, when set, masks every column of every result with this
	// strategy (whole-result masking), before any other rule.
	Whole mask.Strategy
	// Key holds the hash key when Content is nil (a Masker without
	// detectors).
	Key *mask.Masker
	// Catalog resolves table OIDs for schema.table.column patterns.
	Catalog Catalog
}

// NewRuleSet checks and compiles cfg.
func NewRuleSet(cfg RuleSetConfig) (*RuleSet, error) {
	rs := &RuleSet{content: cfg.Content, whole: cfg.Whole, masker: cfg.Key, catalog: cfg.Catalog}
	if rs.masker == nil {
		rs.masker = cfg.Content
	}
	for _, r := range cfg.Columns {
		p := strings.ToLower(r.Pattern)
		parts := strings.Split(p, ".")
		if len(parts) != 1 && len(parts) != 3 {
			return nil, fmt.Errorf("%w: %q: want column or schema.table.column", ErrPattern, r.Pattern)
		}
		for _, part := range parts {
			if _, err := path.Match(part, ""); err != nil || part == "" {
				return nil, fmt.Errorf("%w: %q", ErrPattern, r.Pattern)
			}
		}
		if len(parts) == 3 {
			rs.needCat = true
		}
		if r.Strategy == mask.Hash && (rs.masker == nil || !rs.masker.HasKey()) {
			return nil, fmt.Errorf("%w (rule %q)", ErrNoKey, r.Name)
		}
		rs.rules = append(rs.rules, compiledRule{ColumnRule: r, parts: parts})
	}
	if rs.whole == mask.Hash && (rs.masker == nil || !rs.masker.HasKey()) {
		return nil, ErrNoKey
	}
	if rs.needCat && rs.catalog == nil {
		return nil, fmt.Errorf("%w: schema.table.column patterns need a catalog", ErrPattern)
	}
	return rs, nil
}

// Rule implements Resolver.
func (rs *RuleSet) Rule(ctx context.Context, name string, tableOID uint32, attr int16) (Rule, error) {
	if rs.whole != 0 {
		return Rule{Strategy: rs.whole, Masker: rs.masker, Name: "whole result"}, nil
	}
	if len(rs.rules) == 0 {
		return rs.contentRule(0), nil
	}
	field := strings.ToLower(name)
	var schema, table, column string
	if tableOID != 0 && attr > 0 && rs.catalog != nil {
		s, t, cols, err := rs.catalog.Relation(ctx, tableOID)
		switch {
		case err == nil:
			schema, table, column = strings.ToLower(s), strings.ToLower(t), strings.ToLower(cols[attr])
		case !errors.Is(err, ErrNoRelation):
			return Rule{}, err
		}
	}
	for _, r := range rs.rules {
		if !r.match(field, schema, table, column) && !(tableOID == 0 && r.matchLabel(field)) {
			continue
		}
		if r.Strategy == 0 {
			return rs.contentRule(r.Hint), nil
		}
		return Rule{Strategy: r.Strategy, Masker: rs.masker, Name: r.Name}, nil
	}
	return rs.contentRule(0), nil
}

func (rs *RuleSet) contentRule(hint mask.Set) Rule {
	if rs.content == nil {
		return Rule{}
	}
	return Rule{Masker: rs.content, Hint: hint, Name: "detectors"}
}

func (r compiledRule) match(field, schema, table, column string) bool {
	if len(r.parts) == 1 {
		return glob(r.parts[0], field) || column != "" && glob(r.parts[0], column)
	}
	return column != "" && glob(r.parts[0], schema) && glob(r.parts[1], table) && glob(r.parts[2], column)
}

// matchLabel matches a column without a table (an expression, a column
// of a set operation such as UNION) by its label against a
// schema.table.column rule's column part: the label may be the masked
// column's own name (SELECT name FROM customers UNION ALL ...), and the
// table is not there to tell. This fails closed: an unrelated column
// labelled the same is masked too.
func (r compiledRule) matchLabel(field string) bool {
	return len(r.parts) == 3 && glob(r.parts[2], field)
}

func glob(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

// HasColumnRules reports whether the set masks values by column (column
// rules, hints included, or whole-result masking), not only by content.
func (rs *RuleSet) HasColumnRules() bool {
	return rs.whole != 0 || len(rs.rules) > 0
}

// NameRule gives the rule of a column a server message names (the key
// columns of a constraint violation), matched by name without the
// catalog. An empty schema or table is unknown: a schema.table.column
// rule then applies on the parts that are known.
func (rs *RuleSet) NameRule(schema, table, column string) Rule {
	if rs.whole != 0 {
		return Rule{Strategy: rs.whole, Masker: rs.masker, Name: "whole result"}
	}
	schema, table, column = strings.ToLower(schema), strings.ToLower(table), strings.ToLower(column)
	for _, r := range rs.rules {
		if !r.matchName(schema, table, column) {
			continue
		}
		if r.Strategy == 0 {
			return rs.contentRule(r.Hint)
		}
		return Rule{Strategy: r.Strategy, Masker: rs.masker, Name: r.Name}
	}
	return rs.contentRule(0)
}

// MayMaskTable reports whether a whole-value rule (a column rule with a
// strategy, or whole-result masking) may apply to a column of the table
// (schema and table empty when unknown): a bare column-name rule may, as
// the table's columns are not known here.
func (rs *RuleSet) MayMaskTable(schema, table string) bool {
	if rs.whole != 0 {
		return true
	}
	schema, table = strings.ToLower(schema), strings.ToLower(table)
	for _, r := range rs.rules {
		if r.Strategy != 0 && (len(r.parts) == 1 || r.matchName(schema, table, "")) {
			return true
		}
	}
	return false
}

// matchName matches a rule against names, any of them possibly empty
// (unknown, hence matching).
func (r compiledRule) matchName(schema, table, column string) bool {
	known := func(pattern, s string) bool { return s == "" || glob(pattern, s) }
	if len(r.parts) == 1 {
		return column != "" && glob(r.parts[0], column)
	}
	return known(r.parts[0], schema) && known(r.parts[1], table) && known(r.parts[2], column)
}
