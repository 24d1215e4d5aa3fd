package policy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/mask"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestParseMasking(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: pii",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    default: abstain",
		"    masking:",
		"      region: US",
		"      detectors: [card, email, ssn, iban, phone, secrets]",
		"      strategy: partial",
		"      strategies: {jwt: null, secrets: redact, email: hash}",
		"      columns:",
		"        - {match: sales.customers.email, strategy: hash}",
		"        - {match: \"*.*.ssn\", strategy: partial}",
		"        - {match: \"*Card*\", strategy: redact}",
		"        - {match: \"*ssn*\", hint: ssn}",
		"  - name: lockdown",
		"    identities: [ci-build]",
		"    targets: [orders-db]",
		"    masking: {whole_result: redact}",
		"  - name: plain",
		"    identities: [nightly-etl]",
		"    targets: [orders-db]",
	), testKnown)
	ps := s.Policies()
	want := &Masking{
		Policies:  []string{"pii"},
		Detectors: mask.Of(mask.Card, mask.Email, mask.SSN, mask.IBAN, mask.Phone) | mask.Secrets,
		Strategy:  mask.Partial,
		Strategies: map[mask.Detector]mask.Strategy{
			mask.AWSKey: mask.Redact, mask.PrivateKey: mask.Redact, mask.APIToken: mask.Redact,
			mask.JWT: mask.Null, mask.Email: mask.Hash,
		},
		Region: "US",
		Columns: []MaskColumn{
			{Policy: "pii", Match: "sales.customers.email", Strategy: mask.Hash, Line: 12},
			{Policy: "pii", Match: "*.*.ssn", Strategy: mask.Partial, Line: 13},
			{Policy: "pii", Match: "*Card*", Strategy: mask.Redact, Line: 14},
			{Policy: "pii", Match: "*ssn*", Hint: mask.Of(mask.SSN), Line: 15},
		},
	}
	if !reflect.DeepEqual(ps[0].Masking, want) {
		t.Errorf("masking\n%+v\nwant\n%+v", ps[0].Masking, want)
	}
	if want := (&Masking{Policies: []string{"lockdown"}, Whole: mask.Redact}); !reflect.DeepEqual(ps[1].Masking, want) {
		t.Errorf("masking %+v, want %+v", ps[1].Masking, want)
	}
	if ps[2].Masking != nil {
		t.Errorf("masking of a policy without one: %+v", ps[2].Masking)
	}
	if got := ps[0].Masking.StrategyOf(mask.Card); got != mask.Partial {
		t.Errorf("card strategy %v", got)
	}
	if got := ps[1].Masking.StrategyOf(mask.Card); got != mask.Redact {
		t.Errorf("default strategy %v", got)
	}
}

