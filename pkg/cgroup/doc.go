// Package cgroup is the cgroup v2 filesystem side of sluice.
//
// It finds the cgroup2 mount, maps cgroup paths to cgroup ids, walks and
// watches a subtree for cgroups appearing and disappearing, creates and
// removes job cgroups and moves processes into them. It knows nothing about
// BPF or identities: callers get paths and ids and decide what to tag.
//
// Two kinds of names are used throughout:
//
//   - a cgroup path is relative to the cgroup2 mount and always absolute and
//     clean: "/" is the root cgroup, "/system.slice/cron.service" a service.
//     It is what the "0::" line of /proc/PID/cgroup shows.
//   - a cgroup dir is the absolute filesystem directory of a cgroup,
//     Tree.Dir turns a path into a dir.
//
// A cgroup id is the inode number of its directory on cgroup2, which is the
// value bpf_get_current_cgroup_id returns for tasks in that cgroup.
package cgroup
