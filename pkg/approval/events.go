package approval

import (
	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/audit"
)

// The events of docs/events.md (approval.*). The statement appears only in
// approval.requested, as the caller gave it (masked).

// common starts an event with the fields every approval event carries.
func (b *Broker) common(ev *zerolog.Event, p *Pending) *zerolog.Event {
	a := &p.Attribution
	ev = ev.Str("id", p.ID).Str("session", p.Session).Str("identity", p.Identity).Str("target", p.Target).
		Uint32("pid", a.PID).Uint32("uid", a.UID).Str("fingerprint", p.Fingerprint).
		Str("policy", p.Policy).Str("rule", p.Rule)
	if o := a.OIDC; o != nil {
		ev = ev.Str("oidc_issuer", o.Issuer).Str("oidc_subject", o.Subject)
	}
	return ev
}

func (b *Broker) eventRequested(p *Pending) {
	a := &p.Attribution
	ev := b.common(b.log.Warn(audit.ApprovalRequested), p).
		Uint32("gid", a.GID).Str("comm", a.Comm).Str("exe", a.Exe).Str("cgroup", a.Cgroup)
	if a.Unit != "" {
		ev = ev.Str("unit", a.Unit)
	}
	ev = ev.Str("database", p.Database).Str("user", p.User).Str("statement", p.Statement).
		Str("kind", p.Kind).Str("command", p.Command)
	if len(p.Reads) > 0 {
		ev = ev.Strs("reads", p.Reads)
	}
	if len(p.Writes) > 0 {
		ev = ev.Strs("writes", p.Writes)
	}
	ev.Str("reason", p.Message).Int64("timeout_ms", p.Timeout.Milliseconds()).
		Str("approve_command", ApproveCommand(p.ID)).Msg("statement held for approval")
}

// eventEnded starts approval.timeout or approval.withdrawn; why is the
// withdrawal's reason.
func (b *Broker) eventEnded(name string, p *Pending, why string) *zerolog.Event {
	ev := b.common(b.log.Warn(name), p).Float64("waited_ms", ms(p))
	if why != "" {
		ev = ev.Str("reason", why)
	}
	return ev
}

// eventDecided starts approval.approved or approval.denied; held says
// whether a statement was waiting for the decision.
func (b *Broker) eventDecided(name string, p *Pending, held bool) *zerolog.Event {
	ev := b.common(b.log.Event(name), p).Bool("held", held)
	if held {
		ev = ev.Float64("waited_ms", ms(p))
	}
	if a := p.Approver; a != nil && a.OIDC != nil {
		ev = ev.Str("approver_issuer", a.OIDC.Issuer).Str("approver_subject", a.OIDC.Subject).Str("approver", a.Name).Str("via", "http")
	} else if a != nil {
		ev = ev.Uint32("approver_uid", a.UID).Uint32("approver_gid", a.GID).Str("approver", a.Name)
	}
	ev = ev.Str("reason", p.Reason)
	if g := p.Grant; g != nil {
		mode := "once"
		if !g.Once {
			mode = "for"
		}
		ev = ev.Str("grant", mode).Time("grant_expires", g.Expires.UTC())
	}
	return ev
}

// ms is how long p waited, in milliseconds with microseconds.
func ms(p *Pending) float64 {
	return float64(p.Ended.Sub(p.Requested).Microseconds()) / 1000
}

// webhookFailed reports a notification that did not reach a webhook.
func (b *Broker) webhookFailed(f failure) {
	b.m.WebhookFailures.WithLabelValues(string(f.hook.Format), f.reason).Inc()
	b.log.Warn(audit.ApprovalWebhookFailed).Str("id", f.id).Str("webhook", RedactURL(f.hook.URL)).
		Str("format", string(f.hook.Format)).Str("reason", f.reason).Int("attempts", f.attempts).
		Str("error", f.err).Msg("approval notification not delivered")
}
