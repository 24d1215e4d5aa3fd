package daemon

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/oidc"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/proxy"
)

// verifyTimeout bounds one verification (discovery and keys included).
const verifyTimeout = 15 * time.Second

// newVerifier builds the verifier of the configured issuers.
func newVerifier(cfg *config.Config) (*oidc.Verifier, error) {
	return oidc.New(cfg.OIDC.Issuers, oidc.Options{})
}

// verify verifies a token for a use, and counts and reports a refusal as
// an oidc.refused event (fields adds who presented it). The caller counts
// the token accepted (accepted) once its own checks passed.
func (d *Daemon) verify(ctx context.Context, use, raw string, fields func(*audit.Logger) *zerolog.Event) (*oidc.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	tok, err := d.verifier.Load().Verify(ctx, raw)
	if err != nil {
		d.refused(use, err, fields)
		return nil, err
	}
	return tok, nil
}

// accepted counts a token accepted for a use.
func (d *Daemon) accepted(use string, tok *oidc.Token) {
	d.oidcMetrics.Verifications.WithLabelValues(tok.Issuer.Name, use, "ok", "").Inc()
}

// refused counts and reports a refused token. The error never holds the
// token.
func (d *Daemon) refused(use string, err error, fields func(*audit.Logger) *zerolog.Event) {
	d.oidcMetrics.Verifications.WithLabelValues(oidc.IssuerOf(err), use, "refused", oidc.ReasonOf(err)).Inc()
	d.oidcRefusals.Pass(fields(d.log)).Str("use", use).Str("issuer", oidc.IssuerOf(err)).Str("reason", oidc.ReasonOf(err)).
		Str("error", err.Error()).Msg("OIDC token refused")
}

// peerEvent starts an oidc.refused event of a control-socket caller.
func peerEvent(peer control.Peer) func(*audit.Logger) *zerolog.Event {
	return func(l *audit.Logger) *zerolog.Event {
		return l.Warn(audit.OIDCRefused).Int32("pid", peer.PID).Uint32("uid", peer.UID).Uint32("gid", peer.GID)
	}
}

// workload maps a verified token to a configured identity that tokens of
// its issuer may claim.
func (d *Daemon) workload(tok *oidc.Token) (*identity.OIDC, *config.Identity, error) {
	w, err := tok.Workload()
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	ident, ok := d.cfg.Identity(w.Identity)
	d.mu.Unlock()
	if !ok || ident.OIDC == nil || ident.OIDC.Issuer != tok.Issuer.Name {
		return nil, nil, tok.Refuse(oidc.ReasonIdentity, "the token maps to identity %q, which no identity of the configuration lets tokens of issuer %q claim (identities[].oidc.issuer)", w.Identity, tok.Issuer.Name)
	}
	w.Keep = ident.OIDC.OnExpiry == config.ExpiryKeep
	return w, ident, nil
}

// runWithToken answers `sluice run --oidc-token-file`: the token is
// verified and mapped to its identity, and the caller placed in a job
// cgroup tagged with it and bound to the token.
func (d *Daemon) runWithToken(ctx context.Context, peer control.Peer, req control.Request) (*control.Job, error) {
	fields := peerEvent(peer)
	tok, err := d.verify(ctx, metrics.OIDCRun, req.Token, fields)
	if err != nil {
		return nil, err
	}
	w, _, err := d.workload(tok)
	if err == nil && req.Identity != "" && req.Identity != w.Identity {
		err = tok.Refuse(oidc.ReasonIdentity, "--identity %q is not the token's identity, %q", req.Identity, w.Identity)
	}
	if err != nil {
		d.refused(metrics.OIDCRun, err, fields)
		return nil, err
	}
	d.accepted(metrics.OIDCRun, tok)
	return d.startJob(peer, w.Identity, w)
}

// jobOf returns the job cgroup (a direct child of the jobs cgroup) that
// the cgroup at p belongs to, or "".
func (d *Daemon) jobOf(p string) string {
	for ; p != "/" && p != "." && p != ""; p = path.Dir(p) {
		if d.isJob(p) {
			return p
		}
	}
	return ""
}

// refreshJob answers `sluice run --refresh`: the caller's job gets a newer
// token of the same subject and identity. A job whose binding was lost at
// a restart is bound again by any valid token of the identity its cgroup
// is tagged with (the tag was set when a token of that identity started
// it).
func (d *Daemon) refreshJob(ctx context.Context, peer control.Peer, req control.Request) (*control.Job, error) {
	fields := peerEvent(peer)
	p, err := cgroup.PathOfPID(int(peer.PID))
	if err != nil {
		return nil, fmt.Errorf("caller's cgroup: %w", err)
	}
	job := d.jobOf(p)
	cur, _, _, bound := d.bindings.get(job)
	var id uint64
	var tag uint32
	if job != "" && !bound {
		id, tag, bound = d.jobTag(job)
		cur = nil
	}
	if job == "" || !bound {
		return nil, errors.New("the caller runs in no job bound to an OIDC token (run it under sluice run --oidc-token-file)")
	}
	tok, err := d.verify(ctx, metrics.OIDCRefresh, req.Token, fields)
	if err != nil {
		return nil, err
	}
	w, _, err := d.workload(tok)
	switch {
	case err != nil:
	case cur == nil && config.IdentityID(w.Identity) != tag:
		err = tok.Refuse(oidc.ReasonIdentity, "the token maps to identity %q; the job runs as another identity", w.Identity)
	case cur == nil:
	case w.Issuer != cur.Issuer || w.Subject != cur.Subject:
		err = tok.Refuse(oidc.ReasonIdentity, "the token is for subject %q of %s; the job is bound to subject %q of %s", w.Subject, w.Issuer, cur.Subject, cur.Issuer)
	case w.Identity != cur.Identity:
		err = tok.Refuse(oidc.ReasonIdentity, "the token maps to identity %q; the job runs as %q", w.Identity, cur.Identity)
	case !w.Expires.After(cur.Expires):
		err = tok.Refuse(oidc.ReasonExpired, "the token expires at %s, not after the job's current one (%s): present a newer token",
			w.Expires.UTC().Format(time.RFC3339), cur.Expires.UTC().Format(time.RFC3339))
	}
	if err != nil {
		d.refused(metrics.OIDCRefresh, err, fields)
		return nil, err
	}
	d.accepted(metrics.OIDCRefresh, tok)
	ev := d.log.Event(audit.IdentityRefreshed).Str("identity", w.Identity).Str("cgroup", job).Dict("oidc", protocol.OIDCDict(w))
	if cur == nil {
		d.bindings.add(job, id, w)
		ev = ev.Bool("rebound", true)
	} else {
		prev := d.bindings.refresh(job, w)
		if prev == nil {
			return nil, errors.New("the job ended meanwhile")
		}
		ev = ev.Str("previous_jti", prev.JTI).Time("previous_expires", prev.Expires.UTC())
	}
	ev.Int32("pid", peer.PID).Uint32("uid", peer.UID).Msg("job's OIDC token refreshed")
	return &control.Job{Identity: w.Identity, Cgroup: job, OIDC: jobOIDC(w)}, nil
}

