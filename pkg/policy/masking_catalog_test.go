package policy

import (
	"slices"
	"strings"
	"testing"
)

// TestMaskingCatalogRules checks that schema.table.column rules are
// refused in policies covering a target with auth: passthrough, where
// sluice cannot read the catalog, and accepted everywhere else.
func TestMaskingCatalogRules(t *testing.T) {
	known := Known{
		Identities:  []string{"legacy-etl"},
		Targets:     []string{"orders-db", "orders-inject", "billing-db"},
		Passthrough: []string{"orders-db", "billing-db"},
	}
	policy := func(targets, enforce string, columns ...string) string {
		return lines(slices.Concat([]string{
			"policies:",
			"  - name: pii",
			"    identities: [legacy-etl]",
			"    targets: " + targets,
			"    enforce: " + enforce,
			"    default: abstain",
			"    masking:",
			"      detectors: [card, ssn]",
			"      columns:",
		}, columns)...)
	}
	const (
		qualified = `        - {match: public.customers.email, strategy: redact}`
		anySchema = `        - {match: "*.*.ssn", strategy: partial}`
		bare      = `        - {match: "*email*", strategy: redact}`
		hint      = `        - {match: "*ssn*", hint: ssn}`
	)
	tests := []struct {
		name string
		yaml string
		want []wantErr // nil: loads
	}{
		{"qualified rule on an inject target", policy("[orders-inject]", "true", qualified, anySchema), nil},
		{"bare column names on a passthrough target", policy("[orders-db]", "true", bare, hint), nil},
		{"qualified rule on a passthrough target", policy("[orders-db]", "true", bare, qualified), []wantErr{
			{"p.yaml:11: policies[0].masking.columns[1].match: ", `"public.customers.email" names a schema.table.column, which sluice resolves through the target's catalog over a login of its own, but the policy covers target "orders-db" with auth: passthrough, where it has none (use auth: inject on the target, a bare column name such as "email", or a policy whose targets leave it out)`},
		}},
		{"a glob covering passthrough targets", policy(`["*"]`, "true", qualified, anySchema), []wantErr{
			{"p.yaml:10: policies[0].masking.columns[0].match: ", `covers targets "orders-db", "billing-db" with auth: passthrough`},
			{"p.yaml:11: policies[0].masking.columns[1].match: ", `a bare column name such as "ssn"`},
		}},
		{"a glob covering only inject targets", policy(`["*-inject"]`, "true", qualified), nil},
		{"shadow policies never mask", policy("[orders-db]", "false", qualified), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.yaml), known)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			got := splitErrors(t, err)
			if len(got) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(e *Error) bool {
					s := e.Error()
					return strings.HasPrefix(s, w.at) && strings.Contains(s[len(w.at):], w.msg)
				}) {
					t.Errorf("no error %q...%q in:\n%v", w.at, w.msg, err)
				}
			}
		})
	}
	// Without the list (a check without a configuration), nothing is refused.
	if _, err := Parse("p.yaml", []byte(policy("[orders-db]", "true", qualified)), Known{}); err != nil {
		t.Errorf("without a configuration: %v", err)
	}
}
