package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// probe is one kernel feature sluiced depends on.
type probe struct {
	label  string       // as shown in Detail
	since  string       // first mainline kernel that has it
	config string       // kernel config it depends on: "CONFIG_X=y[ and CONFIG_Y=y]"
	run    func() error // nil, ebpf.ErrNotSupported, or why the probe failed
}

const (
	cfgSyscall   = "CONFIG_BPF_SYSCALL=y"
	cfgCgroupBPF = "CONFIG_CGROUP_BPF=y"
	cfgCgroups   = "CONFIG_CGROUPS=y"
	cfgProgTypes = cfgSyscall + " and " + cfgCgroupBPF
)

func checkProgramTypes(e *env) Check {
	pt := func(t ebpf.ProgramType, since string) probe {
		return probe{t.String(), since, cfgProgTypes, func() error { return features.HaveProgramType(t) }}
	}
	return runProbes(e, "", []probe{
		pt(ebpf.CGroupSockAddr, "4.17"),
		pt(ebpf.SockOps, "4.13"),
	})
}

func checkMapTypes(e *env) Check {
	// The LPMTrie probe creates the map with BPF_F_NO_PREALLOC, as sluice does.
	mt := func(t ebpf.MapType, since string) probe {
		return probe{t.String(), since, cfgSyscall, func() error { return features.HaveMapType(t) }}
	}
	return runProbes(e, "", []probe{
		mt(ebpf.Hash, "3.19"),
		mt(ebpf.LRUHash, "4.10"),
		mt(ebpf.LPMTrie, "4.11"),
		mt(ebpf.PerCPUArray, "4.6"),
		mt(ebpf.Array, "3.19"),
	})
}

func helper(pt ebpf.ProgramType, fn asm.BuiltinFunc, label, since, config string) probe {
	return probe{label, since, config, func() error { return features.HaveProgramHelper(pt, fn) }}
}

// checkSockAddrHelpers probes the helpers bpf/redirect.c calls from its
// cgroup/connect{4,6} and cgroup/getpeername{4,6} programs.
func checkSockAddrHelpers(e *env) Check {
	h := func(fn asm.BuiltinFunc, label, since, config string) probe {
		return helper(ebpf.CGroupSockAddr, fn, label, since, config)
	}
	ps := []probe{
		h(asm.FnMapLookupElem, "map_lookup_elem", "4.17", cfgSyscall),
		h(asm.FnMapUpdateElem, "map_update_elem", "4.17", cfgSyscall),
		h(asm.FnGetCurrentPidTgid, "get_current_pid_tgid", "5.7", cfgSyscall),
		h(asm.FnGetCurrentUidGid, "get_current_uid_gid", "4.17", cfgSyscall),
		h(asm.FnGetCurrentComm, "get_current_comm", "5.7", cfgSyscall),
		h(asm.FnGetSocketCookie, "get_socket_cookie", "4.19", cfgSyscall),
		h(asm.FnGetCurrentCgroupId, "get_current_cgroup_id", "5.7", cfgCgroups),
		h(asm.FnGetCurrentAncestorCgroupId, "get_current_ancestor_cgroup_id", "5.7", cfgCgroups),
	}
	return runProbes(e, fmt.Sprintf("all %d available to CGroupSockAddr", len(ps)), ps)
}

// checkSockOpsHelpers probes the helpers of the sockops program.
func checkSockOpsHelpers(e *env) Check {
	h := func(fn asm.BuiltinFunc, label, since string) probe {
		return helper(ebpf.SockOps, fn, label, since, cfgSyscall)
	}
	ps := []probe{
		h(asm.FnGetSocketCookie, "get_socket_cookie", "4.19"),
		h(asm.FnSockOpsCbFlagsSet, "sock_ops_cb_flags_set", "4.16"),
		h(asm.FnMapLookupElem, "map_lookup_elem", "4.13"),
		h(asm.FnMapUpdateElem, "map_update_elem", "4.13"),
		h(asm.FnMapDeleteElem, "map_delete_elem", "4.13"),
	}
	return runProbes(e, fmt.Sprintf("all %d available to SockOps", len(ps)), ps)
}

// attachPoint is a program section of bpf/redirect.c and how it attaches.
type attachPoint struct {
	section string
	prog    ebpf.ProgramType
	attach  ebpf.AttachType
	since   string
}

var attachPoints = []attachPoint{
	{"cgroup/connect4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect, "4.17"},
	{"cgroup/connect6", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Connect, "4.17"},
	{"cgroup/getpeername4", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetPeername, "5.8"},
	{"cgroup/getpeername6", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetPeername, "5.8"},
	{"sockops", ebpf.SockOps, ebpf.AttachCGroupSockOps, "4.13"},
	{"cgroup/bind4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind, "4.17"},
	{"cgroup/bind6", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Bind, "4.17"},
}

// loadTrivial loads a program that returns 1 (allow, and the only value a
// getpeername program may return) with the given expected attach type. The
// kernel refuses an expected attach type it does not know with EINVAL.
func loadTrivial(ap attachPoint) (*ebpf.Program, error) {
	spec := &ebpf.ProgramSpec{
		Name:    "sluice_doctor",
		Type:    ap.prog,
		License: "Dual BSD/GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
		},
	}
	if ap.prog == ebpf.CGroupSockAddr {
		// sockops programs have no expected attach type.
		spec.AttachType = ap.attach
	}
	prog, err := ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{LogDisabled: true})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.E2BIG) {
		return nil, fmt.Errorf("%w: %w", ebpf.ErrNotSupported, err)
	}
	return prog, err
}