func TestMaskingErrors(t *testing.T) {
	// file returns a policy file whose masking block holds l, from line 6.
	file := func(l ...string) string {
		return lines(slices.Concat([]string{
			"policies:",
			"  - name: p",
			"    identities: [legacy-etl]",
			"    targets: [orders-db]",
			"    masking:",
		}, l)...)
	}
	noKey := &Known{Identities: testKnown.Identities, Targets: testKnown.Targets, NoHashKey: true}
	tests := []struct {
		name  string
		yaml  string
		known *Known
		want  []wantErr
	}{
		{"unknown key", file("      detector: [card]"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking: ", `unknown key "detector" (did you mean "detectors"?)`},
			{"p.yaml:6: policies[0].masking: ", "masks nothing"},
		}},
		{"null", file(), nil, []wantErr{{"p.yaml:5: policies[0].masking: ", "expected a mapping, got null"}}},
		{"unknown detector", file("      detectors: [crad, secret, pii]"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking.detectors[0]: ", `unknown detector "crad" (did you mean "card"?)`},
			{"p.yaml:6: policies[0].masking.detectors[1]: ", `unknown detector "secret" (did you mean "secrets"?)`},
			{"p.yaml:6: policies[0].masking.detectors[2]: ", `unknown detector "pii" (detectors: card, email, ssn, iban, phone, aws_key, private_key, jwt, api_token, ipv4, ipv6, secrets, defaults, all)`},
		}},
		{"empty detectors", file("      detectors: []"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking.detectors: ", "must not be empty"},
		}},
		{"unknown strategy", file("      detectors: [card]", "      strategy: mask", "      whole_result: keep"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.strategy: ", `unknown strategy "mask" (did you mean "hash"?)`},
			{"p.yaml:8: policies[0].masking.whole_result: ", `unknown strategy "keep" (strategies: redact, partial, hash, null)`},
		}},
		{"strategy left empty", file("      whole_result: ~"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking.whole_result: ", "expected a string, got null"},
		}},
		{"strategy with a typo", file("      whole_result: Redcat"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking.whole_result: ", `unknown strategy "Redcat" (did you mean "redact"?)`},
		}},
		{"strategies of an unknown detector", file("      detectors: [card]", "      strategies: {cards: hash, all: redact}"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.strategies: ", `unknown key "cards" (did you mean "card"?)`},
			{"p.yaml:7: policies[0].masking.strategies: ", `unknown key "all"`},
		}},
		{"strategies of a detector that does not run", file("      detectors: [card]", "      strategies:", "        email: hash", "        secrets: redact"), nil, []wantErr{
			{"p.yaml:8: policies[0].masking.strategies.email: ", "detectors does not include email"},
			{"p.yaml:9: policies[0].masking.strategies.secrets: ", "detectors does not include secrets"},
		}},
		{"empty strategies", file("      detectors: [card]", "      strategies: {}"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.strategies: ", "must not be empty"},
		}},
		{"strategy without detectors", file("      strategy: partial", "      strategies: {card: hash}", "      region: US", "      columns: [{match: \"*ssn*\", hint: ssn}]"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking.strategy: ", "applies to the content detectors, and detectors lists none"},
			{"p.yaml:7: policies[0].masking.strategies: ", "applies to the content detectors, and detectors lists none"},
			{"p.yaml:8: policies[0].masking.region: ", "only the phone detector reads it, and detectors lists none"},
			{"p.yaml:9: policies[0].masking.columns[0].hint: ", "a hint sharpens the content detectors, and detectors lists none (add ssn to detectors)"},
		}},
		{"regions", file("      detectors: [phone]", "      region: us"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.region: ", `invalid region "us": write it in capitals (did you mean "US"?)`},
		}},
		{"unknown region", file("      detectors: [phone]", "      region: XY"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.region: ", `unknown region "XY": no phone numbering plan for it`},
		}},
		{"not a region", file("      detectors: [phone]", "      region: USA"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.region: ", `invalid region "USA": an ISO 3166 two-letter country code`},
		}},
		{"region without phone", file("      detectors: [card]", "      region: US"), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.region: ", "detectors does not include phone"},
		}},
		{"column globs", file(
			"      columns:",
			"        - {match: customers.email, strategy: hash}",
			"        - {match: a.b.c.d, strategy: hash}",
			"        - {match: \"public..email\", strategy: hash}",
			"        - {match: \"[email\", strategy: hash}",
			"        - {match: \"\", strategy: hash}",
		), nil, []wantErr{
			{"p.yaml:7: policies[0].masking.columns[0].match: ", `bad column glob "customers.email": write a column name, or schema.table.column (*.customers.email for any schema)`},
			{"p.yaml:8: policies[0].masking.columns[1].match: ", `bad column glob "a.b.c.d"`},
			{"p.yaml:9: policies[0].masking.columns[2].match: ", `bad column glob "public..email": empty part on one side of a dot`},
			{"p.yaml:10: policies[0].masking.columns[3].match: ", `bad column glob "[email": syntax error in pattern`},
			{"p.yaml:11: policies[0].masking.columns[4].match: ", "must not be empty"},
		}},
		{"column rules", file(
			"      detectors: [card]",
			"      columns:",
			"        - {match: a}",
			"        - {match: b, strategy: hash, hint: ssn}",
			"        - {strategy: hash}",
			"        - {match: c, hint: card}",
			"        - {match: d, hint: ssn}",
			"        - {match: e, strategy: hash, mach: true}",
			"        - e",
		), nil, []wantErr{
			{"p.yaml:8: policies[0].masking.columns[0]: ", "strategy or hint is required"},
			{"p.yaml:9: policies[0].masking.columns[1]: ", "strategy and hint exclude each other"},
			{"p.yaml:10: policies[0].masking.columns[2]: ", "match is required"},
			{"p.yaml:11: policies[0].masking.columns[3].hint: ", "a hint only sharpens ssn and phone (bare digit runs of the column count); card is found without one"},
			{"p.yaml:12: policies[0].masking.columns[4].hint: ", "detectors does not include ssn: the hint would change nothing (add ssn to detectors)"},
			{"p.yaml:13: policies[0].masking.columns[5]: ", `unknown key "mach" (did you mean "match"?)`},
			{"p.yaml:14: policies[0].masking.columns[6]: ", `expected a mapping, got string "e"`},
		}},
		{"empty columns", file("      columns: []"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking.columns: ", "must not be empty"},
		}},
		{"hash without a key", file(
			"      detectors: [card, email]",
			"      strategy: hash",
			"      strategies: {email: hash}",
			"      columns: [{match: email, strategy: hash}, {match: x, strategy: partial}]",
			"      whole_result: hash",
		), noKey, []wantErr{
			{"p.yaml:7: policies[0].masking.strategy: ", "the hash strategy needs a hash key, and the daemon configuration has none (set masking.hash_key_file)"},
			{"p.yaml:8: policies[0].masking.strategies.email: ", "the hash strategy needs a hash key"},
			{"p.yaml:9: policies[0].masking.columns[0].strategy: ", "the hash strategy needs a hash key"},
			{"p.yaml:10: policies[0].masking.whole_result: ", "the hash strategy needs a hash key"},
		}},
		{"not a mapping", file("      - detectors: [card]"), nil, []wantErr{
			{"p.yaml:6: policies[0].masking: ", "expected a mapping, got a list"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			known := testKnown
			if tt.known != nil {
				known = *tt.known
			}
			_, err := Parse("p.yaml", []byte(tt.yaml), known)
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
}

// TestMaskingErrorsGolden checks the full report of
// testdata/masking/errors.yaml; go test -update rewrites it.
func TestMaskingErrorsGolden(t *testing.T) {
	const src = "testdata/masking/errors.yaml"
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	known := testKnown
	known.NoHashKey = true
	_, err = Parse(src, data, known)
	splitErrors(t, err)
	golden(t, filepath.Join("masking", "errors.golden"), []byte(err.Error()+"\n"))
}

// TestDocMaskingExample parses the example of the Masking section of
// docs/policy.md.
func TestDocMaskingExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n## Masking\n")
	if !ok {
		t.Fatal("no Masking section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	if !ok {
		t.Fatal("no example")
	}
	example, _, _ := strings.Cut(rest, "```")
	m := mustParse(t, example, testKnown).Masking("ci-build", "orders-db")
	if m == nil || m.Region != "US" || m.Detectors != mask.Defaults || m.StrategyOf(mask.Email) != mask.Hash ||
		m.StrategyOf(mask.JWT) != mask.Redact || m.StrategyOf(mask.Card) != mask.Partial || len(m.Columns) != 3 || m.Whole != 0 {
		t.Errorf("masking %+v", m)
	}
}

func TestMaskingHashWithKey(t *testing.T) {
	src := lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    masking: {columns: [{match: email, strategy: hash}]}",
	)
	for _, known := range []Known{testKnown, {}} {
		if s := mustParse(t, src, known); s.Policies()[0].Masking.Columns[0].Strategy != mask.Hash {
			t.Errorf("masking %+v", s.Policies()[0].Masking)
		}
	}
}
