package privtest

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BPFFS mounts a private bpffs in a temporary directory and returns a pin
// directory inside it. Whatever is pinned there is released when the mount
// is removed at the end of the test.
func BPFFS(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sluice-bpffs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		os.Remove(dir)
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount test bpffs %s: %v", dir, err)
		}
		os.Remove(dir)
	})
	return filepath.Join(dir, "sluice")
}
