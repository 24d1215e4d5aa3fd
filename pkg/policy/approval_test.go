package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

func TestRuleApprovalSettings(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - name: review-deletes",
		"        action: review",
		"        postgres: { kinds: [delete] }",
		"        approval:",
		"          timeout: 90s",
		"          webhooks:",
		"            - url: https://hooks.slack.example/services/T0/B0/secret",
		"              format: slack",
		"            - url: http://127.0.0.1:9/hook",
		"              timeout: 2s",
		"      - name: review-updates",
		"        action: review",
		"        postgres: { kinds: [update] }",
	), testKnown)

	d := s.Decide(pg("legacy-etl", "orders-db", &sqlclass.Statement{Kind: sqlclass.KindDelete}))
	if d.Action != Review || d.Approval == nil {
		t.Fatalf("decision %v, approval %v", d, d.Approval)
	}
	a := d.Approval
	want := []Webhook{
		{URL: "https://hooks.slack.example/services/T0/B0/secret", Format: "slack", Timeout: 5 * time.Second},
		{URL: "http://127.0.0.1:9/hook", Format: "generic", Timeout: 2 * time.Second},
	}
	if a.Timeout != 90*time.Second || len(a.Webhooks) != 2 || a.Webhooks[0] != want[0] || a.Webhooks[1] != want[1] {
		t.Errorf("approval = %+v, want timeout 90s and %+v", a, want)
	}
	if got := a.String(); got != "timeout 1m30s; webhooks https://hooks.slack.example/… (slack), http://127.0.0.1:9/… (generic)" {
		t.Errorf("String() = %q", got)
	}
	if strings.Contains(a.String(), "secret") {
		t.Error("String() shows a webhook's token")
	}
	if d := s.Decide(pg("legacy-etl", "orders-db", &sqlclass.Statement{Kind: sqlclass.KindUpdate})); d.Action != Review || d.Approval != nil {
		t.Errorf("rule without approval: decision %v, approval %v; want review and none", d, d.Approval)
	}
	if d := s.Decide(pg("legacy-etl", "orders-db", &sqlclass.Statement{Kind: sqlclass.KindSelect})); d.Approval != nil {
		t.Errorf("default: approval %v, want none", d.Approval)
	}
}

func TestRuleApprovalErrors(t *testing.T) {
	head := []string{
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - name: r",
	}
	rule := func(l ...string) string { return lines(append(append([]string{}, head...), l...)...) }
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "approval on an allow rule",
			yaml: rule("        action: allow", "        approval: { timeout: 5m }"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].approval: ", "only a review rule holds statements for approval; this rule's action is allow"}},
		},
		{
			name: "timeout too short",
			yaml: rule("        action: review", "        approval: { timeout: 100ms }"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].approval.timeout: ", "must be between 1s and 24h0m0s, got 100ms"}},
		},
		{
			name: "timeout without unit",
			yaml: rule("        action: review", "        approval: { timeout: 300 }"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].approval.timeout: ", `invalid duration "300"`}},
		},
		{
			name: "empty mapping",
			yaml: rule("        action: review", "        approval: {}"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].approval: ", "must not be empty"}},
		},
		{
			name: "unknown key",
			yaml: rule("        action: review", "        approval: { timeot: 5m }"),
			want: []wantErr{
				{"p.yaml:8: policies[0].rules[0].approval: ", `unknown key "timeot" (did you mean "timeout"?)`},
				{"p.yaml:8: policies[0].rules[0].approval: ", "must not be empty"},
			},
		},
		{
			name: "webhook scheme, not repeating the URL",
			yaml: rule("        action: review", "        approval:", "          webhooks: [{url: 'ftp://host/token-123'}]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].approval.webhooks[0].url: ", `must be an http:// or https:// URL, got scheme "ftp"`}},
		},
		{
			name: "webhook without url",
			yaml: rule("        action: review", "        approval:", "          webhooks: [{format: slack}]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].approval.webhooks[0]: ", "url is required"}},
		},
		{
			name: "webhook format",
			yaml: rule("        action: review", "        approval:", "          webhooks: [{url: 'https://h.example/x', format: teams}]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].approval.webhooks[0].format: ", `invalid format "teams": must be one of generic, slack`}},
		},
		{
			name: "webhook timeout",
			yaml: rule("        action: review", "        approval:", "          webhooks: [{url: 'https://h.example/x', timeout: 2m}]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].approval.webhooks[0].timeout: ", "must be between 100ms and 1m0s, got 2m0s"}},
		},
		{
			name: "duplicate webhook",
			yaml: rule("        action: review", "        approval:", "          webhooks:", "            - url: https://h.example/x", "            - url: https://h.example/x"),
			want: []wantErr{{"p.yaml:11: policies[0].rules[0].approval.webhooks[1].url: ", "the same URL as the webhook at line 10"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.yaml), testKnown)
			got := splitErrors(t, err)
			if len(got) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for _, w := range tt.want {
				found := false
				for _, e := range got {
					s := e.Error()
					if strings.HasPrefix(s, w.at) && strings.Contains(s[len(w.at):], w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error %q...%q in:\n%v", w.at, w.msg, err)
				}
			}
			if strings.Contains(err.Error(), "token-123") {
				t.Errorf("error repeats the webhook URL: %v", err)
			}
		})
	}
}
