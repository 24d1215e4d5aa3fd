package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/approval/approvalhttp"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/oidc"
)

// listenApprovalsHTTP opens the approval API's listener, when configured
// (approvals.http); its address and TLS need a restart to change.
func (d *Daemon) listenApprovalsHTTP() (net.Listener, error) {
	h := d.cfg.Approvals.HTTP
	if h == nil {
		return nil, nil
	}
	ln, err := net.Listen("tcp", h.Listen)
	if err != nil {
		return nil, fmt.Errorf("approvals.http: %w", err)
	}
	if h.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(h.TLS.CertFile, h.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("approvals.http.tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	return ln, nil
}

// serveApprovalsHTTP serves the approval API on ln until ctx ends.
func (d *Daemon) serveApprovalsHTTP(ctx context.Context, ln net.Listener) error {
	api := &approvalhttp.Server{Broker: d.approvals, Auth: approverAuth{d}, Log: d.log}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	d.log.Debug().Str("listen", ln.Addr().String()).Msg("approval API listening")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("approvals.http: %w", err)
	}
	return nil
}

// approverAuth authenticates the approval API's bearer tokens with the
// issuer and claims approvals.http says now (they apply on reload).
type approverAuth struct{ d *Daemon }

func (a approverAuth) Authenticate(ctx context.Context, token string) (approval.Approver, error) {
	d := a.d
	d.mu.Lock()
	h := d.cfg.Approvals.HTTP
	d.mu.Unlock()
	if h == nil {
		return approval.Approver{}, errors.New("the approval API is not configured")
	}
	auth := &approvalhttp.OIDCAuth{
		GroupsClaim: h.GroupsClaim, NameClaim: h.NameClaim, UserClaim: h.UserClaim,
		Verify: func(ctx context.Context, raw string) (*oidc.Token, error) {
			ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
			defer cancel()
			t, err := d.verifier.Load().VerifyIssuer(ctx, h.Issuer, raw)
			if err != nil {
				d.oidcMetrics.Verifications.WithLabelValues(oidc.IssuerOf(err), metrics.OIDCApprovals, "refused", oidc.ReasonOf(err)).Inc()
				return nil, err
			}
			d.oidcMetrics.Verifications.WithLabelValues(t.Issuer.Name, metrics.OIDCApprovals, "ok", "").Inc()
			return t, nil
		},
	}
	return auth.Authenticate(ctx, token)
}
