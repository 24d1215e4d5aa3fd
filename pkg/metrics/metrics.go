package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Connection outcomes, the `outcome` label of sluice_connections_total.
const (
	OutcomeAccepted = "accepted" // relayed to its target or allowed egress
	OutcomeRejected = "rejected" // no redirect record: not an intercepted connection
	OutcomeDenied   = "denied"   // identity or egress rules refused it
	OutcomeFailed   = "failed"   // the upstream could not be reached
	OutcomeLimited  = "limited"  // over a session limit (max_sessions)
)

// Metrics holds the daemon's metrics.
type Metrics struct {
	Registry      *prometheus.Registry
	Connections   *prometheus.CounterVec // identity, target, outcome
	Active        *prometheus.GaugeVec   // identity, target
	Bytes         *prometheus.CounterVec // identity, target, direction
	RecordMisses  prometheus.Counter
	ConfigReloads *prometheus.CounterVec // outcome
	TaggedCgroups prometheus.Gauge
	Jobs          *prometheus.CounterVec // identity, outcome
	// Statements counts inspected statements (SQL statements, later SSH
	// commands and HTTP requests): identity, target, kind, decision.
	Statements *prometheus.CounterVec
	// StatementSeconds is the time from forwarding a statement to its
	// completion upstream: target.
	StatementSeconds *prometheus.HistogramVec
	// ProtocolErrors counts sessions ended by a protocol violation or an
	// unsupported feature: target, reason.
	ProtocolErrors *prometheus.CounterVec
	// RecordFailures counts session recordings that could not be written:
	// target, op (create, append, close).
	RecordFailures *prometheus.CounterVec
	// MaskedValues counts values masked in results: target, detector
	// ("column" for column rules, "fallback_null" for NULL fallbacks).
	MaskedValues *prometheus.CounterVec
}

// New registers every metric on a fresh registry, with Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_connections_total",
			Help: "Intercepted connections by identity, target and outcome.",
		}, []string{"identity", "target", "outcome"}),
		Active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_connections_active",
			Help: "Connections currently being relayed.",
		}, []string{"identity", "target"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_bytes_total",
			Help: "Bytes relayed, direction up (client to upstream) or down.",
		}, []string{"identity", "target", "direction"}),
		RecordMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_redirect_record_misses_total",
			Help: "Connections to the proxy with no kernel redirect record (rejected).",
		}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_config_reloads_total",
			Help: "Configuration reloads by outcome (success, failure).",
		}, []string{"outcome"}),
		TaggedCgroups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_tagged_cgroups",
			Help: "Cgroups currently tagged with an identity.",
		}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_jobs_total",
			Help: "`sluice run` requests by identity and outcome (started, refused).",
		}, []string{"identity", "outcome"}),
		Statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_statements_total",
			Help: "Inspected statements by identity, target, kind and decision (allow, deny, review, approved, would_deny, would_review).",
		}, []string{"identity", "target", "kind", "decision"}),
		StatementSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_statement_duration_seconds",
			Help:    "Time from forwarding a statement to its completion by the upstream.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"target"}),
		ProtocolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_protocol_errors_total",
			Help: "Sessions ended by a protocol violation or an unsupported feature on either side, by target and reason (too_large, malformed, unsupported).",
		}, []string{"target", "reason"}),
		RecordFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_record_failures_total",
			Help: "Session recording writes that failed, by target and operation (create, append, close).",
		}, []string{"target", "op"}),
		MaskedValues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_masked_values_total",
			Help: "Values masked in results, by target and detector (column for column rules, fallback_null for NULL fallbacks).",
		}, []string{"target", "detector"}),
	}
	m.Registry.MustRegister(m.Connections, m.Active, m.Bytes, m.RecordMisses, m.ConfigReloads,
		m.TaggedCgroups, m.Jobs, m.Statements, m.StatementSeconds, m.ProtocolErrors, m.RecordFailures, m.MaskedValues,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Serve serves /metrics on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	// A scraper keeps its connection between scrapes; an idle one is
	// closed after a minute, so idle connections cannot pile up.
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
