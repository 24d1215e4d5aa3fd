package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/record"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// startupTimeout bounds the startup phase (TLS, startup packet,
// authentication), like PostgreSQL's authentication_timeout.
const startupTimeout = 60 * time.Second

// Decider decides statements. Implementations must be safe for concurrent
// use; the daemon's swaps the policy set on reload, and each statement is
// decided with the set current at that moment.
type Decider interface {
	Decide(r *policy.Request) policy.Decision
}

// Deps are what every PostgreSQL target's handler shares.
type Deps struct {
	Log     *audit.Logger
	Metrics *metrics.Metrics
	Policy  Decider
	Cancels *Cancels
	// Records opens session recordings; nil when recording is off.
	Records Recordings
	// RecordFailure is the target's on_record_failure ("" means deny).
	RecordFailure config.RecordFailure
	// MaskKey is the key of the hash masking strategy; zero when none is
	// configured (policies using hash are then refused at load).
	MaskKey mask.Key
	// CatalogTTL is how long column names read from the upstream catalog
	// are kept (0: the default, one minute).
	CatalogTTL time.Duration
	// Tokens verifies the OIDC tokens clients send as passwords (auth:
	// oidc); nil refuses them.
	Tokens TokenVerifier
	// Approvals holds the statements policies send to review; nil
	// refuses them.
	Approvals Approvals
}

// Handler serves sessions to one PostgreSQL target.
type Handler struct {
	target    string
	opts      config.Postgres
	deps      Deps
	class     *sqlclass.Classifier
	clientTLS *tls.Config // nil: SSLRequest answered N
	upTLS     *tls.Config // nil: plain upstream
	host      string
	// sampleRows is how many rows of each result a session's recording
	// keeps (0: none).
	sampleRows int

	// Masking: compiled rules per policy masking and database, and the
	// catalogs (one per database) with their connection pools.
	masks    sync.Map     // maskKey → *maskRules
	nmasks   atomic.Int64 // entries stored in masks
	catMu    sync.Mutex
	catalogs map[string]*pgmask.PgCatalog
	pools    []*pgxpool.Pool
	// active counts the sessions being served; closed is set by Close.
	// The catalog pools are closed once both say the handler is done
	// (guarded by catMu).
	active int
	closed bool
}

var (
	_ protocol.Handler = (*Handler)(nil)
	_ io.Closer        = (*Handler)(nil)
)

// New returns the handler of the target named name. The host name is the
// default server name for tls: verify-full.
func New(name, host string, opts config.Postgres, deps Deps) (*Handler, error) {
	h := &Handler{target: name, opts: opts, deps: deps, host: host}
	if h.deps.Log == nil {
		h.deps.Log = audit.Discard()
	}
	if h.deps.Metrics == nil {
		h.deps.Metrics = metrics.New()
	}
	if h.deps.Cancels == nil {
		h.deps.Cancels = NewCancels()
	}
	if r, ok := deps.Records.(rowSampler); ok {
		h.sampleRows = min(r.SampleRows(), record.MaxSampleRows)
	}
	var err error
	if h.class, err = sqlclass.New(sqlclass.Options{Dangerous: opts.DangerousFunctions, MaxText: int(opts.MaxStatementSize)}); err != nil {
		return nil, fmt.Errorf("postgres: target %s: %w", name, err)
	}
	if opts.ClientTLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.ClientTLS.CertFile, opts.ClientTLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("postgres: target %s: client_tls: %w", name, err)
		}
		h.clientTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	switch opts.TLS {
	case config.TLSRequire:
		// As libpq's sslmode=require: encrypted, not authenticated.
		h.upTLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // documented mode
	case config.TLSVerifyFull:
		h.upTLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if opts.ServerName != "" {
			h.upTLS.ServerName = opts.ServerName
		}
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("postgres: target %s: ca_file: %w", name, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("postgres: target %s: ca_file %s holds no PEM certificate", name, opts.CAFile)
			}
			h.upTLS.RootCAs = pool
		}
	}
	return h, nil
}

// Serve runs one client connection: startup, authentication, then the
// inspected session.
func (h *Handler) Serve(ctx context.Context, s *protocol.Session, client net.Conn, dial protocol.Dialer) (protocol.Result, error) {
	h.enter()
	defer h.leave()
	c := newConn(client)
	defer func() { c.conn.Close() }()
	end := newEnding(func() { c.conn.Close() })
	job := s.Attribution.OIDC // a job's binding (sluice run --oidc-token-file), if any
	stop := context.AfterFunc(ctx, func() {
		// The proxy ends the sessions of a job whose token expired with
		// identity.ErrExpired as the cause; otherwise sluiced stops. The
		// client is told either way.
		if o := job; o != nil && errors.Is(context.Cause(ctx), identity.ErrExpired) {
			end.end(tokenExpired(o, ""))
			return
		}
		end.end(shuttingDown())
	})
	defer stop()

	_ = client.SetDeadline(time.Now().Add(startupTimeout))
	st, cancelReq, err := h.clientStartup(c)
	if err != nil {
		h.protocolError(c, err)
		return c.result(), err
	}
	if cancelReq != nil {
		return c.result(), h.cancel(ctx, s, cancelReq, dial)
	}
	up, err := h.login(ctx, s, c, st, dial)
	if err != nil {
		return c.result(), err
	}
	defer up.conn.conn.Close()
	if !end.run(up.conn.conn) {
		return c.result(), ctx.Err()
	}
	defer end.stop()
	if up.session != nil {
		// auth: oidc: the token's identity from now on, until it expires.
		s = up.session
		ts := up.session
		defer h.expireAt(ts, func() { end.end(tokenExpired(ts.Attribution.OIDC, ts.KernelIdentity)) })()
	}
	_ = client.SetDeadline(time.Time{})
	_ = up.counted.SetDeadline(time.Time{})

	err = h.run(ctx, s, c, up, dial, end)
	res := c.result()
	res.BytesDown = up.counted.BytesRead()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, err
}

// protocolError tells the client why its session ends, counts it and
// returns.
func (h *Handler) protocolError(c *conn, err error) {
	reason := "malformed"
	switch {
	case errors.Is(err, errTooLarge):
		reason = "too_large"
	case errors.Is(err, errUnsupported):
		reason = "unsupported"
	case !errors.Is(err, ErrProtocol):
		return // I/O: the peer is gone
	}
	h.deps.Metrics.ProtocolErrors.WithLabelValues(h.target, reason).Inc()
	code := codeProtocolViolation
	if reason == "too_large" {
		code = codeProgramLimitExceeded
	} else if reason == "unsupported" {
		code = codeFeatureNotSupported
	}
	_ = c.w.Send(fatal(code, "%s", err.Error()))
	_ = c.w.Flush()
}

// errTooLarge and errUnsupported refine ErrProtocol.
var (
	errTooLarge    = fmt.Errorf("%w: message too large", ErrProtocol)
	errUnsupported = fmt.Errorf("%w: unsupported", ErrProtocol)
	// errStartupSetting: the startup packet sets what policies would not
	// see (see checkStartupSettings).
	errStartupSetting = errors.New("startup setting refused")
)
