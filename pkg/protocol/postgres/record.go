package postgres

import (
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/record"
)

// Recordings opens one recording per session; *record.Store implements it.
//
// Create writes the recording's header and returns the recording, open for
// appending; its error wraps record.ErrWrite (or another record sentinel)
// when nothing could be written.
type Recordings interface {
	Create(h record.Header) (*record.Recording, error)
}

// rowSampler is implemented by Recordings whose result events keep a
// sample of the result's rows (*record.Store): SampleRows is how many.
type rowSampler interface {
	SampleRows() int
}

// versioner is implemented by Deciders that know the version of their
// policy set; recordings carry it in their header.
type versioner interface {
	Version() string
}

// recorder is a session's side of its recording. A recording that could
// not be created is retried at the next statement, so a session that
// started while the disk was full is recorded once space returns.
type recorder struct {
	mu      sync.Mutex
	rec     record.Recorder // nil: not recording (yet)
	lastErr error           // why rec is nil, or the last Append failure
}

// get returns the open recording, or nil.
func (r *recorder) get() record.Recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec
}

// failure returns the last failure.
func (r *recorder) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// openRecording creates the session's recording, if the target records.
func (ss *session) openRecording() {
	store := ss.h.deps.Records
	if store == nil || ss.recs.get() != nil {
		return
	}
	s := ss.s
	a := s.Attribution
	h := record.Header{
		Session: s.ID, Protocol: "postgres", Identity: s.Identity, Target: s.Target, Started: s.Started.UTC(),
		Process: record.Process{
			PID: a.PID, UID: a.UID, GID: a.GID, Comm: a.Comm, Exe: a.Exe, Cgroup: a.Cgroup, CgroupID: a.CgroupID, Unit: a.Unit,
		},
		Dst: s.Dst.String(), User: ss.up.user, Database: ss.up.database,
	}
	if o := a.OIDC; o != nil {
		h.OIDC = &record.OIDC{Issuer: o.Issuer, Subject: o.Subject, JTI: o.JTI, Expires: o.Expires.UTC(), Claims: o.Claims, KernelIdentity: s.KernelIdentity}
	}
	if v, ok := ss.h.deps.Policy.(versioner); ok {
		h.PolicyVersion = v.Version()
	}
	rec, err := store.Create(h)
	if err != nil {
		ss.recordFailed("create", err)
		return
	}
	ss.recs.mu.Lock()
	ss.recs.rec, ss.recs.lastErr = rec, nil
	ss.recs.mu.Unlock()
	ss.appendRecord(&record.Login{User: ss.up.user, Database: ss.up.database, Auth: string(ss.h.opts.Auth), TLS: ss.h.upTLS != nil})
}

// recordStatement writes a's statement event before it is forwarded. For a
// statement about to run, a failure refuses it when the target's
// on_record_failure is deny: a's decision becomes the refusal.
func (ss *session) recordStatement(a *audited) {
	if ss.h.deps.Records == nil {
		return
	}
	ss.openRecording()
	if rec := ss.recs.get(); rec != nil {
		ev := statementEvent(a)
		if a.dec.Masking != nil {
			ev.Text, ev.Params = ss.maskEcho(a.dec.Masking, ev.Text), ss.maskEchoes(a.dec.Masking, ev.Params)
			ev.Reason = ss.maskEcho(a.dec.Masking, ev.Reason) // a parser error quotes the text
		}
		seq, err := rec.Append(ev)
		if err == nil {
			a.seq, a.recorded = seq, true
			ss.recordApproval(a)
			return
		}
		ss.recordFailed("append", err)
	}
	if a.runs() && ss.h.deps.RecordFailure != config.RecordFailureAllow {
		a.dec = refuse("recording-failed", fmt.Sprintf("the session's recording cannot be written (%v), and target %q has on_record_failure: deny", ss.recs.failure(), ss.s.Target))
	}
}

