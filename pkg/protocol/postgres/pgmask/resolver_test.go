package pgmask

import (
	"testing"

	"github.com/sluicehq/sluice/pkg/mask"
)

// TestNameRule matches columns a server message names, without the
// catalog: unknown schemas and tables match any.
func TestNameRule(t *testing.T) {
	m := testMasker(t, mask.Defaults)
	rs, err := NewRuleSet(RuleSetConfig{
		Columns: []ColumnRule{
			{Name: "pan", Pattern: "billing.*.pan", Strategy: mask.Partial},
			{Name: "email", Pattern: "*email*", Strategy: mask.Hash},
			{Name: "ssn hint", Pattern: "*ssn*", Hint: mask.Of(mask.SSN)},
		},
		Content: m, Catalog: fakeCatalog{},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                  string
		schema, table, column string
		strategy              mask.Strategy
		hint                  mask.Set
	}{
		{"three parts known", "billing", "cards", "PAN", mask.Partial, 0},
		{"three parts, another schema", "public", "cards", "pan", 0, 0},
		{"three parts, schema unknown", "", "", "pan", mask.Partial, 0},
		{"bare glob", "public", "customers", "Work_Email", mask.Hash, 0},
		{"hint", "", "", "ssn", 0, mask.Of(mask.SSN)},
		{"no rule", "public", "customers", "name", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rs.NameRule(c.schema, c.table, c.column)
			if r.Strategy != c.strategy || r.Hint != c.hint || r.Strategy == 0 && r.Masker != m {
				t.Errorf("NameRule = %+v", r)
			}
		})
	}
	if !rs.HasColumnRules() || !rs.MayMaskTable("public", "orders") {
		t.Error("a bare column rule may apply to any table")
	}
	qualified, err := NewRuleSet(RuleSetConfig{Columns: []ColumnRule{
		{Pattern: "billing.*.pan", Strategy: mask.Redact}, {Pattern: "*ssn*", Hint: mask.Of(mask.SSN)},
	}, Catalog: fakeCatalog{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		schema, table string
		want          bool
	}{{"billing", "cards", true}, {"public", "orders", false}, {"", "", true}, {"Billing", "", true}} {
		if got := qualified.MayMaskTable(c.schema, c.table); got != c.want {
			t.Errorf("MayMaskTable(%q, %q) = %v, want %v", c.schema, c.table, got, c.want)
		}
	}
	detectors, err := NewRuleSet(RuleSetConfig{Content: m})
	if err != nil {
		t.Fatal(err)
	}
	if detectors.HasColumnRules() || detectors.MayMaskTable("", "") {
		t.Error("detectors alone mask no column")
	}
}
