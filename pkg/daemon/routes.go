package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/protocol/postgres"
	"github.com/sluicehq/sluice/pkg/protocol/tcp"
	"github.com/sluicehq/sluice/pkg/proxy"
	"github.com/sluicehq/sluice/pkg/target"
)

// targetRefresh is how often named targets are re-resolved.
const targetRefresh = 30 * time.Second

// handler builds the inspector of one target.
func (d *Daemon) handler(t config.Target, m maskDeps) (protocol.Handler, error) {
	switch t.Protocol {
	case config.ProtocolPostgres:
		deps := postgres.Deps{
			Log: d.log, Metrics: d.metrics, Policy: &d.policies, Cancels: d.cancels, RecordFailure: t.OnRecordFailure,
			MaskKey: m.key, CatalogTTL: m.catalogTTL, Tokens: d,
		}
		if d.records != nil {
			deps.Records = d.records
		}
		if d.approvals != nil {
			deps.Approvals = d.approvals
		}
		return postgres.New(t.Name, t.Host, t.Postgres, deps)
	default:
		return tcp.Handler{}, nil
	}
}

// routes builds the proxy's routing snapshot from a configuration and its
// masking settings. Addresses already resolved for an unchanged target
// are carried over from prev, so a reload never forgets them while DNS is
// slow or down.
func (d *Daemon) routes(cfg *config.Config, prev *proxy.Routes, m maskDeps) (*proxy.Routes, error) {
	ids := make(map[uint32]proxy.Identity, len(cfg.Identities))
	for _, id := range cfg.Identities {
		ids[id.ID] = proxy.Identity{Name: id.Name, Egress: proxy.Egress(id.Egress), Bound: id.OIDC != nil, MaxSessions: id.MaxSessions}
	}
	ts := make([]*target.Target, 0, len(cfg.Targets))
	handlers := make(map[string]protocol.Handler, len(cfg.Targets))
	for _, t := range cfg.Targets {
		ts = append(ts, &target.Target{Name: t.Name, Protocol: string(t.Protocol), Host: t.Host, Port: t.Port})
		h, err := d.handler(t, m)
		if err != nil {
			return nil, err
		}
		handlers[t.Name] = h
	}
	table := target.New(ts, nil)
	if prev != nil {
		table.Seed(prev.Targets)
	}
	table.OnError = func(t *target.Target, err error) {
		d.log.Warn(audit.TargetResolveFailed).Str("target", t.Name).Str("host", t.Host).Err(err).
			Msg("target host name did not resolve; addresses resolved before, if any, are kept")
	}
	table.Refresh(context.Background())
	return &proxy.Routes{Identities: ids, Targets: table, Handlers: handlers, Egress: tcp.Handler{}, MaxSessions: cfg.MaxSessions}, nil
}

