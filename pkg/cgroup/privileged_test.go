package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requirePrivileged skips the test unless it runs as root on a host with a
// writable cgroup2 mount, and returns that mount. With
// SLUICE_REQUIRE_PRIVILEGED=1 it fails instead of skipping, so CI on a
// privileged runner cannot silently skip these tests.
func requirePrivileged(t *testing.T) string {
	t.Helper()
	skip := t.Skip
	if os.Getenv("SLUICE_REQUIRE_PRIVILEGED") == "1" {
		skip = t.Fatal
	}
	if os.Geteuid() != 0 {
		skip("privileged test: needs root")
	}
	m, err := Mount()
	if err != nil {
		skip("privileged test: no cgroup2 mount: ", err)
	}
	if err := unix.Access(m, unix.W_OK); err != nil {
		skip("privileged test: cgroup2 mount ", m, " not writable: ", err)
	}
	return m
}

// testCgroup creates a uniquely named cgroup directly under the cgroup2
// mount and returns its cgroup path. Cleanup removes it and everything
// below it, deepest first; it only ever removes what lies under the
// directory created here.
func testCgroup(t *testing.T, mount string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := "/sluice-test-" + hex.EncodeToString(b)
	dir := filepath.Join(mount, p)
	if _, err := Create(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTestTree(t, mount, dir) })
	return p
}

func removeTestTree(t *testing.T, mount, dir string) {
	t.Helper()
	if !strings.HasPrefix(dir, filepath.Join(mount, "sluice-test-")) {
		t.Fatalf("refusing to remove %s: not a test cgroup", dir)
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	slices.Reverse(dirs) // WalkDir is pre-order: reversed, children come first
	for _, d := range dirs {
		// A process killed just before may take a moment to leave.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := Remove(d)
			if err == nil {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				t.Errorf("cleanup: %v", err)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// startSleep starts a "sleep 30" owned by the test and returns its PID and
// a function that kills it (by that PID) and reaps it; the function is
// idempotent and also runs at cleanup.
func startSleep(t *testing.T) (int, func()) {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return cmd.Process.Pid, stop
}

// mustCreate creates the cgroup path p (relative to the mount) and returns
// its id.
func mustCreate(t *testing.T, mount, p string) uint64 {
	t.Helper()
	id, err := Create(filepath.Join(mount, p))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitPopulated polls until Populated(dir) == want. The kernel updates the
// flag when a task exits, which can trail the parent's wait by a moment.
func waitPopulated(t *testing.T, dir string, want bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := Populated(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Populated(%s) = %v, want %v", dir, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
