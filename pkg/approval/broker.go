package approval

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/pkg/approval/approvalspec"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/metrics"
)

// Defaults.
const (
	DefaultTimeout = approvalspec.DefaultTimeout
	// DefaultKeep is how long a request that timed out or was withdrawn
	// stays open for approval, how long an unused once grant made from
	// such a request stays valid, and how long a decided request is
	// remembered (to say who decided it).
	DefaultKeep = 24 * time.Hour
)

// maxKept bounds the requests remembered after they stopped waiting.
const maxKept = 10000

// Approvers lists who may decide besides root.
type Approvers struct {
	UIDs []uint32
	GIDs []uint32 // primary or supplementary group of the caller
	// Groups are the groups (of the OIDC tokens of the approval HTTP
	// API) whose members may decide.
	Groups []string
}

// Settings are the parts of the options a configuration reload changes.
type Settings struct {
	Timeout   time.Duration // 0: DefaultTimeout
	Approvers Approvers
	Webhooks  []Webhook
}

// Options configure a Broker.
type Options struct {
	Settings
	// StateDir holds the grants file (GrantsFile, mode 0600); "" keeps
	// grants in memory only.
	StateDir string
	Keep     time.Duration // 0: DefaultKeep
	Retry    Retry         // webhook retries; zero fields take the defaults
	// QueueSize bounds the notifications waiting for each webhook
	// endpoint (0: DefaultQueueSize); more are dropped.
	QueueSize int
	Log       *audit.Logger      // nil: discard
	Metrics   *metrics.Approvals // nil: unregistered metrics
	Clock     Clock              // nil: the system clock
}

// Broker holds statements for approval and keeps the grants. It is safe
// for concurrent use.
type Broker struct {
	clock  Clock
	log    *audit.Logger
	m      *metrics.Approvals
	keep   time.Duration
	notify *notifier

	mu        sync.Mutex
	set       Settings
	grants    *grantStore
	reqs      map[string]*entry
	subs      map[chan Change]struct{}
	closed    bool
	lastPrune time.Time
}

// entry is one request.
type entry struct {
	p    Pending
	done chan struct{} // closed when it stops waiting
	out  Outcome       // set before done is closed
	stop func() bool   // the timeout timer
}

// New returns a broker. It reads the grants file of opts.StateDir; an
// unreadable one is an error, a corrupt one is moved aside (to
// GrantsFile.corrupt, reported as daemon.error) and the broker starts
// without grants.
func New(opts Options) (*Broker, error) {
	set, err := opts.Settings.normalize()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		clock: opts.Clock, log: opts.Log, m: opts.Metrics, keep: opts.Keep, set: set,
		reqs: map[string]*entry{}, subs: map[chan Change]struct{}{},
	}
	if b.clock == nil {
		b.clock = systemClock{}
	}
	if b.log == nil {
		b.log = audit.Discard()
	}
	if b.m == nil {
		b.m = metrics.NewApprovals()
	}
	if b.keep <= 0 {
		b.keep = DefaultKeep
	}
	b.grants, err = loadGrants(opts.StateDir, b.clock.Now())
	var corrupt *corruptError
	switch {
	case errors.As(err, &corrupt):
		if rerr := os.Rename(corrupt.path, corrupt.path+".corrupt"); rerr != nil {
			return nil, fmt.Errorf("%w (and it could not be moved aside: %v)", err, rerr)
		}
		b.log.Error(err, "approval grants file moved aside to "+corrupt.path+".corrupt; starting with no grants")
	case err != nil:
		return nil, err
	}
	b.notify = newNotifier(opts.Retry, opts.QueueSize, b.webhookFailed)
	return b, nil
}

// normalize applies the defaults and checks the webhooks.
func (s Settings) normalize() (Settings, error) {
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	s.Approvers.UIDs = slices.Clone(s.Approvers.UIDs)
	s.Approvers.GIDs = slices.Clone(s.Approvers.GIDs)
	s.Approvers.Groups = slices.Clone(s.Approvers.Groups)
	hooks := make([]Webhook, len(s.Webhooks))
	for i, w := range s.Webhooks {
		var err error
		if hooks[i], err = w.normalize(); err != nil {
			return s, fmt.Errorf("approval: webhook %d: %w", i, err)
		}
	}
	s.Webhooks = hooks
	return s, nil
}

// Configure replaces the settings (a configuration reload). Requests
// already held keep their timeout.
func (b *Broker) Configure(s Settings) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.set = s
	b.mu.Unlock()
	return nil
}

// Close withdraws the requests still held (their Request returns
// Withdrawn), ends the watches and stops the webhook workers. Requests
// made after Close return Withdrawn at once.
func (b *Broker) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for _, e := range b.reqs {
		if e.p.State == Waiting {
			b.withdrawLocked(e, "sluiced is stopping")
		}
	}
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
	b.mu.Unlock()
	b.notify.close()
}

// Check returns the grant that lets the statement r describes run at
// once, if any: a --for grant of its identity, target and fingerprint, or
// a once grant of the same statement (r.Exact). A grant never lets
// through a statement of its own approver (see selfApproval). A once
// grant is used up by the call that gets it: exactly one caller gets it,
// and it is gone from the grants file before Check returns. When that
// file cannot be written, the grant is kept and not given (the statement
// goes to review).
func (b *Broker) Check(r *Request) (*Grant, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.takeGrant(r)
}

