package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/intercept"
	"golang.org/x/sys/unix"
)

// tag sources, reported in events and status.
const (
	sourceConfig = "config" // a match rule of the configuration
	sourceJob    = "job"    // sluice run
)

func matcher(cfg *config.Config) *identity.Matcher {
	rules := make([]identity.Rule, 0, len(cfg.Identities))
	for _, id := range cfg.Identities {
		r := identity.Rule{Name: id.Name, ID: id.ID}
		switch id.Match.Kind {
		case config.MatchSystemdUnit:
			r.SystemdUnit = id.Match.SystemdUnit
		case config.MatchCgroup:
			r.Cgroup = id.Match.Cgroup
		case config.MatchUID:
			uid := id.Match.UID
			r.UID = &uid
		default:
			continue
		}
		rules = append(rules, r)
	}
	return identity.NewMatcher(rules)
}

// syncTags makes the kernel's tag maps agree with the configuration and the
// live cgroup tree: matching cgroups tagged, vanished or no longer matching
// ones untagged, job cgroups kept while they have processes.
func (d *Daemon) syncTags() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.cfg
	m := matcher(cfg)

	paths := map[uint64]string{}
	if err := d.tree.Walk(func(p string, id uint64) error {
		paths[id] = p
		return nil
	}); err != nil {
		return fmt.Errorf("walk cgroups: %w", err)
	}
	d.cgroups.replace(paths)

	current, err := d.it.TaggedCgroups()
	if err != nil {
		return err
	}
	type want struct {
		identity uint32
		name     string
		source   string
	}
	desired := map[uint64]want{}
	for id, p := range paths {
		if d.isJob(p) {
			if pop, err := cgroup.Populated(d.tree.Dir(p)); err == nil && !pop {
				d.removeJob(p) // ended while we were away
				continue
			}
			if v, ok := current[id]; ok {
				name := ""
				if ident, ok := cfg.IdentityByID(v); ok {
					name = ident.Name
				}
				desired[id] = want{v, name, sourceJob}
				if err := d.watcher.WatchEmpty(p); err != nil {
					d.log.Error(err, "watch job cgroup")
				}
			}
			continue
		}
		if id == d.selfCG {
			continue
		}
		if r, ok := d.matchCgroup(m, p, id); ok {
			desired[id] = want{r.ID, r.Name, sourceConfig}
		}
	}
	for id, w := range desired {
		if current[id] == w.identity {
			continue
		}
		if err := d.it.TagCgroup(id, w.identity); err != nil {
			return err
		}
		d.log.Event(audit.IdentityTagged).Str("identity", w.name).Str("cgroup", paths[id]).
			Uint64("cgroup_id", id).Str("source", w.source).Msg("cgroup tagged")
	}
	for id, v := range current {
		if _, ok := desired[id]; ok {
			continue
		}
		if err := d.it.UntagCgroup(id); err != nil {
			return err
		}
		name := ""
		if ident, ok := cfg.IdentityByID(v); ok {
			name = ident.Name
		}
		reason := "cgroup no longer exists"
		if _, exists := paths[id]; exists {
			reason = "no identity matches the cgroup any more"
		}
		d.log.Event(audit.IdentityUntagged).Str("identity", name).Str("cgroup", paths[id]).
			Uint64("cgroup_id", id).Str("reason", reason).Msg("cgroup untagged")
	}
	d.updateTagGauge()
	return d.syncUIDs(m)
}

func (d *Daemon) syncUIDs(m *identity.Matcher) error {
	want := m.UIDs()
	current, err := d.it.TaggedUIDs()
	if err != nil {
		return err
	}
	for uid, r := range want {
		if current[uid] == r.ID {
			continue
		}
		if err := d.it.TagUID(uid, r.ID); err != nil {
			return err
		}
		d.log.Event(audit.IdentityTagged).Str("identity", r.Name).Uint32("uid", uid).
			Str("source", sourceConfig).Msg("uid tagged")
	}
	for uid := range current {
		if _, ok := want[uid]; ok {
			continue
		}
		if err := d.it.UntagUID(uid); err != nil {
			return err
		}
		d.log.Event(audit.IdentityUntagged).Uint32("uid", uid).Str("reason", "no identity matches the uid any more").Msg("uid untagged")
	}
	return nil
}

