package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/approval/approvalctl"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/audit/logsctl"
	"github.com/sluicehq/sluice/pkg/audit/ocsf"
	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
	"github.com/sluicehq/sluice/pkg/oidc"
	"github.com/sluicehq/sluice/pkg/protocol/postgres"
	"github.com/sluicehq/sluice/pkg/proxy"
	"github.com/sluicehq/sluice/pkg/record"
)

// Version is set at build time.
var Version = "dev"

// ErrDetached is returned by Run when the daemon stopped because `sluice
// detach` removed its programs.
var ErrDetached = errors.New("detached")

// Daemon is one running sluiced.
// Bounds of the refusal events (see audit.Throttle).
const (
	refusalsPerSecond = 20
	refusalsBurst     = 50
)

type Daemon struct {
	configPath string
	log        *audit.Logger
	metrics    *metrics.Metrics
	started    time.Time

	// jobRefusals and oidcRefusals bound the job.refused and oidc.refused
	// events, which any local user can cause at will (refusalsPerSecond,
	// refusalsBurst).
	jobRefusals, oidcRefusals *audit.Throttle

	reloadMu sync.Mutex // one reload at a time
	mu       sync.Mutex // guards cfg and the tag state below
	cfg      *config.Config

	tree     *cgroup.Tree
	it       *intercept.Interceptor
	proxy    *proxy.Proxy
	watcher  *cgroup.Watcher
	selfCG   uint64
	cgroups  *cgroupIndex
	jobsPath string // cgroup path of the job parent, relative to the mount

	policies policies
	cancels  *postgres.Cancels
	records  *record.Store // nil when recording is off

	approvals   *approval.Broker // statements held for review (approvals.go)
	approvalOps *approvalctl.Ops
	logsOps     *logsctl.Ops // sluice logs (logs.go)

	// OIDC (oidc.go): the verifier of the configured issuers, swapped on
	// reload, and the bindings of jobs started with a token.
	verifier    atomic.Pointer[oidc.Verifier]
	oidcMetrics *metrics.OIDC
	bindings    *bindings

	detach chan struct{}
}

// Run starts the daemon with the config at path and blocks until ctx ends
// (or a detach request). Reload is triggered by sending on reload.
func Run(ctx context.Context, path string, stdout io.Writer, reload <-chan struct{}) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log, err := audit.New(stdout, audit.Options{
		Format: string(cfg.Log.Format), Level: string(cfg.Log.Level), File: cfg.Log.File, Buffered: true,
		MaxSize: int64(min(cfg.Log.MaxSize, 1<<62)), MaxFiles: int(cfg.Log.MaxFiles), History: audit.DefaultHistoryBytes,
	})
	if err != nil {
		return err
	}
	defer log.Close()
	ocsf.SetProductVersion(Version)
	d := &Daemon{
		configPath: path, cfg: cfg, log: log, metrics: metrics.New(), started: time.Now(),
		cgroups: newCgroupIndex(), detach: make(chan struct{}, 1), cancels: postgres.NewCancels(),
		jobRefusals: audit.NewThrottle(refusalsPerSecond, refusalsBurst), oidcRefusals: audit.NewThrottle(refusalsPerSecond, refusalsBurst),
	}
	d.oidcMetrics = d.metrics.RegisterOIDC()
	d.bindings = newBindings(d.bindingExpired, func(n int) { d.oidcMetrics.Bindings.Set(float64(n)) })
	return d.run(ctx, reload)
}

