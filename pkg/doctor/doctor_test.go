package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/privtest"
)

var wantNames = []string{
	"kernel", "privileges", "cgroup2", "bpffs", "BTF",
	"program types", "map types", "sock_addr helpers", "sock_ops helpers",
	"attach types", "cgroup bpf_link", "BPF object",
}

func names(checks []Check) []string {
	var n []string
	for _, c := range checks {
		n = append(n, c.Name)
	}
	return n
}

// loadObject loads the compiled redirect object (the one pkg/intercept
// embeds) into the kernel without attaching it.
func loadObject() error {
	spec, err := ebpf.LoadCollectionSpec("../intercept/redirect_bpfel.o")
	if err != nil {
		return err
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return err
	}
	coll.Close()
	return nil
}

func TestRunNames(t *testing.T) {
	checks := Run(Options{})
	var buf bytes.Buffer
	Print(&buf, checks)
	t.Logf("Run(Options{}) as uid %d:\n%s", os.Geteuid(), buf.String())
	if got := names(checks); !slices.Equal(got, wantNames) {
		t.Fatalf("check names:\n got %q\nwant %q", got, wantNames)
	}
	for _, c := range checks {
		if c.Status < OK || c.Status > Fail {
			t.Errorf("%s: status %v", c.Name, c.Status)
		}
		if c.Detail == "" {
			t.Errorf("%s: empty detail", c.Name)
		}
		if c.Status == Fail && c.Fix == "" {
			t.Errorf("%s: fails without a fix: %s", c.Name, c.Detail)
		}
		if c.Status == OK && c.Fix != "" {
			t.Errorf("%s: OK with a fix: %s", c.Name, c.Fix)
		}
		if strings.Contains(c.Detail, "\n") || strings.Contains(c.Fix, "\n") {
			t.Errorf("%s: multi-line detail or fix: %q %q", c.Name, c.Detail, c.Fix)
		}
	}
	obj := checks[len(checks)-1]
	if obj.Status != Warn || obj.Detail != "not checked" {
		t.Errorf("object without VerifyObject: %+v", obj)
	}
}

func TestRunPrivileged(t *testing.T) {
	privtest.Require(t)
	checks := Run(Options{VerifyObject: loadObject})
	var buf bytes.Buffer
	Print(&buf, checks)
	t.Logf("sluice doctor on this host:\n%s", buf.String())
	for _, c := range checks {
		if c.Status == Fail {
			t.Errorf("%s failed: %s (fix: %s)", c.Name, c.Detail, c.Fix)
		}
	}
	if Failed(checks) {
		t.Error("Failed = true")
	}
	for _, c := range checks {
		switch c.Name {
		case nameKernel, namePrivileges, nameCgroup2, nameProgTypes, nameMapTypes,
			nameSockAddr, nameSockOps, nameAttach, nameLink, nameObject:
			if c.Status != OK {
				t.Errorf("%s: %v, want ok: %s", c.Name, c.Status, c.Detail)
			}
		}
	}
	if m, err := cgroup.Mount(); err == nil && checks[2].Detail != "mounted at "+m {
		t.Errorf("cgroup2 detail %q, mount %s", checks[2].Detail, m)
	}
}

// TestVerifyObject runs the object check with verifiers of our own.
func TestVerifyObject(t *testing.T) {
	priv := &env{privileged: true, kernel: kernelVersion{6, 1}}
	old := &env{privileged: true, kernel: kernelVersion{5, 4}}
	verr := &ebpf.VerifierError{Cause: errors.New("permission denied"), Log: []string{"0: R1=ctx", "invalid bpf_context access"}}

	for _, tc := range []struct {
		name    string
		e       *env
		verify  func() error
		status  Status
		detail  string
		fixWant string
	}{
		{"nil", priv, nil, Warn, "not checked", ""},
		{"not root", &env{privNeed: "missing CAP_BPF"}, func() error { t.Error("verify called without privileges"); return nil }, Fail, "needs root (missing CAP_BPF)", "run as root"},
		{"ok", priv, func() error { return nil }, OK, "load and pass", ""},
		{"not supported", priv, func() error { return fmt.Errorf("map exclude4: %w", ebpf.ErrNotSupported) }, Fail, "exclude4", "CONFIG_CGROUP_BPF"},
		{"verifier, old kernel", old, func() error { return fmt.Errorf("load: %w", verr) }, Fail, "invalid bpf_context access", "5.8"},
		{"verifier", priv, func() error { return fmt.Errorf("load: %w", verr) }, Fail, "invalid bpf_context access", "maintainers"},
		{"eperm", priv, func() error { return fmt.Errorf("load: %w", unix.EPERM) }, Fail, "operation not permitted", "seccomp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.opts.VerifyObject = tc.verify
			c := checkObject(tc.e)
			if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fixWant) {
				t.Errorf("got %+v, want status %v, detail ~%q, fix ~%q", c, tc.status, tc.detail, tc.fixWant)
			}
			if strings.Contains(c.Detail, "\n") {
				t.Errorf("multi-line detail %q", c.Detail)
			}
		})
	}
}

