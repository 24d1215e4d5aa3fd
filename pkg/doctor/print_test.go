package doctor

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestPrintGolden(t *testing.T) {
	checks := []Check{
		{Name: "kernel", Status: Fail, Detail: "5.4.0-150-generic is older than 5.8", Fix: "upgrade to Linux 5.8 or later (bpf_link for cgroups)"},
		{Name: "privileges", Status: OK, Detail: "root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN"},
		{Name: "cgroup2", Status: OK, Detail: "mounted at /sys/fs/cgroup/unified"},
		{Name: "bpffs", Status: Warn, Detail: "not mounted; sluiced mounts one at /sys/fs/bpf when it starts", Fix: "optional: mount it at boot"},
		{Name: "BTF", Status: Warn, Detail: "cannot stat"},
		{Name: "attach types", Status: Fail, Detail: "cgroup/getpeername4 not supported (Linux 5.8+); cgroup/getpeername6 not supported (Linux 5.8+)", Fix: "upgrade to Linux 5.8 or later (this is 5.4), built with CONFIG_CGROUP_BPF=y"},
		{Name: "BPF object", Status: Fail, Detail: "load program: permission denied:\n0: R1=ctx\n1: invalid access", Fix: "report the verifier error"},
		{Name: "ok with a fix", Status: OK, Detail: "a fix on an OK check is not printed", Fix: "nothing"},
		{Name: "empty", Status: Warn},
	}
	var buf bytes.Buffer
	Print(&buf, checks)
	golden(t, "print.golden", buf.Bytes())
}

func TestPrintEmpty(t *testing.T) {
	var buf bytes.Buffer
	Print(&buf, nil)
	if buf.Len() != 0 {
		t.Errorf("Print(nil) = %q", buf.String())
	}
}