// checkAttachTypes loads a trivial program for each cgroup/connect and
// cgroup/getpeername attach type (getpeername is the newest, 5.8).
func checkAttachTypes(e *env) Check {
	var ps []probe
	for _, ap := range attachPoints {
		if ap.prog != ebpf.CGroupSockAddr {
			continue
		}
		ps = append(ps, probe{ap.section, ap.since, cfgCgroupBPF, func() error {
			prog, err := loadTrivial(ap)
			if err == nil {
				prog.Close()
			}
			return err
		}})
	}
	return runProbes(e, "", ps)
}

// checkCgroupLink checks that BPF_LINK_CREATE accepts each of sluice's
// programs for its attach type. The target is /dev/null, not a cgroup: a
// kernel with cgroup bpf_link checks the program and attach type, then fails
// looking up the cgroup with EBADF. Nothing is attached anywhere.
func checkCgroupLink(e *env) Check {
	var ps []probe
	for _, ap := range attachPoints {
		ps = append(ps, probe{ap.section, "5.7", cfgCgroupBPF, func() error { return probeCgroupLink(ap) }})
	}
	return runProbes(e, fmt.Sprintf("BPF_LINK_CREATE accepts all %d attach types (probed without attaching)", len(ps)), ps)
}

func probeCgroupLink(ap attachPoint) error {
	prog, err := loadTrivial(ap)
	if err != nil {
		return fmt.Errorf("load probe program: %w", err)
	}
	defer prog.Close()

	notCgroup, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer notCgroup.Close()

	l, err := link.AttachRawLink(link.RawLinkOptions{
		Target:  int(notCgroup.Fd()),
		Program: prog,
		Attach:  ap.attach,
	})
	switch {
	case err == nil:
		// Cannot happen: /dev/null is no cgroup. Detach at once.
		l.Close()
		return errors.New("kernel accepted /dev/null as a cgroup")
	case errors.Is(err, unix.EBADF):
		return nil
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%w: %w", ebpf.ErrNotSupported, err)
	}
	return err
}

// runProbes runs ps and folds the results into one Check. okDetail is the
// Detail when everything is available; empty means the list of labels.
func runProbes(e *env, okDetail string, ps []probe) Check {
	var (
		problems []string
		configs  []string
		other    error
	)
	for _, p := range ps {
		err := p.run()
		switch {
		case err == nil:
			continue
		case errors.Is(err, ebpf.ErrNotSupported):
			problems = append(problems, fmt.Sprintf("%s not supported (Linux %s+)", p.label, p.since))
			for _, cfg := range strings.Split(p.config, " and ") {
				if !slices.Contains(configs, cfg) {
					configs = append(configs, cfg)
				}
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: %v", p.label, err))
			if other == nil {
				other = err
			}
		}
	}
	if len(problems) == 0 {
		if okDetail == "" {
			labels := make([]string, len(ps))
			for i, p := range ps {
				labels[i] = p.label
			}
			okDetail = strings.Join(labels, ", ")
		}
		return Check{Status: OK, Detail: okDetail}
	}
	c := Check{Status: Fail, Detail: oneLine(strings.Join(problems, "; "))}
	if other != nil {
		c.Fix = errorFix(other)
	} else {
		c.Fix = notSupportedFix(e, strings.Join(configs, " and "))
	}
	return c
}

// notSupportedFix is the fix for a feature the kernel lacks: a newer kernel
// when this one is older than sluice's minimum, else the config options.
func notSupportedFix(e *env, config string) string {
	switch {
	case !e.kernel.known():
		return fmt.Sprintf("upgrade to Linux %s or later, built with %s", minKernel, config)
	case e.kernel.less(minKernel):
		return fmt.Sprintf("upgrade to Linux %s or later (this is %s), built with %s", minKernel, e.kernel, config)
	default:
		return fmt.Sprintf("use a kernel built with %s (Linux %s is new enough, so this one was configured without it; see /boot/config-$(uname -r))", config, e.kernel)
	}
}

// errorFix is the fix for a probe that failed for another reason than a
// missing feature.
func errorFix(err error) string {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES), errors.Is(err, fs.ErrPermission):
		return "run as root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN, and check that no seccomp profile or security module (container runtime, kernel lockdown) blocks bpf(2)"
	case errors.Is(err, unix.ENOSYS):
		return "use a kernel built with " + cfgSyscall + " (this one has no bpf(2) system call)"
	case errors.Is(err, unix.ENOMEM):
		return "raise the locked-memory limit for sluiced (LimitMEMLOCK=infinity in its systemd unit, or ulimit -l unlimited)"
	}
	return "the kernel refused the probe for a reason other than a missing feature: check the error above and dmesg"
}
