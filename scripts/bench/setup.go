package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/pgtest"
)

// benchEnv is what the measurements run in.
type benchEnv struct {
	mount    string // cgroup2 mount
	top      string // our cgroup, relative to the mount
	home     string // the cgroup we started in, to return to
	dir      string // temp dir
	bpffs    string
	daemon   *exec.Cmd
	bin      string
	variant  daemonVariant // how the running daemon handles the PostgreSQL target
	profiles int           // daemons started with --cpuprofile
	echo     net.Listener
	echoAddr netip.AddrPort
	pg       *pgEnv // nil when PostgreSQL is not installed
	// fsyncInterval is recording.fsync_interval for daemons that record
	// ("": sluiced's default).
	fsyncInterval string
	disk          disk // holding dir, where the daemon's state_dir is
}

// syncEvery says how often the daemons that record sync their recordings.
func (e *benchEnv) syncEvery() string {
	if e.fsyncInterval != "" {
		return e.fsyncInterval + ", set with `-recording-fsync-interval`"
	}
	return "100 ms, the default"
}

// daemonVariant is how a bench daemon handles the PostgreSQL target.
type daemonVariant int

func (v daemonVariant) String() string {
	switch v {
	case noRecording:
		return "norec"
	case tcpRelay:
		return "tcp"
	}
	return "full"
}

const (
	// full: the PostgreSQL inspector with every session recorded.
	full daemonVariant = iota
	// noRecording: the inspector, with recording: { enabled: false }.
	noRecording
	// tcpRelay: the target as a plain TCP target: the same redirect,
	// attribution and identity, bytes relayed without inspection.
	tcpRelay
)

// Cgroups, relative to the mount:
//
//	<top>/plain              no programs attached
//	<top>/root/untagged      programs attached, not tagged
//	<top>/root/tagged        programs attached, tagged (redirected)
//	<top>/root/masked        tagged as an identity whose results are masked
func (e *benchEnv) cg(name string) string { return filepath.Join(e.mount, e.top, name) }

func setup(bin, fsyncInterval string) (*benchEnv, error) {
	e := &benchEnv{fsyncInterval: fsyncInterval}
	var err error
	if e.mount, err = cgroup.Mount(); err != nil {
		return nil, err
	}
	if e.home, err = cgroup.PathOfPID(os.Getpid()); err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	e.top = "/sluice-bench-" + hex.EncodeToString(b[:])
	for _, c := range []string{"", "plain", "root", "root/untagged", "root/tagged", "root/masked"} {
		if _, err := cgroup.Create(e.cg(c)); err != nil {
			e.teardown()
			return nil, err
		}
	}
	if e.dir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		e.teardown()
		return nil, err
	}
	e.disk = diskOf(e.dir)
	e.bpffs = filepath.Join(e.dir, "bpffs")
	if err := os.Mkdir(e.bpffs, 0o700); err != nil {
		e.teardown()
		return nil, err
	}
	if err := syscall.Mount("bpf", e.bpffs, "bpf", 0, "mode=0700"); err != nil {
		e.teardown()
		return nil, fmt.Errorf("mount bpffs: %w", err)
	}
	if err := e.startEcho(); err != nil {
		e.teardown()
		return nil, err
	}
	if pgtest.Available() == nil {
		if e.pg, err = startPG(e.dir); err != nil {
			e.teardown()
			return nil, fmt.Errorf("postgres: %w", err)
		}
	} else {
		fmt.Fprintln(os.Stderr, "bench: PostgreSQL not available, skipping the pgbench section:", pgtest.Available())
	}
	if err := e.startDaemon(bin); err != nil {
		e.teardown()
		return nil, err
	}
	return e, nil
}