// TestVerifyObjectLoads uses a verifier that really loads a program.
func TestVerifyObjectLoads(t *testing.T) {
	privtest.Require(t)
	load := func() error {
		p, err := loadTrivial(attachPoint{"cgroup/getpeername4", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetPeername, "5.8"})
		if err == nil {
			p.Close()
		}
		return err
	}
	reject := func() error {
		// getpeername programs must return 1: the verifier refuses 0.
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type:         ebpf.CGroupSockAddr,
			AttachType:   ebpf.AttachCgroupInet4GetPeername,
			License:      "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err == nil {
			p.Close()
		}
		return err
	}
	checks := Run(Options{VerifyObject: load})
	if c := checks[len(checks)-1]; c.Status != OK {
		t.Errorf("trivial program: %+v", c)
	}
	checks = Run(Options{VerifyObject: reject})
	c := checks[len(checks)-1]
	if c.Status != Fail || c.Fix == "" || strings.Contains(c.Detail, "\n") {
		t.Errorf("rejected program: %+v", c)
	}
	t.Logf("rejected: %s / fix: %s", c.Detail, c.Fix)
}

// TestUnprivileged runs the probes as a process without privileges sees
// them: each fails with "needs root" and the fix "run as root".
func TestUnprivileged(t *testing.T) {
	e := &env{opts: Options{VerifyObject: func() error { return nil }}}
	c := privilegesCheck(e, 1000, 0, nil)
	if c.Status != Fail || c.Fix != "run as root" || e.privileged {
		t.Fatalf("privileges as uid 1000: %+v", c)
	}
	if want := "uid 1000, missing CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN"; c.Detail != want {
		t.Errorf("detail %q, want %q", c.Detail, want)
	}
	probes := 0
	for _, s := range steps[2:] {
		switch s.name {
		case nameCgroup2, nameBPFFS, nameBTF:
			continue
		}
		probes++
		c := runStep(e, s.run)
		if c.Status != Fail || !strings.HasPrefix(c.Detail, "needs root") || c.Fix != "run as root" {
			t.Errorf("%s without privileges: %+v", s.name, c)
		}
	}
	if probes != 7 {
		t.Errorf("%d privileged steps, want 7", probes)
	}
}

func TestRunStepPanics(t *testing.T) {
	c := runStep(&env{}, func(*env) Check { panic("boom\nagain") })
	if c.Status != Fail || c.Detail != "internal error: boom; again" || c.Fix == "" {
		t.Errorf("panicking check: %+v", c)
	}
}

func TestFailed(t *testing.T) {
	if Failed(nil) || Failed([]Check{{Status: OK}, {Status: Warn}}) {
		t.Error("Failed without failures")
	}
	if !Failed([]Check{{Status: OK}, {Status: Fail}}) {
		t.Error("not Failed with a failure")
	}
}

func TestParseRelease(t *testing.T) {
	for rel, want := range map[string]kernelVersion{
		"6.18.44-fc-v509":          {6, 18},
		"5.15.0-91-generic":        {5, 15},
		"5.8":                      {5, 8},
		"4.19.0+":                  {4, 19},
		"3.10.0-1160.el7.x86_64":   {3, 10},
		"6.1.0-rc7":                {6, 1},
		"5.10.0-28-cloud-amd64 #1": {5, 10},
	} {
		got, ok := parseRelease(rel)
		if !ok || got != want {
			t.Errorf("parseRelease(%q) = %v, %v; want %v", rel, got, ok, want)
		}
	}
	for _, rel := range []string{"", "6", "six.1", "0.1", "6.x", ".6.1"} {
		if v, ok := parseRelease(rel); ok {
			t.Errorf("parseRelease(%q) = %v, want failure", rel, v)
		}
	}
}

