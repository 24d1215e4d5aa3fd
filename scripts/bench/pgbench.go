package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
    identities: [bench]
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
	if err := os.WriteFile(filepath.Join(dir, "policies", "bench.yaml"), []byte(pgPolicy), 0o600); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *pgEnv) stop() {
	if p.bouncer != nil {
		_ = p.bouncer.Stop()
	}
	_ = p.srv.Stop()
}

// pgbenchCase is one measured configuration.
type pgbenchCase struct {
	path    string // "direct", "sluice", "pgbouncer"
	mode    string // -M
	clients int
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs one bounded pgbench -S and returns its TPS. Through sluice,
// pgbench runs in the tagged cgroup and connects to the server's own
// address; the kernel redirects it.
func (e *benchEnv) pgbench(c pgbenchCase, seconds int) (float64, error) {
	host, port := e.pg.srv.Host, e.pg.srv.Port
	cg := "plain"
	switch c.path {
	case "sluice":
		cg = "root/tagged"
	case "pgbouncer":
		host, port = e.pg.bouncer.Host, e.pg.bouncer.Port
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+60)*time.Second)
	defer cancel()
	cmd, err := e.pg.srv.Command(ctx, "pgbench", "-n", "-S", "-M", c.mode, "-c", strconv.Itoa(c.clients),
		"-j", strconv.Itoa(min(c.clients, 2)), "-T", strconv.Itoa(seconds),
		"-h", host, "-p", strconv.Itoa(port), "-U", pgUser, "pgbench")
	if err != nil {
		return 0, err
	}
	cmd.Env = append(cmd.Env, "PGPASSWORD="+pgPassword, "PGSSLMODE=disable")
	fd, err := unix.Open(e.cg(cg), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench %+v: %w\n%s", c, err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench %+v: no tps in output\n%s", c, out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// runPgbench measures pgbench -S (simple and prepared, 1 and 8 clients)
// direct, through sluice and through pgbouncer, interleaved round by round.
func runPgbench(e *benchEnv, rounds, seconds int) (section, error) {
	paths := []string{"direct", "sluice"}
	if e.pg.bouncer != nil {
		paths = append(paths, "pgbouncer")
	}
	var cases []pgbenchCase
	for _, mode := range []string{"simple", "prepared"} {
		for _, clients := range []int{1, 8} {
			for _, path := range paths {
				cases = append(cases, pgbenchCase{path, mode, clients})
			}
		}
	}
	samples := map[pgbenchCase][]float64{}
	for r := 0; r < rounds; r++ {
		for _, c := range cases {
			tps, err := e.pgbench(c, seconds)
			if err != nil {
				return section{}, err
			}
			samples[c] = append(samples[c], tps)
		}
	}
	med := func(c pgbenchCase) float64 {
		s := append([]float64(nil), samples[c]...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pgbench -S (scale %d) against PostgreSQL on loopback: directly, through sluice (kernel redirect, full\n", pgScale)
	b.WriteString("parsing, classification and a policy decision per statement, one `db.query` event per statement written\n")
	b.WriteString("to the event log), and through pgbouncer in session mode. Median TPS of ")
	fmt.Fprintf(&b, "%d interleaved runs of %d s each.\n\n", rounds, seconds)
	b.WriteString("| protocol | clients | direct TPS | sluice TPS | sluice / direct | sluice added per query | pgbouncer TPS | pgbouncer / direct | pgbouncer added per query |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, mode := range []string{"simple", "prepared"} {
		for _, clients := range []int{1, 8} {
			d := med(pgbenchCase{"direct", mode, clients})
			s := med(pgbenchCase{"sluice", mode, clients})
			added := func(tps float64) float64 { return (float64(clients)/tps - float64(clients)/d) * 1e6 }
			fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.3f | %+.1f µs |", mode, clients, d, s, s/d, added(s))
			if e.pg.bouncer != nil {
				p := med(pgbenchCase{"pgbouncer", mode, clients})
				fmt.Fprintf(&b, " %.0f | %.3f | %+.1f µs |\n", p, p/d, added(p))
			} else {
				b.WriteString(" — | — | — |\n")
			}
		}
	}
	b.WriteString("\nGoals: sluice ≥ 0.6× direct at 8 clients, ≤ 30 µs added per query at 1 client. \"Added per query\" is\n")
	b.WriteString("clients / TPS − clients / direct TPS: the latency one query gains on its way through.\n")
	return section{title: "PostgreSQL: pgbench -S", text: b.String()}, nil
}
