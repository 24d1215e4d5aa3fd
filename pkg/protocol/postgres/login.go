package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// upstream is the logged-in upstream leg and what the session knows about it.
type upstream struct {
	*conn
	user, database string
	params         map[string]string // the startup parameters sent upstream
	key            *cancelKey        // the upstream's BackendKeyData
	clientKey      uint64            // the key the client got from us (registry key)
	// session is the session as the client's OIDC token made it (auth:
	// oidc); nil otherwise.
	session *protocol.Session
	gate    *holdGate // where a CancelRequest finds a statement held for approval
}

// login connects upstream, authenticates both legs and relays the
// post-authentication messages up to the first ReadyForQuery.
func (h *Handler) login(ctx context.Context, s *protocol.Session, c *conn, st *startup, dial protocol.Dialer) (*upstream, error) {
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	params := maps.Clone(st.params)
	if err := checkStartupSettings(params); err != nil {
		up := &upstream{user: params["user"], database: params["database"], params: params, gate: &holdGate{}}
		h.loginEvent(s, st, up, err)
		f := fatal(codeInsufficientPrivilege, "%s", err.Error())
		f.Hint = "Startup parameters and PGOPTIONS may set only formatting and timeout settings (" + startupSettingNames() + ")."
		_ = c.w.Send(f)
		_ = c.w.Flush()
		return nil, err
	}
	user := params["user"]
	if h.opts.Auth.Injects() {
		user = h.opts.Credentials.Username
	} else if h.opts.User != "" {
		user = h.opts.User
	}
	params["user"] = user
	if h.opts.Database != "" {
		params["database"] = h.opts.Database
	}
	up := &upstream{user: user, database: params["database"], params: params, gate: &holdGate{}}

	failHint := func(code string, err error, hint, format string, args ...any) (*upstream, error) {
		h.loginEvent(s, st, up, err)
		f := fatal(code, format, args...)
		f.Hint = hint
		_ = c.w.Send(f)
		_ = c.w.Flush()
		return nil, err
	}
	fail := func(code string, err error, format string, args ...any) (*upstream, error) {
		return failHint(code, err, "", format, args...)
	}
	kernel := s
	if h.opts.Auth == config.AuthOIDC {
		// The client proves its identity before sluice contacts the
		// database: a refused token never reaches it.
		ts, err := h.clientToken(ctx, s, c)
		var refused *tokenRefused
		switch {
		case errors.As(err, &refused):
			return fail(codeInvalidPassword, err, "sluice could not log in to target %q with the OIDC token given as password: %s", h.target, refused.err)
		case errors.Is(err, ErrProtocol):
			h.protocolError(c, err)
			h.loginEvent(s, st, up, err)
			return nil, err
		case err != nil:
			h.loginEvent(s, st, up, err)
			return nil, err
		}
		s, up.session = ts, ts
	}
	conn, err := h.dialUpstream(ctx, dial)
	if err != nil {
		return fail(codeConnectionFailure, err, "sluice could not reach target %q: %v", h.target, err)
	}
	up.conn = conn
	if err := sendStartup(conn, params); err != nil {
		conn.conn.Close()
		return fail(codeConnectionFailure, err, "sluice could not reach target %q: %v", h.target, err)
	}
	if h.opts.Auth.Injects() {
		err = h.injectAuth(ctx, conn, user)
	} else {
		err = h.passthroughAuth(c, conn)
	}
	if err == nil {
		// Cancel requests come with the kernel's identity only.
		err = h.afterAuth(c, up, kernel)
	}
	if err != nil {
		conn.conn.Close()
		var ue *upstreamError
		var unsafe *unsafeSetting
		switch {
		case errors.As(err, &ue):
			if h.opts.Auth.Injects() && ue.e.Code == codeInvalidPassword {
				return fail(codeInvalidPassword, err, "sluice could not log in to target %q as %q: %s", h.target, user, ue.e.Message)
			}
			// Passthrough, and errors after authentication: the client
			// already has the upstream's error.
			h.loginEvent(s, st, up, err)
			if !ue.relayed {
				_ = c.w.Send(ue.e)
				_ = c.w.Flush()
			}
			return nil, err
		case errors.As(err, &unsafe):
			return failHint(codeInsufficientPrivilege, err, unsafeSettingHint, "sluice refuses this session: %s", unsafe.why)
		case errors.Is(err, errAuthMethod):
			return fail(codeInvalidAuthorization, err, "sluice refuses to log in to target %q: %v", h.target, err)
		case errors.Is(err, ErrNoPassword):
			return fail(codeCannotConnectNow, err, "sluice has no password for target %q (%v)", h.target, err)
		case errors.Is(err, ErrProtocol):
			h.protocolError(c, err)
			h.loginEvent(s, st, up, err)
			return nil, err
		default:
			return fail(codeConnectionFailure, err, "sluice lost target %q during login: %v", h.target, err)
		}
	}
	h.loginEvent(s, st, up, nil)
	return up, nil
}

