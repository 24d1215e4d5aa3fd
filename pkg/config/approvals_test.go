package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestApprovals(t *testing.T) {
	c, err := Parse("sluice.yaml", []byte(`
approvals:
  timeout: 15m
  approvers:
    uids: [1000, 1001]
    gids: [27]
  webhooks:
    - url: https://hooks.slack.com/services/T000/B000/XXXX
      format: slack
    - url: http://127.0.0.1:8080/approvals
      timeout: 2s
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Approvals{
		Timeout:   15 * time.Minute,
		Approvers: Approvers{UIDs: []uint32{1000, 1001}, GIDs: []uint32{27}},
		Webhooks: []Webhook{
			{URL: "https://hooks.slack.com/services/T000/B000/XXXX", Format: WebhookSlack, Timeout: DefaultWebhookTimeout},
			{URL: "http://127.0.0.1:8080/approvals", Format: WebhookGeneric, Timeout: 2 * time.Second},
		},
	}
	if !reflect.DeepEqual(c.Approvals, want) {
		t.Errorf("approvals\n%+v\nwant\n%+v", c.Approvals, want)
	}
	def, err := Parse("sluice.yaml", []byte("listen: 127.0.0.1:15001\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(def.Approvals, Approvals{Timeout: DefaultApprovalTimeout}) {
		t.Errorf("defaults: %+v", def.Approvals)
	}
}

func TestApprovalsErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "timeout without a unit",
			yaml: "approvals:\n  timeout: 600\n",
			want: []wantErr{{"sluice.yaml:2: approvals.timeout: ", "expected a duration with a unit, such as 100ms, 12h or 30d, got integer 600"}},
		},
		{
			name: "timeout too long",
			yaml: "approvals: {timeout: 48h}\n",
			want: []wantErr{{"sluice.yaml:1: approvals.timeout: ", "must be between 1s and 24h0m0s, got 48h0m0s"}},
		},
		{
			name: "approver uid not a number",
			yaml: "approvals:\n  approvers:\n    uids: [alice]\n",
			want: []wantErr{{"sluice.yaml:3: approvals.approvers.uids[0]: ", `expected an integer, got string "alice"`}},
		},
		{
			name: "approvers as a list",
			yaml: "approvals:\n  approvers: [1000]\n",
			want: []wantErr{{"sluice.yaml:2: approvals.approvers: ", "expected a mapping"}},
		},
		{
			name: "webhook without url",
			yaml: "approvals:\n  webhooks:\n    - format: slack\n",
			want: []wantErr{{"sluice.yaml:3: approvals.webhooks[0]: ", `missing required key "url"`}},
		},
		{
			name: "webhook scheme",
			yaml: "approvals:\n  webhooks:\n    - url: file:///etc/passwd\n",
			want: []wantErr{{"sluice.yaml:3: approvals.webhooks[0].url: ", `must be an http:// or https:// URL, got scheme "file"`}},
		},
		{
			name: "webhook format",
			yaml: "approvals:\n  webhooks:\n    - {url: \"https://127.0.0.1/x\", format: teams}\n",
			want: []wantErr{{"sluice.yaml:3: approvals.webhooks[0].format: ", `must be one of generic, slack, got "teams"`}},
		},
		{
			name: "webhook timeout",
			yaml: "approvals:\n  webhooks:\n    - {url: \"https://127.0.0.1/x\", timeout: 5m}\n",
			want: []wantErr{{"sluice.yaml:3: approvals.webhooks[0].timeout: ", "must be between 100ms and 1m0s, got 5m0s"}},
		},
		{
			name: "webhook listed twice",
			yaml: "approvals:\n  webhooks:\n    - url: https://127.0.0.1/x\n    - url: https://127.0.0.1/x\n      format: slack\n",
			want: []wantErr{{"sluice.yaml:4: approvals.webhooks[1].url: ", "the same URL as approvals.webhooks[0].url (line 3)"}},
		},
		{
			name: "misspelt key",
			yaml: "approvals:\n  approver: {uids: [1000]}\n",
			want: []wantErr{{"sluice.yaml:2: approvals: ", `unknown key "approver" (did you mean "approvers"?)`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("sluice.yaml", []byte(tt.yaml))
			checkErrors(t, err, tt.want)
		})
	}
}

// TestApprovalsGolden checks the full report of
// testdata/invalid-approvals.yaml, and that no error repeats a URL.
func TestApprovalsGolden(t *testing.T) {
	_, err := Load("testdata/invalid-approvals.yaml")
	splitErrors(t, err)
	got := err.Error() + "\n"
	if strings.Contains(got, "SECRET") {
		t.Errorf("the report repeats a webhook URL:\n%s", got)
	}
	const golden = "testdata/invalid-approvals.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("error text differs from %s (run go test -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
