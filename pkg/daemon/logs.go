package daemon

import (
	"fmt"

	"github.com/sluicehq/sluice/pkg/audit/logsctl"
	"github.com/sluicehq/sluice/pkg/control"
)

// startLogs sets up the control socket's logs operation (sluice logs) on
// the event stream's history.
func (d *Daemon) startLogs() {
	d.logsOps = &logsctl.Ops{
		Events: d.log.Stream(), Authorize: d.authorizeLogs, Metrics: d.metrics.RegisterEventReaders(),
	}
}

// authorizeLogs: root, or a uid/gid listed in log.readers (applied on
// reload). Events carry statement texts: masked, but still sensitive.
func (d *Daemon) authorizeLogs(peer control.Peer) error {
	d.mu.Lock()
	r := d.cfg.Log.Readers
	d.mu.Unlock()
	if listed(peer, r.UIDs, r.GIDs) {
		return nil
	}
	return fmt.Errorf("%w: uid %d may not read the event stream (see log.readers)", ErrNotAuthorized, peer.UID)
}
