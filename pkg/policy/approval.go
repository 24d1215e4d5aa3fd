package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/pkg/approval/approvalspec"
	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// Approval is a review rule's approval: mapping: how long a statement the
// rule holds waits for a human decision, and which endpoints are notified
// of its requests besides the configured ones.
type Approval struct {
	// Timeout is how long a held statement waits; 0 means the timeout of
	// the approvals configuration (10 minutes by default).
	Timeout time.Duration
	// Webhooks are notified of each request the rule makes, in addition
	// to the configured ones.
	Webhooks []Webhook
	Line     int
}

// Webhook is an endpoint a review rule notifies. Its URL may hold a token:
// tools print it redacted.
type Webhook struct {
	URL     string
	Format  string        // approvalspec.FormatGeneric (default) or FormatSlack
	Timeout time.Duration // per attempt; approvalspec.DefaultWebhookTimeout by default
}

// maxRuleWebhooks bounds the webhooks of one rule.
const maxRuleWebhooks = 8

// approval decodes a rule's approval: mapping.
func (d *decoder) approval(n *yaml.Node, path string) *Approval {
	a := &Approval{Line: n.Line}
	present, ok := d.mapping(n, path, []field{
		{key: "timeout", decode: func(d *decoder, n *yaml.Node, path string) {
			if v, ok := d.duration(n, path); ok {
				if msg := approvalspec.CheckTimeout(v, approvalspec.MinTimeout, approvalspec.MaxTimeout); msg != "" {
					d.errorf(n.Line, path, "%s", msg)
					return
				}
				a.Timeout = v
			}
		}},
		{key: "webhooks", decode: func(d *decoder, n *yaml.Node, path string) {
			seen := map[string]int{}
			d.sequence(n, path, func(item *yaml.Node, p string) {
				w, ok := d.webhook(item, p)
				if !ok {
					return
				}
				if first, dup := seen[w.URL]; dup {
					d.errorf(item.Line, p+".url", "the same URL as the webhook at line %d", first)
					return
				}
				seen[w.URL] = item.Line
				a.Webhooks = append(a.Webhooks, w)
			})
			if len(a.Webhooks) > maxRuleWebhooks {
				d.errorf(n.Line, path, "at most %d webhooks per rule, got %d", maxRuleWebhooks, len(a.Webhooks))
			}
		}},
	})
	if ok && len(present) == 0 {
		d.errorf(n.Line, path, "must not be empty (remove the key to use the approvals configuration)")
	}
	return a
}

// webhook decodes one item of a rule's approval webhooks.
func (d *decoder) webhook(n *yaml.Node, path string) (Webhook, bool) {
	w := Webhook{Format: approvalspec.FormatGeneric, Timeout: approvalspec.DefaultWebhookTimeout}
	valid := true
	present, ok := d.mapping(n, path, []field{
		{key: "url", decode: func(d *decoder, n *yaml.Node, path string) {
			// Not through str: a URL in an error may leak its token.
			r, ok := d.resolve(n)
			if !ok {
				return
			}
			if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!str" {
				d.errorf(r.Line, path, "expected a URL, got %s", yamldoc.Describe(r))
				valid = false
				return
			}
			if msg := approvalspec.CheckURL(r.Value); msg != "" {
				d.errorf(r.Line, path, "%s", msg)
				valid = false
				return
			}
			w.URL = r.Value
		}},
		{key: "format", decode: func(d *decoder, n *yaml.Node, path string) {
			s, line, ok := d.str(n, path)
			if !ok {
				valid = false
				return
			}
			if !slices.Contains(approvalspec.Formats, s) {
				d.errorf(line, path, "invalid format %q: must be one of %s", s, strings.Join(approvalspec.Formats, ", "))
				valid = false
				return
			}
			w.Format = s
		}},
		{key: "timeout", decode: func(d *decoder, n *yaml.Node, path string) {
			v, ok := d.duration(n, path)
			if ok {
				if msg := approvalspec.CheckTimeout(v, approvalspec.MinWebhookTimeout, approvalspec.MaxWebhookTimeout); msg != "" {
					d.errorf(n.Line, path, "%s", msg)
					ok = false
				}
			}
			if !ok {
				valid = false
				return
			}
			w.Timeout = v
		}},
	})
	if ok && !present["url"] {
		d.errorf(n.Line, path, "url is required")
		valid = false
	}
	return w, ok && valid && w.URL != ""
}

// duration decodes a duration with a unit (500ms, 30s, 10m, 1h).
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, line, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 {
		d.errorf(line, path, "invalid duration %q: write a number with a unit, such as 30s, 10m or 1h", yamldoc.Safe(clip(s, 64)))
		return 0, false
	}
	return v, true
}

// clip cuts s to n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checkApproval reports an approval: mapping on a rule that cannot hold a
// statement.
func (d *decoder) checkApproval(r *Rule, path string) {
	if r.Approval != nil && r.Action != "" && r.Action != Review {
		d.errorf(r.Approval.Line, yamldoc.JoinPath(path, "approval"), "only a review rule holds statements for approval; this rule's action is %s", r.Action)
	}
}

// String summarizes the settings for tooling: "timeout 5m, webhooks
// https://hooks.example.com/… (slack)". URLs are shown without their path
// and query, which may hold a token.
func (a *Approval) String() string {
	if a == nil {
		return "the approvals configuration"
	}
	var parts []string
	if a.Timeout > 0 {
		parts = append(parts, "timeout "+a.Timeout.String())
	}
	if len(a.Webhooks) > 0 {
		hooks := make([]string, len(a.Webhooks))
		for i, w := range a.Webhooks {
			hooks[i] = fmt.Sprintf("%s (%s)", approvalspec.RedactURL(w.URL), w.Format)
		}
		parts = append(parts, "webhooks "+strings.Join(hooks, ", "))
	}
	return strings.Join(parts, "; ")
}
