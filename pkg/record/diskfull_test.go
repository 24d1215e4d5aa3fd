package record

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/pkg/privtest"
)

// smallFS mounts a 1 MiB tmpfs in a temporary directory for the test.
func smallFS(t *testing.T) string {
	t.Helper()
	privtest.Require(t)
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// events counts the events of a recording, failing on any inconsistency
// (a partial line included).
func events(t *testing.T, path string) uint64 {
	t.Helper()
	rd, f, err := OpenFile(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("recording inconsistent after a failed write: %v", err)
		}
	}
	_, n := rd.Head()
	return n
}

func TestDiskFull(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			mnt := smallFS(t)
			opts := Options{FsyncInterval: time.Hour}
			if encrypted {
				id, _ := age.GenerateX25519Identity()
				opts.Recipients = []string{id.Recipient().String()}
			}
			opts.OnError = func(error) {} // failures while the disk is full are expected
			dir := filepath.Join(mnt, "recordings")
			s := openAt(t, dir, installKey(t, t.TempDir()), opts)
			r, err := s.Create(pgHeader(idA))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Append(pgEvents()[1]); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, r.Path())
			filler := filepath.Join(mnt, "filler")
			big := &Statement{Text: "SELECT " + strings.Repeat("'x', ", 4000) + "1", Decision: DecisionAllow, Class: "select"}

			fill(t, filler)
			_, err = r.Append(big)
			if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Append on a full disk: %v, want ErrWrite and ENOSPC", err)
			}
			if !strings.Contains(err.Error(), "recording could not be written") {
				t.Errorf("unclear error: %v", err)
			}
			if n := events(t, path); n != 2 {
				t.Errorf("%d events after the failed write, want 2", n)
			}
			if _, err := s.Create(pgHeader(idB)); !errors.Is(err, ErrWrite) {
				t.Errorf("Create on a full disk: %v, want ErrWrite", err)
			}

			// Some room, less than the event needs: a partial write is cut.
			fi, _ := os.Stat(filler)
			if err := os.Truncate(filler, fi.Size()-8192); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Append(big); !errors.Is(err, ErrWrite) {
				t.Fatalf("Append with 8 KiB free: %v, want ErrWrite", err)
			}
			if n := events(t, path); n != 2 {
				t.Errorf("%d events after the partial write, want 2", n)
			}

			// Room again: appends work, numbered on from the last good one.
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if seq, err := r.Append(big); err != nil || seq != 2 {
				t.Fatalf("Append after space returned: %d, %v; want seq 2", seq, err)
			}

			// Full again while closing: Close fails, the store retries.
			// Small events first use up the room left in the file's last
			// page.
			fill(t, filler)
			n := uint64(3)
			for ; ; n++ {
				if _, err := r.Append(&Login{User: "etl_reader"}); err != nil {
					break
				}
			}
			if err := r.Close(Summary{Reason: "client_closed"}); !errors.Is(err, ErrWrite) {
				t.Fatalf("Close on a full disk: %v, want ErrWrite", err)
			}
			if err := s.Sync(); !errors.Is(err, ErrWrite) {
				t.Errorf("Sync while the end cannot be written: %v, want ErrWrite", err)
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(); err != nil {
				t.Fatalf("Sync after space returned: %v", err)
			}
			if got := events(t, path); got != n+1 {
				t.Errorf("%d events after closing, want %d", got, n+1)
			}
			rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 || len(rep.Recordings) != 1 || rep.Recordings[0].State != StateOK {
				t.Errorf("verify: %+v", rep)
			}
		})
	}
}
