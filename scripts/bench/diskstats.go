package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// diskIO is what a block device has done since boot: write requests and
// cache flush requests completed.
type diskIO struct {
	writes, flushes int64
}

// disk is the block device whose requests are counted: the whole disk
// holding a directory (the kernel counts flushes on the whole disk, not
// on its partitions). ok is false where there is none (tmpfs, btrfs,
// overlay: no block device of their own in /proc/diskstats).
type disk struct {
	major, minor uint32
	ok           bool
}

// diskOf returns the disk holding path.
func diskOf(path string) disk {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return disk{}
	}
	d := disk{major: unix.Major(st.Dev), minor: unix.Minor(st.Dev)}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", d.major, d.minor)
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		real, err := filepath.EvalSymlinks(sys)
		if err != nil {
			return disk{}
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(real), "dev"))
		if err != nil {
			return disk{}
		}
		maj, min, found := strings.Cut(strings.TrimSpace(string(b)), ":")
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if !found || err1 != nil || err2 != nil {
			return disk{}
		}
		d.major, d.minor = uint32(ma), uint32(mi)
	}
	_, err := deviceIO(d.major, d.minor)
	d.ok = err == nil
	return d
}

// io returns the disk's counters, or NaNs when it has none.
func (d disk) io() (writes, flushes float64) {
	if !d.ok {
		return math.NaN(), math.NaN()
	}
	c, err := deviceIO(d.major, d.minor)
	if err != nil {
		return math.NaN(), math.NaN()
	}
	return float64(c.writes), float64(c.flushes)
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
