package identity

import (
	"os"
	"strconv"
	"strings"
)

// Attribution is who made a connection, as far as the kernel can tell.
type Attribution struct {
	PID      uint32
	UID      uint32
	GID      uint32
	Comm     string // the task's comm at connect time
	Exe      string // /proc/PID/exe, read at accept time ("" if the process is gone)
	CgroupID uint64
	Cgroup   string // cgroup path relative to the cgroup2 mount
	Unit     string // systemd unit owning the cgroup, if any
}

// Exe reads the executable of a live process; "" when it cannot be read
// (the process already exited, or a kernel thread).
func Exe(pid uint32) string {
	p, err := os.Readlink("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/exe")
	if err != nil {
		return ""
	}
	return p
}

// UnitOf names the systemd unit owning a cgroup path: the deepest component
// ending in .service or .scope; "" if none.
func UnitOf(cgroupPath string) string {
	for p := cgroupPath; p != "" && p != "/" && p != "."; {
		i := strings.LastIndexByte(p, '/')
		base := p[i+1:]
		if strings.HasSuffix(base, ".service") || strings.HasSuffix(base, ".scope") {
			return base
		}
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return ""
}
