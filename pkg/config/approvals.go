package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/pkg/approval/approvalspec"
)

// Approvals is the approvals mapping: who decides the statements a policy
// sends to review, how long a statement is held, and who is notified.
type Approvals struct {
	// Timeout is how long a statement is held waiting for a decision
	// (a rule may say otherwise).
	Timeout time.Duration
	// Approvers may approve and deny, besides root.
	Approvers Approvers
	// Webhooks are notified of every request.
	Webhooks []Webhook
	// HTTP is the approval API for human approvers; nil when off
	// (oidc.go).
	HTTP *ApprovalsHTTP
}

// Approvers lists the uids and gids (primary or supplementary) allowed to
// decide approval requests.
type Approvers struct {
	UIDs []uint32
	GIDs []uint32
}

// Webhook is an endpoint notified of each approval request. URL may hold
// a token: it is never repeated in errors or logs.
type Webhook struct {
	URL    string
	Format WebhookFormat
	// Timeout bounds each attempt.
	Timeout time.Duration
}

// WebhookFormat is the value of a webhook's format.
type WebhookFormat string

// Webhook formats.
const (
	WebhookGeneric WebhookFormat = approvalspec.FormatGeneric // one JSON object describing the request
	WebhookSlack   WebhookFormat = approvalspec.FormatSlack   // a Slack incoming-webhook message
)

// Defaults and bounds of the approvals mapping.
const (
	DefaultApprovalTimeout = approvalspec.DefaultTimeout
	MinApprovalTimeout     = approvalspec.MinTimeout
	MaxApprovalTimeout     = approvalspec.MaxTimeout
	DefaultWebhookTimeout  = approvalspec.DefaultWebhookTimeout
	MinWebhookTimeout      = approvalspec.MinWebhookTimeout
	MaxWebhookTimeout      = approvalspec.MaxWebhookTimeout
)

func defaultApprovals() Approvals {
	return Approvals{Timeout: DefaultApprovalTimeout}
}

func approvalsFields(a *Approvals) []field {
	return []field{
		{"timeout", duration(&a.Timeout)},
		{"approvers", object(approversFields(&a.Approvers))},
		{"webhooks", list(&a.Webhooks, webhookItem)},
		{"http", approvalsHTTP(&a.HTTP)},
	}
}

func approversFields(a *Approvers) []field {
	return []field{
		{"uids", list(&a.UIDs, uint32Item)},
		{"gids", list(&a.GIDs, uint32Item)},
	}
}

func webhookItem(d *decoder, n *yaml.Node, path string) Webhook {
	w := Webhook{Format: WebhookGeneric, Timeout: DefaultWebhookTimeout}
	d.mapping(n, path, []field{
		{"url", str(&w.URL)},
		{"format", str(&w.Format)},
		{"timeout", duration(&w.Timeout)},
	})
	return w
}

// approvals checks the approvals mapping.
func (v *validator) approvals() {
	a := &v.c.Approvals
	if t := a.Timeout; (t < MinApprovalTimeout || t > MaxApprovalTimeout) && !v.skip("approvals.timeout") {
		v.errorf("approvals.timeout", "must be between %s and %s, got %s", MinApprovalTimeout, MaxApprovalTimeout, t)
	}
	v.ids("approvals.approvers", a.Approvers.UIDs, a.Approvers.GIDs)
	seen := map[string]string{}
	for i := range a.Webhooks {
		w := &a.Webhooks[i]
		item := fmt.Sprintf("approvals.webhooks[%d]", i)
		if v.skip(item) {
			continue
		}
		if p := item + ".url"; !v.present(p) {
			v.errorf(item, `missing required key "url"`)
		} else if !v.skip(p) {
			if msg := approvalspec.CheckURL(w.URL); msg != "" {
				v.errorf(p, "%s", msg)
			} else if first, dup := seen[w.URL]; dup {
				v.errorf(p, "the same URL as %s (line %d)", first, v.line(first))
			} else {
				seen[w.URL] = p
			}
		}
		oneOf(v, item+".format", w.Format, WebhookGeneric, WebhookSlack)
		if t := w.Timeout; (t < MinWebhookTimeout || t > MaxWebhookTimeout) && !v.skip(item+".timeout") {
			v.errorf(item+".timeout", "must be between %s and %s, got %s", MinWebhookTimeout, MaxWebhookTimeout, t)
		}
	}
}
