package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

// stepScript runs in an OIDC-bound job and does what the test asks, one
// step file at a time (step-1, step-2, ...), saying "N <outcome>":
// connect (one connection to the cache: reply, closed or error), hold (a
// connection kept open until sluice ends it: "N open ...", then "N ended
// ..."), refresh FILE (sluice run --refresh), exit.
const stepScript = `
import os, socket, subprocess, sys, time
cache, dir, sluice, control = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
host, port = cache.rsplit(":", 1)
def say(s):
    print(s, flush=True)
def connect():
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(b"hi\n")
    return s
def once():
    try:
        s = connect()
        data = s.recv(100)
        s.close()
        return "reply" if data else "closed"
    except OSError as e:
        return "error " + e.__class__.__name__
n = 0
while True:
    n += 1
    step = os.path.join(dir, "step-%d" % n)
    while not os.path.exists(step):
        time.sleep(0.02)
    cmd = open(step).read().split()
    if cmd[0] == "connect":
        say("%d %s" % (n, once()))
    elif cmd[0] == "hold":
        try:
            s = connect()
            say("%d open %s" % (n, "reply" if s.recv(100) else "closed"))
            s.settimeout(120)
            say("%d ended %s" % (n, "data" if s.recv(100) else "eof"))
        except OSError as e:
            say("%d ended %s" % (n, e.__class__.__name__))
    elif cmd[0] == "refresh":
        r = subprocess.run([sluice, "--control", control, "run", "--refresh", "--oidc-token-file", cmd[1]], capture_output=True, text=True)
        say("%d refresh %d %s" % (n, r.returncode, (r.stdout + r.stderr).strip()))
    else:
        break
`

// lockedBuffer collects a job's standard error while the test may read
// it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// jobOutput reads a job's standard output line by line: next waits for
// the next line and fails the test unless it starts with want.
type jobOutput struct {
	t      *testing.T
	lines  chan string
	stderr *lockedBuffer
}

func readJob(t *testing.T, out io.Reader, stderr *lockedBuffer) *jobOutput {
	j := &jobOutput{t: t, lines: make(chan string, 16), stderr: stderr}
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			n, err := out.Read(buf)
			acc += string(buf[:n])
			for {
				i := strings.IndexByte(acc, '\n')
				if i < 0 {
					break
				}
				j.lines <- acc[:i]
				acc = acc[i+1:]
			}
			if err != nil {
				close(j.lines)
				return
			}
		}
	}()
	return j
}

func (j *jobOutput) next(want string) string {
	j.t.Helper()
	select {
	case l, ok := <-j.lines:
		if !ok || !strings.HasPrefix(l, want) {
			j.t.Fatalf("job said %q (open: %v), want %q; stderr: %s", l, ok, want, j.stderr.String())
		}
		return l
	case <-time.After(90 * time.Second):
		j.t.Fatalf("job said nothing, want %q; stderr: %s", want, j.stderr.String())
	}
	return ""
}

// refused waits for the outcome of a connection the proxy refused
// (closed, or reset when the client's bytes were still unread).
func (j *jobOutput) refused(prefix string) {
	j.t.Helper()
	if l := j.next(prefix); strings.HasSuffix(l, "reply") {
		j.t.Fatalf("a connection got through: %q", l)
	}
}

// status asks the running daemon for its status as uid.
func (w *oidcWorld) status(t *testing.T, uid uint32) control.Status {
	t.Helper()
	out, code := w.sluice(uid, "status", "--json")
	var st control.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("sluice status --json as uid %d: exit %d: %s", uid, code, out)
	}
	return st
}

