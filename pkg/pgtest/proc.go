package pgtest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc identifies a process started by this package: its PID and its start
// time, so that a PID reused by an unrelated process is never signalled.
type proc struct {
	pid   int
	start uint64 // clock ticks after boot, from /proc/<pid>/stat
}

// procStat reads the command name, state and start time of pid.
func procStat(pid int) (comm string, state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// Fields after the name start with the state (field 3); the start
	// time is field 22.
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return "", 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return "", 0, 0, fmt.Errorf("malformed /proc/%d/stat: %w", pid, err)
	}
	return string(b[open+1 : end]), f[0][0], start, nil
}

// findProc identifies pid, which must be a live process named comm and
// owned by uid.
func findProc(pid int, comm string, uid int) (proc, error) {
	if pid <= 1 {
		return proc{}, fmt.Errorf("bad pid %d", pid)
	}
	name, state, start, err := procStat(pid)
	if err != nil {
		return proc{}, err
	}
	if name != comm || state == 'Z' {
		return proc{}, fmt.Errorf("pid %d is %q in state %c, not %s", pid, name, state, comm)
	}
	fi, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	if err != nil {
		return proc{}, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
		return proc{}, fmt.Errorf("pid %d is not owned by uid %d", pid, uid)
	}
	return proc{pid: pid, start: start}, nil
}

// alive reports whether p still runs (a zombie does not).
func (p proc) alive() bool {
	if p.pid <= 1 {
		return false
	}
	_, state, start, err := procStat(p.pid)
	return err == nil && start == p.start && state != 'Z'
}

// waitGone polls until p has exited or timeout passes.
func (p proc) waitGone(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// kill ends p: SIGTERM, then SIGKILL if it is still alive after grace.
func (p proc) kill(grace time.Duration) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if !p.alive() {
			return nil
		}
		if err := syscall.Kill(p.pid, sig); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("pgtest: signal pid %d: %w", p.pid, err)
		}
		if p.waitGone(grace) {
			return nil
		}
	}
	return fmt.Errorf("pgtest: pid %d is still alive after SIGKILL", p.pid)
}
