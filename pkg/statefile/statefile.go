package statefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrTooLarge is returned by Read for a file over its size bound.
var ErrTooLarge = errors.New("file too large")

// ErrNotPrivate is returned by Read for a file that is not a regular file
// owned by the daemon's user with no access for group or others: someone
// else could have written it.
var ErrNotPrivate = errors.New("not a private file of the daemon's user")

// WriteAtomic writes data to a new file (mode 0600) beside path, syncs
// it, renames it over path and syncs the directory.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Read returns the content of the private file at path, at most max
// bytes. A missing file is an error wrapping fs.ErrNotExist; a symbolic
// link, a file that is not regular, owned by another user or open to
// group or others wraps ErrNotPrivate; a longer one ErrTooLarge.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s: %w: it is a symbolic link", path, ErrNotPrivate)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := private(fi); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrNotPrivate, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: over %d bytes", path, ErrTooLarge, max)
	}
	return data, nil
}

// private checks that fi is a regular file of the daemon's user, closed
// to group and others.
func private(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("mode %s is not a regular file", fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o gives access to group or others (want 0600)", perm)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no owner information")
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("owned by uid %d, not by uid %d", st.Uid, uid)
	}
	return nil
}
