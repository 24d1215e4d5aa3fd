package record

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// appendFile is a recording file open for appending complete lines.
//
// Once a recording has outgrown its first lines, its file is extended
// ahead of them with fallocate(2) and lines are copied into a shared
// mapping of that region. A line copied there is in the kernel's page
// cache as soon as the copy returns: it survives the daemon's death as a
// write(2) would (the syncer's fdatasync makes it survive the host's), and
// costs no system call. Until it is cut at the end, the file is longer
// than its lines, padded with zero bytes, which readers take for the end
// of the recording. Where the filesystem cannot preallocate, or
// preallocation fails (a full disk), lines are written with pwrite(2), as
// are a recording's first lines, so that short sessions cost no mapping.
//
// It is not safe for concurrent use; the Recording's mutex guards it.
type appendFile struct {
	f     *os.File
	size  int64  // bytes of complete lines
	alloc int64  // the file's length: size, or more while preallocated
	m     []byte // shared mapping of the file from base to alloc; nil: none
	base  int64
	// plainOnly: the filesystem cannot preallocate or map; pwrite(2) only.
	plainOnly bool
	// stuck is set when bytes of a failed append could not be removed
	// from the file: nothing more can be appended.
	stuck error
}

const (
	// mapAfter is the size from which a recording is mapped.
	mapAfter = 8 << 10
	// firstWindow and maxWindow bound the preallocation ahead of the
	// lines: it starts small and doubles up to maxWindow.
	firstWindow = 64 << 10
	maxWindow   = 1 << 20
)

var errFault = errors.New("memory fault writing to the mapped recording")

// append adds p after the complete lines. On error none of p counts as
// written; if part of it could not be removed, stuck is set.
func (a *appendFile) append(p []byte) error {
	end := a.size + int64(len(p))
	if end > a.base+int64(len(a.m)) && !a.plainOnly && end > mapAfter && len(p) <= maxWindow {
		a.remap(end)
	}
	if a.m != nil && end <= a.base+int64(len(a.m)) {
		if err := copyNoFault(a.m[a.size-a.base:], p); err != nil {
			a.stuck = err
			return err
		}
		a.size = end
		return nil
	}
	if n, err := a.pwrite(p); err != nil {
		if n > 0 {
			a.takeBack(a.size + int64(n))
		}
		return err
	}
	a.size = end
	a.alloc = max(a.alloc, end)
	return nil
}

// pwrite writes p after the lines and returns how much of it reached
// the file, also on error (os.File.WriteAt does not count a failed
// call's partial write).
func (a *appendFile) pwrite(p []byte) (int, error) {
	fd, n := int(a.f.Fd()), 0
	for n < len(p) {
		m, err := unix.Pwrite(fd, p[n:], a.size+int64(n))
		if m > 0 {
			n += m
		}
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return n, &os.PathError{Op: "write", Path: a.f.Name(), Err: err}
		case m == 0:
			return n, &os.PathError{Op: "write", Path: a.f.Name(), Err: io.ErrShortWrite}
		}
	}
	return n, nil
}

// takeBack removes the bytes of a failed write from the size of the
// lines to to: past the preallocated region by cutting the file, within
// it by writing zeros over them.
func (a *appendFile) takeBack(to int64) {
	var err error
	if to > a.alloc {
		err = a.f.Truncate(max(a.size, a.alloc))
	}
	if err == nil && min(to, a.alloc) > a.size {
		_, err = a.f.WriteAt(make([]byte, min(to, a.alloc)-a.size), a.size)
	}
	if err != nil {
		a.stuck = fmt.Errorf("a partial line could not be removed: %w", err)
	}
}

// remap maps a region of the file that holds at least end bytes,
// preallocating it first. When it cannot, the file is left unmapped
// and cut back to its lines.
func (a *appendFile) remap(end int64) {
	a.unmap()
	window := min(max(firstWindow, a.alloc), maxWindow)
	want := (end + window - 1) / window * window
	fd := int(a.f.Fd())
	if want > a.alloc {
		if err := unix.Fallocate(fd, 0, a.alloc, want-a.alloc); err != nil {
			if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
				a.plainOnly = true
			}
			a.cut()
			return
		}
		a.alloc = want
	}
	page := int64(os.Getpagesize())
	base := a.size &^ (page - 1)
	m, err := unix.Mmap(fd, base, int(a.alloc-base), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		a.plainOnly = true
		a.cut()
		return
	}
	a.m, a.base = m, base
}

// copyNoFault copies src into the mapping dst, turning a memory fault
// (a page the kernel cannot back) into an error instead of a crash.
func copyNoFault(dst, src []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			err = errFault
		}
	}()
	copy(dst, src)
	return nil
}

func (a *appendFile) unmap() {
	if a.m != nil {
		_ = unix.Munmap(a.m)
		a.m, a.base = nil, 0
	}
}

// cut gives back the preallocated space past the lines.
func (a *appendFile) cut() {
	if a.alloc > a.size && a.f.Truncate(a.size) == nil {
		a.alloc = a.size
	}
}

// finish unmaps the file and cuts it to its lines; appending after it
// goes through pwrite(2).
func (a *appendFile) finish() {
	a.unmap()
	a.plainOnly = true
	a.cut()
}

// sync makes the lines durable.
func (a *appendFile) sync() error {
	return unix.Fdatasync(int(a.f.Fd()))
}
