package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// diskIO is what a block device has done since boot: write requests and
// cache flush requests completed.
type diskIO struct {
	writes, flushes int64
}

// deviceOf returns the major and minor numbers of the device holding path.
func deviceOf(path string) (major, minor uint32, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, err
	}
	return unix.Major(st.Dev), unix.Minor(st.Dev), nil
}

// deviceIO reads the counters of device major:minor from /proc/diskstats.
func deviceIO(major, minor uint32) (diskIO, error) {
	b, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return diskIO{}, err
	}
	return parseDiskstats(b, major, minor)
}

// parseDiskstats finds device major:minor in /proc/diskstats. Its fields
// (Documentation/admin-guide/iostats.rst): major, minor, name, then reads
// (4), writes completed (5th field after the name: index 7), ..., flush
// requests completed (index 18, kernels since 5.5).
func parseDiskstats(b []byte, major, minor uint32) (diskIO, error) {
	want := [2]string{strconv.FormatUint(uint64(major), 10), strconv.FormatUint(uint64(minor), 10)}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != want[0] || f[1] != want[1] {
			continue
		}
		if len(f) < 19 {
			return diskIO{}, fmt.Errorf("/proc/diskstats: device %s:%s has no flush counters", want[0], want[1])
		}
		w, err := strconv.ParseInt(f[7], 10, 64)
		if err != nil {
			return diskIO{}, fmt.Errorf("/proc/diskstats: %w", err)
		}
		fl, err := strconv.ParseInt(f[18], 10, 64)
		if err != nil {
			return diskIO{}, fmt.Errorf("/proc/diskstats: %w", err)
		}
		return diskIO{writes: w, flushes: fl}, nil
	}
	return diskIO{}, errors.New("/proc/diskstats: device not listed")
}
