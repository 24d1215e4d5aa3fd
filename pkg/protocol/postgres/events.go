package postgres

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// maxEventStatement bounds the statement text carried by an event.
const maxEventStatement = 4096

// newEventSession returns a session of h for s logged in upstream as up,
// with what its events share rendered once.
func newEventSession(h *Handler, s *protocol.Session, up *upstream) *session {
	ss := &session{h: h, s: s, up: up, ocsf: ocsfContext(s, up, "")}
	ss.events.fields = s.FieldsRun(ss.queryFields)
	ss.events.counters = map[counterKey]prometheus.Counter{}
	ss.events.seconds = h.deps.Metrics.StatementSeconds.WithLabelValues(s.Target)
	return ss
}

// sessionEvents is what a session's db.query events share: their
// session fields, rendered once, and the session's metrics.
type sessionEvents struct {
	fields   []byte // protocol.Session.FieldsRun; nil: written field by field
	seconds  prometheus.Observer
	mu       sync.Mutex
	counters map[counterKey]prometheus.Counter
}

type counterKey struct{ kind, decision string }

// queryFields adds the session's fields of a db.query event after those
// of protocol.Session.Fields.
func (ss *session) queryFields(e *zerolog.Event) *zerolog.Event {
	return e.Str("protocol", "postgres").Str("database", ss.up.database).Str("user", ss.up.user)
}

// statements returns the counter of the session's statements of kind
// decided decision.
func (ss *session) statements(kind, decision string) prometheus.Counter {
	ev := &ss.events
	k := counterKey{kind, decision}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	c, ok := ev.counters[k]
	if !ok {
		c = ss.h.deps.Metrics.Statements.WithLabelValues(ss.s.Identity, ss.s.Target, kind, decision)
		ev.counters[k] = c
	}
	return c
}

// emit writes one db.query event per audited statement and counts it.
func (ss *session) emit(done []*audited) {
	for _, a := range done {
		ss.emitOne(a)
	}
}

func (ss *session) emitOne(a *audited) {
	ss.recordResult(a)
	h, s := ss.h, ss.s
	decision := string(a.dec.Action)
	switch {
	case a.dec.Action == policy.Allow && a.dec.Shadow != nil:
		decision = "would_" + string(a.dec.Shadow.Action)
	case a.dec.Action == policy.Review && a.runs():
		decision = "approved"
	}
	ss.statements(string(a.st.Kind), decision).Inc()
	if a.runs() && a.err == nil && a.note == "" && a.phase != "parse" {
		ss.events.seconds.Observe(a.duration.Seconds())
	}

	var e *zerolog.Event
	if a.dec.Action == policy.Allow && a.dec.Shadow == nil {
		e = h.deps.Log.Event(audit.DBQuery)
	} else {
		e = h.deps.Log.Warn(audit.DBQuery)
	}
	if !e.Enabled() {
		return
	}
	st := a.st
	text := ss.maskEcho(a.dec.Masking, st.Text)
	if len(text) > maxEventStatement {
		text = text[:maxEventStatement] + "…"
	}
	if run := ss.events.fields; run != nil {
		e = e.RawJSON(protocol.FieldsKey, run)
	} else {
		e = ss.queryFields(s.Fields(e))
	}
	e = e.Str("phase", a.phase).Str("statement", text).Str("kind", string(st.Kind)).Str("command", st.Command)
	if a.name != "" {
		e = e.Str("prepared", a.name)
	}
	e = relations(e, "reads", st.Reads)
	e = relations(e, "writes", st.Writes)
	if len(st.Functions) > 0 {
		e = e.Strs("functions", functionNames(st.Functions))
	}
	if a.params != nil {
		e = e.Strs("params", ss.maskEchoes(a.dec.Masking, a.st.RedactParams(a.params)))
	}
	if len(a.masked) > 0 {
		arr := zerolog.Arr()
		for _, c := range a.masked {
			d := zerolog.Dict().Str("column", c.Column).Str("detector", c.Detector).Uint64("n", c.N)
			if c.Reason != "" {
				d = d.Str("reason", c.Reason)
			}
			arr = arr.Dict(d)
			h.deps.Metrics.MaskedValues.WithLabelValues(s.Target, c.Detector).Add(float64(c.N))
		}
		e = e.Array("masked", arr)
	}
	e = e.Str("decision", string(a.dec.Action)).Str("policy", a.dec.Policy).Str("rule", a.dec.Rule)
	if a.dec.Version != "" {
		e = e.Str("policy_version", a.dec.Version)
	}
	if a.dec.Message != "" && a.dec.Action != policy.Allow {
		e = e.Str("reason", ss.maskEcho(a.dec.Masking, a.dec.Message)) // a parser error quotes the text
	}
	if sh := a.dec.Shadow; sh != nil {
		e = e.Str("shadow_decision", "would_"+string(sh.Action)).Str("shadow_policy", sh.Policy).Str("shadow_rule", sh.Rule)
	}
	if ai := a.appr; ai != nil && a.dec.Action == policy.Review {
		e = approvalFields(e, ai)
	}
	e = e.Float64("duration_ms", float64(a.duration.Microseconds())/1000)
	if a.hasRows {
		e = e.Int64("rows", a.rows)
	}
	if a.err != nil {
		e = e.Str("error", shownError(a)).Str("sqlstate", a.err.Code)
	}
	if a.note != "" {
		e = e.Str("note", a.note)
	}
	ss.ocsfQuery(e, a, text).Msg("statement")
}

// approvalFields adds how a statement under review was decided: the
// request, its outcome, the approver and reason, the grant it runs under,
// how long it was held.
func approvalFields(e *zerolog.Event, ai *approvalInfo) *zerolog.Event {
	e = e.Str("approval", ai.id).Str("approval_outcome", string(ai.outcome))
	if g := ai.grantMode(); g != "" {
		e = e.Str("approval_grant", g)
	}
	if ap := ai.approver; ap != nil {
		e = e.Uint32("approver_uid", ap.UID).Str("approver", ai.approverName())
	}
	if ai.reason != "" {
		e = e.Str("approval_reason", ai.reason)
	}
	if ai.held > 0 {
		e = e.Float64("held_ms", float64(ai.held.Microseconds())/1000)
	}
	if ai.cause != nil {
		e = e.Str("withdrawn_because", ai.cause.Error())
	}
	return e
}

func relations(e *zerolog.Event, key string, rs []sqlclass.Relation) *zerolog.Event {
	if len(rs) == 0 {
		return e
	}
	arr := zerolog.Arr()
	for _, r := range rs {
		arr = arr.Str(r.String())
	}
	return e.Array(key, arr)
}

func functionNames(fs []sqlclass.Function) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// flushAudits emits what was pending when the session ended.
func (ss *session) flushAudits(ps []*pending, note string) {
	var done []*audited
	for _, p := range ps {
		for _, a := range p.stmts {
			if a.err == nil && a.note == "" {
				a.note = note
			}
			done = append(done, a)
		}
	}
	ss.emit(done)
}

// shownError is the error a's statement got, as events and recordings
// show it: a server message may quote the statement's secrets.
func shownError(a *audited) string {
	return a.st.RedactSecrets(a.err.Message, a.params...)
}
