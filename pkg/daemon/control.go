package daemon

import (
	"context"
	"errors"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// controlHandler authorizes and answers control socket requests.
type controlHandler struct{ d *Daemon }

func (h *controlHandler) Handle(ctx context.Context, peer control.Peer, req control.Request) control.Response {
	d := h.d
	switch req.Op {
	case control.OpRun:
		var job *control.Job
		var err error
		var token *identity.OIDC
		if req.Token != "" {
			job, err = d.runWithToken(ctx, peer, req)
		} else {
			job, err = d.startJob(peer, req.Identity, nil)
		}
		if err != nil {
			// Any local user can send a name: only configured names become labels.
			label := "unknown"
			if d.knownIdentity(req.Identity) {
				label = req.Identity
			}
			d.metrics.Jobs.WithLabelValues(label, "refused").Inc()
			d.jobRefusals.Pass(d.log.Warn(audit.JobRefused)).Str("identity", req.Identity).Int32("pid", peer.PID).
				Uint32("uid", peer.UID).Uint32("gid", peer.GID).Str("reason", err.Error()).Msg("sluice run refused")
			return control.Response{Error: err.Error()}
		}
		d.metrics.Jobs.WithLabelValues(job.Identity, "started").Inc()
		ev := d.log.Event(audit.JobStarted).Str("identity", job.Identity).Str("cgroup", job.Cgroup).
			Int32("pid", peer.PID).Uint32("uid", peer.UID)
		if token, _, _, _ = d.bindings.get(job.Cgroup); token != nil {
			ev = ev.Dict("oidc", protocol.OIDCDict(token))
		}
		ev.Msg("job started")
		return control.Response{OK: true, Job: job}
	case control.OpRefresh:
		job, err := d.refreshJob(ctx, peer, req)
		if err != nil {
			return control.Response{Error: "refresh: " + err.Error()}
		}
		return control.Response{OK: true, Job: job}
	case control.OpApprovals, control.OpApprove, control.OpDeny:
		return d.approvalOps.Handle(ctx, peer, req) // approvals.go
	case control.OpStatus:
		st, err := d.status(peer)
		if err != nil {
			return control.Response{Error: err.Error()}
		}
		return control.Response{OK: true, Status: st}
	case control.OpReload:
		if peer.UID != 0 {
			return control.Response{Error: "reload: only root may reload the configuration"}
		}
		if err := d.reload(); err != nil {
			if errors.Is(err, errRetag) {
				return control.Response{Error: "reload: " + err.Error()}
			}
			return control.Response{Error: "reload failed, previous configuration kept: " + err.Error()}
		}
		return control.Response{OK: true}
	case control.OpDetach:
		if peer.UID != 0 {
			return control.Response{Error: "detach: only root may remove the programs"}
		}
		// Unpin and disable now, so that when the caller is told "ok" no
		// tagged connection is redirected any more and nothing outlives the
		// daemon; then stop, which closes the last handles and detaches.
		if err := d.unpinAll(); err != nil {
			return control.Response{Error: "detach: " + err.Error()}
		}
		select {
		case d.detach <- struct{}{}:
		default: // already stopping
		}
		return control.Response{OK: true}
	}
	return control.Response{Error: "unknown operation " + req.Op}
}

var _ control.Streamer = (*controlHandler)(nil)

// Stream answers the streaming operations: approvals.watch (approvals.go)
// and logs (logs.go).
func (h *controlHandler) Stream(ctx context.Context, peer control.Peer, req control.Request, send func(control.Response) error) error {
	if req.Op == control.OpLogs {
		return h.d.logsOps.Stream(ctx, peer, req, send)
	}
	return h.d.approvalOps.Stream(ctx, peer, req, send)
}

func (d *Daemon) knownIdentity(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.cfg.Identity(name)
	return ok
}
