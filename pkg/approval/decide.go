package approval

import (
	"context"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/identity"
)

// watchBuffer is how many changes a watcher may fall behind before it is
// dropped (its channel closed): a slow watcher never delays the broker.
const watchBuffer = 256

// Authorize reports whether a may decide requests: nil, or an error
// matching ErrNotApprover.
func (b *Broker) Authorize(a Approver) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authorize(a)
}

func (b *Broker) authorize(a Approver) error {
	ap := b.set.Approvers
	if o := a.OIDC; o != nil {
		if slices.ContainsFunc(o.Groups, func(g string) bool { return slices.Contains(ap.Groups, g) }) {
			return nil
		}
		return fmt.Errorf("%w: %s is in none of the approver groups (approvals.http.groups)", ErrNotApprover, who(&a))
	}
	if a.UID == 0 || slices.Contains(ap.UIDs, a.UID) || slices.Contains(ap.GIDs, a.GID) {
		return nil
	}
	for _, g := range a.Groups {
		if slices.Contains(ap.GIDs, g) {
			return nil
		}
	}
	return fmt.Errorf("%w: uid %d is not listed in approvals.approvers (uids, or gids of its groups)", ErrNotApprover, a.UID)
}

// lookup returns the request id names, for a decision by a.
func (b *Broker) lookup(a Approver, id string) (*entry, error) {
	if err := b.authorize(a); err != nil {
		return nil, err
	}
	e := b.reqs[id]
	if e == nil {
		return nil, fmt.Errorf("%w %q: it does not exist, was decided or stopped waiting more than %s ago, or sluiced restarted since", ErrNotFound, id, b.keep)
	}
	if !e.p.State.Open() {
		return nil, fmt.Errorf("%w: request %s was %s by %s", ErrDecided, id, e.p.State, who(e.p.Approver))
	}
	return e, nil
}

