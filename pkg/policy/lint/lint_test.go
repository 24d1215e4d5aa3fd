package lint

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/policy/offline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestCheckGolden(t *testing.T) {
	cfg, err := config.Load("testdata/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := offline.New(cfg).LoadPolicies("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, f := range Check(set, cfg, "testdata/sluice.yaml") {
		fmt.Fprintln(&out, f)
	}
	path := filepath.Join("testdata", "check.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, out.Bytes(), want)
	}
}

func TestShadows(t *testing.T) {
	tests := []struct {
		name   string
		rules  string // two rules, the first before the second
		report bool
	}{
		{"no matcher", "[{name: a, action: deny}, {name: b, action: allow, postgres: {kinds: [select]}}]", true},
		{"no matcher shadows no matcher", "[{name: a, action: deny}, {name: b, action: allow}]", true},
		{"empty postgres", "[{name: a, action: deny, postgres: {}}, {name: b, action: allow, postgres: {text: x}}]", true},
		{"empty postgres and no matcher", "[{name: a, action: deny, postgres: {}}, {name: b, action: allow}]", false},
		{"kinds superset", "[{name: a, action: deny, postgres: {kinds: [select, insert]}}, {name: b, action: allow, postgres: {kinds: [insert], writes: [s.t]}}]", true},
		{"kinds equal", "[{name: a, action: deny, postgres: {kinds: [insert]}}, {name: b, action: deny, postgres: {kinds: [insert]}}]", true},
		{"kinds overlap", "[{name: a, action: deny, postgres: {kinds: [select]}}, {name: b, action: allow, postgres: {kinds: [select, insert]}}]", false},
		{"later without kinds", "[{name: a, action: deny, postgres: {kinds: [select]}}, {name: b, action: allow, postgres: {reads: [s.t]}}]", false},
		{"earlier with text", "[{name: a, action: deny, postgres: {kinds: [select], text: x}}, {name: b, action: allow, postgres: {kinds: [select]}}]", false},
		{"earlier with unfiltered", "[{name: a, action: deny, postgres: {kinds: [delete], unfiltered: true}}, {name: b, action: allow, postgres: {kinds: [delete]}}]", false},
		{"earlier with sets", "[{name: a, action: allow, postgres: {kinds: [select], reads: [\"*.*\"]}}, {name: b, action: deny, postgres: {kinds: [select]}}]", false},
		{"earlier with a condition", "[{name: a, action: deny, when: 'true'}, {name: b, action: allow}]", false},
		{"later with a condition", "[{name: a, action: deny}, {name: b, action: allow, when: 'true'}]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "policies:\n  - name: p\n    identities: [\"*\"]\n    targets: [\"*\"]\n    rules: " + tt.rules + "\n"
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

func TestUncovered(t *testing.T) {
	cfg, err := config.Parse("sluice.yaml", []byte("identities:\n  - name: etl\n  - name: ci\n  - name: guarded\n  - name: shadowed\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Parse("p.yaml", []byte(`policies:
  - {name: etl, identities: [etl], targets: ["*"]}
  - {name: ci, identities: [ci, guarded], targets: ["*"], default: abstain, rules: [{name: r, action: allow, postgres: {kinds: [select]}}]}
  - {name: guard, identities: [guarded], targets: ["*"], default: abstain, rules: [{name: r, action: deny}]}
  - {name: shadow, identities: [shadowed], targets: ["*"], enforce: false}
`), policy.Known{})
	if err != nil {
		t.Fatal(err)
	}
	got := Check(set, cfg, "sluice.yaml")
	want := []string{`sluice.yaml: warning: identity "shadowed" is covered by no enforced policy: every statement it sends is denied`}
	if len(got) != len(want) || got[0].String() != want[0] {
		t.Errorf("findings %v, want %v", got, want)
	}
}
