package e2e

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/privtest"
	"golang.org/x/sys/unix"
)

// runClient runs `sluice run --identity NAME -- <client>` (optionally
// through `sh -c` so the client is a child of the job's first process) as
// uid and returns what the client saw.
func (w *world) runClient(t *testing.T, ident string, viaShell bool, uid uint32) privtest.ClientResult {
	t.Helper()
	exe, env := privtest.ClientCommand(t, dial(w.cache.Addr), uid)
	argv := []string{"--control", w.socket(), "run", "--identity", ident, "--", exe, "-test.run=^$"}
	if viaShell {
		argv = []string{"--control", w.socket(), "run", "--identity", ident, "--", "/bin/sh", "-c", `"$0" -test.run='^$'; exit $?`, exe}
	}
	cmd := exec.Command(filepath.Join(binDir, "sluice"), argv...)
	cmd.Env = env
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sluice run: %v\n%s", err, out)
	}
	return privtest.ParseClientResult(t, out)
}

func TestRun(t *testing.T) {
	w := newWorld(t, nil)
	d := w.daemon

	t.Run("job is redirected under the claimed identity and its cgroup removed after", func(t *testing.T) {
		res := w.runClient(t, "deploy", false, 0)
		if !proxied(t, res) {
			t.Fatal("job connection went direct")
		}
		open := d.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
		if open.str("identity") != "deploy" || !strings.Contains(open.str("cgroup"), "/sluice.jobs/job-") {
			t.Fatalf("connection.open = %v", open)
		}
		cg := open.str("cgroup")
		d.waitEvent(t, "job cgroup untagged", func(ev event) bool {
			return ev.str("event") == "identity.untagged" && ev.str("cgroup") == cg
		})
		if _, err := os.Stat(filepath.Join(w.root.Mount, cg)); !os.IsNotExist(err) {
			t.Errorf("job cgroup %s still exists: %v", cg, err)
		}
	})

	t.Run("children of the job are tagged", func(t *testing.T) {
		res := w.runClient(t, "deploy", true, 0)
		if !proxied(t, res) {
			t.Fatal("child of the job went direct")
		}
		ev := d.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
		if ev.str("identity") != "deploy" {
			t.Errorf("identity = %s", ev.str("identity"))
		}
	})

	t.Run("claimable_by uid may claim", func(t *testing.T) {
		res := w.runClient(t, "ci-job", false, 1001)
		if !proxied(t, res) {
			t.Fatal("job of uid 1001 went direct")
		}
	})

	t.Run("exit code is preserved", func(t *testing.T) {
		out, code := w.sluice(0, "run", "--identity", "deploy", "--", "/bin/sh", "-c", "exit 7")
		if code != 7 {
			t.Fatalf("exit = %d, want 7\n%s", code, out)
		}
		out, code = w.sluice(0, "run", "--identity", "deploy", "--", "no-such-command-here")
		if code != 127 {
			t.Fatalf("missing command: exit = %d, want 127\n%s", code, out)
		}
	})

	refusals := []struct {
		name, identity string
		uid            uint32
		want           string
	}{
		{"uid not in claimable_by", "deploy", 1001, "may not claim"},
		{"identity without claimable_by", "nightly-etl", 1002, "may not claim"},
		{"unknown identity", "nobody-knows", 0, "unknown identity"},
	}
	for _, tc := range refusals {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			out, code := w.sluice(tc.uid, "run", "--identity", tc.identity, "--", "/bin/true")
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, output %q; want a refusal containing %q", code, out, tc.want)
			}
			d.waitEvent(t, "job.refused", func(ev event) bool {
				return ev.str("event") == "job.refused" && ev.str("identity") == tc.identity && int(ev.num("uid")) == int(tc.uid)
			})
		})
	}

	t.Run("refused: a tagged process cannot claim another identity", func(t *testing.T) {
		job := w.root.Child(t, "ci.slice/job-9.scope")
		d.waitEvent(t, "tagged", func(ev event) bool { return ev.str("event") == "identity.tagged" && ev.str("cgroup") == job.Path })
		cmd := exec.Command(filepath.Join(binDir, "sluice"), "--control", w.socket(), "run", "--identity", "deploy", "--", "/bin/true")
		fd, err := unix.Open(job.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "another identity") {
			t.Fatalf("claim from a tagged cgroup: err %v, output %q", err, out)
		}
	})
}

