package daemon

import (
	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/approval/approvalctl"
	"github.com/sluicehq/sluice/pkg/config"
)

// startApprovals creates the daemon's approval broker: grants in
// state_dir, settings from the approvals mapping, and the control socket
// operations that list, watch, approve and deny.
func (d *Daemon) startApprovals(cfg *config.Config) error {
	b, err := approval.New(approval.Options{
		Settings: approvalSettings(cfg), StateDir: cfg.StateDir,
		Log: d.log, Metrics: d.metrics.RegisterApprovals(),
	})
	if err != nil {
		return err
	}
	d.approvals = b
	d.approvalOps = &approvalctl.Ops{Broker: b}
	return nil
}

// Approvals returns the approval broker, which holds the statements
// policies send to review; nil before Run has started it.
func (d *Daemon) Approvals() *approval.Broker { return d.approvals }

// reconfigureApprovals applies a reloaded approvals mapping: timeout,
// approvers and webhooks apply at once (held statements keep their
// timeout).
func (d *Daemon) reconfigureApprovals(cfg *config.Config) {
	if d.approvals == nil {
		return
	}
	if err := d.approvals.Configure(approvalSettings(cfg)); err != nil {
		d.log.Error(err, "approvals settings not reloaded")
	}
}

func approvalSettings(cfg *config.Config) approval.Settings {
	a := cfg.Approvals
	s := approval.Settings{
		Timeout:   a.Timeout,
		Approvers: approval.Approvers{UIDs: a.Approvers.UIDs, GIDs: a.Approvers.GIDs},
	}
	if a.HTTP != nil {
		s.Approvers.Groups = a.HTTP.Groups
	}
	for _, w := range a.Webhooks {
		s.Webhooks = append(s.Webhooks, approval.Webhook{URL: w.URL, Format: approval.Format(w.Format), Timeout: w.Timeout})
	}
	return s
}