// TestOIDCRestart: a job bound to a token keeps its binding across a crash
// of sluiced (its next connections carry its identity and token), expires
// with the token as before, and, when the saved bindings cannot be read,
// is refused until it presents a token again, which binds it anew.
func TestOIDCRestart(t *testing.T) {
	w := newOIDCWorld(t)
	const jtiA, jtiB = "jti-before-the-crash", "jti-after-the-corruption"
	// Long enough for a restart on a loaded machine; the test waits for it
	// to run out.
	tokA := w.token(t, 40*time.Second, func(c map[string]any) { c["jti"] = jtiA })
	tokB := w.token(t, 10*time.Minute, func(c map[string]any) { c["jti"] = jtiB })
	tokens := []string{tokA, tokB}
	refreshFile := w.tokenFile(t, "rebind.token", tokB)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sluice"), "--control", w.socket(), "run",
		"--oidc-token-file", w.tokenFile(t, "job.token", tokA), "--", "/usr/bin/python3", "-c", stepScript,
		w.cache, w.dir, filepath.Join(binDir, "sluice"), w.socket())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	job := readJob(t, out, &stderr)
	n := 0
	step := func(what string) {
		n++
		// Renamed into place: the job never reads a step half written.
		tmp := filepath.Join(w.dir, "step.tmp")
		write(t, tmp, what)
		if err := os.Rename(tmp, filepath.Join(w.dir, fmt.Sprintf("step-%d", n))); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if !t.Failed() {
			return
		}
		step("exit")
	}()

	step("connect")
	job.next("1 reply")
	started := w.daemon.waitEvent(t, "job.started", func(ev event) bool { return ev.str("event") == "job.started" })
	jobCG := started.str("cgroup")
	bindFile := filepath.Join(w.dir, "state", "oidc-bindings.json")
	if fi, err := os.Stat(bindFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bindings file: %v, %v", fi, err)
	}

	// sluiced crashes and comes back: the job's binding is restored.
	w.daemon.kill()
	d2 := w.start(filepath.Join(w.dir, "sluice.yaml"))
	restored := d2.waitEvent(t, "identity.restored", func(ev event) bool {
		return ev.str("event") == "identity.restored" && ev.str("cgroup") == jobCG
	})
	if ro, _ := restored["oidc"].(map[string]any); ro["jti"] != jtiA || restored["expired"] != false {
		t.Fatalf("identity.restored = %v", restored)
	}
	step("connect")
	job.next("2 reply")
	open := d2.waitEvent(t, "connection.open after the restart", func(ev event) bool {
		return ev.str("event") == "connection.open" && strings.HasPrefix(ev.str("cgroup"), jobCG)
	})
	oo, _ := open["oidc"].(map[string]any)
	cl, _ := oo["claims"].(map[string]any)
	if open.str("identity") != "gha:acme/app@refs/heads/main" || oo["jti"] != jtiA || oo["subject"] != "repo:acme/app:ref:refs/heads/main" ||
		oo["issuer"] != w.issuer.URL || cl["ref"] != "refs/heads/main" || cl["environment"] != "production" {
		t.Fatalf("connection.open after the restart = %v", open)
	}

	// status shows the binding and, to root only, what the token said;
	// while a connection is held, it counts as a session.
	step("hold")
	job.next("3 open reply")
	var b control.Binding
	waitFor(t, "the held connection counted in status", func() bool {
		st := w.status(t, 0)
		if len(st.Bindings) != 1 {
			t.Fatalf("status bindings = %+v", st.Bindings)
		}
		b = st.Bindings[0]
		return b.Sessions == 1
	})
	if b.Cgroup != jobCG || b.Identity != "gha:acme/app@refs/heads/main" || !b.Restored || b.Expired || b.JTI != jtiA ||
		b.Subject != "repo:acme/app:ref:refs/heads/main" || b.Claims["environment"] != "production" {
		t.Fatalf("status binding as root = %+v", b)
	}
	other := w.status(t, 1001)
	if other.BindingDetails || len(other.Bindings) != 1 || other.Bindings[0].Subject != "" || other.Bindings[0].JTI != "" ||
		other.Bindings[0].Claims != nil || other.Bindings[0].Cgroup != jobCG {
		t.Fatalf("status binding as uid 1001 = %+v", other.Bindings)
	}
	if txt, code := w.sluice(0, "status"); code != 0 || !strings.Contains(txt, "OIDC-bound jobs:") || !strings.Contains(txt, "jti "+jtiA) {
		t.Fatalf("sluice status: exit %d:\n%s", code, txt)
	}

	// The restored binding expires with its token: the held connection is
	// ended, new ones are refused.
	job.next("3 ended")
	d2.waitEvent(t, "identity.expired", func(ev event) bool {
		return ev.str("event") == "identity.expired" && ev.str("cgroup") == jobCG && ev.str("sessions") == "closed"
	})
	step("connect")
	job.refused("4 ")
	d2.waitEvent(t, "connection.denied after expiry", func(ev event) bool {
		return ev.str("event") == "connection.denied" && strings.HasPrefix(ev.str("cgroup"), jobCG) && strings.Contains(ev.str("reason"), "expired at")
	})

	// The saved bindings are damaged while sluiced is down: it starts
	// without them, and the job is refused, saying why, until it binds
	// itself again with a valid token.
	d2.stop(t)
	write(t, bindFile, `{"version":1,"bindings":[{"job":`)
	d3 := w.start(filepath.Join(w.dir, "sluice.yaml"))
	failed := d3.waitEvent(t, "identity.restore_failed", func(ev event) bool { return ev.str("event") == "identity.restore_failed" })
	if failed.str("moved_to") != bindFile+".corrupt" || !strings.Contains(failed.str("error"), "corrupt bindings file") {
		t.Fatalf("identity.restore_failed = %v", failed)
	}
	step("connect")
	job.refused("5 ")
	d3.waitEvent(t, "connection.denied without a binding", func(ev event) bool {
		return ev.str("event") == "connection.denied" && strings.HasPrefix(ev.str("cgroup"), jobCG) &&
			strings.Contains(ev.str("reason"), "sluiced could not read its saved bindings at start")
	})
	step("refresh " + refreshFile)
	if l := job.next("6 refresh"); !strings.HasPrefix(l, "6 refresh 0 ") {
		t.Fatalf("rebinding: %q", l)
	}
	rebound := d3.waitEvent(t, "identity.refreshed", func(ev event) bool {
		return ev.str("event") == "identity.refreshed" && ev.str("cgroup") == jobCG
	})
	if rebound["rebound"] != true {
		t.Fatalf("identity.refreshed = %v", rebound)
	}
	step("connect")
	job.next("7 reply")
	d3.waitEvent(t, "connection.open with the new token", func(ev event) bool {
		o, _ := ev["oidc"].(map[string]any)
		return ev.str("event") == "connection.open" && strings.HasPrefix(ev.str("cgroup"), jobCG) && o["jti"] == jtiB
	})
	step("exit")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("job: %v: %s", err, stderr.String())
	}
	d3.waitEvent(t, "job cgroup untagged", func(ev event) bool {
		return ev.str("event") == "identity.untagged" && ev.str("cgroup") == jobCG
	})
	waitFor(t, "the ended job's binding leaves the file", func() bool {
		return !strings.Contains(readFile(bindFile), jobCG)
	})
	w.noToken(t, tokens...)
}
