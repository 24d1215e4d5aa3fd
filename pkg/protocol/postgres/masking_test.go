package postgres

import (
	"testing"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
)

// TestMaskRulesBounded checks that the compiled maskings a handler keeps
// stay bounded while policy reloads bring new ones, and that a masking is
// compiled once while it is kept.
func TestMaskRulesBounded(t *testing.T) {
	h, err := New("pg", "127.0.0.1", testConfig(config.Postgres{}), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	first := &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.Card)}
	r := h.maskRulesFor(first, "app")
	if r.err != nil || h.maskRulesFor(first, "app") != r {
		t.Fatalf("compiled again, or failed: %v", r.err)
	}
	for i := range 3 * maxMaskRules {
		// Every reload of a policy set makes new Masking values.
		m := &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.Card)}
		if r := h.maskRulesFor(m, "app"); r.err != nil {
			t.Fatalf("masking %d: %v", i, r.err)
		}
		if n := h.nmasks.Load(); n > maxMaskRules {
			t.Fatalf("%d compiled maskings kept, want at most %d", n, maxMaskRules)
		}
	}
	n := 0
	h.masks.Range(func(any, any) bool { n++; return true })
	if n > maxMaskRules {
		t.Errorf("%d compiled maskings kept, want at most %d", n, maxMaskRules)
	}
	// Column rules on a passthrough target cannot be compiled: the
	// statement is refused (masking-unavailable), never served unmasked.
	qualified := &policy.Masking{Policies: []string{"pii"}, Columns: []policy.MaskColumn{{Policy: "pii", Match: "public.customers.email", Strategy: mask.Redact}}}
	if r := h.maskRulesFor(qualified, "app"); r.err == nil {
		t.Error("schema.table.column rules compiled without a catalog")
	}
}