func (d *Daemon) run(ctx context.Context, reload <-chan struct{}) (err error) {
	cfg := d.cfg
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	v, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	d.verifier.Store(v)
	if err := d.startApprovals(cfg); err != nil {
		return err
	}
	d.startLogs()
	defer d.approvals.Close()
	if d.records, err = d.openRecords(cfg); err != nil {
		return err
	}
	if d.records != nil {
		// Closed last: sessions still open are ended as "shutdown".
		defer d.records.Close()
	}
	mount, err := cgroup.Mount()
	if err != nil {
		return err
	}
	root := cfg.CgroupRoot
	if root == "" {
		root = "/"
	}
	if d.tree, err = cgroup.NewTree(mount, root); err != nil {
		return fmt.Errorf("cgroup_root: %w", err)
	}
	if selfPath, err := cgroup.PathOfPID(os.Getpid()); err == nil {
		d.selfCG, _ = cgroup.ID(d.tree.Dir(selfPath))
	}
	d.jobsPath = joinCgroup(d.tree.Root, jobsDir)

	pinDir, err := d.pinDir()
	if err != nil {
		return err
	}
	d.it, err = intercept.Load(intercept.Options{
		CgroupDir: d.tree.Dir(d.tree.Root), PinDir: pinDir,
		MapSizes: intercept.MapSizes{
			Origins: cfg.BPF.MapSizes.Origins, Tuples: cfg.BPF.MapSizes.Tuples,
			TaggedCgroups: cfg.BPF.MapSizes.TaggedCgroups, TaggedUIDs: cfg.BPF.MapSizes.TaggedUIDs,
			Exclusions: cfg.BPF.MapSizes.Exclusions,
		},
	})
	if err != nil {
		return err
	}
	detached := false
	defer func() {
		if !detached {
			d.it.Close()
		}
	}()
	if cfg.FailMode == config.FailOpen {
		// Nothing may outlive us; drop pins an earlier closed-mode run left.
		if err := d.it.Unpin(); err != nil {
			return fmt.Errorf("unpin for fail_mode open: %w", err)
		}
	}
	d.metrics.RegisterKernel(d.it)

	// The kernel settings come first: adopted pins may hold another mark or
	// other ports, and the bind programs only let sockets with the current
	// mark bind a listener port. Until the listeners are up, tagged
	// connections are refused (fail closed).
	if err := d.configureKernel(cfg); err != nil {
		return err
	}
	masking, err := loadMasking(cfg)
	if err != nil {
		return err
	}
	if _, err := d.reloadPolicies(cfg); err != nil {
		return err
	}
	routes, err := d.routes(cfg, nil, masking)
	if err != nil {
		return err
	}
	d.proxy = proxy.New(proxy.Options{
		Lookup: d.it, Log: d.log, Metrics: d.metrics, Paths: d.cgroupPath, Mark: cfg.BPF.Mark, Bindings: d,
	}, routes)
	if err := d.listen(cfg); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	// Watch first, then walk: a cgroup created in between is seen by both,
	// and tagging is idempotent.
	if d.watcher, err = d.tree.NewWatcher(); err != nil {
		return err
	}
	events := make(chan cgroup.Event, 256)
	start("cgroup watcher", func(ctx context.Context) error { return d.watcher.Run(ctx, events) })
	start("cgroup events", func(ctx context.Context) error { d.consume(ctx, events); return nil })
	if err := d.syncTags(); err != nil {
		cancel()
		wg.Wait()
		return err
	}
	d.restoreBindings(cfg, liveCgroups{d})

	ctl, err := control.Listen(cfg.ControlSocket, &controlHandler{d: d})
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	start("control socket", ctl.Serve)
	apiLn, err := d.listenApprovalsHTTP()
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	if apiLn != nil {
		start("approval API", func(ctx context.Context) error { return d.serveApprovalsHTTP(ctx, apiLn) })
	}
	start("policy watcher", d.watchPolicies)
	start("proxy", d.proxy.Serve)
	start("targets", func(ctx context.Context) error { d.refreshTargets(ctx); return nil })
	if cfg.Metrics.Listen != "" {
		start("metrics", func(ctx context.Context) error { return d.metrics.Serve(ctx, cfg.Metrics.Listen) })
	}

	d.startEvent()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			_ = d.reload() // the outcome is an event
		case <-d.detach:
			runErr = ErrDetached
			break loop
		case err := <-errc:
			runErr = err
			break loop
		}
	}
	cancel()
	wg.Wait()
	closeHandlers(d.proxy.Routes()) // the sessions are over: catalog connections go

	if errors.Is(runErr, ErrDetached) {
		detached = true
		if err := d.it.Close(); err != nil {
			runErr = err
		}
		d.removeEmptyJobs()
	}
	ev := d.log.Event(audit.DaemonStop).Bool("pinned", d.it.Pinned() && !detached)
	if runErr != nil && !errors.Is(runErr, ErrDetached) {
		ev = ev.Str("error", runErr.Error())
	}
	ev.Msg("sluiced stopped")
	return runErr
}

func (d *Daemon) pinDir() (string, error) {
	if d.cfg.BPF.PinDir != "" {
		if err := os.MkdirAll(filepath.Dir(d.cfg.BPF.PinDir), 0o700); err != nil {
			return "", err
		}
		if !intercept.IsBPFFS(filepath.Dir(d.cfg.BPF.PinDir)) {
			return "", fmt.Errorf("bpf.pin_dir %s is not on a bpffs mount", d.cfg.BPF.PinDir)
		}
		return d.cfg.BPF.PinDir, nil
	}
	fs, err := intercept.EnsureBPFFS()
	if err != nil {
		return "", err
	}
	return filepath.Join(fs, "sluice"), nil
}

func (d *Daemon) listen(cfg *config.Config) error {
	if cfg.ListenAddr.IsValid() {
		if _, err := d.proxy.Listen(cfg.ListenAddr); err != nil {
			return err
		}
	}
	if cfg.Listen6Addr.IsValid() {
		if _, err := d.proxy.Listen(cfg.Listen6Addr); err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) configureKernel(cfg *config.Config) error {
	r := intercept.Redirect{Proxy4: cfg.ListenAddr, Proxy6: cfg.Listen6Addr, Mark: cfg.BPF.Mark, DaemonCgroup: d.selfCG}
	ex := make([]intercept.Exclusion, 0, len(cfg.Exclude))
	for _, e := range cfg.Exclude {
		ex = append(ex, intercept.Exclusion{Prefix: e.Prefix, Port: e.Port})
	}
	if err := d.it.SetExclusions(ex); err != nil {
		return err
	}
	return d.it.Configure(r)
}

func (d *Daemon) startEvent() {
	ls := []string{}
	for _, l := range d.proxy.Listeners() {
		ls = append(ls, l.String())
	}
	d.log.Event(audit.DaemonStart).Str("version", Version).Int("pid", os.Getpid()).
		Str("config", d.configPath).Str("cgroup_root", d.tree.Dir(d.tree.Root)).
		Str("fail_mode", string(d.cfg.FailMode)).Str("pin_dir", d.it.PinDir()).
		Bool("adopted", d.it.Adopted).Strs("listeners", ls).Msg("sluiced started")
}

// unpinAll prepares `sluice detach`: the programs stop redirecting at once
// and every pin is removed, so the programs detach when the daemon exits.
func (d *Daemon) unpinAll() error {
	dir := d.it.PinDir()
	if err := d.it.Disable(); err != nil {
		return err
	}
	if err := d.it.Unpin(); err != nil {
		return err
	}
	if dir != "" {
		return intercept.Remove(dir) // anything else left there
	}
	return nil
}
