package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ErrNoCgroup2 means no cgroup2 filesystem is mounted (or, from PathOfPID,
// the process has no cgroup2 membership line).
var ErrNoCgroup2 = errors.New("cgroup: no cgroup2 filesystem mounted")

// Mount returns the mount point of the first cgroup2 filesystem listed in
// /proc/self/mountinfo, e.g. "/sys/fs/cgroup" on a pure v2 host or
// "/sys/fs/cgroup/unified" on a hybrid one. It returns ErrNoCgroup2 if there
// is none.
func Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	defer f.Close()
	return parseMountInfo(f)
}

// parseMountInfo returns the mount point of the first cgroup2 entry of a
// mountinfo file (proc(5)):
//
//	41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
//
// Field 5 is the mount point; the filesystem type follows the "-" that ends
// the variable list of optional fields.
func parseMountInfo(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) || fields[sep+1] != "cgroup2" {
			continue
		}
		return unescapeMountInfo(fields[4]), nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cgroup: read mountinfo: %w", err)
	}
	return "", ErrNoCgroup2
}

// unescapeMountInfo undoes the octal escaping (\040 for a space, \011, \012,
// \134) the kernel applies to paths in mountinfo.
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
