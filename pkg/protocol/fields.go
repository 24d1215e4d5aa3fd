package protocol

import (
	"bytes"

	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/audit/ocsf"
	"github.com/sluicehq/sluice/pkg/identity"
)

// Fields adds to e the fields every event about the session carries:
// session id, identity, kernel attribution, destination and target, and
// for an identity claimed with an OIDC token, what the token said (never
// the token).
func (s *Session) Fields(e *zerolog.Event) *zerolog.Event {
	a := s.Attribution
	e = e.Str("session", s.ID).Str("identity", s.Identity).
		Uint32("pid", a.PID).Str("comm", a.Comm).Str("exe", a.Exe).
		Uint32("uid", a.UID).Uint32("gid", a.GID).Str("cgroup", a.Cgroup).
		Str("dst", s.Dst.String()).Str("target", s.Target)
	if a.Unit != "" {
		e = e.Str("unit", a.Unit)
	}
	if s.KernelIdentity != "" {
		e = e.Str("kernel_identity", s.KernelIdentity)
	}
	if a.OIDC != nil {
		e = e.Dict("oidc", OIDCDict(a.OIDC))
	}
	return e
}

// FieldsKey and a run from FieldsRun, given to RawJSON, write what Fields
// writes.
const FieldsKey = "session"

// FieldsRun renders once what Fields adds, followed by what more adds,
// for events written many times per session: e.RawJSON(FieldsKey, run)
// then writes the same bytes as more(s.Fields(e)) with one copy. The run
// is the value of the first field (the session id) followed by the other
// fields; the session must not change after it is rendered. more may be
// nil. It returns nil if the rendering is not of that shape (a zerolog
// that formats otherwise): callers then use Fields.
func (s *Session) FieldsRun(more func(*zerolog.Event) *zerolog.Event) []byte {
	var buf bytes.Buffer
	l := zerolog.New(&buf)
	e := s.Fields(l.Log())
	if more != nil {
		e = more(e)
	}
	e.Send()
	run, ok := bytes.CutPrefix(buf.Bytes(), []byte(`{"`+FieldsKey+`":`))
	if !ok {
		return nil
	}
	if run, ok = bytes.CutSuffix(run, []byte("}\n")); !ok {
		return nil
	}
	return run
}

// OIDCDict is the oidc object of events: issuer, subject, jti, expiry and
// the exposed claims of the token an identity was claimed with.
func OIDCDict(o *identity.OIDC) *zerolog.Event {
	d := zerolog.Dict().Str("issuer", o.Issuer).Str("subject", o.Subject).Str("identity", o.Identity)
	if o.JTI != "" {
		d = d.Str("jti", o.JTI)
	}
	d = d.Time("expires", o.Expires.UTC())
	if len(o.Claims) > 0 {
		d = d.Interface("claims", o.Claims)
	}
	return d
}

// OCSFActor returns the session's attribution for the OCSF object of its
// events; app is the client's application name, if it sent one.
func (s *Session) OCSFActor(app string) ocsf.Actor {
	a := s.Attribution
	return ocsf.Actor{
		Identity: s.Identity, Session: s.ID, PID: a.PID, UID: a.UID, GID: a.GID,
		Comm: a.Comm, Exe: a.Exe, Cgroup: a.Cgroup, Unit: a.Unit, App: app,
	}
}

// OCSFEndpoints returns the session's client and destination (named for
// its target) for the OCSF object of its events.
func (s *Session) OCSFEndpoints() (src, dst ocsf.Endpoint) {
	return ocsf.Endpoint{Addr: s.Src}, ocsf.Endpoint{Addr: s.Dst, Name: s.Target}
}
