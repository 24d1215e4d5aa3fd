package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Tree is a cgroup subtree. Mount is the cgroup2 mount point (see Mount) and
// Root the cgroup path of the top of the subtree, relative to Mount: "/" for
// the whole hierarchy, "/build.slice" for one slice.
type Tree struct {
	Mount string
	Root  string
}

// NewTree returns the subtree of the cgroup2 hierarchy mounted at mount
// (an absolute directory) rooted at the cgroup path root. root is cleaned
// ("build.slice/" becomes "/build.slice") and must exist as a directory.
func NewTree(mount, root string) (*Tree, error) {
	if !filepath.IsAbs(mount) {
		return nil, fmt.Errorf("cgroup: mount %q is not an absolute path", mount)
	}
	t := &Tree{Mount: filepath.Clean(mount), Root: clean(root)}
	dir := t.Dir(t.Root)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cgroup: tree root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("cgroup: tree root %s is not a directory", dir)
	}
	return t, nil
}

// Dir returns the absolute directory of the cgroup path rel, which is
// relative to the mount (not to Root): Dir("/ci.slice/job-1.scope") is
// "<Mount>/ci.slice/job-1.scope". rel is cleaned first, so it cannot name
// anything above the mount.
func (t *Tree) Dir(rel string) string {
	return filepath.Join(t.Mount, clean(rel))
}

// clean returns the canonical form of a cgroup path: absolute, without a
// trailing slash, with "." and ".." resolved and never above "/".
func clean(p string) string {
	return path.Clean("/" + p)
}

// within reports whether the cgroup path p is root or below it. Both must be
// clean.
func within(p, root string) bool {
	if root == "/" || p == root {
		return true
	}
	return strings.HasPrefix(p, root+"/")
}

// ID returns the cgroup id of the cgroup directory dir: its inode number,
// which on cgroup2 is the kernfs node id that bpf_get_current_cgroup_id
// returns. The root cgroup's id is 1.
func ID(dir string) (uint64, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("cgroup: id: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("cgroup: id: no stat data for %s", dir)
	}
	return st.Ino, nil
}

// PathOfPID returns the cgroup2 path of process pid, from the "0::/path"
// line of /proc/PID/cgroup. The path is relative to the caller's cgroup
// namespace root, which is the mount root in the usual case of a daemon in
// the initial cgroup namespace. It wraps ErrNoCgroup2 when there is no such
// line.
func PathOfPID(pid int) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup: path of pid %d: %w", pid, err)
	}
	defer f.Close()
	p, err := parseProcCgroup(f)
	if err != nil {
		return "", fmt.Errorf("cgroup: path of pid %d: %w", pid, err)
	}
	return p, nil
}

// parseProcCgroup returns the path of the cgroup2 ("0::") line of a
// /proc/PID/cgroup file.
func parseProcCgroup(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNoCgroup2
}

// Ancestors returns the cgroup path p followed by each of its ancestors up
// to and including "/": "/a/b/c" gives ["/a/b/c", "/a/b", "/a", "/"].
// p is cleaned first.
func Ancestors(p string) []string {
	p = clean(p)
	out := []string{p}
	for p != "/" {
		p = path.Dir(p)
		out = append(out, p)
	}
	return out
}
