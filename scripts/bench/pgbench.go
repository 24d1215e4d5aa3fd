package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// pgEnv is the PostgreSQL side of the benchmark: a server on loopback,
// pgbouncer in front of it when installed, and the bench role.
type pgEnv struct {
	srv     *pgtest.Server
	bouncer *pgtest.Bouncer // nil when pgbouncer is not installed
	// relays are the relay floor (see relayfloor.go), by mode.
	relays map[string]*relayProc
}

const (
	pgUser     = "bench"
	pgPassword = "bench-password-1"
	pgScale    = 10
)

// pgPolicy lets pgbench's read-only transactions through with the full
// inspection path: every statement is classified and decided.
const pgPolicy = `policies:
  - name: bench
    identities: [bench, bench-mask]
    targets: [pgbench-db]
    default: deny
    rules:
      - name: no-ddl
        action: deny
        postgres: { kinds: [ddl, grant, truncate, do, dangerous] }
      - name: read
        action: allow
        postgres:
          kinds: [select, show, set, transaction, empty]
          reads: ["public.*", "pg_catalog.*"]
`

// startPG starts PostgreSQL on 127.0.0.5, loads pgbench's tables and starts
// pgbouncer on 127.0.0.7 in session mode.
func startPG(dir string) (*pgEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx, pgtest.Options{Host: "127.0.0.5", Settings: map[string]string{"max_connections": "100"}})
	if err != nil {
		return nil, err
	}
	p := &pgEnv{srv: srv}
	if err := srv.CreateUser(pgUser, pgPassword, pgtest.SCRAM); err != nil {
		p.stop()
		return nil, err
	}
	if err := srv.CreateDatabase("pgbench", pgUser); err != nil {
		p.stop()
		return nil, err
	}
	cmd, err := srv.Command(ctx, "pgbench", "-i", "-q", "-s", strconv.Itoa(pgScale), "-U", pgUser, "pgbench")
	if err != nil {
		p.stop()
		return nil, err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.stop()
		return nil, fmt.Errorf("pgbench -i: %w\n%s", err, out)
	}
	if _, err := pgtest.Bin("pgbouncer"); err == nil {
		p.bouncer, err = pgtest.StartBouncer(ctx, srv, pgtest.BouncerOptions{PoolMode: "session"})
		if err != nil {
			p.stop()
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o700); err != nil {
		p.stop()
		return nil, err
	}
	for name, policy := range map[string]string{"bench.yaml": pgPolicy, "bench-mask.yaml": maskPolicy} {
		if err := os.WriteFile(filepath.Join(dir, "policies", name), []byte(policy), 0o600); err != nil {
			p.stop()
			return nil, err
		}
	}
	p.relays = map[string]*relayProc{}
	for _, mode := range []string{"go", "thread", "epoll"} {
		r, err := startRelay(mode, srv.Addr().String())
		if err != nil {
			p.stop()
			return nil, err
		}
		p.relays[mode] = r
	}
	return p, nil
}

func (p *pgEnv) stop() {
	for _, r := range p.relays {
		r.stop()
	}
	if p.bouncer != nil {
		_ = p.bouncer.Stop()
	}
	_ = p.srv.Stop()
}