// loginEvent reports a login and its outcome.
func (h *Handler) loginEvent(s *protocol.Session, st *startup, up *upstream, err error) {
	e := h.deps.Log.Event(audit.DBLogin)
	if err != nil {
		e = h.deps.Log.Warn(audit.DBLogin)
	}
	e = s.Fields(e).Str("protocol", "postgres").Str("auth", string(h.opts.Auth)).
		Str("client_user", st.params["user"]).Str("client_database", st.params["database"]).
		Str("user", up.user).Str("database", up.database).Str("application_name", st.params["application_name"])
	e = h.ocsfLogin(e, s, st, up, err)
	if err != nil {
		e.Str("outcome", "failure").Str("error", err.Error()).Msg("database login failed")
		return
	}
	e.Str("outcome", "success").Msg("database login")
}

// passthroughAuth relays the upstream's authentication exchange. SASL
// mechanisms with channel binding are removed from the offer: the client's
// TLS session (if any) ends at sluice, so binding to it could never verify
// upstream.
func (h *Handler) passthroughAuth(c *conn, up *conn) error {
	for {
		typ, body, err := up.r.Next()
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			e := decodeError(body)
			_ = c.w.Send(e)
			_ = c.w.Flush()
			return &upstreamError{e: e, relayed: true}
		case 'R':
		case 'v':
			continue // a NegotiateProtocolVersion for our 3.0 request: nothing to do
		default:
			return fmt.Errorf("%w: unexpected message %q from the upstream during authentication", ErrProtocol, typ)
		}
		m, err := authRequest(body)
		if err != nil {
			return err
		}
		if _, ok := m.(*pgproto3.AuthenticationCleartextPassword); ok && h.inClear(up) {
			// The client's password would cross the network in clear, the
			// client believing it talks to a server on the same host.
			return fmt.Errorf("%w: the upstream asks for a cleartext password over an unencrypted connection; set tls: require or verify-full", errUnsupported)
		}
		if sasl, ok := m.(*pgproto3.AuthenticationSASL); ok {
			var mechs []string
			for _, mech := range sasl.AuthMechanisms {
				if mech == scramMechanism {
					mechs = append(mechs, mech)
				}
			}
			if len(mechs) == 0 {
				return fmt.Errorf("%w: the upstream offers no SASL mechanism sluice can relay (%v)", errUnsupported, sasl.AuthMechanisms)
			}
			sasl.AuthMechanisms = mechs
			if err := c.w.Send(sasl); err != nil {
				return err
			}
		} else {
			c.w.Frame(typ, body)
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		switch m.(type) {
		case *pgproto3.AuthenticationOk:
			return nil
		case *pgproto3.AuthenticationSASLFinal:
			continue
		}
		// The client answers with a password-type message ('p'); it is
		// relayed as opaque bytes and never decoded or logged.
		ctyp, cbody, err := c.r.Next()
		if err != nil {
			return err
		}
		if ctyp != 'p' {
			return fmt.Errorf("%w: expected a password message, got %q", ErrProtocol, ctyp)
		}
		up.w.Frame(ctyp, cbody)
		if err := up.w.Flush(); err != nil {
			return err
		}
	}
}

