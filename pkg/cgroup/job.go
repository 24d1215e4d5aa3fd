package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Create makes the cgroup directory dir (mode 0755; its parent must exist)
// and returns the new cgroup's id. If dir already exists the error wraps
// fs.ErrExist.
func Create(dir string) (uint64, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, fmt.Errorf("cgroup: create: %w", err)
	}
	return ID(dir)
}

// Remove removes the cgroup directory dir, which must have no child
// cgroups. Removing a cgroup that still has processes fails with an error
// wrapping unix.EBUSY; a dir that does not exist is not an error.
func Remove(dir string) error {
	if err := unix.Rmdir(dir); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("cgroup: remove %s: %w", dir, err)
	}
	return nil
}

// MovePID moves process pid (all of its threads) into the cgroup directory
// dir by writing it to dir/cgroup.procs.
func MovePID(dir string, pid int) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cgroup: move pid %d: %w", pid, err)
	}
	_, werr := f.WriteString(strconv.Itoa(pid))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("cgroup: move pid %d to %s: %w", pid, dir, werr)
	}
	if cerr != nil {
		return fmt.Errorf("cgroup: move pid %d to %s: %w", pid, dir, cerr)
	}
	return nil
}

// Populated reports whether the cgroup directory dir or any cgroup below it
// has live processes, from the "populated" key of dir/cgroup.events. The
// root cgroup has no cgroup.events.
func Populated(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false, fmt.Errorf("cgroup: populated: %w", err)
	}
	defer f.Close()
	p, err := parseEvents(f)
	if err != nil {
		return false, fmt.Errorf("cgroup: populated %s: %w", dir, err)
	}
	return p, nil
}

// parseEvents returns the value of the "populated" key of a cgroup.events
// file ("populated 1\nfrozen 0\n").
func parseEvents(r io.Reader) (bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != "populated" {
			continue
		}
		switch v {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return false, fmt.Errorf("bad populated value %q", v)
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, errors.New("no populated key in cgroup.events")
}

// gone reports whether err means a cgroup disappeared under us.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
}