func TestKernelCheck(t *testing.T) {
	for _, tc := range []struct {
		rel    string
		status Status
	}{
		{"6.18.44-fc-v509", OK},
		{"5.8.0", OK},
		{"5.10.0-28-amd64", OK},
		{"5.7.19", Fail},
		{"4.19.0", Fail},
		{"weird", Warn},
	} {
		e := &env{}
		c := kernelCheck(e, tc.rel)
		if c.Status != tc.status {
			t.Errorf("%s: %+v, want %v", tc.rel, c, tc.status)
		}
		if c.Status == Fail && c.Fix != "upgrade to Linux 5.8 or later (bpf_link for cgroups)" {
			t.Errorf("%s: fix %q", tc.rel, c.Fix)
		}
		if tc.status != Warn && !e.kernel.known() {
			t.Errorf("%s: kernel version not recorded", tc.rel)
		}
	}
}

func TestPrivilegesCheck(t *testing.T) {
	const (
		all      = uint64(0x000001ffffffffff)
		noBPF    = all &^ (1 << 39)
		noAdmin  = all &^ (1 << 21)
		netAdmin = uint64(1 << 12)
	)
	for _, tc := range []struct {
		name   string
		euid   int
		eff    uint64
		err    error
		status Status
		detail string
		fix    string
	}{
		{"root", 0, all, nil, OK, "root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN", ""},
		{"root before CAP_BPF", 0, noBPF, nil, OK, "root with", ""},
		{"capabilities without root", 998, (1 << 39) | (1 << 12) | (1 << 21), nil, OK, "uid 998 with", ""},
		{"container root", 0, netAdmin, nil, Fail, "root, missing CAP_BPF, CAP_SYS_ADMIN", "in a container"},
		{"root without SYS_ADMIN", 0, noAdmin, nil, Fail, "root, missing CAP_SYS_ADMIN", "CAP_SYS_ADMIN"},
		{"user", 1000, 0, nil, Fail, "uid 1000, missing", "run as root"},
		{"no proc, root", 0, 0, errNoCapEff, Warn, "cannot read", ""},
		{"no proc, user", 1000, 0, errNoCapEff, Fail, "cannot read", "run as root"},
	} {
		e := &env{}
		c := privilegesCheck(e, tc.euid, tc.eff, tc.err)
		if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
			t.Errorf("%s: %+v, want %v %q fix ~%q", tc.name, c, tc.status, tc.detail, tc.fix)
		}
		if e.privileged != (tc.status != Fail) {
			t.Errorf("%s: privileged = %v", tc.name, e.privileged)
		}
	}
}

func TestParseCapEff(t *testing.T) {
	status := "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001ffffffffff\n"
	got, err := parseCapEff(strings.NewReader(status))
	if err != nil || got != 0x000001fffeffffff {
		t.Errorf("parseCapEff = %#x, %v", got, err)
	}
	if _, err := parseCapEff(strings.NewReader("Name:\tcat\n")); !errors.Is(err, errNoCapEff) {
		t.Errorf("no CapEff: %v", err)
	}
	if _, err := parseCapEff(strings.NewReader("CapEff:\tzz\n")); err == nil {
		t.Error("bad CapEff: no error")
	}
}

