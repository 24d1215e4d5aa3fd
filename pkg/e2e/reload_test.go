package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/pkg/privtest"
)

// TestReload: SIGHUP applies a new target at once; an invalid file is
// refused and the previous configuration stays in force.
func TestReload(t *testing.T) {
	w := newWorld(t, nil)
	d := w.daemon
	unit := w.root.Child(t, "system.slice/nightly-etl.service")
	d.waitEvent(t, "tagged", func(ev event) bool { return ev.str("event") == "identity.tagged" && ev.str("cgroup") == unit.Path })

	if res := privtest.Client(t, unit.Dir, dial(w.other.Addr), 0, 0); res.Reply != "" {
		t.Fatalf("before reload, egress deny should refuse %s: %+v", w.other.Addr, res)
	}

	cfgPath := filepath.Join(w.dir, "sluice.yaml")
	cfg := readFile(cfgPath) + "  - name: reports\n    protocol: tcp\n    address: " + w.other.Addr.String() + "\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitEvent(t, "config.reloaded", func(ev event) bool { return ev.str("event") == "config.reloaded" })
	res := privtest.Client(t, unit.Dir, dial(w.other.Addr), 0, 0)
	if !proxied(t, res) {
		t.Fatal("new target not routed after reload")
	}
	ev := d.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
	if ev.str("target") != "reports" {
		t.Errorf("target = %q, want reports", ev.str("target"))
	}

	if err := os.WriteFile(cfgPath, []byte(cfg+"  - name: reports\n    protocl: tcp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := w.sluice(0, "reload")
	if code == 0 || !strings.Contains(out, "previous configuration kept") || !strings.Contains(out, "protocl") {
		t.Fatalf("sluice reload of an invalid file: exit %d: %s", code, out)
	}
	failed := d.waitEvent(t, "config.reload_failed", func(ev event) bool { return ev.str("event") == "config.reload_failed" })
	if !strings.Contains(failed.str("error"), "sluice.yaml:") {
		t.Errorf("reload error does not name file and line: %v", failed)
	}
	if res := privtest.Client(t, unit.Dir, dial(w.other.Addr), 0, 0); !proxied(t, res) {
		t.Fatal("previous configuration not kept after a failed reload")
	}
	if out, code := w.sluice(1001, "reload"); code == 0 || !strings.Contains(out, "only root") {
		t.Errorf("reload by uid 1001: exit %d: %s", code, out)
	}
}

// TestBadConfigRefused: the daemon does not start on an invalid file, and
// says where the problem is.
func TestBadConfigRefused(t *testing.T) {
	privtest.Require(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	bad := "listen: 127.0.0.1:15001\nidentities:\n  - name: a\n    egres: allow\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "sluiced"), "--config", path).CombinedOutput()
	if err == nil {
		t.Fatal("sluiced started with an invalid configuration")
	}
	if !strings.Contains(string(out), "sluice.yaml:4") || !strings.Contains(string(out), "egres") {
		t.Errorf("error does not name file, line and key: %s", out)
	}
}
