package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// handle routes one accepted connection.
func (p *Proxy) handle(ctx context.Context, c net.Conn) {
	client, local := addrPort(c.RemoteAddr()), addrPort(c.LocalAddr())
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	origin, err := p.lookup.Lookup(client, local)
	if err != nil {
		c.Close()
		p.metrics.RecordMisses.Inc()
		p.metrics.Connections.WithLabelValues("", "", metrics.OutcomeRejected).Inc()
		reason := "no redirect record"
		if !errors.Is(err, intercept.ErrNoRecord) {
			reason = err.Error()
		}
		p.rejected.Pass(p.log.Warn(audit.ConnectionRejected)).Str("src", client.String()).Str("listener", local.String()).
			Str("reason", reason).Msg("connection to the proxy without a kernel redirect record")
		return
	}

	r := p.routes.Load()
	s := &protocol.Session{
		ID: newSessionID(), Attribution: attribution(origin, p.paths), Dst: origin.Dst, Src: client, Started: time.Now(),
	}
	ident, known := r.Identities[origin.Identity]
	s.Identity = ident.Name
	deny := func(reason string) {
		c.Close()
		p.metrics.Connections.WithLabelValues(s.Identity, s.Target, metrics.OutcomeDenied).Inc()
		p.connEvent(p.log.Warn(audit.ConnectionDenied), s, origin).Str("reason", reason).Msg("connection denied")
	}
	if !known {
		deny("unknown identity id " + strconv.FormatUint(uint64(origin.Identity), 10) + " (tag left from an old configuration?)")
		return
	}
	if isListener(p.bound, origin.Dst) {
		deny("destination is the proxy itself")
		return
	}
	var expire <-chan struct{}
	if ident.Bound {
		if p.bindings == nil {
			deny("identity " + ident.Name + " is claimed with an OIDC token, and no binding can be found")
			return
		}
		lease, err := p.bindings.Binding(origin, s.Attribution.Cgroup)
		if lease.Release != nil {
			defer lease.Release()
		}
		s.Attribution.OIDC = lease.OIDC
		if err != nil {
			deny(err.Error())
			return
		}
		expire = lease.Done
	}

	var h protocol.Handler
	if t := r.Targets.Match(origin.Dst); t != nil {
		s.Target = t.Name
		h = r.Handlers[t.Name]
		if h == nil {
			deny("no handler for target " + t.Name)
			return
		}
	} else if ident.Egress == EgressAllow {
		h = r.Egress
	} else {
		deny("no target matches the destination and the identity's egress is deny")
		return
	}

	release, err := p.limits.take(r.MaxSessions, ident)
	if err != nil {
		p.refuse(ctx, s, origin, h, c, err)
		return
	}
	defer release()
	p.serve(ctx, s, origin, h, c, expire)
}

// refuse turns away a connection over a session limit: in its protocol's
// terms when its handler can (a PostgreSQL client reads FATAL 53300) and
// fewer than maxRefusing refusals are in progress, closed otherwise. The
// bound keeps connections over a limit from holding what the limit
// protects.
//
// It is counted (outcome limited) and reported (connection.denied) once
// the handler has answered, unless the connection turned out to ask for
// no session (a PostgreSQL CancelRequest, routed: its db.cancel event
// tells).
func (p *Proxy) refuse(ctx context.Context, s *protocol.Session, origin intercept.Origin, h protocol.Handler, c net.Conn, reason error) {
	defer c.Close()
	if rf, ok := h.(protocol.Refuser); ok && !p.refuseIn(ctx, rf, s, c, reason) {
		return
	}
	p.metrics.Connections.WithLabelValues(s.Identity, s.Target, metrics.OutcomeLimited).Inc()
	p.limited.Pass(p.connEvent(p.log.Warn(audit.ConnectionDenied), s, origin)).Str("reason", reason.Error()).
		Msg("connection denied")
}

// refuseIn runs rf's Refuse when fewer than maxRefusing refusals are in
// progress; past that, the connection is refused by closing it. It
// returns whether the connection was refused (false: it asked for no
// session and was served).
func (p *Proxy) refuseIn(ctx context.Context, rf protocol.Refuser, s *protocol.Session, c net.Conn, reason error) bool {
	select {
	case p.refusing <- struct{}{}:
		defer func() { <-p.refusing }()
	default:
		return true
	}
	return rf.Refuse(ctx, s, c, func(ctx context.Context) (net.Conn, error) {
		return p.dialer.DialContext(ctx, "tcp", s.Dst.String())
	}, reason)
}

// serve runs the handler. When expire is closed (the OIDC binding of the
// session's identity expired), the session ends.
func (p *Proxy) serve(ctx context.Context, s *protocol.Session, origin intercept.Origin, h protocol.Handler, c net.Conn, expire <-chan struct{}) {
	if expire != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-expire:
				cancel(identity.ErrExpired)
			case <-ctx.Done():
			}
		}()
	}
	p.active.Add(1)
	defer p.active.Add(-1)

	active := p.metrics.Active.WithLabelValues(s.Identity, s.Target)
	active.Inc()
	defer active.Dec()
	p.connEvent(p.log.Event(audit.ConnectionOpen), s, origin).Msg("connection open")

	dialFailed := false
	dial := func(ctx context.Context) (net.Conn, error) {
		up, err := p.dialer.DialContext(ctx, "tcp", s.Dst.String())
		if err != nil {
			dialFailed = true
		}
		return up, err
	}
	res, err := h.Serve(ctx, s, c, dial)

	outcome := metrics.OutcomeAccepted
	if dialFailed {
		outcome = metrics.OutcomeFailed
	}
	p.metrics.Connections.WithLabelValues(s.Identity, s.Target, outcome).Inc()
	p.metrics.Bytes.WithLabelValues(s.Identity, s.Target, "up").Add(float64(res.BytesUp))
	p.metrics.Bytes.WithLabelValues(s.Identity, s.Target, "down").Add(float64(res.BytesDown))
	ev := p.connEvent(p.log.Event(audit.ConnectionClose), s, origin).
		Int64("bytes_up", res.BytesUp).Int64("bytes_down", res.BytesDown).
		Float64("duration_ms", float64(time.Since(s.Started).Microseconds())/1000)
	if cause := context.Cause(ctx); errors.Is(cause, identity.ErrExpired) {
		ev = ev.Str("error", "the session was ended: "+cause.Error())
	} else if err != nil && !errors.Is(err, context.Canceled) {
		ev = ev.Str("error", err.Error())
	}
	ev.Msg("connection closed")
}

// connEvent adds the fields every connection event carries.
func (p *Proxy) connEvent(e *zerolog.Event, s *protocol.Session, o intercept.Origin) *zerolog.Event {
	return s.Fields(e).Str("tag", o.TagKind.String())
}