// pgbenchCase is one measured configuration.
type pgbenchCase struct {
	path    string // "direct", "sluice", "sluice-norec", "sluice-tcp", "pgbouncer", "relay-go", "relay-thread", "relay-epoll"
	mode    string // -M
	clients int
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs one bounded pgbench -S and returns its TPS. Through sluice,
// pgbench runs in the tagged cgroup and connects to the server's own
// address; the kernel redirects it.
func (e *benchEnv) pgbench(c pgbenchCase, seconds int) (sample, error) {
	host, port := e.pg.srv.Host, e.pg.srv.Port
	cg := "plain"
	proxy := 0 // the proxy's pid, whose CPU time is measured
	switch c.path {
	case "sluice", "sluice-norec", "sluice-tcp":
		cg = "root/tagged"
		proxy = e.daemon.Process.Pid
	case "pgbouncer":
		host, port = e.pg.bouncer.Host, e.pg.bouncer.Port
		proxy = e.pg.bouncer.PID()
	case "relay-go", "relay-thread", "relay-epoll":
		r := e.pg.relays[strings.TrimPrefix(c.path, "relay-")]
		host, port = r.host, r.port
		proxy = r.cmd.Process.Pid
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+60)*time.Second)
	defer cancel()
	cmd, err := e.pg.srv.Command(ctx, "pgbench", "-n", "-S", "-M", c.mode, "-c", strconv.Itoa(c.clients),
		"-j", strconv.Itoa(min(c.clients, 2)), "-T", strconv.Itoa(seconds),
		"-h", host, "-p", strconv.Itoa(port), "-U", pgUser, "pgbench")
	if err != nil {
		return sample{}, err
	}
	cmd.Env = append(cmd.Env, "PGPASSWORD="+pgPassword, "PGSSLMODE=disable")
	fd, err := unix.Open(e.cg(cg), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return sample{}, err
	}
	defer unix.Close(fd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	cpu0, err := cpuTime(proxy)
	if err != nil {
		return sample{}, err
	}
	busy0, idle0, err := machineTime()
	if err != nil {
		return sample{}, err
	}
	w0, f0 := e.disk.io()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("pgbench %+v: %w\n%s", c, err, out)
	}
	elapsed := time.Since(start).Seconds()
	w1, f1 := e.disk.io()
	cpu1, err := cpuTime(proxy)
	if err != nil {
		return sample{}, err
	}
	busy1, idle1, err := machineTime()
	if err != nil {
		return sample{}, err
	}
	m := tpsRE.FindSubmatch(out)
	x := txRE.FindSubmatch(out)
	if m == nil || x == nil {
		return sample{}, fmt.Errorf("pgbench %+v: no tps in output\n%s", c, out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return sample{}, err
	}
	tx, err := strconv.ParseFloat(string(x[1]), 64)
	if err != nil || tx == 0 {
		return sample{}, fmt.Errorf("pgbench %+v: no transactions processed\n%s", c, out)
	}
	return sample{
		tps:         tps,
		cpuPerQuery: (cpu1 - cpu0).Seconds() / tx * 1e6,
		machine:     (busy1 - busy0).Seconds() / tx * 1e6,
		idle:        float64(idle1-idle0) / float64(busy1-busy0+idle1-idle0),
		writes:      (w1 - w0) / elapsed,
		flushes:     (f1 - f0) / elapsed,
	}, nil
}

// sample is one pgbench run: its TPS; through a proxy, the proxy's CPU
// time (user and system) per query in µs; the whole machine's busy CPU
// time per query in µs (every process and kernel thread: pgbench, the
// server, the proxy, writeback), and the share of the machine's CPU time
// left idle or waiting for I/O; and the write and cache flush requests
// per second the disk holding the daemon's state directory completed (NaN
// where it has no disk of its own).
type sample struct {
	tps, cpuPerQuery, machine, idle float64
	writes, flushes                 float64
}

var txRE = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)

// machineTime returns the CPU time all CPUs spent busy (user, nice,
// system, interrupts) and idle (idle, iowait) since boot, from /proc/stat.
func machineTime() (busy, idle time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseProcStat(b)
}

// parseProcStat reads the first line of /proc/stat. Steal (time the
// hypervisor gave to other guests) counts as neither: no process here
// used it.
func parseProcStat(b []byte) (busy, idle time.Duration, err error) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: unexpected format")
	}
	// user nice system idle iowait irq softirq steal, in USER_HZ (100).
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		d := time.Duration(n) * 10 * time.Millisecond
		switch i {
		case 3, 4:
			idle += d
		case 7:
		default:
			busy += d
		}
	}
	return busy, idle, nil
}

