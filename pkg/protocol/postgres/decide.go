package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// decide asks the policy about one statement. A statement the parser
// refused, or one that would change how the server reads later statements
// (sqlclass.Statement.Unsafe), is denied whatever the policy says.
func (ss *session) decide(st *sqlclass.Statement) policy.Decision {
	if st.Kind == sqlclass.KindUnparseable {
		return ss.refuseMasked(st, "unparseable", "the statement could not be parsed, so it cannot be checked: "+st.Error)
	}
	if st.Unsafe != "" {
		// The classifier cannot follow what the server will do with it.
		return ss.refuseMasked(st, st.UnsafeRule, st.Unsafe)
	}
	if ss.h.deps.Policy == nil {
		return refuse("no-policy-engine", "no policy is loaded")
	}
	d := ss.policyDecision(st)
	if d.Masking != nil && d.Action != policy.Deny {
		if r := ss.refuseUnmaskable(st, d.Masking); r != nil {
			return *r
		}
	}
	return d
}

// policyDecision asks the policy engine about st.
func (ss *session) policyDecision(st *sqlclass.Statement) policy.Decision {
	return ss.h.deps.Policy.Decide(&policy.Request{
		Identity: ss.s.Identity, Target: ss.s.Target, Protocol: "postgres", SQL: st,
		Attribution: policy.AttributionOf(&ss.s.Attribution),
	})
}

// refuseMasked is a refusal of the inspector's own that carries the
// masking the policies apply to the session's statements, so that the
// refused text is masked in its event and recording as an allowed one
// would be.
func (ss *session) refuseMasked(st *sqlclass.Statement, rule, msg string) policy.Decision {
	r := refuse(rule, msg)
	if ss.h.deps.Policy != nil {
		r.Masking = ss.policyDecision(st).Masking
	}
	return r
}

// refuse is a decision the inspector takes itself (no policy rule).
func refuse(rule, msg string) policy.Decision {
	return policy.Decision{Action: policy.Deny, Policy: "sluice", Rule: rule, Message: msg}
}

// denial is the ErrorResponse a refused statement gets.
func (ss *session) denial(a *audited) *pgproto3.ErrorResponse {
	d := a.dec
	if d.Action == policy.Review && a.appr != nil {
		return ss.approvalDenial(a)
	}
	var msg strings.Builder
	switch d.Action {
	case policy.Review:
		msg.WriteString("statement needs approval")
	default:
		msg.WriteString("permission denied")
	}
	if d.Policy != "" {
		fmt.Fprintf(&msg, " by sluice policy %q rule %q", d.Policy, d.Rule)
	} else {
		msg.WriteString(" by sluice")
	}
	if d.Message != "" {
		msg.WriteString(": ")
		msg.WriteString(d.Message)
	}
	detail := describe(a.st)
	hint := fmt.Sprintf("sluice session %s, identity %q, target %q: the decision is in its db.query event.", ss.s.ID, ss.s.Identity, ss.s.Target)
	if d.Action == policy.Review {
		hint = "No approval broker serves this target, so statements under review are refused. " + hint
	}
	return errorResponse(codeInsufficientPrivilege, msg.String(), detail, hint)
}

// describe summarizes a classification for an error detail.
func describe(st *sqlclass.Statement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Statement kind: %s.", st.Kind)
	rel := func(label string, rs []sqlclass.Relation) {
		if len(rs) == 0 {
			return
		}
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.String()
		}
		fmt.Fprintf(&b, " %s: %s.", label, strings.Join(names, ", "))
	}
	rel("Writes", st.Writes)
	rel("Reads", st.Reads)
	if len(st.Dangerous) > 0 {
		names := make([]string, len(st.Dangerous))
		for i, f := range st.Dangerous {
			names[i] = f.String()
		}
		fmt.Fprintf(&b, " Restricted functions: %s.", strings.Join(names, ", "))
	}
	return b.String()
}

// fastPathDenied audits a refused fast-path FunctionCall.
func fastPathDenied() *audited {
	return &audited{
		st:    &sqlclass.Statement{Kind: sqlclass.KindCall, Command: "FUNCTION CALL"},
		phase: "function_call",
		dec:   refuse("fast-path-call", "fast-path function calls name functions by OID and cannot be checked; use SELECT"),
	}
}

// unknownPortal is the classification of an Execute on a portal sluice
// never saw bound.
func unknownPortal(name string) *sqlclass.Statement {
	return &sqlclass.Statement{Kind: sqlclass.KindExecute, Command: "EXECUTE", Executes: name}
}

// Parameter auditing bounds.
const (
	maxAuditParams   = 64
	maxAuditParamLen = 256
)

// auditParams renders bound parameters for events: text values truncated,
// binary values by size.
func auditParams(values [][]byte, formats []int16) []string {
	if len(values) == 0 {
		return nil
	}
	n := min(len(values), maxAuditParams)
	out := make([]string, n)
	for i := range n {
		v := values[i]
		f := int16(0)
		switch {
		case len(formats) == 1:
			f = formats[0]
		case i < len(formats):
			f = formats[i]
		}
		switch {
		case v == nil:
			out[i] = "NULL"
		case f != 0:
			out[i] = fmt.Sprintf("<binary %d bytes>", len(v))
		case len(v) > maxAuditParamLen:
			out[i] = string(v[:maxAuditParamLen]) + "…"
		default:
			out[i] = string(v)
		}
	}
	return out
}
