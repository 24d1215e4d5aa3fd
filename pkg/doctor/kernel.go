package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelVersion is a mainline kernel version, major.minor.
type kernelVersion struct{ major, minor int }

// minKernel is the oldest kernel sluiced runs on: cgroup/getpeername4 and
// getpeername6 appeared in 5.8 (bpf_link for cgroups in 5.7).
var minKernel = kernelVersion{5, 8}

func (v kernelVersion) known() bool { return v.major > 0 }

func (v kernelVersion) less(o kernelVersion) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	return v.minor < o.minor
}

func (v kernelVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// parseRelease reads the version at the start of a uname release such as
// "6.18.44-fc-v509" or "5.15.0-91-generic".
func parseRelease(rel string) (kernelVersion, bool) {
	num := func(s string) (int, string, bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(s[:i])
		return n, s[i:], err == nil
	}
	major, rest, ok := num(rel)
	if !ok || major == 0 || !strings.HasPrefix(rest, ".") {
		return kernelVersion{}, false
	}
	minor, _, ok := num(rest[1:])
	if !ok {
		return kernelVersion{}, false
	}
	return kernelVersion{major, minor}, true
}

func unameRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

func checkKernel(e *env) Check {
	rel, err := unameRelease()
	if err != nil {
		return Check{Status: Warn, Detail: oneLine("uname: " + err.Error())}
	}
	return kernelCheck(e, rel)
}

func kernelCheck(e *env, rel string) Check {
	v, ok := parseRelease(rel)
	if !ok {
		return Check{
			Status: Warn,
			Detail: fmt.Sprintf("%s: cannot tell the version; sluiced needs Linux %s or later", rel, minKernel),
		}
	}
	e.kernel = v
	if v.less(minKernel) {
		return Check{
			Status: Fail,
			Detail: fmt.Sprintf("%s is older than %s", rel, minKernel),
			Fix:    "upgrade to Linux 5.8 or later (bpf_link for cgroups)",
		}
	}
	return Check{Status: OK, Detail: fmt.Sprintf("%s (>= %s)", rel, minKernel)}
}

// Capabilities sluiced needs: CAP_BPF to load programs and create maps,
// CAP_NET_ADMIN for the cgroup socket programs, CAP_SYS_ADMIN to mount
// bpffs and manage cgroups. CAP_SYS_ADMIN also grants what CAP_BPF does
// (and kernels before 5.8 have no CAP_BPF), so CAP_BPF alone is never the
// missing piece.
var neededCaps = []struct {
	bit  uint
	name string
}{
	{unix.CAP_BPF, "CAP_BPF"},
	{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"},
	{unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
}

// missingCaps lists the needed capabilities absent from the effective set.
func missingCaps(eff uint64) []string {
	has := func(bit uint) bool { return eff&(1<<bit) != 0 }
	var missing []string
	for _, c := range neededCaps {
		if has(c.bit) || (c.bit == unix.CAP_BPF && has(unix.CAP_SYS_ADMIN)) {
			continue
		}
		missing = append(missing, c.name)
	}
	return missing
}

var errNoCapEff = errors.New("no CapEff line")

// parseCapEff reads the effective capability set from /proc/<pid>/status.
func parseCapEff(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errNoCapEff
}

func readCapEff() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseCapEff(f)
}

func checkPrivileges(e *env) Check {
	eff, err := readCapEff()
	return privilegesCheck(e, os.Geteuid(), eff, err)
}

func privilegesCheck(e *env, euid int, eff uint64, capErr error) Check {
	who := "root"
	if euid != 0 {
		who = fmt.Sprintf("uid %d", euid)
	}
	if capErr != nil {
		// Without /proc there is no telling; root usually has everything.
		e.privileged = euid == 0
		if e.privileged {
			return Check{Status: Warn, Detail: oneLine(fmt.Sprintf("root, but cannot read effective capabilities: %v", capErr))}
		}
		e.privNeed = "not root"
		return Check{Status: Fail, Detail: oneLine(fmt.Sprintf("%s, cannot read effective capabilities: %v", who, capErr)), Fix: "run as root"}
	}
	missing := missingCaps(eff)
	if len(missing) == 0 {
		e.privileged = true
		return Check{Status: OK, Detail: who + " with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN"}
	}
	e.privNeed = "missing " + strings.Join(missing, ", ")
	c := Check{Status: Fail, Detail: who + ", " + e.privNeed, Fix: "run as root"}
	if euid == 0 {
		// Root without the capabilities: a container or a bounding set.
		c.Fix = "run as root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN (in a container: add them or run it privileged)"
	}
	return c
}

const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

func checkBTF(*env) Check {
	_, err := os.Stat(vmlinuxBTF)
	return btfCheck(err)
}

func btfCheck(statErr error) Check {
	switch {
	case statErr == nil:
		return Check{Status: OK, Detail: vmlinuxBTF + " present (informational)"}
	case errors.Is(statErr, fs.ErrNotExist):
		return Check{
			Status: Warn,
			Detail: vmlinuxBTF + " missing (CONFIG_DEBUG_INFO_BTF); not required by sluice's programs",
		}
	default:
		return Check{Status: Warn, Detail: oneLine(fmt.Sprintf("%s: %v; not required by sluice's programs", vmlinuxBTF, statErr))}
	}
}
