// Package approvalctl answers the approval operations of the control
// socket (approvals, approvals.watch, approve, deny) with an
// approval.Broker. The caller is who the kernel says (SO_PEERCRED): its
// uid, its primary gid and its supplementary groups; the broker decides
// whether it may list, watch and decide requests.
package approvalctl

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/control"
)

// Ops implements control.Handler (approvals, approve, deny) and
// control.Streamer (approvals.watch).
type Ops struct {
	Broker *approval.Broker
}

var (
	_ control.Handler  = (*Ops)(nil)
	_ control.Streamer = (*Ops)(nil)
)

// Handle answers approvals, approve and deny.
func (o *Ops) Handle(_ context.Context, peer control.Peer, req control.Request) control.Response {
	if o.Broker == nil {
		return control.Response{Error: req.Op + ": approvals are not available"}
	}
	a := o.approver(peer)
	switch req.Op {
	case control.OpApprovals:
		if err := o.Broker.Authorize(a); err != nil {
			return fail(req.Op, err)
		}
		list := []control.Approval{}
		for _, p := range o.Broker.List() {
			list = append(list, Message(p))
		}
		return control.Response{OK: true, Approvals: list}
	case control.OpApprove:
		if err := checkID(req.ID); err != nil {
			return fail(req.Op, err)
		}
		mode := approval.Once()
		if req.For != "" {
			d, err := time.ParseDuration(req.For)
			if err != nil || d <= 0 {
				return fail(req.Op, fmt.Errorf("%w: --for %q: write a duration such as 30m or 2h", approval.ErrBadWindow, clip(req.For)))
			}
			mode = approval.For(d)
		}
		p, err := o.Broker.Approve(a, req.ID, mode, req.Reason)
		if err != nil {
			return fail(req.Op, err)
		}
		m := Message(p)
		return control.Response{OK: true, Approval: &m}
	case control.OpDeny:
		if err := checkID(req.ID); err != nil {
			return fail(req.Op, err)
		}
		p, err := o.Broker.Deny(a, req.ID, req.Reason)
		if err != nil {
			return fail(req.Op, err)
		}
		m := Message(p)
		return control.Response{OK: true, Approval: &m}
	}
	return control.Response{Error: "unknown operation " + req.Op}
}

// Stream answers approvals.watch: the open requests, then every change,
// until the caller leaves or the broker closes.
func (o *Ops) Stream(ctx context.Context, peer control.Peer, req control.Request, send func(control.Response) error) error {
	if req.Op != control.OpApprovalsWatch {
		return errors.New("unknown operation " + req.Op)
	}
	if o.Broker == nil {
		return errors.New(req.Op + ": approvals are not available")
	}
	a := o.approver(peer)
	if err := o.Broker.Authorize(a); err != nil {
		return fmt.Errorf("%s: %w", req.Op, err)
	}
	for c := range o.Broker.Watch(ctx) {
		// An approver removed by a reload sees no more requests.
		if err := o.Broker.Authorize(a); err != nil {
			return fmt.Errorf("%s: %w", req.Op, err)
		}
		m := Message(c.Request)
		if err := send(control.Response{OK: true, Change: c.Kind, Approval: &m}); err != nil {
			return err
		}
	}
	return nil
}

func fail(op string, err error) control.Response {
	return control.Response{Error: op + ": " + err.Error()}
}

// checkID refuses what cannot be a request id before it reaches a
// message.
func checkID(id string) error {
	if id == "" {
		return errors.New("no request id")
	}
	if !approval.ValidID(id) {
		return fmt.Errorf("%w %q: request ids are 16 characters, a-z and 2-7", approval.ErrNotFound, clip(id))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// approver is the caller as an approver: kernel credentials, groups and
// user name.
func (o *Ops) approver(peer control.Peer) approval.Approver {
	a := approval.Approver{UID: peer.UID, GID: peer.GID, Groups: peer.Groups}
	if u, err := user.LookupId(strconv.FormatUint(uint64(peer.UID), 10)); err == nil {
		a.Name = u.Username
	}
	return a
}

// Message converts a request to its control message.
func Message(p approval.Pending) control.Approval {
	a := &p.Attribution
	m := control.Approval{
		ID: p.ID, State: string(p.State), Identity: p.Identity, Target: p.Target, Database: p.Database,
		User: p.User, Session: p.Session, PID: a.PID, UID: a.UID, GID: a.GID, Comm: a.Comm, Exe: a.Exe,
		Unit: a.Unit, Cgroup: a.Cgroup, Statement: p.Statement, Kind: p.Kind, Command: p.Command,
		Reads: p.Reads, Writes: p.Writes, Policy: p.Policy, Rule: p.Rule, Message: p.Message,
		Fingerprint: p.Fingerprint, Requested: p.Requested.UTC(), Deadline: p.Deadline.UTC(),
		Reason: p.Reason, Held: p.Held, Released: p.Released, ReleasedBy: p.ReleasedBy,
	}
	if ap := p.Approver; ap != nil {
		m.Approver = &control.Approver{UID: ap.UID, GID: ap.GID, Name: ap.Name}
		if ap.OIDC != nil {
			m.Approver.Issuer, m.Approver.Subject = ap.OIDC.Issuer, ap.OIDC.Subject
		}
	}
	if g := p.Grant; g != nil {
		mode := "once"
		if !g.Once {
			mode = "for"
		}
		m.Grant = &control.Grant{Mode: mode, Expires: g.Expires.UTC()}
	}
	return m
}
