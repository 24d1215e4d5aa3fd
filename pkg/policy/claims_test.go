package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// claimsPolicy lets the deploy identity write orders only from main and
// in production, reviews anything of a run of another environment, and
// denies everything to tokens of a fork.
const claimsPolicy = `
policies:
  - name: deploy
    identities: ["gha:*"]
    targets: [orders-db]
    default: deny
    rules:
      - name: no-forks
        action: deny
        claims: {repository_owner: ["[^a]*", "a?*[^e]"]}
      - name: write-from-main
        action: allow
        claims:
          ref: refs/heads/main
          environment: [production, prod-*]
        postgres: {kinds: [insert, update]}
      - name: read-everywhere
        action: allow
        postgres: {kinds: [select]}
        when: '"ref" in claims && claims.ref.startsWith("refs/")'
      - name: release-groups
        action: allow
        claims: {groups: release-*}
        postgres: {kinds: [delete]}
`

func TestClaims(t *testing.T) {
	known := Known{Identities: []string{"gha:acme/app@refs/heads/main", "nightly-etl"}, Targets: []string{"orders-db"}}
	s := mustParse(t, claimsPolicy, known)
	main := map[string]any{"ref": "refs/heads/main", "environment": "production", "repository_owner": "acme", "groups": []any{"ci", "release-eng"}}
	branch := map[string]any{"ref": "refs/heads/feature", "environment": "production", "repository_owner": "acme"}
	tests := []struct {
		name     string
		identity string
		claims   map[string]any
		kind     sqlclass.Kind
		rule     string
		action   Action
	}{
		{"main may insert", "gha:acme/app@refs/heads/main", main, sqlclass.KindInsert, "write-from-main", Allow},
		{"a branch may not", "gha:acme/app@refs/heads/main", branch, sqlclass.KindInsert, "default", Deny},
		{"environment by glob", "gha:acme/app@refs/heads/main", map[string]any{"ref": "refs/heads/main", "environment": "prod-eu", "repository_owner": "acme"}, sqlclass.KindUpdate, "write-from-main", Allow},
		{"a missing claim never matches", "gha:acme/app@refs/heads/main", map[string]any{"ref": "refs/heads/main", "repository_owner": "acme"}, sqlclass.KindInsert, "default", Deny},
		{"claims in a condition", "gha:acme/app@refs/heads/main", branch, sqlclass.KindSelect, "read-everywhere", Allow},
		{"a list claim matches by one item", "gha:acme/app@refs/heads/main", main, sqlclass.KindDelete, "release-groups", Allow},
		{"a deny by claim", "gha:acme/app@refs/heads/main", map[string]any{"ref": "refs/heads/main", "repository_owner": "evil"}, sqlclass.KindSelect, "no-forks", Deny},
		{"no claims: the condition fails closed, matchers never match", "gha:acme/app@refs/heads/main", nil, sqlclass.KindSelect, "default", Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Decide(&Request{
				Identity: tt.identity, Target: "orders-db", Protocol: ProtocolPostgres,
				SQL:         &sqlclass.Statement{Kind: tt.kind, Text: "x"},
				Attribution: Attribution{Claims: tt.claims},
			})
			if d.Action != tt.action || d.Rule != tt.rule {
				t.Fatalf("decision %s by %q, want %s by %q (%s)", d.Action, d.Rule, tt.action, tt.rule, d.Message)
			}
		})
	}
}

func TestClaimsErrors(t *testing.T) {
	head := lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets: [orders-db]", "    rules:", "      - name: r", "        action: deny")
	tests := []struct {
		name, rule string
		want       []wantErr
	}{
		{"not a mapping", "        claims: [ref]\n", []wantErr{{"p.yaml:8: policies[0].rules[0].claims: ", "expected a mapping of claim names to globs"}}},
		{"empty mapping", "        claims: {}\n", []wantErr{{"p.yaml:8: policies[0].rules[0].claims: ", "expected a mapping of claim names to globs"}}},
		{"empty list", "        claims: {ref: []}\n", []wantErr{{"p.yaml:8: policies[0].rules[0].claims.ref: ", `claim "ref" lists no value`}}},
		{"bad glob", "        claims: {ref: \"[refs\"}\n", []wantErr{{"p.yaml:8: policies[0].rules[0].claims.ref: ", `bad glob "[refs"`}}},
		{"bad claim name", "        claims: {\"a b\": x}\n", []wantErr{{"p.yaml:8: policies[0].rules[0].claims.a b: ", "contains whitespace"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(head+tt.rule), testKnown)
			checkErrors(t, err, tt.want)
		})
	}
}

// checkErrors checks that err holds exactly the errors of want.
func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	got := splitErrors(t, err)
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e *Error) bool {
			s := e.Error()
			return strings.HasPrefix(s, w.at) && strings.Contains(s[len(w.at):], w.msg)
		}) {
			t.Errorf("no error %q...%q in:\n%v", w.at, w.msg, err)
		}
	}
}
