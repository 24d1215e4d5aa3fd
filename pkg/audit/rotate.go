package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

// rotatingFile appends event lines to a file and rotates it by size. When
// a write would take the file past maxSize, the file becomes path.1 (and
// path.1 path.2, and so on), the oldest beyond keep is removed, and a new
// file is started. A write is never split across two files, so a file may
// exceed maxSize by at most one write (a batch of at most maxBuffered
// bytes); lines are never split at all. maxSize 0 never rotates.
//
// If rotating fails (a rename refused, say), writing goes on to the
// current file and rotation is tried again at the next write; the error
// is returned by that write.
type rotatingFile struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	keep    int
	f       *os.File
	size    int64
}

// openRotating opens path for appending (created 0600).
func openRotating(path string, maxSize int64, keep int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, maxSize: maxSize, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: open log file: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past maxSize.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rerr error
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		rerr = r.rotate()
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err == nil && rerr != nil {
		err = rerr
	}
	return n, err
}

// rotate shifts path.N-1 to path.N down to path to path.1, then opens a
// new path. With keep 0 the full file is removed.
func (r *rotatingFile) rotate() error {
	shift := func(from, to string) error {
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: rotate log file: %w", err)
		}
		return nil
	}
	for i := r.keep - 1; i >= 1; i-- {
		if err := shift(r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1)); err != nil {
			return err
		}
	}
	if r.keep > 0 {
		if err := shift(r.path, r.path+".1"); err != nil {
			return err
		}
	} else if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit: rotate log file: %w", err)
	}
	old := r.f
	if err := r.open(); err != nil {
		return err
	}
	return old.Close()
}

// Close closes the current file.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