// closeHandlers closes the handlers of r that hold shared resources (see
// protocol.Handler).
func closeHandlers(r *proxy.Routes) {
	if r == nil {
		return
	}
	for _, h := range r.Handlers {
		if c, ok := h.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// refreshTargets re-resolves named targets of the current routes.
func (d *Daemon) refreshTargets(ctx context.Context) {
	tick := time.NewTicker(targetRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			d.proxy.Routes().Targets.Refresh(ctx)
		}
	}
}

// reload re-reads the configuration. Identities, targets, exclusions and
// egress rules apply at once (connections already open keep their routes);
// listeners, cgroup_root, fail_mode, bpf and the control socket need a
// restart, which is said in the event.
func (d *Daemon) reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	cfg, err := config.Load(d.configPath)
	if err != nil {
		d.metrics.ConfigReloads.WithLabelValues("failure").Inc()
		d.log.Warn(audit.ConfigReloadFailed).Str("config", d.configPath).Err(err).
			Msg("configuration not reloaded; the previous one stays in force")
		return err
	}
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	restart := restartKeys(old, cfg)
	// Keep what only a restart can change.
	cfg.Listen, cfg.ListenAddr, cfg.Listen6, cfg.Listen6Addr = old.Listen, old.ListenAddr, old.Listen6, old.Listen6Addr
	cfg.CgroupRoot, cfg.FailMode, cfg.BPF, cfg.ControlSocket = old.CgroupRoot, old.FailMode, old.BPF, old.ControlSocket
	readers := cfg.Log.Readers // who may follow the events applies at once
	cfg.StateDir, cfg.Log, cfg.Metrics, cfg.Recording = old.StateDir, old.Log, old.Metrics, old.Recording
	cfg.Log.Readers = readers

	fail := func(what string, err error) error {
		d.metrics.ConfigReloads.WithLabelValues("failure").Inc()
		d.log.Warn(audit.ConfigReloadFailed).Str("config", d.configPath).Err(err).Msg(what)
		return err
	}
	// The issuers' CA files are read again.
	verifier, err := newVerifier(cfg)
	if err != nil {
		return fail("an oidc issuer could not be set up; the previous configuration stays in force", err)
	}
	// The hash key is read again: a replaced key file takes effect.
	masking, err := loadMasking(cfg)
	if err != nil {
		return fail("the masking hash key could not be read; the previous configuration stays in force", err)
	}
	// The kernel's exclusions first: if they cannot be written, nothing of
	// the new configuration is in force.
	if err := d.configureKernel(cfg); err != nil {
		_ = d.configureKernel(old)
		return fail("exclusions could not be applied; the previous configuration stays in force", err)
	}
	prev := d.proxy.Routes()
	routes, err := d.routes(cfg, prev, masking)
	if err != nil {
		_ = d.configureKernel(old)
		return fail("targets could not be set up; the previous configuration stays in force", err)
	}
	if _, err := d.reloadPolicies(cfg); err != nil {
		closeHandlers(routes)
		_ = d.configureKernel(old)
		return fail("policies are invalid; the previous configuration and policies stay in force", err)
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.proxy.SetRoutes(routes)
	// Sessions already open keep their handlers; what those share is
	// released when the last of them ends.
	closeHandlers(prev)
	d.verifier.Store(verifier)
	d.reconfigureApprovals(cfg)
	if err := d.syncTags(); err != nil {
		return fail("configuration applied but tags could not be brought in line", fmt.Errorf("%w: %w", errRetag, err))
	}
	d.metrics.ConfigReloads.WithLabelValues("success").Inc()
	d.log.Event(audit.ConfigReloaded).Str("config", d.configPath).Int("identities", len(cfg.Identities)).
		Int("targets", len(cfg.Targets)).Strs("restart_required", restart).Msg("configuration reloaded")
	return nil
}

// errRetag: the new configuration is in force but tagging failed.
var errRetag = errors.New("configuration applied, but re-tagging failed")

// httpListen is where the approval API listens, and with which TLS files:
// a restart changes them.
func httpListen(c *config.Config) string {
	if h := c.Approvals.HTTP; h != nil {
		return h.Listen + " " + h.TLS.CertFile + " " + h.TLS.KeyFile
	}
	return ""
}

// restartKeys names the changed keys that only take effect on restart.
func restartKeys(a, b *config.Config) []string {
	var out []string
	add := func(changed bool, key string) {
		if changed {
			out = append(out, key)
		}
	}
	add(a.Listen != b.Listen, "listen")
	add(a.Listen6 != b.Listen6, "listen6")
	add(a.CgroupRoot != b.CgroupRoot, "cgroup_root")
	add(a.FailMode != b.FailMode, "fail_mode")
	add(a.BPF.PinDir != b.BPF.PinDir || a.BPF.Mark != b.BPF.Mark || a.BPF.MapSizes != b.BPF.MapSizes, "bpf")
	add(a.ControlSocket != b.ControlSocket, "control_socket")
	add(a.StateDir != b.StateDir, "state_dir")
	add(a.Log.Restart(b.Log), "log")
	add(a.Metrics != b.Metrics, "metrics")
	add(!reflect.DeepEqual(a.Recording, b.Recording), "recording")
	add(httpListen(a) != httpListen(b), "approvals.http.listen")
	if out == nil {
		out = []string{}
	}
	return out
}