// matchCgroup returns the identity the cgroup at p matches, unless a user
// other than root could have created and named it (a subtree delegated to
// a user: see cgroup.DelegatedAncestor), which is then refused with an
// event. Such a cgroup is still tagged when an ancestor is, by the
// programs' ancestor walk.
func (d *Daemon) matchCgroup(m *identity.Matcher, p string, id uint64) (identity.Rule, bool) {
	r, ok := m.MatchCgroup(p)
	if !ok {
		return r, false
	}
	if level := strings.Count(strings.TrimSuffix(p, "/"), "/"); level > intercept.MaxTagLevel {
		d.log.Warn(audit.IdentityRefused).Str("identity", r.Name).Str("cgroup", p).Uint64("cgroup_id", id).
			Str("reason", fmt.Sprintf("the cgroup is %d levels deep; a tag deeper than %d would not cover the cgroups below it", level, intercept.MaxTagLevel)).
			Msg("cgroup not tagged")
		return r, false
	}
	delegated, err := cgroup.DelegatedAncestor(d.tree.Mount, p)
	switch {
	case err != nil:
		d.log.Error(err, "cgroup ownership: not tagged")
		return r, false
	case delegated != "":
		d.log.Warn(audit.IdentityRefused).Str("identity", r.Name).Str("cgroup", p).Uint64("cgroup_id", id).
			Str("delegated", delegated).
			Str("reason", "the cgroup is in a subtree delegated to a user, who chose its name").
			Msg("cgroup not tagged")
		return r, false
	}
	return r, true
}

// onAdded tags a new cgroup that matches an identity.
func (d *Daemon) onAdded(p string, id uint64) {
	d.cgroups.set(id, p)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isJob(p) || id == d.selfCG {
		return // jobs are tagged by the run request that created them
	}
	r, ok := d.matchCgroup(matcher(d.cfg), p, id)
	if !ok {
		return
	}
	if v, tagged, err := d.it.CgroupTag(id); err == nil && tagged && v == r.ID {
		return // already tagged (the watcher reports existing cgroups at start)
	}
	if err := d.it.TagCgroup(id, r.ID); err != nil {
		d.log.Error(err, "tag new cgroup")
		return
	}
	d.updateTagGauge()
	d.log.Event(audit.IdentityTagged).Str("identity", r.Name).Str("cgroup", p).Uint64("cgroup_id", id).
		Str("source", sourceConfig).Msg("cgroup tagged")
}

// onRemoved forgets a removed cgroup and its tag.
func (d *Daemon) onRemoved(p string, id uint64) {
	d.cgroups.remove(id)
	if d.isJob(p) {
		d.bindings.remove(p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok, err := d.it.CgroupTag(id)
	if err != nil {
		d.log.Error(err, "read tag")
		return
	}
	if !ok {
		return
	}
	if err := d.it.UntagCgroup(id); err != nil {
		d.log.Error(err, "untag removed cgroup")
		return
	}
	d.updateTagGauge()
	name := ""
	if ident, ok := d.cfg.IdentityByID(v); ok {
		name = ident.Name
	}
	d.log.Event(audit.IdentityUntagged).Str("identity", name).Str("cgroup", p).Uint64("cgroup_id", id).
		Str("reason", "cgroup removed").Msg("cgroup untagged")
}

// removeJob removes an empty job cgroup, with any empty cgroups the job
// created below it, deepest first. The watcher then reports it removed, and
// onRemoved drops its tag with an identity.untagged event. A cgroup that
// still has processes stays (EBUSY) and is retried when it empties.
func (d *Daemon) removeJob(p string) {
	root := d.tree.Dir(p)
	var dirs []string
	_ = filepath.WalkDir(root, func(q string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, q)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		err := cgroup.Remove(dirs[i])
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.EBUSY) {
			d.log.Error(err, "remove job cgroup "+p)
		}
	}
}

// updateTagGauge sets sluice_tagged_cgroups from the kernel map.
func (d *Daemon) updateTagGauge() {
	if tags, err := d.it.TaggedCgroups(); err == nil {
		d.metrics.TaggedCgroups.Set(float64(len(tags)))
	}
}

// removeEmptyJobs removes every empty job cgroup (used on detach).
func (d *Daemon) removeEmptyJobs() {
	var jobs []string
	_ = d.tree.Walk(func(p string, id uint64) error {
		if path.Dir(p) == d.jobsPath {
			jobs = append(jobs, p)
		}
		return nil
	})
	for _, p := range jobs {
		if pop, err := cgroup.Populated(d.tree.Dir(p)); err == nil && !pop {
			d.removeJob(p)
		}
	}
}
