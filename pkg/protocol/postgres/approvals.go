package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/approval"
)

// Approvals holds the statements a policy sends to review until a human
// decides; *approval.Broker implements it.
//
// Contract: Check returns at once the grant that lets the statement r
// describes run, if there is one: a --for grant of its identity, target
// and fingerprint (sqlclass.Fingerprint), or a once grant of that very
// statement (r.Exact), never a grant of r's own sender as approver; a once
// grant is used up by the call that gets it. Request blocks
// only its caller until the request is approved, denied or times out, or
// until ctx ends: it must then return promptly, with approval.Withdrawn
// unless a decision came first. The outcome names the request (ID); a
// statement that does not run gets Message for the client. Both are safe
// for concurrent use, and one session's wait never delays another's
// calls. The statement in the request is already masked.
type Approvals interface {
	Check(r *approval.Request) (*approval.Grant, bool)
	Request(ctx context.Context, r approval.Request) approval.Outcome
}

// Why a hold ended before a decision (the cause of its context).
var (
	errCancelRequested  = errors.New("the client cancelled the statement")
	errStatementTimeout = errors.New("the session's statement_timeout passed")
	errClientGone       = errors.New("the client closed the connection")
	errUpstreamGone     = errors.New("the server closed the connection")
)

// approvalInfo is how a statement under review came to run or not: the
// request it was held for, or the grant that let it through.
type approvalInfo struct {
	id       string         // the request (for a grant: the request it came from)
	outcome  approval.State // Approved, Denied, TimedOut or Withdrawn
	approver *approval.Approver
	reason   string
	grant    *approval.Grant // approved: how it lets statements through
	message  string          // for the client, when it did not run
	cause    error           // withdrawn by the session: one of the errors above
	held     time.Duration   // how long the statement waited; 0 when not held
	// fresh: decided for this statement now (held, or a grant found);
	// false when an approval given at Parse, or an earlier Execute of the
	// same portal, carries over. Only a fresh approval is recorded as an
	// approval event.
	fresh bool
}

// approved reports whether the statement may run.
func (ai *approvalInfo) approved() bool { return ai != nil && ai.outcome == approval.Approved }

// carried returns the approval for another step of the same statement
// (its Execute after an approved Parse, a later Execute of the portal).
func (ai *approvalInfo) carried() *approvalInfo {
	c := *ai
	c.fresh, c.held = false, 0
	return &c
}

// grantMode names how an approval lets statements through: once or for.
func (ai *approvalInfo) grantMode() string {
	switch {
	case ai.grant == nil:
		return ""
	case ai.grant.Once:
		return "once"
	}
	return "for"
}

// approverName names the approver: the user name, else "uid N".
func (ai *approvalInfo) approverName() string {
	switch {
	case ai.approver == nil:
		return ""
	case ai.approver.Name != "":
		return ai.approver.Name
	}
	return "uid " + strconv.FormatUint(uint64(ai.approver.UID), 10)
}

// approvalDenial is the ErrorResponse of a statement under review that
// does not run: cancelled (57014, as the server says), or denied, timed
// out or withdrawn (42501, naming the request).
func (ss *session) approvalDenial(a *audited) *pgproto3.ErrorResponse {
	ai, d := a.appr, a.dec
	held := fmt.Sprintf("held for approval by sluice policy %q rule %q", d.Policy, d.Rule)
	hint := fmt.Sprintf("sluice session %s, identity %q, target %q: the decision is in its db.query event.", ss.s.ID, ss.s.Identity, ss.s.Target)
	detail := fmt.Sprintf("The statement was %s (approval request %s) and did not run. %s", held, ai.id, describe(a.st))
	switch {
	case ai.cause == errCancelRequested:
		return errorResponse(codeQueryCanceled, "canceling statement due to user request", detail+" The request is withdrawn.", hint)
	case ai.cause == errStatementTimeout:
		return errorResponse(codeQueryCanceled, "canceling statement due to statement timeout", detail+" The request is withdrawn.", hint)
	case ai.outcome == approval.Denied:
		msg := fmt.Sprintf("permission denied by sluice policy %q rule %q: approval request %s %s", d.Policy, d.Rule, ai.id, ai.message)
		return errorResponse(codeInsufficientPrivilege, msg, detail, hint)
	case ai.outcome == approval.TimedOut:
		hint = fmt.Sprintf("An approver can let the statement run once (%s) or for a while (%s). %s",
			approval.ApproveCommand(ai.id), approval.ApproveForCommand(ai.id, approval.SuggestedWindow), hint)
		return errorResponse(codeInsufficientPrivilege, "sluice "+ai.message, detail, hint)
	}
	msg := fmt.Sprintf("statement not run: sluice approval request %s was withdrawn: %s", ai.id, ai.message)
	return errorResponse(codeInsufficientPrivilege, msg, detail, hint)
}