// injectAuth logs in upstream with the configured credentials. The client
// is not asked for a password: who it is comes from the kernel.
func (h *Handler) injectAuth(ctx context.Context, up *conn, user string) error {
	var pw string
	getPassword := func() error {
		if pw != "" {
			return nil
		}
		var err error
		pw, err = password(ctx, h.opts.Credentials)
		return err
	}
	var scram *scramClient
	asked := false // the upstream asked for a password of some kind
	for {
		typ, body, err := up.r.Next()
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			return &upstreamError{e: decodeError(body)}
		case 'R':
		case 'v':
			continue
		default:
			return fmt.Errorf("%w: unexpected message %q from the upstream during authentication", ErrProtocol, typ)
		}
		m, err := authRequest(body)
		if err != nil {
			return err
		}
		if err := h.acceptedMethod(m, asked); err != nil {
			return err
		}
		var reply pgproto3.FrontendMessage
		switch m.(type) {
		case *pgproto3.AuthenticationCleartextPassword, *pgproto3.AuthenticationMD5Password, *pgproto3.AuthenticationSASL:
			asked = true
			if scram != nil {
				// Once SCRAM has begun, a weaker method now could only be
				// someone in between asking for the password.
				return fmt.Errorf("%w: the upstream asked for another authentication method in the middle of SCRAM", ErrProtocol)
			}
		}
		switch m := m.(type) {
		case *pgproto3.AuthenticationOk:
			if scram != nil && !scram.verified {
				return fmt.Errorf("%w: the upstream ended SCRAM authentication without proving it knows the password", ErrProtocol)
			}
			return nil
		case *pgproto3.AuthenticationCleartextPassword:
			if h.inClear(up) {
				return fmt.Errorf("%w: the upstream asks for a cleartext password over an unencrypted connection; set tls: require or verify-full", errUnsupported)
			}
			if err := getPassword(); err != nil {
				return err
			}
			reply = &pgproto3.PasswordMessage{Password: pw}
		case *pgproto3.AuthenticationMD5Password:
			if h.inClear(up) {
				// An MD5 answer with a salt the asker chose is as good as
				// the password to whoever can listen or stand in between.
				return fmt.Errorf("%w: the upstream asks for an MD5 password over an unencrypted connection; set tls: require or verify-full, or use scram-sha-256", errUnsupported)
			}
			if err := getPassword(); err != nil {
				return err
			}
			reply = &pgproto3.PasswordMessage{Password: md5Password(user, pw, m.Salt)}
		case *pgproto3.AuthenticationSASL:
			mech, cbind, canBind, err := h.scramMechanism(up, m.AuthMechanisms)
			if err != nil {
				return err
			}
			if err := getPassword(); err != nil {
				return err
			}
			if scram, err = newSCRAMClient(pw, cbind, canBind); err != nil {
				return err
			}
			reply = &pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: scram.first()}
		case *pgproto3.AuthenticationSASLContinue:
			if scram == nil {
				return fmt.Errorf("%w: SASL continue before SASL start", ErrProtocol)
			}
			final, err := scram.final(m.Data)
			if err != nil {
				return err
			}
			reply = &pgproto3.SASLResponse{Data: final}
		case *pgproto3.AuthenticationSASLFinal:
			if scram == nil {
				return fmt.Errorf("%w: SASL final before SASL start", ErrProtocol)
			}
			if err := scram.verify(m.Data); err != nil {
				return err
			}
			continue
		}
		if err := up.w.Send(reply.(interface {
			Encode([]byte) ([]byte, error)
		})); err != nil {
			return err
		}
		if err := up.w.Flush(); err != nil {
			return err
		}
	}
}

// scramMechanism picks the SASL mechanism of an inject login among those
// the upstream offers. On TLS, unless channel_binding is disable:
// SCRAM-SHA-256-PLUS, bound to the upstream's certificate, when offered
// (a certificate whose binding is not defined, such as Ed25519, then
// refuses the login, as libpq does: binding without it would be no
// binding, and someone in between could present such a certificate to
// turn it off); SCRAM-SHA-256 with canBind set when not offered (the
// server must then not support binding: see newSCRAMClient).
// channel_binding: require refuses anything but a binding.
func (h *Handler) scramMechanism(up *conn, offered []string) (mech string, cbind []byte, canBind bool, err error) {
	mode := h.opts.ChannelBinding
	plus := slices.Contains(offered, scramPlusMechanism)
	if mode != config.ChannelBindingDisable {
		var berr error
		cbind, berr = tlsServerEndPoint(up)
		canBind = !errors.Is(berr, errNoBinding)
		switch {
		case mode == config.ChannelBindingRequire && berr != nil:
			return "", nil, false, fmt.Errorf("%w: channel_binding: require, and %v", errAuthMethod, berr)
		case plus && errors.Is(berr, errBindingUndefined):
			return "", nil, false, fmt.Errorf("%w: the upstream offers %s and %v; set channel_binding: disable to log in to it without binding", errAuthMethod, scramPlusMechanism, berr)
		}
	}
	switch {
	case canBind && plus && cbind != nil:
		return scramPlusMechanism, cbind, true, nil
	case mode == config.ChannelBindingRequire:
		return "", nil, false, fmt.Errorf("%w: channel_binding: require, and the upstream does not offer %s (%v)", errAuthMethod, scramPlusMechanism, offered)
	case slices.Contains(offered, scramMechanism):
		return scramMechanism, nil, canBind, nil
	}
	return "", nil, false, fmt.Errorf("%w: the upstream offers no supported SASL mechanism (%v)", errUnsupported, offered)
}

