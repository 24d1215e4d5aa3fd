package postgres

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// hold decides statement a, under review, with the approval broker. A
// grant for its identity, target and shape lets it through at once.
// Otherwise the session holds it: what the client sent before it has been
// forwarded, nothing after it is read or forwarded, and the client waits,
// until an approver approves or denies it, its request times out, or the
// client gives up (a CancelRequest, closing the connection, its
// statement_timeout, given as set). Only this session waits.
//
// hold sets a.appr (left nil without a broker: the statement stays
// refused) and may refuse a itself (a.dec). It returns an error only when
// the session cannot go on: the client or the server went away.
func (ss *session) hold(a *audited, timeoutSetting string) error {
	b := ss.h.deps.Approvals
	if b == nil {
		return nil
	}
	fp, err := sqlclass.Fingerprint(a.st.Text)
	if err != nil {
		a.dec = refuse("no-fingerprint", "the statement's shape cannot be computed, so it cannot be held for approval: "+err.Error())
		return nil
	}
	req := ss.approvalRequest(a, fp)
	if g, ok := b.Check(&req); ok {
		ap := g.Approver
		a.appr = &approvalInfo{id: g.Request, outcome: approval.Approved, approver: &ap, reason: g.Reason, grant: g, fresh: true}
		return nil
	}
	// What the client sent before the held statement goes on.
	if err := ss.up.w.Flush(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ss.ctx)
	defer cancel(nil)
	if d, ok := parseTimeout(timeoutSetting); ok && d > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, d, errStatementTimeout)
		defer stop()
	}
	stopWatch := ss.watchHold(ctx, cancel)
	ss.up.gate.open(cancel)
	start := time.Now()
	out := b.Request(ctx, req)
	ss.up.gate.close()
	stopWatch()
	ai := &approvalInfo{
		id: out.ID, outcome: out.Decision, approver: out.Approver, reason: out.Reason, grant: out.Grant,
		message: out.Message, held: time.Since(start), fresh: true,
	}
	if ctx.Err() != nil {
		switch cause := context.Cause(ctx); cause {
		case errCancelRequested, errStatementTimeout, errClientGone, errUpstreamGone:
			// The session gave up: the statement does not run, even if an
			// approval came at the same moment.
			ai.cause = cause
			if ai.outcome == approval.Approved {
				ai.outcome = approval.Withdrawn
				ai.message = "the client gave up waiting"
			}
		}
	}
	a.appr = ai
	switch ai.cause {
	case errClientGone, errUpstreamGone:
		return ai.cause
	}
	return nil
}

// approvalRequest describes a to approvers: the statement masked as the
// events show it.
func (ss *session) approvalRequest(a *audited, fp string) approval.Request {
	s, st := ss.s, a.st
	r := approval.Request{
		Identity: s.Identity, Target: s.Target, Database: ss.up.database, User: ss.up.user,
		Attribution: s.Attribution, Session: s.ID,
		Statement: ss.maskEcho(a.dec.Masking, st.Text), Kind: string(st.Kind), Command: st.Command,
		Reads: relationNames(st.Reads), Writes: relationNames(st.Writes),
		Policy: a.dec.Policy, Rule: a.dec.Rule, Message: a.dec.Message, Fingerprint: fp,
		Exact: approval.Exact(st.Text, st.RedactParams(a.params)),
		Scope: approvalScope(a),
	}
	if ap := a.dec.Approval; ap != nil {
		r.Timeout = ap.Timeout
		for _, w := range ap.Webhooks {
			r.Webhooks = append(r.Webhooks, approval.Webhook{URL: w.URL, Format: approval.Format(w.Format), Timeout: w.Timeout})
		}
	}
	return r
}

// approvalScope is what a grant for a is good for: the same kind, reading
// and writing the same relations (as resolved, so the same text under
// another search_path is another statement), calling the same functions,
// sent to review by the same rule; for a dangerous statement or a DO
// block, the same text too.
func approvalScope(a *audited) string {
	st := a.st
	parts := []string{string(st.Kind), a.dec.Policy, a.dec.Rule}
	for _, l := range [][]string{relationNames(st.Reads), relationNames(st.Writes), functionNames(st.Functions), functionNames(st.Dangerous)} {
		l = slices.Sorted(slices.Values(l))
		parts = append(parts, strings.Join(l, "\x00"))
	}
	if len(st.Dangerous) > 0 || st.Kind == sqlclass.KindDangerous || st.Kind == sqlclass.KindDo {
		// What it does is in its literals (dblink_exec's SQL, a DO body,
		// a file name): only the same text does the same.
		parts = append(parts, approval.Exact(st.Text, st.RedactParams(a.params)))
	}
	return approval.Scope(parts...)
}

// holdAll holds the statements under review among as, in order, and stops
// at the first that is not approved: the query they belong to will not
// run. It is called only when none of them is denied.
func (ss *session) holdAll(as []*audited, timeoutFor func(i int) string) error {
	for i, a := range as {
		if a.dec.Action != policy.Review {
			continue
		}
		if err := ss.hold(a, timeoutFor(i)); err != nil {
			return err
		}
		if !a.runs() {
			return nil
		}
	}
	return nil
}

// relationNames renders relations as schema.name.
func relationNames(rs []sqlclass.Relation) []string {
	if len(rs) == 0 {
		return nil
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// approveExecute gets an approval for each statement under review that
// portal pt may run: carried over from an earlier Execute of the same
// portal (fetching more rows of a statement that already ran), or from
// its approved Parse (once), or by holding it. It stops at the first
// that is not approved; a then shows that one, else the last reviewed.
func (ss *session) approveExecute(a *audited, pt *portal) error {
	for _, st := range pt.live(ss.syncs) {
		d := ss.decide(st)
		if d.Action != policy.Review {
			continue
		}
		a.st, a.dec, a.appr = st, d, nil
		if info := pt.approved[st]; info != nil {
			a.appr = info.carried()
			continue
		}
		if ps := ss.stmts[pt.name]; ps != nil && ps.approved[st] != nil {
			a.appr = ps.approved[st]
			delete(ps.approved, st)
		} else if err := ss.hold(a, ss.sql.StatementTimeout()); err != nil {
			return err
		}
		if !a.runs() {
			return nil
		}
		if pt.approved == nil {
			pt.approved = map[*sqlclass.Statement]*approvalInfo{}
		}
		pt.approved[st] = a.appr
	}
	return nil
}

// approve lets the first execution of candidate st run under info.
func (ps *prepared) approve(st *sqlclass.Statement, info *approvalInfo) {
	if ps.approved == nil {
		ps.approved = map[*sqlclass.Statement]*approvalInfo{}
	}
	ps.approved[st] = info
}

// abandon reports statements that never run because the session ends
// while one of them is held (why: errClientGone or errUpstreamGone), and
// returns the error that ends the session as its end reason wants it.
func (ss *session) abandon(as []*audited, why error) error {
	for _, a := range as {
		if a.note == "" {
			a.note = "not run: " + why.Error() + " while a statement was held for approval"
		}
		ss.recordStatement(a)
	}
	ss.emit(as)
	if why == errUpstreamGone {
		return os.ErrDeadlineExceeded // the upstream side ended first
	}
	return io.EOF
}
