// Package doctor tells an operator whether a host can run sluiced: kernel
// version, privileges, the cgroup2 and bpffs mounts, and the eBPF program
// types, map types, helpers and attach types the redirect programs use,
// each probed against the running kernel. Every problem comes with its fix
// in one sentence.
//
// Nothing is ever attached: the probes load throwaway programs and maps,
// and bpf_link support is probed with a target that is not a cgroup.
package doctor

import (
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf/rlimit"
)

// Status is the outcome of one check.
type Status int

const (
	// OK means the host meets the requirement.
	OK Status = iota
	// Warn means sluiced can run, but something is worth knowing.
	Warn
	// Fail means sluiced cannot run here until the problem is fixed.
	Fail
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Check is the result of one check.
type Check struct {
	Name   string
	Status Status
	// Detail says what was found, on one line.
	Detail string
	// Fix says what to do about it, in one sentence (lower case, no final
	// period: it is printed after "fix: "). Empty when Status is OK, and
	// for warnings that need no action.
	Fix string
}

// Options configures Run.
type Options struct {
	// VerifyObject loads sluice's compiled BPF collection into the kernel
	// without attaching it, and releases it again. When nil the check is
	// reported as a warning, "not checked".
	VerifyObject func() error
}

// Names of the checks, in the order Run reports them.
const (
	nameKernel     = "kernel"
	namePrivileges = "privileges"
	nameCgroup2    = "cgroup2"
	nameBPFFS      = "bpffs"
	nameBTF        = "BTF"
	nameProgTypes  = "program types"
	nameMapTypes   = "map types"
	nameSockAddr   = "sock_addr helpers"
	nameSockOps    = "sock_ops helpers"
	nameAttach     = "attach types"
	nameLink       = "cgroup bpf_link"
	nameObject     = "BPF object"
)

// env is what the checks learn about the host and share with later checks.
type env struct {
	opts Options

	// kernel is the running kernel's version, zero when unknown.
	kernel kernelVersion
	// privileged is set by checkPrivileges when the process may use bpf(2)
	// for everything sluiced does; privNeed names what is missing when not.
	privileged bool
	privNeed   string

	prepare sync.Once
}

type step struct {
	name string
	run  func(*env) Check
}

// steps are run in order; checkKernel and checkPrivileges come first because
// the probes use what they find.
var steps = []step{
	{nameKernel, checkKernel},
	{namePrivileges, checkPrivileges},
	{nameCgroup2, checkCgroup2},
	{nameBPFFS, checkBPFFS},
	{nameBTF, checkBTF},
	{nameProgTypes, needsRoot(checkProgramTypes)},
	{nameMapTypes, needsRoot(checkMapTypes)},
	{nameSockAddr, needsRoot(checkSockAddrHelpers)},
	{nameSockOps, needsRoot(checkSockOpsHelpers)},
	{nameAttach, needsRoot(checkAttachTypes)},
	{nameLink, needsRoot(checkCgroupLink)},
	{nameObject, checkObject},
}

// Run runs every check and returns the results in a fixed order. It never
// panics, and works without privileges: the probes that need them are then
// reported as failures saying so.
//
// When privileged it lifts the process's RLIMIT_MEMLOCK (needed to create
// BPF objects on kernels before 5.11), as sluiced itself does.
func Run(opts Options) []Check {
	e := &env{opts: opts}
	out := make([]Check, 0, len(steps))
	for _, s := range steps {
		c := runStep(e, s.run)
		c.Name = s.name
		out = append(out, c)
	}
	return out
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

func runStep(e *env, fn func(*env) Check) (c Check) {
	defer func() {
		if r := recover(); r != nil {
			c = Check{
				Status: Fail,
				Detail: oneLine(fmt.Sprintf("internal error: %v", r)),
				Fix:    "report this as a sluice bug, with the output of `sluice doctor` and `uname -a`",
			}
		}
	}()
	return fn(e)
}

// needsRoot skips fn when the process lacks the privileges to use bpf(2).
func needsRoot(fn func(*env) Check) func(*env) Check {
	return func(e *env) Check {
		if !e.privileged {
			return notRoot(e)
		}
		e.prepare.Do(func() {
			// Best effort: on kernels with memcg accounting (5.11+) this
			// is a no-op, and on older ones a failure shows up as ENOMEM
			// or EPERM in the probes, with its own fix.
			_ = rlimit.RemoveMemlock()
		})
		return fn(e)
	}
}

func notRoot(e *env) Check {
	d := "needs root"
	if e.privNeed != "" {
		d += " (" + e.privNeed + ")"
	}
	return Check{Status: Fail, Detail: d, Fix: "run as root"}
}

// oneLine keeps a detail on one table row.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	var b strings.Builder
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteByte(' ')
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}