// recordApproval writes how a's approval was decided, after its statement
// event and before it is forwarded: who approved or denied it, or why it
// did not wait to the end. An approval carried over from another step of
// the same statement was recorded there.
func (ss *session) recordApproval(a *audited) {
	ai := a.appr
	if ai == nil || !ai.fresh || a.dec.Action != policy.Review {
		return
	}
	ev := &record.Approval{ID: ai.id, Statement: a.seq, Approver: ai.approverName(), Grant: ai.grantMode(),
		HeldUS: ai.held.Microseconds(), Note: ai.reason}
	if ai.approver != nil {
		uid := ai.approver.UID
		ev.ApproverUID = &uid
	}
	switch ai.outcome {
	case approval.Approved:
		ev.Status = record.ApprovalGranted
		if ai.held == 0 && ai.grant != nil && !ai.grant.Once {
			ev.Note = joinNote(ev.Note, "let through by the approval --for of request "+ai.id+" until "+ai.grant.Expires.UTC().Format(time.RFC3339))
		}
	case approval.Denied:
		ev.Status = record.ApprovalRefused
	case approval.TimedOut:
		ev.Status = record.ApprovalExpired
	default:
		ev.Status = record.ApprovalWithdrawn
		why := ai.message
		if ai.cause != nil {
			why = ai.cause.Error()
		}
		ev.Note = joinNote(ev.Note, why)
	}
	ss.appendRecord(ev)
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// recordResult queues a's outcome, once its statement was recorded: the
// result reaches the file with the session's next event or within the
// store's ResultInterval (the statement itself was written before it ran).
func (ss *session) recordResult(a *audited) {
	if !a.recorded {
		return
	}
	rec := ss.recs.get()
	if rec == nil {
		return
	}
	r := &record.Result{Statement: a.seq, Duration: a.duration, Rows: a.rows, HasRows: a.hasRows, Note: a.note, Sample: a.sample}
	if a.err != nil {
		r.Error, r.Code = shownError(a), a.err.Code
	}
	if _, err := rec.AppendLater(r); err != nil {
		ss.recordFailed("append", err)
	}
}

// appendRecord writes an event whose loss refuses nothing.
func (ss *session) appendRecord(ev record.Event) {
	rec := ss.recs.get()
	if rec == nil {
		return
	}
	if _, err := rec.Append(ev); err != nil {
		ss.recordFailed("append", err)
	}
}

// closeRecording ends the recording with the session's totals: why it
// ended (client_closed, server_closed, protocol_error, error) and the
// error, if any.
func (ss *session) closeRecording(reason string, err error, up, down int64) {
	ss.recs.mu.Lock()
	rec := ss.recs.rec
	ss.recs.rec = nil
	ss.recs.mu.Unlock()
	if rec == nil {
		return
	}
	sum := record.Summary{Reason: reason, BytesUp: up, BytesDown: down}
	if err != nil {
		sum.Error = err.Error()
	}
	if cerr := rec.Close(sum); cerr != nil {
		ss.recordFailed("close", cerr)
	}
}

// recordFailed remembers and reports a recording failure. Every failure is
// an event: an auditor must be able to tell a gap in a recording from a
// quiet session.
func (ss *session) recordFailed(op string, err error) {
	// A failed append leaves the recording usable (the store cut it back
	// to its last complete line); the next statement tries again.
	ss.recs.mu.Lock()
	ss.recs.lastErr = err
	ss.recs.mu.Unlock()
	ss.h.deps.Metrics.RecordFailures.WithLabelValues(ss.s.Target, op).Inc()
	ss.s.Fields(ss.h.deps.Log.Warn(audit.RecordFailed)).Str("protocol", "postgres").Str("op", op).
		Str("on_record_failure", string(ss.recordFailure())).Err(err).Msg("the session's recording could not be written")
}

func (ss *session) recordFailure() config.RecordFailure {
	if ss.h.deps.RecordFailure == config.RecordFailureAllow {
		return config.RecordFailureAllow
	}
	return config.RecordFailureDeny
}

// statementEvent is a's statement as the recording keeps it.
func statementEvent(a *audited) *record.Statement {
	st := a.st
	ev := &record.Statement{
		Phase: a.phase, Text: st.Text, Prepared: a.name, Params: st.RedactParams(a.params),
		Class: string(st.Kind), Command: st.Command,
		Decision: string(a.dec.Action), Policy: a.dec.Policy, Rule: a.dec.Rule,
		Reads: relationNames(st.Reads), Writes: relationNames(st.Writes),
	}
	if len(st.Functions) > 0 {
		ev.Functions = functionNames(st.Functions)
	}
	if a.dec.Action != policy.Allow {
		ev.Reason = a.dec.Message
	}
	if a.appr != nil && a.dec.Action == policy.Review {
		ev.Approval = a.appr.id
		if a.runs() {
			ev.Decision = record.DecisionApproved
		}
	}
	if sh := a.dec.Shadow; sh != nil && a.dec.Action == policy.Allow {
		ev.Shadow = "would_" + string(sh.Action)
	}
	return ev
}
