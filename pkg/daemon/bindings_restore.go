package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/bindstate"
	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// jobCgroups is what restoring bindings needs to know of job cgroups.
type jobCgroups interface {
	// CgroupID returns the id of the cgroup at p (relative to the
	// cgroup2 mount), an error wrapping fs.ErrNotExist when there is
	// none.
	CgroupID(p string) (uint64, error)
	// Tag returns the identity id the cgroup id is tagged with in the
	// kernel, ok false when it is not tagged.
	Tag(id uint64) (tag uint32, ok bool, err error)
}

// liveCgroups answers from the cgroup tree and the kernel's tag map.
type liveCgroups struct{ d *Daemon }

func (l liveCgroups) CgroupID(p string) (uint64, error) { return cgroup.ID(l.d.tree.Dir(p)) }
func (l liveCgroups) Tag(id uint64) (uint32, bool, error) {
	return l.d.it.CgroupTag(id)
}

// restoreBindings reads the bindings file at start, after the tags were
// reconciled and before the proxy accepts: each saved binding whose job
// cgroup is still there, with the same id, tagged with the binding's
// identity, which tokens of the binding's issuer still claim, is bound
// again (identity.restored); the others are dropped (identity.dropped)
// and their jobs' connections refused until they present a token again.
// An unusable file is moved aside (identity.restore_failed): the daemon
// starts without bindings. From then on every change of the bindings is
// written to the file, starting with what was restored.
func (d *Daemon) restoreBindings(cfg *config.Config, jobs jobCgroups) {
	p := bindstate.Path(cfg.StateDir)
	saved, problems, err := bindstate.Load(p)
	// Saving starts once the file was read: a job that ended meanwhile
	// must not have the file rewritten before it is read.
	d.bindings.saveTo(func(bs []bindstate.Binding) error { return bindstate.Save(p, bs) }, func(err error) {
		d.log.Error(err, "the OIDC bindings could not be saved: a restart of sluiced would lose them")
	})
	if err != nil {
		ev := d.log.Warn(audit.IdentityRestoreFailed).Str("file", p).Str("error", err.Error())
		aside := p + ".corrupt"
		if rerr := os.Rename(p, aside); rerr == nil {
			ev = ev.Str("moved_to", aside)
		} else if !errors.Is(rerr, fs.ErrNotExist) {
			ev = ev.Str("move_error", rerr.Error())
		}
		d.bindings.markLost("", "sluiced could not read its saved bindings at start: "+err.Error())
		ev.Msg("the OIDC bindings of jobs could not be restored; their connections are refused until they present a token again")
		d.bindings.persist()
		return
	}
	for _, pr := range problems {
		if pr.Job != "" {
			d.bindings.markLost(pr.Job, "its saved binding is damaged")
		}
		d.log.Warn(audit.IdentityDropped).Str("cgroup", pr.Job).Str("file", p).Str("reason", "damaged entry: "+pr.Error()).
			Msg("a saved OIDC binding was not restored")
	}
	for _, b := range saved {
		if drop := d.restoreProblem(cfg, b, jobs); drop != nil {
			if drop.lost {
				d.bindings.markLost(b.Job, drop.reason)
			}
			d.dropped(b, drop.reason)
			continue
		}
		ident, _ := cfg.Identity(b.OIDC.Identity)
		d.bindings.restore(b, ident.OIDC.OnExpiry == config.ExpiryKeep)
		// The job may have ended since it was checked, its removal seen
		// before the binding was back: look again.
		if id, err := jobs.CgroupID(b.Job); err != nil || id != b.CgroupID {
			d.bindings.remove(b.Job)
			d.dropped(b, "the job ended: its cgroup is gone")
			continue
		}
		d.log.Event(audit.IdentityRestored).Str("identity", b.OIDC.Identity).Str("cgroup", b.Job).Uint64("cgroup_id", b.CgroupID).
			Dict("oidc", protocol.OIDCDict(b.OIDC)).Bool("expired", b.Expired || b.OIDC.Expired(time.Now())).
			Msg("a job's OIDC binding was restored")
	}
	d.bindings.armRestored()
	d.bindings.persist()
}

// dropped reports a saved binding not restored.
func (d *Daemon) dropped(b bindstate.Binding, reason string) {
	d.log.Warn(audit.IdentityDropped).Str("identity", b.OIDC.Identity).Str("cgroup", b.Job).Uint64("cgroup_id", b.CgroupID).
		Dict("oidc", protocol.OIDCDict(b.OIDC)).Str("reason", reason).Msg("a saved OIDC binding was not restored")
}

// dropReason is why a saved binding is not restored; lost when its job
// still runs (its connections are refused, and say why).
type dropReason struct {
	reason string
	lost   bool
}

// restoreProblem checks a saved binding against the cgroups, the kernel
// tags and the configuration; nil when it may be restored.
func (d *Daemon) restoreProblem(cfg *config.Config, b bindstate.Binding, jobs jobCgroups) *dropReason {
	if !d.isJob(b.Job) {
		return &dropReason{reason: fmt.Sprintf("%s is not a job cgroup of %s", b.Job, d.jobsPath)}
	}
	id, err := jobs.CgroupID(b.Job)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &dropReason{reason: "the job ended: its cgroup is gone"}
	case err != nil:
		return &dropReason{reason: "the job cgroup cannot be read: " + err.Error(), lost: true}
	case id != b.CgroupID:
		return &dropReason{reason: fmt.Sprintf("the job ended: its cgroup is another one now (id %d, saved %d)", id, b.CgroupID)}
	}
	tag, tagged, err := jobs.Tag(id)
	switch {
	case err != nil:
		return &dropReason{reason: "the job's tag cannot be read: " + err.Error(), lost: true}
	case !tagged:
		return &dropReason{reason: "the job cgroup is not tagged any more (the pins were removed, or fail_mode is open)"}
	case tag != config.IdentityID(b.OIDC.Identity):
		return &dropReason{reason: fmt.Sprintf("the job cgroup is tagged with another identity than %q", b.OIDC.Identity), lost: true}
	}
	ident, ok := cfg.Identity(b.OIDC.Identity)
	if !ok || ident.OIDC == nil || issuerURL(cfg, ident.OIDC.Issuer) != b.OIDC.Issuer {
		return &dropReason{reason: fmt.Sprintf("identity %q is no longer claimed with tokens of %s (identities[].oidc)", b.OIDC.Identity, b.OIDC.Issuer), lost: true}
	}
	return nil
}

// issuerURL is the URL of the configured issuer named name, or "".
func issuerURL(cfg *config.Config, name string) string {
	for _, is := range cfg.OIDC.Issuers {
		if is.Name == name {
			return is.URL
		}
	}
	return ""
}
