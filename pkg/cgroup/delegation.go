package cgroup

import (
	"fmt"
	"os"
	"path"
	"syscall"
)

// DelegatedAncestor returns the first directory, from the mount down to
// the parent of the cgroup at rel (a cgroup path relative to mount), in
// which a user other than root may create cgroups: one owned by another
// uid or writable by its group or by others, as the subtrees systemd
// delegates to user managers and to units with Delegate= are. "" means
// only root could have created and named the cgroup. A name chosen by a
// user says nothing about what runs there, so identities are never
// matched on it.
func DelegatedAncestor(mount, rel string) (string, error) {
	rel = clean(rel)
	var parents []string
	for p := path.Dir(rel); ; p = path.Dir(p) {
		parents = append(parents, p)
		if p == "/" {
			break
		}
	}
	for i := len(parents) - 1; i >= 0; i-- {
		dir := mount
		if parents[i] != "/" {
			dir = mount + parents[i]
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return "", fmt.Errorf("cgroup: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return "", fmt.Errorf("cgroup: %s: no owner", dir)
		}
		if st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
			return parents[i], nil
		}
	}
	return "", nil
}