func (b *Broker) takeGrant(r *Request) (*Grant, bool) {
	now := b.clock.Now()
	g := b.grants.match(grantKey{r.Identity, r.Target, r.Fingerprint}, now, func(g *Grant) bool {
		if g.Once && (r.Exact == "" || g.Exact != r.Exact) || g.Scope != r.Scope {
			return false
		}
		return ownStatement(g.Approver, &r.Attribution) == ""
	})
	if g == nil {
		return nil, false
	}
	if g.Once {
		if err := b.grants.consume(g, now); err != nil {
			b.log.Error(err, "approval grant not used: the grants file could not be written")
			return nil, false
		}
		b.m.GrantUses.WithLabelValues("once").Inc()
	} else {
		b.m.GrantUses.WithLabelValues("for").Inc()
	}
	c := *g
	return &c, true
}

// Request holds the statement r describes until it is approved, denied or
// timed out, or ctx ends (withdrawn). A grant that matches lets it through
// at once, without a request. See the package documentation.
func (b *Broker) Request(ctx context.Context, r Request) Outcome {
	if ctx.Err() != nil {
		return Outcome{Decision: Withdrawn, Message: "the statement was cancelled"}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Outcome{Decision: Withdrawn, Message: "sluiced is stopping"}
	}
	if g, ok := b.takeGrant(&r); ok {
		b.mu.Unlock()
		a := g.Approver
		return Outcome{Decision: Approved, ID: g.Request, Approver: &a, Reason: g.Reason, Grant: g}
	}
	now := b.clock.Now()
	b.prune(now)
	r.Statement = clip(r.Statement, MaxStatement)
	r.Reads, r.Writes = slices.Clone(r.Reads), slices.Clone(r.Writes)
	hooks := append(slices.Clone(b.set.Webhooks), r.Webhooks...)
	r.Webhooks = nil
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = b.set.Timeout
	}
	r.Timeout = timeout
	e := &entry{
		p:    Pending{Request: r, ID: newID(), State: Waiting, Requested: now, Deadline: now.Add(timeout)},
		done: make(chan struct{}),
	}
	b.reqs[e.p.ID] = e
	e.stop = b.clock.AfterFunc(timeout, func() { b.expire(e) })
	b.m.Requests.Inc()
	b.m.Pending.Inc()
	b.eventRequested(&e.p)
	b.publish(ChangeRequested, e)
	p := e.p
	b.mu.Unlock()

	b.notify.post(hooks, &p)
	select {
	case <-e.done:
	case <-ctx.Done():
		b.mu.Lock()
		if e.p.State == Waiting {
			b.withdrawLocked(e, "the client gave up waiting")
		}
		b.mu.Unlock()
	}
	return e.out
}

// expire times a request out.
func (b *Broker) expire(e *entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.p.State != Waiting {
		return
	}
	b.finish(e, TimedOut, Outcome{Message: TimeoutMessage(e.p.ID, e.p.Timeout)})
	b.eventEnded(audit.ApprovalTimeout, &e.p, "").Msg("approval request timed out")
	b.publish(string(TimedOut), e)
}

// withdrawLocked withdraws a waiting request.
func (b *Broker) withdrawLocked(e *entry, why string) {
	b.finish(e, Withdrawn, Outcome{Message: why})
	b.eventEnded(audit.ApprovalWithdrawn, &e.p, why).Msg("approval request withdrawn")
	b.publish(string(Withdrawn), e)
}

// finish ends the wait of e: it sets its state and outcome and releases
// the session.
func (b *Broker) finish(e *entry, s State, out Outcome) {
	e.p.State, e.p.Ended = s, b.clock.Now()
	out.Decision, out.ID = s, e.p.ID
	e.out = out
	if e.stop != nil {
		e.stop()
	}
	close(e.done)
	b.m.Pending.Dec()
	b.m.Decisions.WithLabelValues(string(s)).Inc()
	b.m.HoldSeconds.WithLabelValues(string(s)).Observe(e.p.Ended.Sub(e.p.Requested).Seconds())
}

// prune forgets requests that stopped waiting more than keep ago, and
// the oldest of them beyond maxKept. It runs at most once a minute
// unless over the bound.
func (b *Broker) prune(now time.Time) {
	if now.Sub(b.lastPrune) < time.Minute && len(b.reqs) <= maxKept {
		return
	}
	b.lastPrune = now
	var ended []*entry
	for id, e := range b.reqs {
		switch {
		case e.p.State == Waiting:
		case now.Sub(e.p.Ended) >= b.keep:
			delete(b.reqs, id)
		default:
			ended = append(ended, e)
		}
	}
	if len(ended) > maxKept {
		slices.SortFunc(ended, func(x, y *entry) int { return x.p.Ended.Compare(y.p.Ended) })
		for _, e := range ended[:len(ended)-maxKept] {
			delete(b.reqs, e.p.ID)
		}
	}
}

// idEncoding spells request ids: lower-case base32, no padding (URL- and
// shell-safe).
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns 16 characters carrying 80 random bits.
func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the form of a request id (for callers
// that check input before asking).
func ValidID(s string) bool {
	if len(s) != 16 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '2' || r > '7') })
}
