package explain

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
)

func TestMaskingText(t *testing.T) {
	tests := []struct {
		name string
		m    *policy.Masking
		want string
	}{
		{"none", nil, ""},
		{"whole result", &policy.Masking{Policies: []string{"lockdown", "pii"}, Whole: mask.Null, Detectors: mask.Of(mask.Phone), Region: "DE"},
			"  whole result  null: every column of every result\n" +
				"  detectors     phone redact\n" +
				"  region        DE\n"},
		{"a hint", &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.SSN), Strategy: mask.Partial,
			Columns: []policy.MaskColumn{{Policy: "pii", Match: "*ssn*", Hint: mask.Of(mask.SSN)}}},
			"  columns    *ssn*  hint ssn  (pii)\n" +
				"  detectors  ssn partial\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			m := masking(tt.m)
			m.write(&b)
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
			if (m.summary() == "none") != (tt.m == nil) {
				t.Errorf("summary %q", m.summary())
			}
		})
	}
}
