package lint

import (
	"testing"

	"github.com/sluicehq/sluice/pkg/policy"
)

func TestColumnRuleNeverApplies(t *testing.T) {
	tests := []struct {
		name   string
		rules  string // two column rules, the first before the second
		report bool
	}{
		{"same match", `[{match: email, strategy: hash}, {match: email, strategy: redact}]`, true},
		{"same match in another case", `[{match: Sales.Customers.Email, hint: ssn}, {match: sales.customers.email, strategy: redact}]`, true},
		{"every column", `[{match: "*", strategy: redact}, {match: "public.t.c", strategy: hash}]`, true},
		{"every table column", `[{match: "*.*.*", strategy: redact}, {match: "public.t.c", strategy: hash}]`, true},
		{"every table column and a bare name", `[{match: "*.*.*", strategy: redact}, {match: c, strategy: hash}]`, false},
		{"a bare name and the column in every table", `[{match: ssn, strategy: redact}, {match: "*.*.ssn", strategy: hash}]`, true},
		{"a bare name and the column in one table", `[{match: ssn, strategy: redact}, {match: "hr.*.ssn", strategy: hash}]`, false},
		{"a column and a bare name", `[{match: "*.*.ssn", strategy: redact}, {match: ssn, strategy: hash}]`, false},
		{"overlapping globs", `[{match: "*email*", strategy: redact}, {match: "email*", strategy: hash}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "policies:\n  - name: p\n    identities: [\"*\"]\n    targets: [\"*\"]\n    masking:\n      detectors: [ssn]\n      columns: " + tt.rules + "\n"
			set, err := policy.Parse("p.yaml", []byte(src), policy.Known{})
			if err != nil {
				t.Fatal(err)
			}
			got := Check(set, nil, "")
			if (len(got) == 1) != tt.report || len(got) > 1 {
				t.Errorf("findings %v, want a report: %v", got, tt.report)
			}
		})
	}
}
