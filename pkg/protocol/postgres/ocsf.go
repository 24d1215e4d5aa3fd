package postgres

import (
	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/audit/ocsf"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// ocsfQuery adds the OCSF Datastore Activity object to a statement's
// db.query event; text is the statement as the event carries it.
func (ss *session) ocsfQuery(e *zerolog.Event, a *audited, text string) *zerolog.Event {
	st := a.st
	q := ocsf.Query{
		User: ss.up.user, Text: text, Prepared: a.name, Kind: string(st.Kind), Command: st.Command,
		Decision: ocsf.Decision{
			Blocked: !a.runs(), Approved: a.dec.Action == policy.Review && a.runs(),
			Shadow: a.dec.Shadow != nil,
			Policy: a.dec.Policy, Rule: a.dec.Rule, PolicyVersion: a.dec.Version,
		},
		NotRun: a.note != "", Duration: a.duration, Rows: a.rows, HasRows: a.hasRows,
	}
	if !a.runs() {
		q.Decision.Reason = ss.maskEcho(a.dec.Masking, a.dec.Message)
	}
	switch {
	case len(st.Writes) > 0:
		q.Table = st.Writes[0].String()
	case len(st.Reads) > 0:
		q.Table = st.Reads[0].String()
	}
	if a.err != nil {
		q.Error, q.SQLState = shownError(a), a.err.Code
	}
	return ss.ocsf.Datastore(e, &q)
}

// ocsfContext renders what the OCSF objects of a session's events share;
// app is the client's application name.
func ocsfContext(s *protocol.Session, up *upstream, app string) *ocsf.Context {
	a := s.OCSFActor(app)
	src, dst := s.OCSFEndpoints()
	return ocsf.NewContext(&a, src, dst, up.database)
}

// ocsfLogin adds the OCSF Authentication object to a db.login event.
func (h *Handler) ocsfLogin(e *zerolog.Event, s *protocol.Session, st *startup, up *upstream, err error) *zerolog.Event {
	l := ocsf.Login{User: up.user, Auth: string(h.opts.Auth), Target: s.Target}
	if err != nil {
		l.Error = err.Error()
	}
	return ocsfContext(s, up, st.params["application_name"]).Authentication(e, &l)
}
