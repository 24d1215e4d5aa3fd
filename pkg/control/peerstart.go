package control

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStart returns when process pid started, in clock ticks since boot
// (field 22 of /proc/PID/stat): with the pid, it names one process, where
// the pid alone may be reused once that process has exited.
func procStart(pid int32) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields are after the last ')'. State is field 3, starttime 22.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Current reports whether process p.PID is still the process that
// connected: the kernel names the connecting process by its pid, which a
// new process can take once it has exited. What acts on the process by
// its pid (moving it to a cgroup, reading its cgroup) checks this first.
func (p Peer) Current() bool {
	if p.start == 0 {
		return false
	}
	s, err := procStart(p.PID)
	return err == nil && s == p.start
}
