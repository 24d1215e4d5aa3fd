package metrics

import "github.com/prometheus/client_golang/prometheus"

// Approval decisions, the `decision` label of sluice_approvals_total.
const (
	DecisionApproved  = "approved"
	DecisionDenied    = "denied"
	DecisionTimeout   = "timeout"
	DecisionWithdrawn = "withdrawn"
)

// Webhook failure reasons, the `reason` label of
// sluice_approval_webhook_failures_total.
const (
	WebhookFailed  = "failed"  // every attempt failed, or the receiver refused the payload
	WebhookDropped = "dropped" // the queue was full: the notification was never sent
)

// Approvals holds the approval broker's metrics.
type Approvals struct {
	// Requests counts approval requests created (statements held).
	Requests prometheus.Counter
	// Decisions counts requests by how they ended: decision.
	Decisions *prometheus.CounterVec
	// Pending is the number of statements held right now.
	Pending prometheus.Gauge
	// HoldSeconds observes how long each held statement waited, by how
	// its wait ended: decision.
	HoldSeconds *prometheus.HistogramVec
	// GrantUses counts statements let through by a grant without a new
	// request: grant (once, for).
	GrantUses *prometheus.CounterVec
	// WebhookFailures counts notifications that never reached a webhook:
	// format, reason.
	WebhookFailures *prometheus.CounterVec
}

// NewApprovals returns unregistered approval metrics (tests, offline use).
func NewApprovals() *Approvals {
	return &Approvals{
		Requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_approval_requests_total",
			Help: "Approval requests created: statements held for a human decision.",
		}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_approvals_total",
			Help: "Approval requests by how they ended (approved, denied, timeout, withdrawn).",
		}, []string{"decision"}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_approvals_pending",
			Help: "Statements currently held waiting for an approval.",
		}),
		HoldSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_approval_hold_seconds",
			Help: "How long statements were held waiting for a decision, by how the wait ended (approved, denied, timeout, withdrawn).",
			// 1 s to 18 h, by factors of 4.
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"decision"}),
		GrantUses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_approval_grant_uses_total",
			Help: "Statements let through by an approval grant without a new request, by grant (once, for).",
		}, []string{"grant"}),
		WebhookFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_approval_webhook_failures_total",
			Help: "Approval notifications that did not reach a webhook, by format (generic, slack) and reason (failed, dropped).",
		}, []string{"format", "reason"}),
	}
}

// RegisterApprovals adds the approval metrics to the registry and returns
// them. Call it once per Metrics.
func (m *Metrics) RegisterApprovals() *Approvals {
	a := NewApprovals()
	m.Registry.MustRegister(a.Requests, a.Decisions, a.Pending, a.HoldSeconds, a.GrantUses, a.WebhookFailures)
	return a
}