// startEcho serves a one-byte echo on 127.0.0.3 until the end.
func (e *benchEnv) startEcho() error {
	ln, err := net.Listen("tcp4", "127.0.0.3:0")
	if err != nil {
		return err
	}
	e.echo = ln
	e.echoAddr = netip.MustParseAddrPort(ln.Addr().String())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (e *benchEnv) socket() string { return filepath.Join(e.dir, "control.sock") }

func (e *benchEnv) startDaemon(bin string) error {
	e.bin = bin
	port, err := freePort()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
listen6: ""
control_socket: %s
cgroup_root: %s/root
state_dir: %s/state
policies: %s/policies
fail_mode: closed
log: { format: json }
bpf: { pin_dir: %s/sluice }
identities:
  - name: bench
    match: { cgroup: "%s/root/tagged" }
    egress: deny
  - name: late
    match: { cgroup: "%s/root/late-*" }
  - name: bench-mask
    match: { cgroup: "%s/root/masked" }
    egress: deny
targets:
  - name: echo
    protocol: tcp
    address: %s
`, port, e.socket(), e.top, e.dir, e.dir, e.bpffs, e.top, e.top, e.top, e.echoAddr)

	if e.pg != nil {
		protocol := "postgres"
		if e.variant == tcpRelay {
			protocol = "tcp"
		}
		cfg += fmt.Sprintf("  - name: pgbench-db\n    protocol: %s\n    address: %s\n", protocol, e.pg.srv.Addr())
	}
	if e.variant == noRecording {
		cfg += "recording: { enabled: false }\n"
	} else if e.fsyncInterval != "" {
		cfg += fmt.Sprintf("recording: { fsync_interval: %s }\n", e.fsyncInterval)
	}
	path := filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(e.dir, "events.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"--config", path}
	if cpuProfile != "" {
		// One profile per daemon started: PATH.N.VARIANT.
		e.profiles++
		args = append(args, "--cpuprofile", fmt.Sprintf("%s.%d.%s", cpuProfile, e.profiles, e.variant))
	}
	e.daemon = exec.Command(filepath.Join(bin, "sluiced"), args...)
	e.daemon.Stdout = logf
	e.daemon.Stderr = os.Stderr
	if err := e.daemon.Start(); err != nil {
		return fmt.Errorf("start sluiced (run make build first): %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := control.Call(e.socket(), control.Request{Op: control.OpStatus}, time.Second)
		if err == nil && len(resp.Status.Tagged) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sluiced did not come up with the tagged cgroup: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restartDaemon stops sluiced and starts it again as variant v. The
// programs stay pinned in between (fail_mode closed), and the new daemon
// adopts them.
func (e *benchEnv) restartDaemon(v daemonVariant) error {
	if e.daemon != nil && e.daemon.Process != nil {
		_ = e.daemon.Process.Signal(syscall.SIGTERM)
		_ = e.daemon.Wait()
	}
	e.variant = v
	return e.startDaemon(e.bin)
}

// enter moves this whole process into cgroup rel (relative to top, "" =
// back home).
func (e *benchEnv) enter(rel string) error {
	dir := filepath.Join(e.mount, e.home)
	if rel != "" {
		dir = e.cg(rel)
	}
	return cgroup.MovePID(dir, os.Getpid())
}

// teardown stops what setup started, by PID, and removes what it created.
func (e *benchEnv) teardown() {
	_ = e.enter("")
	if e.daemon != nil && e.daemon.Process != nil {
		_ = e.daemon.Process.Signal(syscall.SIGTERM)
		_ = e.daemon.Wait()
	}
	if e.echo != nil {
		e.echo.Close()
	}
	if e.pg != nil {
		e.pg.stop()
	}
	if e.bpffs != "" {
		_ = exec.Command(filepath.Join("bin", "sluice"), "detach", "--pin-dir", filepath.Join(e.bpffs, "sluice")).Run()
		_ = syscall.Unmount(e.bpffs, syscall.MNT_DETACH)
	}
	if e.top != "" {
		for _, c := range []string{"root/tagged", "root/untagged", "root/masked", "root/sluice.jobs", "root", "plain", ""} {
			_ = cgroup.Remove(e.cg(c))
		}
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// countEvents returns how many events of a type the daemon wrote.
func (e *benchEnv) countEvents(kind string) int {
	f, err := os.Open(filepath.Join(e.dir, "events.jsonl"))
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"event":"`+kind+`"`) {
			n++
		}
	}
	return n
}
