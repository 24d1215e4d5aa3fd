package doctor

import (
	"errors"

	"github.com/cilium/ebpf"

	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/intercept"
)

func checkCgroup2(*env) Check {
	return cgroup2Check(cgroup.Mount())
}

func cgroup2Check(mount string, err error) Check {
	switch {
	case err == nil:
		return Check{Status: OK, Detail: "mounted at " + mount}
	case errors.Is(err, cgroup.ErrNoCgroup2):
		return Check{
			Status: Fail,
			Detail: "no cgroup2 filesystem mounted",
			Fix:    "mount a cgroup2 filesystem (e.g. mount -t cgroup2 none /sys/fs/cgroup/unified) or boot with systemd.unified_cgroup_hierarchy=1",
		}
	default:
		return Check{
			Status: Fail,
			Detail: oneLine(err.Error()),
			Fix:    "make /proc/self/mountinfo readable (sluiced needs /proc mounted)",
		}
	}
}

func checkBPFFS(*env) Check {
	return bpffsCheck(intercept.FindBPFFS())
}

func bpffsCheck(mount string, err error) Check {
	switch {
	case err == nil:
		return Check{Status: OK, Detail: "mounted at " + mount}
	case errors.Is(err, intercept.ErrNoBPFFS):
		return Check{
			Status: Warn,
			Detail: "not mounted; sluiced mounts one at " + intercept.DefaultBPFFS + " when it starts",
		}
	default:
		return Check{
			Status: Warn,
			Detail: oneLine(err.Error()) + "; sluiced mounts one at " + intercept.DefaultBPFFS + " when none is found",
		}
	}
}

func checkObject(e *env) Check {
	if e.opts.VerifyObject == nil {
		return Check{Status: Warn, Detail: "not checked"}
	}
	if !e.privileged {
		return notRoot(e)
	}
	err := e.opts.VerifyObject()
	if err == nil {
		return Check{Status: OK, Detail: "sluice's programs and maps load and pass the verifier"}
	}
	c := Check{Status: Fail, Detail: oneLine(err.Error())}
	var verr *ebpf.VerifierError
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		c.Fix = notSupportedFix(e, "CONFIG_BPF_SYSCALL=y and CONFIG_CGROUP_BPF=y")
	case errors.As(err, &verr) && e.kernel.known() && e.kernel.less(minKernel):
		c.Fix = "upgrade to Linux 5.8 or later, whose verifier accepts sluice's programs"
	case errors.As(err, &verr):
		c.Fix = "report the verifier error, with the output of `uname -r`, to the sluice maintainers"
	default:
		c.Fix = errorFix(err)
	}
	return c
}
