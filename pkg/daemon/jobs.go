package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
)

// ErrNotAuthorized is returned when a caller may not claim an identity.
var ErrNotAuthorized = errors.New("not authorized")

// startJob creates a job cgroup tagged with the identity and moves the
// caller into it. The caller then execs the job; the cgroup is removed when
// its last process exits. With token set (a verified token that claims the
// identity), the job is bound to it instead of being authorized by
// claimable_by.
func (d *Daemon) startJob(peer control.Peer, name string, token *identity.OIDC) (*control.Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ident, ok := d.cfg.Identity(name)
	if !ok {
		return nil, fmt.Errorf("unknown identity %q", name)
	}
	switch {
	case token == nil && ident.OIDC != nil:
		return nil, fmt.Errorf("%w: identity %q is claimed with an OIDC token of issuer %q (sluice run --oidc-token-file PATH)", ErrNotAuthorized, name, ident.OIDC.Issuer)
	case token == nil:
		if err := authorizeClaim(peer, ident); err != nil {
			return nil, err
		}
	}
	if !peer.Current() {
		return nil, fmt.Errorf("%w: the calling process %d has exited", ErrNotAuthorized, peer.PID)
	}
	if err := d.checkNotTaggedElsewhere(peer, ident); err != nil {
		return nil, err
	}

	parent := d.tree.Dir(d.jobsPath)
	if _, err := cgroup.Create(parent); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create jobs cgroup: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := path.Join(d.jobsPath, "job-"+hex.EncodeToString(b[:]))
	dir := d.tree.Dir(p)
	id, err := cgroup.Create(dir)
	if err != nil {
		return nil, fmt.Errorf("create job cgroup: %w", err)
	}
	fail := func(err error) (*control.Job, error) {
		_ = d.it.UntagCgroup(id)
		_ = cgroup.Remove(dir)
		return nil, err
	}
	// Tag before the first process enters: it must never run untagged.
	if err := d.it.TagCgroup(id, ident.ID); err != nil {
		return fail(err)
	}
	d.cgroups.set(id, p)
	if token != nil {
		d.bindings.add(p, id, token)
	}
	if err := d.watcher.WatchEmpty(p); err != nil {
		d.bindings.remove(p)
		return fail(err)
	}
	// The pid is the caller's still (it was a moment ago; a pid is reused
	// only after a wrap of the pid space).
	if !peer.Current() {
		d.bindings.remove(p)
		return fail(fmt.Errorf("%w: the calling process %d has exited", ErrNotAuthorized, peer.PID))
	}
	if err := cgroup.MovePID(dir, int(peer.PID)); err != nil {
		d.bindings.remove(p)
		return fail(fmt.Errorf("move caller into job cgroup: %w", err))
	}
	d.updateTagGauge()
	d.log.Event(audit.IdentityTagged).Str("identity", ident.Name).Str("cgroup", p).Uint64("cgroup_id", id).
		Str("source", sourceJob).Int32("pid", peer.PID).Uint32("uid", peer.UID).Msg("job cgroup tagged")
	if pop, err := cgroup.Populated(dir); err == nil && !pop {
		d.removeJob(p) // the caller already exited
	}
	job := &control.Job{Identity: ident.Name, Cgroup: p, CgroupID: id}
	if token != nil {
		job.OIDC = jobOIDC(token)
	}
	return job, nil
}

// authorizeClaim: root, or a uid/gid listed in the identity's claimable_by.
func authorizeClaim(peer control.Peer, ident *config.Identity) error {
	if listed(peer, ident.ClaimableBy.UIDs, ident.ClaimableBy.GIDs) {
		return nil
	}
	return fmt.Errorf("%w: uid %d may not claim identity %q (see claimable_by)", ErrNotAuthorized, peer.UID, ident.Name)
}

// listed reports whether the caller is root, or has one of uids, or one
// of gids as its primary or a supplementary group.
func listed(peer control.Peer, uids, gids []uint32) bool {
	if peer.UID == 0 || slices.Contains(uids, peer.UID) {
		return true
	}
	if len(gids) == 0 {
		return false
	}
	for _, g := range append([]uint32{peer.GID}, peer.Groups...) {
		if slices.Contains(gids, g) {
			return true
		}
	}
	return false
}

// checkNotTaggedElsewhere refuses a caller already running under another
// identity: a job cannot shed its identity by claiming a different one.
func (d *Daemon) checkNotTaggedElsewhere(peer control.Peer, ident *config.Identity) error {
	p, err := cgroup.PathOfPID(int(peer.PID))
	if err != nil {
		return fmt.Errorf("caller's cgroup: %w", err)
	}
	tags, err := d.it.TaggedCgroups()
	if err != nil {
		return err
	}
	for _, a := range cgroup.Ancestors(p) {
		id, err := cgroup.ID(d.tree.Dir(a))
		if err != nil {
			continue
		}
		if v, ok := tags[id]; ok && v != ident.ID {
			return fmt.Errorf("%w: the caller already runs as another identity (cgroup %s)", ErrNotAuthorized, a)
		}
	}
	uids, err := d.it.TaggedUIDs()
	if err != nil {
		return err
	}
	if v, ok := uids[peer.UID]; ok && v != ident.ID {
		return fmt.Errorf("%w: uid %d is tagged with another identity", ErrNotAuthorized, peer.UID)
	}
	return nil
}
