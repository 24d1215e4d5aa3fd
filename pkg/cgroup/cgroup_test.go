package cgroup

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// handleID returns the cgroup id the kernel puts in a cgroupfs file handle
// (FILEID_KERNFS: the 64-bit kernfs node id), an independent source for the
// id that ID reads from stat.
func handleID(t *testing.T, dir string) (uint64, bool) {
	t.Helper()
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	if err != nil {
		t.Logf("name_to_handle_at %s: %v", dir, err)
		return 0, false
	}
	if b := h.Bytes(); len(b) == 8 {
		return binary.NativeEndian.Uint64(b), true
	}
	return 0, false
}

func TestMountDetected(t *testing.T) {
	m := requirePrivileged(t)
	var st unix.Statfs_t
	if err := unix.Statfs(m, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("%s: fs magic %#x, not cgroup2", m, st.Type)
	}
	t.Logf("cgroup2 mount: %s", m)
}

func TestIDMatchesProcCgroup(t *testing.T) {
	m := requirePrivileged(t)
	tr, err := NewTree(m, "/")
	if err != nil {
		t.Fatal(err)
	}

	// The test process itself, wherever it is.
	self, err := PathOfPID(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	selfID, err := ID(tr.Dir(self))
	if err != nil {
		t.Fatal(err)
	}
	if hid, ok := handleID(t, tr.Dir(self)); ok && hid != selfID {
		t.Errorf("self %s: stat id %d, file handle id %d", self, selfID, hid)
	}
	if self == "/" && selfID != 1 {
		t.Errorf("root cgroup id = %d, want 1", selfID)
	}

	// A process the test moved into a cgroup it created.
	root := testCgroup(t, m)
	job := path.Join(root, "job-1.scope")
	id := mustCreate(t, m, job)
	pid, stop := startSleep(t)
	defer stop()
	if err := MovePID(tr.Dir(job), pid); err != nil {
		t.Fatal(err)
	}
	got, err := PathOfPID(pid)
	if err != nil {
		t.Fatal(err)
	}
	if got != job {
		t.Fatalf("PathOfPID = %q, want %q", got, job)
	}
	gotID, err := ID(tr.Dir(got))
	if err != nil {
		t.Fatal(err)
	}
	if gotID != id {
		t.Errorf("ID(Dir(PathOfPID)) = %d, Create returned %d", gotID, id)
	}
	if hid, ok := handleID(t, tr.Dir(job)); ok && hid != id {
		t.Errorf("file handle id %d != %d", hid, id)
	}
	if Unit(got) != "job-1.scope" {
		t.Errorf("Unit(%q) = %q", got, Unit(got))
	}
}

func TestNewTree(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	tr, err := NewTree(m+"/", root[1:]+"/")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Mount != m || tr.Root != root {
		t.Errorf("NewTree = %+v", tr)
	}
	if _, err := NewTree(m, root+"/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	if _, err := NewTree(m, root+"/cgroup.procs"); err == nil {
		t.Error("file as root: no error")
	}
	if _, err := NewTree("relative", "/"); err == nil {
		t.Error("relative mount: no error")
	}
}

func TestWalk(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	ids := map[string]uint64{}
	var err error
	if ids[root], err = ID(filepath.Join(m, root)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/b", "/a", "/a/y", "/a/x", "/a/x/deep", "/a-z"} {
		ids[root+p] = mustCreate(t, m, root+p)
	}
	tr, err := NewTree(m, root)
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	err = tr.Walk(func(p string, id uint64) error {
		if id != ids[p] {
			t.Errorf("%s: id %d, want %d", p, id, ids[p])
		}
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{root, root + "/a", root + "/a/x", root + "/a/x/deep", root + "/a/y", root + "/a-z", root + "/b"}
	if !slices.Equal(got, want) {
		t.Errorf("Walk order:\n got %q\nwant %q", got, want)
	}

	got = nil
	err = tr.Walk(func(p string, id uint64) error {
		got = append(got, p)
		if p == root+"/a" {
			return fs.SkipDir
		}
		if p == root+"/a-z" {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{root, root + "/a", root + "/a-z"}; !slices.Equal(got, want) {
		t.Errorf("Walk with SkipDir/SkipAll: got %q, want %q", got, want)
	}

	// A cgroup vanishing during the walk is skipped, not an error.
	got = nil
	err = tr.Walk(func(p string, id uint64) error {
		got = append(got, p)
		if p == root+"/a-z" {
			if err := Remove(tr.Dir(root + "/b")); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk with a vanishing cgroup: %v", err)
	}
	if slices.Contains(got, root+"/b") {
		t.Errorf("removed cgroup walked: %q", got)
	}

	gone, err := NewTree(m, root+"/a/y")
	if err != nil {
		t.Fatal(err)
	}
	if err := Remove(gone.Dir(gone.Root)); err != nil {
		t.Fatal(err)
	}
	if err := gone.Walk(func(string, uint64) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Walk of removed root: %v", err)
	}
}

func TestCreateRemove(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	dir := filepath.Join(m, root, "job")

	id, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sid, _ := ID(dir); sid != id || id == 0 {
		t.Errorf("Create returned id %d, ID says %d", id, sid)
	}
	if _, err := Create(dir); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: %v, want fs.ErrExist", err)
	}
	if _, err := Create(filepath.Join(m, root, "missing", "child")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create without parent: %v, want fs.ErrNotExist", err)
	}

	// A cgroup with a child cannot be removed.
	if _, err := Create(filepath.Join(dir, "child")); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir); !errors.Is(err, unix.EBUSY) {
		t.Errorf("Remove with child: %v, want EBUSY", err)
	}
	if err := Remove(filepath.Join(dir, "child")); err != nil {
		t.Fatal(err)
	}

	// Nor one with a process.
	pid, stop := startSleep(t)
	if err := MovePID(dir, pid); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir); !errors.Is(err, unix.EBUSY) {
		t.Errorf("Remove while populated: %v, want EBUSY", err)
	}
	stop()
	waitPopulated(t, dir, false)
	if err := Remove(dir); err != nil {
		t.Fatalf("Remove after the process exited: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dir still there: %v", err)
	}
	if err := Remove(dir); err != nil {
		t.Errorf("Remove of a missing cgroup: %v", err)
	}

	// A recreated cgroup gets a new id.
	id2, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Errorf("recreated cgroup reused id %d", id)
	}
}

func TestMovePIDPopulated(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	parent := filepath.Join(m, root)
	dir := filepath.Join(parent, "job")
	if _, err := Create(dir); err != nil {
		t.Fatal(err)
	}
	if pop, err := Populated(dir); err != nil || pop {
		t.Fatalf("new cgroup: Populated = %v, %v", pop, err)
	}

	pid, stop := startSleep(t)
	if err := MovePID(dir, pid); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, parent} {
		if pop, err := Populated(d); err != nil || !pop {
			t.Errorf("after MovePID: Populated(%s) = %v, %v", d, pop, err)
		}
	}
	stop()
	waitPopulated(t, dir, false)
	waitPopulated(t, parent, false)

	if err := MovePID(dir, pid); err == nil {
		t.Error("MovePID of a reaped process: no error")
	}
	if _, err := Populated(m); err == nil {
		t.Error("Populated of the root cgroup: no error (it has no cgroup.events)")
	}
}
