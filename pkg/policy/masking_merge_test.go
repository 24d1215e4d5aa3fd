package policy

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// mergeSrc has masking in a guardrail covering everyone, in an enforced
// policy and a shadow one of legacy-etl, and in a lockdown of nightly-etl.
var mergeSrc = lines(
	"policies:",
	"  - name: base",
	"    identities: [\"*\"]",
	"    targets: [orders-db]",
	"    default: abstain",
	"    masking:",
	"      detectors: [card, email]",
	"      strategy: partial",
	"      columns: [{match: email, strategy: hash}]",
	"  - name: rollout",
	"    identities: [legacy-etl]",
	"    targets: [orders-db]",
	"    enforce: false",
	"    masking: {whole_result: null}",
	"  - name: etl",
	"    identities: [legacy-etl]",
	"    targets: [\"*\"]",
	"    default: allow",
	"    rules: [{name: no-ddl, action: deny, postgres: {kinds: [ddl]}}]",
	"    masking:",
	"      detectors: [email, phone]",
	"      strategy: redact",
	"      strategies: {email: null}",
	"      region: DE",
	"      columns:",
	"        - {match: email, strategy: redact}",
	"        - {match: \"*phone*\", hint: phone}",
	"  - name: ci",
	"    identities: [ci-build]",
	"    targets: [orders-db]",
	"    rules: [{name: reads, action: allow, postgres: {kinds: [select]}}]",
	"  - name: lockdown",
	"    identities: [nightly-etl]",
	"    targets: [orders-db]",
	"    default: abstain",
	"    masking: {whole_result: redact}",
)

var ddl = &sqlclass.Statement{Text: "DROP TABLE sales.orders", Kind: sqlclass.KindDDL, Writes: rels("sales.orders")}

func TestMaskingMerge(t *testing.T) {
	s := mustParse(t, mergeSrc, Known{})
	base := s.Policies()[0].Masking
	tests := []struct {
		name             string
		identity, target string
		want             *Masking // nil: none
	}{
		{"merged, without the shadow policy", "legacy-etl", "orders-db", &Masking{
			Policies:  []string{"base", "etl"},
			Detectors: mask.Of(mask.Card, mask.Email, mask.Phone),
			Strategy:  mask.Partial,
			// email is base's (the first to run it), with base's strategy.
			Strategies: map[mask.Detector]mask.Strategy{mask.Card: mask.Partial, mask.Email: mask.Partial, mask.Phone: mask.Redact},
			Region:     "DE",
			Columns: []MaskColumn{
				{Policy: "base", Match: "email", Strategy: mask.Hash, Line: 9},
				{Policy: "etl", Match: "email", Strategy: mask.Redact, Line: 26},
				{Policy: "etl", Match: "*phone*", Hint: mask.Of(mask.Phone), Line: 27},
			},
		}},
		{"one policy", "ci-build", "orders-db", base},
		{"whole result", "nightly-etl", "orders-db", &Masking{
			Policies: []string{"base", "lockdown"}, Detectors: mask.Of(mask.Card, mask.Email), Strategy: mask.Partial,
			Strategies: map[mask.Detector]mask.Strategy{mask.Card: mask.Partial, mask.Email: mask.Partial},
			Columns:    base.Columns, Whole: mask.Redact,
		}},
		{"another target", "legacy-etl", "audit-db", s.Policies()[2].Masking},
		{"no policy masks", "ci-build", "audit-db", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Masking(tt.identity, tt.target)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("masking\n%+v\nwant\n%+v", got, tt.want)
			}
			// Every decision of the pair carries the same pointer,
			// whatever its action; so does a pair resolved again.
			for _, st := range []*sqlclass.Statement{selectOne, ddl, garbage, nil} {
				if d := s.Decide(pg(tt.identity, tt.target, st)); d.Masking != got {
					t.Errorf("%v: masking %p, want %p", d, d.Masking, got)
				}
			}
			if e := s.resolve(tt.identity, tt.target); e.masking != got {
				t.Errorf("resolved again: masking %p, want %p", e.masking, got)
			}
			if x := s.Explain(pg(tt.identity, tt.target, selectOne)); x.Decision.Masking != got {
				t.Errorf("explain: masking %p, want %p", x.Decision.Masking, got)
			}
		})
	}
	// Shadow decisions carry none: the shadow policy's masking is not
	// applied.
	if d := s.Decide(pg("legacy-etl", "orders-db", selectOne)); d.Shadow == nil || d.Shadow.Masking != nil {
		t.Errorf("shadow %+v", d.Shadow)
	}
	var nilSet *Set
	if nilSet.Masking("legacy-etl", "orders-db") != nil || nilSet.Decide(pg("legacy-etl", "orders-db", selectOne)).Masking != nil {
		t.Error("a nil set masks")
	}
}

func TestMaskingDecisions(t *testing.T) {
	s := mustParse(t, mergeSrc, Known{})
	tests := []struct {
		name             string
		identity, target string
		st               *sqlclass.Statement
		action           Action
		rule             string
		masked           bool
	}{
		{"allowed", "legacy-etl", "orders-db", selectOne, Allow, "default", true},
		{"denied by a rule", "legacy-etl", "orders-db", ddl, Deny, "no-ddl", true},
		{"every policy abstains", "nightly-etl", "orders-db", selectOne, Deny, "", true},
		{"no policy covers", "nightly-etl", "audit-db", selectOne, Deny, "", false},
		{"no policy masks", "ci-build", "audit-db", selectOne, Deny, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Decide(pg(tt.identity, tt.target, tt.st))
			if d.Action != tt.action || d.Rule != tt.rule || (d.Masking != nil) != tt.masked {
				t.Errorf("decision %v, masking %+v", d, d.Masking)
			}
		})
	}
}

func TestDecideWithMaskingDoesNotAllocate(t *testing.T) {
	s := mustParse(t, mergeSrc, Known{})
	for _, r := range []*Request{
		pg("legacy-etl", "orders-db", selectOne),
		pg("legacy-etl", "orders-db", ddl),
		pg("nightly-etl", "orders-db", selectOne),
	} {
		s.Decide(r) // fill the cache
		if n := testing.AllocsPerRun(100, func() { s.Decide(r) }); n != 0 {
			t.Errorf("%s on %s: %v allocations", r.Identity, r.SQL.Text, n)
		}
	}
}

// TestMaskingPastThePairCache checks that pairs resolved on every call,
// once the pair cache is full, still get one pointer per masking.
func TestMaskingPastThePairCache(t *testing.T) {
	s := mustParse(t, mergeSrc, Known{})
	s.npairs.Store(maxPairs)
	a := s.Decide(pg("legacy-etl", "orders-db", selectOne)).Masking
	b := s.Decide(pg("legacy-etl", "orders-db", selectOne)).Masking
	if a == nil || a != b {
		t.Errorf("masking %p then %p", a, b)
	}
}
