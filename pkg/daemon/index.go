package daemon

import (
	"path"
	"sync"
)

// cgroupIndex maps cgroup ids to paths (relative to the cgroup2 mount) for
// the cgroups under cgroup_root, so connection events can name a process's
// cgroup without reading /proc.
type cgroupIndex struct {
	mu   sync.RWMutex
	byID map[uint64]string
}

func newCgroupIndex() *cgroupIndex { return &cgroupIndex{byID: map[uint64]string{}} }

func (x *cgroupIndex) set(id uint64, p string) {
	x.mu.Lock()
	x.byID[id] = p
	x.mu.Unlock()
}

func (x *cgroupIndex) remove(id uint64) {
	x.mu.Lock()
	delete(x.byID, id)
	x.mu.Unlock()
}

func (x *cgroupIndex) path(id uint64) (string, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	p, ok := x.byID[id]
	return p, ok
}

func (x *cgroupIndex) replace(m map[uint64]string) {
	x.mu.Lock()
	x.byID = m
	x.mu.Unlock()
}

// cgroupPath names a cgroup for events: from the index, or "" if unknown.
func (d *Daemon) cgroupPath(id uint64) string {
	p, _ := d.cgroups.path(id)
	return p
}

// jobsDir is the cgroup below cgroup_root that holds `sluice run` jobs.
const jobsDir = "sluice.jobs"

func joinCgroup(root, name string) string { return path.Join(root, name) }

// isJob reports whether p is a job cgroup (a direct child of the jobs dir).
func (d *Daemon) isJob(p string) bool { return path.Dir(p) == d.jobsPath }