// cpuTime returns the user and system CPU time of process pid so far, 0
// for pid 0.
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// runPgbench measures pgbench -S (simple and prepared, 1 and 8 clients)
// direct, through sluice and through pgbouncer, interleaved round by round.
// A non-empty only ("simple/8,prepared/1") restricts the configurations.
func runPgbench(e *benchEnv, rounds, seconds int, only string) (section, error) {
	// sluice last: the same daemon without recording, and as a plain TCP
	// relay, are measured right after it, so that each on/off pair is
	// measured back to back.
	paths := []string{"direct"}
	if e.pg.bouncer != nil {
		paths = append(paths, "pgbouncer")
	}
	paths = append(paths, "relay-go", "relay-thread", "relay-epoll", "sluice")
	type config struct {
		mode    string
		clients int
	}
	var configs []config
	for _, mode := range []string{"simple", "prepared"} {
		for _, clients := range []int{1, 8} {
			name := fmt.Sprintf("%s/%d", mode, clients)
			if only == "" || slices.Contains(strings.Split(only, ","), name) {
				configs = append(configs, config{mode, clients})
			}
		}
	}
	if len(configs) == 0 {
		return section{}, fmt.Errorf("-pgbench-cases %q names no configuration (simple/1, simple/8, prepared/1, prepared/8)", only)
	}
	samples := map[pgbenchCase][]sample{}
	measure := func(path string, cf config) error {
		c := pgbenchCase{path, cf.mode, cf.clients}
		s, err := e.pgbench(c, seconds)
		if err != nil {
			return err
		}
		samples[c] = append(samples[c], s)
		return nil
	}
	for r := 0; r < rounds; r++ {
		for _, cf := range configs {
			for _, path := range paths {
				if err := measure(path, cf); err != nil {
					return section{}, err
				}
			}
			// The same through a daemon that does not record, for the cost
			// of recording, and through one that relays the target as
			// plain TCP, for the cost of inspection; then back.
			for _, v := range []struct {
				variant daemonVariant
				path    string
			}{{noRecording, "sluice-norec"}, {tcpRelay, "sluice-tcp"}} {
				if err := e.restartDaemon(v.variant); err != nil {
					return section{}, err
				}
				if err := measure(v.path, cf); err != nil {
					return section{}, err
				}
			}
			if err := e.restartDaemon(full); err != nil {
				return section{}, err
			}
		}
	}
	med := func(c pgbenchCase, f func(sample) float64) float64 {
		var v []float64
		for _, s := range samples[c] {
			v = append(v, f(s))
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	tps := func(s sample) float64 { return s.tps }
	cpu := func(s sample) float64 { return s.cpuPerQuery }
	// direct returns the direct TPS of cf, and how to turn a TPS into the
	// latency a query gains over it.
	direct := func(cf config) (float64, func(float64) float64) {
		d := med(pgbenchCase{"direct", cf.mode, cf.clients}, tps)
		return d, func(tps float64) float64 { return (float64(cf.clients)/tps - float64(cf.clients)/d) * 1e6 }
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pgbench -S (scale %d) against PostgreSQL on loopback: directly, through sluice (kernel redirect, full\n", pgScale)
	b.WriteString("parsing, classification and a policy decision per statement, one `db.query` event per statement written\n")
	b.WriteString("to the event log, every session recorded: a statement event written before forwarding, its result event written\n")
	fmt.Fprintf(&b, "with the next one or within 100 ms, recordings synced every %s), and through pgbouncer in session mode. Median of ", e.syncEvery())
	fmt.Fprintf(&b, "%d interleaved runs of %d s each.\n\n", rounds, seconds)
	b.WriteString("| protocol | clients | direct TPS | sluice TPS | sluice / direct | sluice added per query | sluice CPU per query |")
	if e.pg.bouncer != nil {
		b.WriteString(" pgbouncer TPS | pgbouncer / direct | pgbouncer added per query | pgbouncer CPU per query |")
	}
	b.WriteString("\n|---|---:|---:|---:|---:|---:|---:|")
	if e.pg.bouncer != nil {
		b.WriteString("---:|---:|---:|---:|")
	}
	b.WriteString("\n")
	for _, cf := range configs {
		d, added := direct(cf)
		sc := pgbenchCase{"sluice", cf.mode, cf.clients}
		s := med(sc, tps)
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.3f | %+.1f µs | %.1f µs |",
			cf.mode, cf.clients, d, s, s/d, added(s), med(sc, cpu))
		if e.pg.bouncer != nil {
			pc := pgbenchCase{"pgbouncer", cf.mode, cf.clients}
			p := med(pc, tps)
			fmt.Fprintf(&b, " %.0f | %.3f | %+.1f µs | %.1f µs |", p, p/d, added(p), med(pc, cpu))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nGoals: sluice ≥ 0.6× direct at 8 clients, ≤ 30 µs added per query at 1 client. \"Added per query\" is\n")
	b.WriteString("clients / TPS − clients / direct TPS: the latency one query gains on its way through. \"CPU per query\" is\n")
	b.WriteString("the proxy process's user and system CPU time during the run divided by the transactions pgbench completed;\n")
	b.WriteString("it is the least noisy of these figures, since on a 2-core machine the client, the server and the proxy\n")
	b.WriteString("compete for the same cores.\n\n")
	b.WriteString("Where sluice's cost comes from, in the same rounds: the same daemon with `recording: { enabled: false }`,\n")
	b.WriteString("measured right after sluice in each round (the cost of recording on its own is measured more closely in\n")
	b.WriteString("\"Recording: on / off\" below), and with the target declared `protocol: tcp`: the same kernel redirect,\n")
	b.WriteString("attribution and identity, bytes relayed by two goroutines without inspection, events or statement\n")
	b.WriteString("recording (the floor of sluice's Go data path).\n\n")
	b.WriteString("| protocol | clients | recording off / direct | CPU per query, recording off | TCP relay / direct | TCP relay added per query | TCP relay CPU per query |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, cf := range configs {
		d, added := direct(cf)
		nc := pgbenchCase{"sluice-norec", cf.mode, cf.clients}
		tc := pgbenchCase{"sluice-tcp", cf.mode, cf.clients}
		t := med(tc, tps)
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.1f µs | %.3f | %+.1f µs | %.1f µs |\n",
			cf.mode, cf.clients, med(nc, tps)/d, med(nc, cpu), t/d, added(t), med(tc, cpu))
	}
	b.WriteString("\nThe relay floor, in the same rounds: three bare TCP relays in Go that are not part of sluice and parse\n")
	b.WriteString("nothing (scripts/bench/relayfloor.go). \"Goroutines\" copies each direction in a goroutine of its own\n")
	b.WriteString("through Go's netpoller, as sluice's data path does; \"threads\" copies each direction with blocking\n")
	b.WriteString("read(2) and write(2) on an OS thread of its own, around the netpoller; \"epoll\" serves every connection\n")
	b.WriteString("from one thread polling raw descriptors, as pgbouncer does. They bound what relaying alone costs on this\n")
	b.WriteString("machine.\n\n")
	b.WriteString("| protocol | clients | relay | / direct | added per query | CPU per query |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|\n")
	for _, cf := range configs {
		d, added := direct(cf)
		for _, r := range []struct{ path, name string }{{"relay-go", "goroutines"}, {"relay-thread", "threads"}, {"relay-epoll", "epoll"}} {
			rc := pgbenchCase{r.path, cf.mode, cf.clients}
			v := med(rc, tps)
			fmt.Fprintf(&b, "| %s | %d | %s | %.3f | %+.1f µs | %.1f µs |\n", cf.mode, cf.clients, r.name, v/d, added(v), med(rc, cpu))
		}
	}
	return section{title: "PostgreSQL: pgbench -S", text: b.String()}, nil
}
