package daemon

import (
	"os"
	"sort"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
)

// status answers sluice status. What the tokens of bound jobs said is
// shown to root, log readers and approvers only: any local user may ask.
func (d *Daemon) status(peer control.Peer) (*control.Status, error) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	st := &control.Status{
		Version: Version, PID: os.Getpid(), Started: d.started, Config: d.configPath,
		CgroupRoot: d.tree.Dir(d.tree.Root), FailMode: string(cfg.FailMode), PinDir: d.it.PinDir(),
		Adopted: d.it.Adopted, Active: d.proxy.ActiveCount(), Maps: map[string]control.Map{},
		Connections: map[string]uint64{},
	}
	st.MaxSessions, st.Sessions = cfg.MaxSessions, []control.IdentitySessions{}
	open := d.proxy.OpenSessions()
	for _, id := range cfg.Identities {
		if n := open[id.Name]; n > 0 || id.MaxSessions > 0 {
			st.Sessions = append(st.Sessions, control.IdentitySessions{Identity: id.Name, Open: n, Max: id.MaxSessions})
		}
		delete(open, id.Name)
	}
	for name, n := range open { // identities a reload removed, sessions still open
		st.Sessions = append(st.Sessions, control.IdentitySessions{Identity: name, Open: n})
	}
	sort.Slice(st.Sessions, func(i, j int) bool { return st.Sessions[i].Identity < st.Sessions[j].Identity })
	for _, l := range d.it.Links() {
		st.Programs = append(st.Programs, control.Program{Name: l.Name, Attach: l.Attach, LinkID: l.ID, Pinned: l.Pin})
	}
	for _, l := range d.proxy.Listeners() {
		st.Listeners = append(st.Listeners, l.String())
	}
	tags, err := d.it.TaggedCgroups()
	if err != nil {
		return nil, err
	}
	for id, v := range tags {
		t := control.Tagged{CgroupID: id, Source: sourceConfig}
		t.Cgroup, _ = d.cgroups.path(id)
		if d.isJob(t.Cgroup) {
			t.Source = sourceJob
		}
		if ident, ok := cfg.IdentityByID(v); ok {
			t.Identity = ident.Name
		}
		st.Tagged = append(st.Tagged, t)
	}
	sort.Slice(st.Tagged, func(i, j int) bool { return st.Tagged[i].Cgroup < st.Tagged[j].Cgroup })
	uids, err := d.it.TaggedUIDs()
	if err != nil {
		return nil, err
	}
	for uid, v := range uids {
		t := control.TaggedUID{UID: uid}
		if ident, ok := cfg.IdentityByID(v); ok {
			t.Identity = ident.Name
		}
		st.TaggedUIDs = append(st.TaggedUIDs, t)
	}
	sort.Slice(st.TaggedUIDs, func(i, j int) bool { return st.TaggedUIDs[i].UID < st.TaggedUIDs[j].UID })
	if occ, err := d.it.Occupancy(); err == nil {
		for name, u := range occ {
			st.Maps[name] = control.Map{Entries: u.Entries, Capacity: u.Capacity}
		}
	}
	if s, err := d.it.Stats(); err == nil {
		st.Connections = s.Named()
	}
	if r := d.records; r != nil {
		pub, head := r.PublicKey(), r.LogHead()
		st.Recording = &control.RecordingStatus{
			HostKey: pub.String(), HostKeyID: pub.ID(), LogSize: head.Size, LogRoot: head.Root,
			Encrypted: len(cfg.Recording.Recipients) > 0,
		}
	}
	st.BindingDetails = mayReadBindings(cfg, peer)
	st.Bindings = statusBindings(d.bindings.list(), st.BindingDetails)
	return st, nil
}

// mayReadBindings: root, log readers and approvers see the subjects,
// jtis and claims of bound jobs, as they do in events and approval
// requests.
func mayReadBindings(cfg *config.Config, peer control.Peer) bool {
	return listed(peer, cfg.Log.Readers.UIDs, cfg.Log.Readers.GIDs) ||
		listed(peer, cfg.Approvals.Approvers.UIDs, cfg.Approvals.Approvers.GIDs)
}

func statusBindings(bs []bindingState, details bool) []control.Binding {
	out := make([]control.Binding, 0, len(bs))
	for _, b := range bs {
		c := control.Binding{
			Identity: b.oidc.Identity, Cgroup: b.job, CgroupID: b.cgroupID, Expires: b.oidc.Expires.UTC(),
			Expired: b.expired, Sessions: b.sessions, Restored: b.restored,
		}
		if details {
			c.Issuer, c.Subject, c.JTI, c.Claims = b.oidc.Issuer, b.oidc.Subject, b.oidc.JTI, b.oidc.Claims
		}
		out = append(out, c)
	}
	return out
}