func TestMountChecks(t *testing.T) {
	if c := cgroup2Check("/sys/fs/cgroup/unified", nil); c.Status != OK || c.Detail != "mounted at /sys/fs/cgroup/unified" {
		t.Errorf("cgroup2 found: %+v", c)
	}
	if c := cgroup2Check("", cgroup.ErrNoCgroup2); c.Status != Fail || c.Fix == "" {
		t.Errorf("no cgroup2: %+v", c)
	}
	if c := cgroup2Check("", fs.ErrPermission); c.Status != Fail || c.Fix == "" {
		t.Errorf("cgroup2 unreadable: %+v", c)
	}
	if c := bpffsCheck("/sys/fs/bpf", nil); c.Status != OK || c.Detail != "mounted at /sys/fs/bpf" {
		t.Errorf("bpffs found: %+v", c)
	}
	c := bpffsCheck("", intercept.ErrNoBPFFS)
	if c.Status != Warn || !strings.Contains(c.Detail, "sluiced mounts one at /sys/fs/bpf") {
		t.Errorf("no bpffs: %+v", c)
	}
	if c := bpffsCheck("", fs.ErrPermission); c.Status != Warn {
		t.Errorf("bpffs unreadable: %+v", c)
	}
	if c := btfCheck(nil); c.Status != OK {
		t.Errorf("BTF present: %+v", c)
	}
	if c := btfCheck(fs.ErrNotExist); c.Status != Warn || !strings.Contains(c.Detail, "CONFIG_DEBUG_INFO_BTF") {
		t.Errorf("BTF missing: %+v", c)
	}
	if c := btfCheck(fs.ErrPermission); c.Status != Warn {
		t.Errorf("BTF unreadable: %+v", c)
	}
}

func TestRunProbes(t *testing.T) {
	ok := func() error { return nil }
	missing := func() error { return fmt.Errorf("wrapped: %w", ebpf.ErrNotSupported) }
	denied := func() error { return fmt.Errorf("load: %w", os.ErrPermission) }
	modern := &env{kernel: kernelVersion{6, 1}}
	old := &env{kernel: kernelVersion{5, 4}}

	c := runProbes(modern, "", []probe{{"A", "4.1", cfgSyscall, ok}, {"B", "4.2", cfgSyscall, ok}})
	if c.Status != OK || c.Detail != "A, B" || c.Fix != "" {
		t.Errorf("all ok: %+v", c)
	}
	c = runProbes(modern, "all fine", []probe{{"A", "4.1", cfgSyscall, ok}})
	if c.Detail != "all fine" {
		t.Errorf("ok detail: %+v", c)
	}

	ps := []probe{
		{"A", "4.1", cfgSyscall, ok},
		{"B", "5.8", cfgProgTypes, missing},
		{"C", "5.7", cfgCgroups, missing},
		{"D", "5.7", cfgSyscall, missing},
	}
	c = runProbes(modern, "", ps)
	wantDetail := "B not supported (Linux 5.8+); C not supported (Linux 5.7+); D not supported (Linux 5.7+)"
	if c.Status != Fail || c.Detail != wantDetail {
		t.Errorf("missing on 6.1: %+v", c)
	}
	if want := "use a kernel built with CONFIG_BPF_SYSCALL=y and CONFIG_CGROUP_BPF=y and CONFIG_CGROUPS=y (Linux 6.1 is new enough, so this one was configured without it; see /boot/config-$(uname -r))"; c.Fix != want {
		t.Errorf("fix on 6.1:\n got %q\nwant %q", c.Fix, want)
	}
	c = runProbes(old, "", ps)
	if !strings.HasPrefix(c.Fix, "upgrade to Linux 5.8 or later (this is 5.4), built with CONFIG_") {
		t.Errorf("fix on 5.4: %q", c.Fix)
	}
	c = runProbes(&env{}, "", ps)
	if !strings.HasPrefix(c.Fix, "upgrade to Linux 5.8 or later, built with") {
		t.Errorf("fix on unknown kernel: %q", c.Fix)
	}

	c = runProbes(modern, "", []probe{{"A", "4.1", cfgSyscall, missing}, {"B", "4.1", cfgSyscall, denied}})
	if c.Status != Fail || c.Detail != "A not supported (Linux 4.1+); B: load: permission denied" || !strings.Contains(c.Fix, "seccomp") {
		t.Errorf("denied: %+v", c)
	}
}

func TestErrorFix(t *testing.T) {
	for err, want := range map[error]string{
		fs.ErrPermission: "CAP_BPF",
		fmt.Errorf("x: %w", errors.ErrUnsupported): "dmesg",
	} {
		if got := errorFix(err); !strings.Contains(got, want) {
			t.Errorf("errorFix(%v) = %q, want ~%q", err, got, want)
		}
	}
}