// jobTag returns the id of the job cgroup at job and the identity id it
// is tagged with; ok is false when it is not tagged.
func (d *Daemon) jobTag(job string) (id uint64, tag uint32, ok bool) {
	id, err := cgroup.ID(d.tree.Dir(job))
	if err != nil {
		return 0, 0, false
	}
	tag, ok, err = d.it.CgroupTag(id)
	return id, tag, ok && err == nil
}

func jobOIDC(w *identity.OIDC) *control.JobOIDC {
	return &control.JobOIDC{Issuer: w.Issuer, Subject: w.Subject, JTI: w.JTI, Expires: w.Expires.UTC()}
}

// bindingExpired reports a job binding whose token expired.
func (d *Daemon) bindingExpired(job string, o *identity.OIDC) {
	d.oidcMetrics.Expired.WithLabelValues(metrics.OIDCRun).Inc()
	sessions := "closed"
	if o.Keep {
		sessions = "kept"
	}
	d.log.Warn(audit.IdentityExpired).Str("identity", o.Identity).Str("cgroup", job).Dict("oidc", protocol.OIDCDict(o)).
		Str("sessions", sessions).Msg("the OIDC token of a job expired; its new connections are refused")
}

// Binding implements proxy.Bindings: a lease on the binding of the job
// the connection's cgroup belongs to.
func (d *Daemon) Binding(o intercept.Origin, cg string) (proxy.Lease, error) {
	if cg == "" {
		if p, err := cgroup.PathOfPID(int(o.PID)); err == nil {
			cg = p
		}
	}
	job := d.jobOf(cg)
	if job == "" {
		return proxy.Lease{}, fmt.Errorf("the identity is claimed with an OIDC token, and the connection comes from no job (cgroup %q)", cg)
	}
	b, expired, done, release, ok := d.bindings.hold(job)
	switch {
	case !ok:
		why := d.bindings.lostReason(job)
		if why == "" {
			why = "sluiced restarted since it started, and had not saved it"
		}
		return proxy.Lease{}, fmt.Errorf("job %s has no OIDC binding (%s); its connections are refused until it presents a token again (sluice run --refresh)", job, why)
	case expired:
		return proxy.Lease{OIDC: b}, fmt.Errorf("%w at %s: new connections are refused until the job presents a newer token (sluice run --refresh)",
			identity.ErrExpired, b.Expires.UTC().Format(time.RFC3339))
	case config.IdentityID(b.Identity) != o.Identity:
		release()
		return proxy.Lease{OIDC: b}, fmt.Errorf("job %s is bound to identity %q, not to the identity of its tag", job, b.Identity)
	}
	return proxy.Lease{OIDC: b, Done: done, Release: release}, nil
}

// VerifyToken implements the PostgreSQL inspector's TokenVerifier: a
// token presented as a password by a connection of the session s.
func (d *Daemon) VerifyToken(ctx context.Context, raw string, s *protocol.Session) (*identity.OIDC, error) {
	fields := func(l *audit.Logger) *zerolog.Event { return s.Fields(l.Warn(audit.OIDCRefused)) }
	tok, err := d.verify(ctx, metrics.OIDCPostgres, raw, fields)
	if err != nil {
		return nil, err
	}
	w, ident, err := d.workload(tok)
	if err == nil && w.Identity != s.Identity && !slices.Contains(ident.OIDC.PresentedBy, s.Identity) {
		err = tok.Refuse(oidc.ReasonIdentity, "connections of identity %q may not log in as identity %q (see identities[].oidc.presented_by)", s.Identity, w.Identity)
	}
	if err != nil {
		d.refused(metrics.OIDCPostgres, err, fields)
		return nil, err
	}
	d.accepted(metrics.OIDCPostgres, tok)
	return w, nil
}

// SessionExpired reports a session whose token, presented on the wire,
// expired (the inspector ends it unless the identity keeps sessions).
func (d *Daemon) SessionExpired(s *protocol.Session) {
	d.oidcMetrics.Expired.WithLabelValues(metrics.OIDCPostgres).Inc()
	sessions := "closed"
	if s.Attribution.OIDC != nil && s.Attribution.OIDC.Keep {
		sessions = "kept"
	}
	s.Fields(d.log.Warn(audit.IdentityExpired)).Str("sessions", sessions).Msg("the OIDC token of a session expired")
}
