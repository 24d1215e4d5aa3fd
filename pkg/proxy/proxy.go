package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
)

// OriginLookup returns the kernel's record of a redirected connection, by
// the accepted connection's remote (client) and local (proxy) addresses. It
// returns an error wrapping intercept.ErrNoRecord when there is none.
type OriginLookup interface {
	Lookup(client, local netip.AddrPort) (intercept.Origin, error)
}

// CgroupPaths names cgroups by id ("" when unknown).
type CgroupPaths func(id uint64) string

// Bindings finds the OIDC binding of a connection whose identity is
// claimed with a token (sluice run --oidc-token-file).
//
// Contract: Binding returns a lease on the binding in force for the
// connection the kernel recorded as o, made from the cgroup at path cgroup
// ("" when unknown). It returns an error, meant for the connection.denied
// event, when there is no binding or it has expired (wrapping
// identity.ErrExpired, with the binding's OIDC in the lease); it must not
// block. The proxy calls the lease's Release, if set, once the connection
// ends, refused or not.
type Bindings interface {
	Binding(o intercept.Origin, cgroup string) (Lease, error)
}

// Lease is a connection's hold on the OIDC binding of its job.
type Lease struct {
	// OIDC is the binding's token (with an error too, when there is a
	// binding, for the event).
	OIDC *identity.OIDC
	// Done is closed when the binding's sessions must end; nil when they
	// may outlive it.
	Done <-chan struct{}
	// Release ends the hold (the binding counts its open sessions); nil
	// when there is nothing to release.
	Release func()
}

// Proxy serves the redirect listeners.
type Proxy struct {
	lookup   OriginLookup
	log      *audit.Logger
	metrics  *metrics.Metrics
	paths    CgroupPaths
	bindings Bindings
	dialer   net.Dialer

	mark      uint32
	routes    atomic.Pointer[Routes]
	listeners []netip.AddrPort // guarded by mu; appended by Listen
	bound     []netip.AddrPort // listeners as Serve started: read-only after

	mu     sync.Mutex
	lns    []net.Listener
	active atomic.Int64 // sessions being relayed
	wg     sync.WaitGroup

	// limits counts the sessions open against the routes' max_sessions.
	limits sessionLimits

	// rejected bounds the connection.rejected events: anyone on the host
	// can connect to the proxy port.
	rejected *audit.Throttle
	// limited bounds the connection.denied events of connections over a
	// session limit: a job looping on connect could write them at will.
	limited *audit.Throttle
	// refusing holds a token per refusal in progress (maxRefusing).
	refusing chan struct{}
}

// maxRefusing bounds the connections being refused in their protocol's
// terms at once; past it, more are closed at once.
const maxRefusing = 64

// Bounds of the events anyone can cause at will (see audit.Throttle).
const (
	eventsPerSecond = 20
	eventsBurst     = 50
)

// Options configure a Proxy.
type Options struct {
	Lookup  OriginLookup
	Log     *audit.Logger
	Metrics *metrics.Metrics
	Paths   CgroupPaths
	// Bindings finds the bindings of identities claimed with a token;
	// without it, their connections are denied.
	Bindings Bindings
	// Mark is set with SO_MARK on every upstream socket, so the kernel
	// programs never redirect the proxy's own connections (0: not set).
	Mark uint32
	// DialTimeout bounds upstream connects (default 10s).
	DialTimeout time.Duration
}

// New returns a Proxy routing by r.
func New(opts Options, r *Routes) *Proxy {
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	p := &Proxy{
		lookup: opts.Lookup, log: opts.Log, metrics: opts.Metrics, paths: opts.Paths, bindings: opts.Bindings,
		rejected: audit.NewThrottle(eventsPerSecond, eventsBurst),
		limited:  audit.NewThrottle(eventsPerSecond, eventsBurst),
		refusing: make(chan struct{}, maxRefusing),
	}
	p.mark = opts.Mark
	p.dialer = net.Dialer{Timeout: opts.DialTimeout, Control: markControl(opts.Mark)}
	p.routes.Store(r)
	return p
}

// SetRoutes swaps the routing snapshot (configuration reload).
func (p *Proxy) SetRoutes(r *Routes) { p.routes.Store(r) }

// Listen opens a listener; call before Serve.
func (p *Proxy) Listen(addr netip.AddrPort) (net.Listener, error) {
	network := "tcp4"
	if addr.Addr().Is6() {
		network = "tcp6"
	}
	// The kernel lets only sockets with the daemon's mark bind a listener
	// port (see bpf/redirect.c), so the mark goes on before bind.
	lc := net.ListenConfig{Control: markControl(p.mark)}
	ln, err := lc.Listen(context.Background(), network, addr.String())
	if err != nil {
		return nil, fmt.Errorf("proxy: listen %s: %w", addr, err)
	}
	p.mu.Lock()
	p.lns = append(p.lns, ln)
	p.listeners = append(p.listeners, netip.MustParseAddrPort(ln.Addr().String()))
	p.mu.Unlock()
	return ln, nil
}

// Serve accepts on every listener until ctx ends, then waits for the
// sessions to finish (they are cancelled with ctx).
func (p *Proxy) Serve(ctx context.Context) error {
	p.mu.Lock()
	lns := append([]net.Listener(nil), p.lns...)
	p.bound = append([]netip.AddrPort(nil), p.listeners...)
	p.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("proxy: no listeners")
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- p.accept(ctx, ln) }()
	}
	<-ctx.Done()
	for _, ln := range lns {
		ln.Close()
	}
	var errs []error
	for range lns {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	p.wg.Wait()
	return errors.Join(errs...)
}

func (p *Proxy) accept(ctx context.Context, ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and such: back off, keep serving.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			p.log.Error(err, "accept")
			time.Sleep(delay)
			continue
		}
		delay = 0
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(ctx, c)
		}()
	}
}

// OpenSessions returns the sessions open by identity name, as the
// max_sessions bounds count them.
func (p *Proxy) OpenSessions() map[string]uint32 { return p.limits.open() }

// ActiveCount returns how many sessions are being relayed now.
func (p *Proxy) ActiveCount() int { return int(p.active.Load()) }

// Listeners returns the bound listener addresses.
func (p *Proxy) Listeners() []netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]netip.AddrPort(nil), p.listeners...)
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func attribution(o intercept.Origin, paths CgroupPaths) identity.Attribution {
	a := identity.Attribution{
		PID: o.PID, UID: o.UID, GID: o.GID, Comm: o.Comm,
		Exe: identity.Exe(o.PID), CgroupID: o.CgroupID,
	}
	if paths != nil {
		a.Cgroup = paths(o.CgroupID)
	}
	a.Unit = cgroup.Unit(a.Cgroup)
	return a
}

// Routes returns the current routing snapshot.
func (p *Proxy) Routes() *Routes { return p.routes.Load() }

// markControl sets SO_MARK on a socket before it binds or connects; nil
// when mark is 0.
func markControl(mark uint32) func(string, string, syscall.RawConn) error {
	if mark == 0 {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(mark))
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("set SO_MARK: %w", serr)
		}
		return nil
	}
}