// acceptedMethod refuses an authentication request of the upstream that
// postgres.require_auth does not list, or that channel_binding: require
// cannot bind; an AuthenticationOk before any request (asked false) is the
// method none. Checked before sluice answers anything: a refused method
// never gets the password.
func (h *Handler) acceptedMethod(m pgproto3.BackendMessage, asked bool) error {
	var method, what string
	switch m.(type) {
	case *pgproto3.AuthenticationOk:
		if asked {
			return nil
		}
		method, what = config.UpstreamAuthNone, "logs sluice in without asking for a password (trust)"
	case *pgproto3.AuthenticationCleartextPassword:
		method, what = config.UpstreamAuthPassword, "asks for a cleartext password"
	case *pgproto3.AuthenticationMD5Password:
		method, what = config.UpstreamAuthMD5, "asks for an MD5 password"
	case *pgproto3.AuthenticationSASL:
		method, what = config.UpstreamAuthSCRAM, "asks for SCRAM-SHA-256"
	default:
		return nil // the steps of an exchange already accepted
	}
	if h.opts.ChannelBinding == config.ChannelBindingRequire && method != config.UpstreamAuthSCRAM {
		if method != config.UpstreamAuthNone {
			what = "asks for a password without SCRAM"
		}
		return fmt.Errorf("%w: channel_binding: require, and the upstream %s", errAuthMethod, what)
	}
	if len(h.opts.RequireAuth) == 0 || slices.Contains(h.opts.RequireAuth, method) {
		return nil
	}
	return fmt.Errorf("%w: the upstream %s; postgres.require_auth of this target accepts only %s",
		errAuthMethod, what, strings.Join(h.opts.RequireAuth, ", "))
}

// afterAuth relays ParameterStatus, notices and BackendKeyData (replaced
// by a key of our own) up to ReadyForQuery.
func (h *Handler) afterAuth(c *conn, up *upstream, s *protocol.Session) error {
	if h.opts.Auth.Injects() {
		if err := c.w.Send(&pgproto3.AuthenticationOk{}); err != nil {
			return err
		}
	}
	for {
		typ, body, err := up.r.Next()
		if err != nil {
			return err
		}
		switch typ {
		case 'K':
			var k pgproto3.BackendKeyData
			if err := k.Decode(body); err != nil {
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			up.key = &cancelKey{pid: k.ProcessID, secret: append([]byte(nil), k.SecretKey...)}
			ck := h.deps.Cancels.register(cancelEntry{
				identity: s.Identity, session: s.ID, dst: s.Dst, upstream: *up.key, started: time.Now(), hold: up.gate,
			})
			up.clientKey = ck
			if err := c.w.Send(&pgproto3.BackendKeyData{ProcessID: uint32(ck >> 32), SecretKey: binary.BigEndian.AppendUint32(nil, uint32(ck))}); err != nil {
				return err
			}
		case 'E':
			e := decodeError(body)
			_ = c.w.Send(e)
			_ = c.w.Flush()
			return &upstreamError{e: e, relayed: true}
		case 'Z':
			c.w.Frame(typ, body)
			return c.w.Flush()
		case 'S':
			var m pgproto3.ParameterStatus
			if err := m.Decode(body); err != nil {
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			if why := sqlclass.UnsafeSetting(m.Name, m.Value); why != "" {
				return &unsafeSetting{why: why}
			}
			c.w.Frame(typ, body)
		default: // 'N' NoticeResponse
			c.w.Frame(typ, body)
		}
	}
}
