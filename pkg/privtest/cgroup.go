package privtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/cgroup"
)

// Cgroup is a cgroup created by a test.
type Cgroup struct {
	Mount string // the cgroup2 mount point
	Path  string // cgroup path relative to Mount, "/sluice-test-ab12cd"
	Dir   string // absolute directory
	ID    uint64
}

// NewCgroup creates a fresh cgroup directly below the cgroup2 mount and
// removes it (with everything created below it) when the test ends. Any
// process the test left in it is killed first, by PID.
func NewCgroup(t testing.TB) *Cgroup {
	t.Helper()
	mount, err := cgroup.Mount()
	if err != nil {
		t.Fatalf("cgroup2 mount: %v", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	rel := "/sluice-test-" + hex.EncodeToString(b[:])
	cg := &Cgroup{Mount: mount, Path: rel, Dir: filepath.Join(mount, rel)}
	cg.ID, err = cgroup.Create(cg.Dir)
	if err != nil {
		t.Fatalf("create test cgroup: %v", err)
	}
	t.Cleanup(func() { removeTree(t, cg.Dir) })
	return cg
}

// Child creates a cgroup below c (nested names allowed: "ci.slice/job-1.scope").
// It is removed with c.
func (c *Cgroup) Child(t testing.TB, name string) *Cgroup {
	t.Helper()
	rel := path.Join(c.Path, name)
	dir := filepath.Join(c.Mount, rel)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatalf("create %s: %v", parent, err)
	}
	id, err := cgroup.Create(dir)
	if err != nil {
		t.Fatalf("create cgroup %s: %v", rel, err)
	}
	return &Cgroup{Mount: c.Mount, Path: rel, Dir: dir, ID: id}
}

// removeTree kills processes left in the tree (they were started by this
// test) and removes the cgroups deepest first.
func removeTree(t testing.TB, root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		dir := dirs[i]
		deadline := time.Now().Add(5 * time.Second)
		for {
			killProcs(dir)
			err := cgroup.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("remove test cgroup %s: %v", dir, err)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func killProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