// Approve approves request id on behalf of a. A held statement runs at
// once. Mode once lets exactly that statement run: the held one, or, if
// nobody waits for the request any more, the next statement of the same
// identity, target and fingerprint (within the keep period). Mode For(d)
// lets statements of that shape run for d, and releases every other
// statement of that shape held for the same identity and target. It
// returns the request as decided.
func (b *Broker) Approve(a Approver, id string, m Mode, reason string) (Pending, error) {
	if m.For < 0 || m.For > MaxWindow {
		return Pending{}, fmt.Errorf("%w: --for must be between 1s and %s, got %s", ErrBadWindow, MaxWindow, m.For)
	}
	if m.For > 0 && m.For < time.Second {
		return Pending{}, fmt.Errorf("%w: --for must be at least 1s, got %s", ErrBadWindow, m.For)
	}
	if len(reason) > MaxReason {
		return Pending{}, fmt.Errorf("the reason is longer than %d bytes", MaxReason)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, err := b.lookup(a, id)
	if err != nil {
		return Pending{}, err
	}
	if err := selfApproval(a, &e.p); err != nil {
		return Pending{}, err
	}
	now := b.clock.Now()
	a.Groups = nil
	g := &Grant{
		Request: id, Identity: e.p.Identity, Target: e.p.Target, Fingerprint: e.p.Fingerprint,
		Once: m.For == 0, Exact: e.p.Exact, Scope: e.p.Scope, Created: now, Expires: now.Add(b.keep), Approver: a, Reason: reason,
	}
	if m.For > 0 {
		g.Expires = now.Add(m.For)
		g.Exact = ""
	}
	held := e.p.State == Waiting
	if !held || !g.Once {
		if err := b.grants.add(g, now); err != nil {
			return Pending{}, err
		}
	}
	var others []*entry
	if !g.Once {
		for _, o := range b.reqs {
			// The approver's own statements wait for another approver.
			if o != e && o.p.State == Waiting && o.p.Identity == g.Identity && o.p.Target == g.Target && o.p.Fingerprint == g.Fingerprint && o.p.Scope == g.Scope &&
				ownStatement(a, &o.p.Attribution) == "" {
				others = append(others, o)
			}
		}
		slices.SortFunc(others, func(x, y *entry) int { return strings.Compare(x.p.ID, y.p.ID) })
	}
	b.approve(e, g, "")
	for _, o := range others {
		e.p.Released = append(e.p.Released, o.p.ID)
	}
	b.eventDecided(audit.ApprovalApproved, &e.p, held).Strs("released", e.p.Released).Msg("approval request approved")
	b.publish(string(Approved), e)
	for _, o := range others {
		b.approve(o, g, id)
	}
	return e.p.clone(), nil
}

// approve marks e approved under g (releasedBy: the request whose --for
// approval released it) and lets its statement run if it is held.
func (b *Broker) approve(e *entry, g *Grant, releasedBy string) {
	a := g.Approver
	e.p.Approver, e.p.Reason, e.p.Grant, e.p.ReleasedBy = &a, g.Reason, g, releasedBy
	e.p.Held = e.p.State == Waiting
	if e.p.State != Waiting {
		e.p.State = Approved
		b.m.Decisions.WithLabelValues(string(Approved)).Inc()
		return
	}
	c := *g
	b.finish(e, Approved, Outcome{Approver: &a, Reason: g.Reason, Grant: &c})
	if releasedBy != "" {
		b.eventDecided(audit.ApprovalApproved, &e.p, true).Str("released_by", releasedBy).Msg("approval request released by a grant")
		b.publish(string(Approved), e)
	}
}

// Deny denies request id on behalf of a, with a reason (required). A held
// statement is refused at once; a request nobody waits for any more can no
// longer be approved.
func (b *Broker) Deny(a Approver, id string, reason string) (Pending, error) {
	if strings.TrimSpace(reason) == "" {
		return Pending{}, fmt.Errorf("%w to deny a request", ErrNoReason)
	}
	if len(reason) > MaxReason {
		return Pending{}, fmt.Errorf("the reason is longer than %d bytes", MaxReason)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, err := b.lookup(a, id)
	if err != nil {
		return Pending{}, err
	}
	a.Groups = nil
	e.p.Approver, e.p.Reason = &a, reason
	held := e.p.State == Waiting
	e.p.Held = held
	if held {
		b.finish(e, Denied, Outcome{Approver: &a, Reason: reason, Message: fmt.Sprintf("denied by %s: %s", who(&a), reason)})
	} else {
		e.p.State = Denied
		b.m.Decisions.WithLabelValues(string(Denied)).Inc()
	}
	b.eventDecided(audit.ApprovalDenied, &e.p, held).Msg("approval request denied")
	b.publish(string(Denied), e)
	return e.p.clone(), nil
}

// List returns the open requests (waiting, timed out, withdrawn), oldest
// first.
func (b *Broker) List() []Pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(b.clock.Now())
	return b.openLocked()
}

func (b *Broker) openLocked() []Pending {
	out := []Pending{}
	for _, e := range b.reqs {
		if e.p.State.Open() {
			out = append(out, e.p.clone())
		}
	}
	slices.SortFunc(out, func(x, y Pending) int {
		if c := x.Requested.Compare(y.Requested); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// Watch returns the open requests (kind ChangeOpen), then every change,
// until ctx ends or the broker closes; then the channel is closed. A
// watcher that falls more than a few hundred changes behind is dropped
// the same way.
func (b *Broker) Watch(ctx context.Context) <-chan Change {
	b.mu.Lock()
	defer b.mu.Unlock()
	open := b.openLocked()
	ch := make(chan Change, watchBuffer+len(open))
	for _, p := range open {
		ch <- Change{Kind: ChangeOpen, Request: p}
	}
	if b.closed {
		close(ch)
		return ch
	}
	b.subs[ch] = struct{}{}
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}()
	return ch
}

// publish sends a change to every watcher, dropping those that are full.
func (b *Broker) publish(kind string, e *entry) {
	if len(b.subs) == 0 {
		return
	}
	c := Change{Kind: kind, Request: e.p.clone()}
	for ch := range b.subs {
		select {
		case ch <- c:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// clone copies p deep enough for another goroutine to read it.
func (p Pending) clone() Pending {
	p.Reads, p.Writes, p.Released = slices.Clone(p.Reads), slices.Clone(p.Writes), slices.Clone(p.Released)
	p.Webhooks = nil
	if p.Approver != nil {
		a := *p.Approver
		p.Approver = &a
	}
	if p.Grant != nil {
		g := *p.Grant
		p.Grant = &g
	}
	return p
}

// selfApproval refuses an approval of one's own request (see
// ownStatement).
func selfApproval(a Approver, p *Pending) error {
	if why := ownStatement(a, &p.Attribution); why != "" {
		return fmt.Errorf("%w: the statement of request %s was sent by %s; another approver must decide it", ErrSelfApproval, p.ID, why)
	}
	return nil
}

// ownStatement says why a statement attributed to at is approver a's
// own, "" when it is not: for a caller of the control socket, a process
// running as its uid; for a human with a token, a job bound to a token of
// the same subject, or a process running as their local user. An
// approver's own statements are neither approved by them directly, nor
// released by their approval --for of another request, nor let through
// by a grant they gave.
func ownStatement(a Approver, at *identity.Attribution) string {
	if o := a.OIDC; o != nil {
		if j := at.OIDC; j != nil && j.Issuer == o.Issuer && j.Subject == o.Subject {
			return fmt.Sprintf("a job bound to a token of subject %q, the approver's", o.Subject)
		}
		if o.LocalUser != "" {
			if u, err := user.LookupId(strconv.FormatUint(uint64(at.UID), 10)); err == nil && u.Username == o.LocalUser {
				return fmt.Sprintf("a process running as user %s, the approver's", o.LocalUser)
			}
		}
		return ""
	}
	if a.UID == at.UID {
		return fmt.Sprintf("a process running as uid %d, the caller's uid", a.UID)
	}
	return ""
}

// who names an approver for messages: "alice (uid 1000)", or for a human
// with a token "alice@example.com (subject 00u1a2b3)".
func who(a *Approver) string {
	switch {
	case a == nil:
		return "nobody"
	case a.OIDC != nil && a.Name != "" && a.Name != a.OIDC.Subject:
		return fmt.Sprintf("%s (subject %s)", a.Name, a.OIDC.Subject)
	case a.OIDC != nil:
		return fmt.Sprintf("subject %s", a.OIDC.Subject)
	case a.Name != "":
		return fmt.Sprintf("%s (uid %d)", a.Name, a.UID)
	default:
		return fmt.Sprintf("uid %d", a.UID)
	}
}