// TestFailClosedRestartDetach: kill -9 leaves tagged connections refused and
// untagged ones working; a restart adopts the pins without re-tagging;
// `sluice detach` removes everything.
func TestFailClosedRestartDetach(t *testing.T) {
	w := newWorld(t, nil)
	d := w.daemon

	// A long-running job whose cgroup must keep its tag across the crash.
	job := exec.Command(filepath.Join(binDir, "sluice"), "--control", w.socket(), "run", "--identity", "deploy", "--", "/bin/sleep", "120")
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { job.Process.Kill(); job.Wait() })
	started := d.waitEvent(t, "job.started", byPID("job.started", job.Process.Pid))
	jobDir := filepath.Join(w.root.Mount, started.str("cgroup"))
	other := w.root.Child(t, "other.slice")

	if res := privtest.Client(t, jobDir, dial(w.cache.Addr), 0, 0); !proxied(t, res) {
		t.Fatal("job not redirected before the crash")
	}

	d.kill()
	res := privtest.Client(t, jobDir, dial(w.cache.Addr), 0, 0)
	if !strings.Contains(res.Error, "connection refused") {
		t.Fatalf("tagged connect with the daemon down: %+v, want connection refused", res)
	}
	if res := privtest.Client(t, other.Dir, dial(w.cache.Addr), 0, 0); proxied(t, res) {
		t.Fatal("untagged connection affected while the daemon is down")
	}
	// Nobody may take the proxy's port while the daemon is down: tagged
	// connections would reach them.
	for _, addr := range []string{w.vars["Listen"].(string), "0.0.0.0:" + portOf(w.vars["Listen"].(string)), "[::]:" + portOf(w.vars["Listen"].(string))} {
		res := privtest.Client(t, other.Dir, privtest.Dial{Family: "listen", Addr: netip.MustParseAddrPort(addr)}, 0, 0)
		if !strings.Contains(res.Error, "operation not permitted") {
			t.Errorf("listening on %s while the daemon is down: %+v, want operation not permitted", addr, res)
		}
	}

	// The restart also changes bpf.mark: the adopted bind guard must let the
	// new daemon's listeners through.
	w.vars["Mark"] = 4660
	d2 := w.start(w.writeConfig(baseConfig))
	startEv := d2.waitEvent(t, "daemon.start", func(ev event) bool { return ev.str("event") == "daemon.start" })
	if startEv["adopted"] != true {
		t.Errorf("daemon.start after a crash: adopted = %v", startEv["adopted"])
	}
	res = privtest.Client(t, jobDir, dial(w.cache.Addr), 0, 0)
	if !proxied(t, res) {
		t.Fatal("job not redirected after restart")
	}
	ev := d2.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
	if ev.str("identity") != "deploy" {
		t.Errorf("identity after restart = %q", ev.str("identity"))
	}
	if d2.findEvent(func(ev event) bool {
		return ev.str("event") == "identity.tagged" && ev.str("cgroup") == started.str("cgroup")
	}) != nil {
		t.Error("the job cgroup was tagged again: the pinned tag should have been adopted")
	}

	// The job ends: its cgroup goes away.
	job.Process.Kill()
	job.Wait()
	d2.waitEvent(t, "job cgroup untagged", func(ev event) bool {
		return ev.str("event") == "identity.untagged" && ev.str("cgroup") == started.str("cgroup")
	})

	out, code := w.sluice(0, "detach")
	if code != 0 {
		t.Fatalf("sluice detach: exit %d\n%s", code, out)
	}
	select {
	case <-d2.done:
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running after detach")
	}
	if _, err := os.Stat(w.pinDir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(w.pinDir)
		t.Errorf("pin directory left after detach: %v", entries)
	}
	assertNothingAttached(t, w.root.Dir)
	tagged := w.root.Child(t, "ci.slice/job-10.scope")
	if res := privtest.Client(t, tagged.Dir, dial(w.cache.Addr), 0, 0); proxied(t, res) {
		t.Fatal("connection redirected after detach")
	}
}

func TestFailOpen(t *testing.T) {
	w := newWorld(t, map[string]any{"FailMode": "open"})
	job := w.root.Child(t, "ci.slice/job-1.scope")
	w.daemon.waitEvent(t, "tagged", func(ev event) bool { return ev.str("event") == "identity.tagged" && ev.str("cgroup") == job.Path })
	if res := privtest.Client(t, job.Dir, dial(w.cache.Addr), 0, 0); !proxied(t, res) {
		t.Fatal("not redirected while running")
	}
	if entries, _ := os.ReadDir(w.pinDir); len(entries) != 0 {
		t.Errorf("fail_mode open pinned %d objects", len(entries))
	}
	w.daemon.kill()
	res := privtest.Client(t, job.Dir, dial(w.cache.Addr), 0, 0)
	if proxied(t, res) {
		t.Fatal("fail_mode open: still redirected after the daemon died")
	}
	assertNothingAttached(t, w.root.Dir)
}

func portOf(addr string) string { return strconv.Itoa(int(netip.MustParseAddrPort(addr).Port())) }
