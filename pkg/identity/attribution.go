package identity

import (
	"os"
	"strconv"
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
	// OIDC is the verified token the identity was claimed with (sluice run
	// --oidc-token-file, or a token presented as a password); nil when
	// there is none.
	OIDC *OIDC
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
