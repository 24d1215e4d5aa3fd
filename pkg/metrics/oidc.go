package metrics

import "github.com/prometheus/client_golang/prometheus"

// Uses of OIDC tokens, the `use` label of sluice_oidc_verifications_total.
const (
	OIDCRun       = "run"       // sluice run --oidc-token-file / --oidc-token-env
	OIDCRefresh   = "refresh"   // sluice run --refresh
	OIDCPostgres  = "postgres"  // a token presented as a PostgreSQL password (auth: oidc)
	OIDCApprovals = "approvals" // a bearer token of the approval HTTP API
)

// OIDC holds the metrics of token verification and bindings.
type OIDC struct {
	// Verifications counts tokens verified: issuer (the configured name,
	// "" for a token of no configured issuer), use, outcome (ok,
	// refused) and reason ("" when ok; the refusal's reason otherwise).
	Verifications *prometheus.CounterVec
	// Bindings is the number of job bindings in force (not expired).
	Bindings prometheus.Gauge
	// Expired counts bindings whose token expired: use (run, postgres).
	Expired *prometheus.CounterVec
}

// RegisterOIDC registers the OIDC metrics and returns them.
func (m *Metrics) RegisterOIDC() *OIDC {
	o := &OIDC{
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_oidc_verifications_total",
			Help: "OIDC tokens verified, by issuer, use (run, refresh, postgres, approvals), outcome (ok, refused) and reason of a refusal.",
		}, []string{"issuer", "use", "outcome", "reason"}),
		Bindings: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_oidc_bindings",
			Help: "Jobs bound to an OIDC token that has not expired.",
		}),
		Expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_oidc_expired_total",
			Help: "Bindings whose OIDC token expired, by use (run, postgres).",
		}, []string{"use"}),
	}
	m.Registry.MustRegister(o.Verifications, o.Bindings, o.Expired)
	return o
}
