package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// maskPolicy masks the results of identity bench-mask with every default
// content detector; bench-mask may read what bench reads (bench.yaml).
const maskPolicy = `policies:
  - name: bench-mask
    identities: [bench-mask]
    targets: [pgbench-db]
    default: abstain
    masking:
      region: US
      detectors: [defaults]
      strategy: partial
`

// Streamed results: text columns the detectors read (one row in twenty
// holds a card number, every row an e-mail address), and integers only,
// which no detector reads, so its plan is empty.
const (
	streamText = `SELECT g, 'user' || g || '@example.com' AS contact,
	CASE WHEN g % 20 = 0 THEN 'paid with 4111 1111 1111 1111' ELSE 'order ' || g END AS note
	FROM generate_series(1, $1::bigint) g`
	streamInts = `SELECT g, g * 2 AS twice, g % 7 AS mod FROM generate_series(1, $1::bigint) g`
)

// streamCase is one measured path of a streamed result.
type streamCase struct {
	name   string
	cgroup string // plain: direct; root/tagged: sluice, no masking; root/masked: sluice, masking on
	sql    string
	proxy  bool
}

// streamSample is one run: wall time, and sluiced's CPU time and memory.
type streamSample struct {
	wall       time.Duration
	cpu        time.Duration
	rssBefore  int64 // VmRSS when the query starts
	peakGrowth int64 // VmHWM after the result, over rssBefore
}

// stream reads one n-row result with pgx in binary format, from cgroup c,
// discarding the rows, and measures sluiced around it.
func (e *benchEnv) stream(c streamCase, n int64) (streamSample, error) {
	pid := e.daemon.Process.Pid
	if err := e.enter(c.cgroup); err != nil {
		return streamSample{}, err
	}
	defer func() { _ = e.enter("") }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=pgbench sslmode=disable", e.pg.srv.Host, e.pg.srv.Port, pgUser, pgPassword)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return streamSample{}, fmt.Errorf("%s: connect: %w", c.name, err)
	}
	defer conn.Close(ctx)
	// The peak RSS is reset to the current one: growth is what this
	// result costs.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return streamSample{}, fmt.Errorf("reset sluiced's peak RSS: %w", err)
	}
	var s streamSample
	if s.rssBefore, err = procStatus(pid, "VmRSS"); err != nil {
		return s, err
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return s, err
	}
	start := time.Now()
	rows, err := conn.Query(ctx, c.sql, pgx.QueryResultFormats{1, 1, 1}, n)
	if err != nil {
		return s, fmt.Errorf("%s: %w", c.name, err)
	}
	var count int64
	for rows.Next() {
		_ = rows.RawValues()
		count++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("%s: %w", c.name, err)
	}
	s.wall = time.Since(start)
	if count != n {
		return s, fmt.Errorf("%s: %d rows, want %d", c.name, count, n)
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return s, err
	}
	peak, err := procStatus(pid, "VmHWM")
	if err != nil {
		return s, err
	}
	s.cpu, s.peakGrowth = cpu1-cpu0, peak-s.rssBefore
	return s, nil
}

// thousands writes n with a comma every three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// procStatus reads a size field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// runMaskStream streams n-row results directly, through sluice without
// masking and through sluice with masking on, interleaved round by round,
// and reports throughput, sluiced's CPU per row and its memory growth.
func runMaskStream(e *benchEnv, rounds int, n int64) (section, error) {
	cases := []streamCase{
		{"text, direct", "plain", streamText, false},
		{"text, through sluice, no masking", "root/tagged", streamText, true},
		{"text, through sluice, masking on", "root/masked", streamText, true},
		{"integers, through sluice, no masking", "root/tagged", streamInts, true},
		{"integers, through sluice, masking on (no column to mask)", "root/masked", streamInts, true},
	}
	samples := make([][]streamSample, len(cases))
	for r := 0; r < rounds; r++ {
		for i, c := range cases {
			s, err := e.stream(c, n)
			if err != nil {
				return section{}, err
			}
			samples[i] = append(samples[i], s)
		}
	}
	med := func(i int, f func(streamSample) float64) float64 {
		v := make([]float64, len(samples[i]))
		for k, s := range samples[i] {
			v[k] = f(s)
		}
		return median(v)
	}
	nsPerRow := func(s streamSample) float64 { return float64(s.wall.Nanoseconds()) / float64(n) }
	cpuPerRow := func(s streamSample) float64 { return float64(s.cpu.Nanoseconds()) / float64(n) }
	maxGrowth := func(i int) int64 {
		var m int64
		for _, s := range samples[i] {
			m = max(m, s.peakGrowth)
		}
		return m
	}
	var b strings.Builder
	fmt.Fprintf(&b, "A %s-row result read with pgx in binary format (extended protocol, rows discarded as they\n", thousands(n))
	b.WriteString("arrive) directly and through sluiced, whose `db.query` event and recording are written as for any\n")
	b.WriteString("statement. \"Masking on\" is a policy with every default content detector (strategy `partial`) for the\n")
	b.WriteString("identity: the text result has an e-mail address in every row and a card number in one row in twenty;\n")
	b.WriteString("the integer result has no column a detector reads, so its plan is empty. sluiced's peak RSS is reset\n")
	b.WriteString("before each query (`/proc/PID/clear_refs`), and the growth is its `VmHWM` after the result over its\n")
	fmt.Fprintf(&b, "`VmRSS` before. Median of %d interleaved rounds; growth is the largest of them. sluiced's CPU time\n", rounds)
	b.WriteString("per row is the figure to compare: wall time depends on how the client, the server and sluiced share\n")
	b.WriteString("the machine's cores.\n\n")
	b.WriteString("| result | path | rows/s | ns/row | sluiced CPU ns/row | sluiced RSS before | peak RSS growth |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for i, c := range cases {
		kind, path, _ := strings.Cut(c.name, ", ")
		ns := med(i, nsPerRow)
		cpu, before, growth := "—", "—", "—"
		if c.proxy {
			cpu = fmt.Sprintf("%.0f", med(i, cpuPerRow))
			before = fmt.Sprintf("%.1f MiB", med(i, func(s streamSample) float64 { return float64(s.rssBefore) })/(1<<20))
			growth = fmt.Sprintf("%.1f MiB", float64(maxGrowth(i))/(1<<20))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %s |\n", kind, path, thousands(int64(1e9/ns)), ns, cpu, before, growth)
	}
	ratio := func(a, d int, f func(streamSample) float64) float64 { return med(a, f) / med(d, f) }
	b.WriteString("\n| ratio | wall time | sluiced CPU |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| text: sluice / direct | %.3f | — |\n", ratio(1, 0, nsPerRow))
	fmt.Fprintf(&b, "| text: masking on / off | %.3f | %.3f |\n", ratio(2, 1, nsPerRow), ratio(2, 1, cpuPerRow))
	fmt.Fprintf(&b, "| integers (nothing to mask): masking on / off | %.3f | %.3f |\n", ratio(4, 3, nsPerRow), ratio(4, 3, cpuPerRow))
	worst := max(maxGrowth(2), maxGrowth(4))
	verdict := "met"
	if worst >= 64<<20 {
		verdict = "missed"
	}
	fmt.Fprintf(&b, "\nGoal: sluiced's RSS grows by less than 64 MiB over a %s-row result with masking on, with no row cap:\n", thousands(n))
	fmt.Fprintf(&b, "%s (%.1f MiB at most). A result no rule touches pays the `Empty()` check of its plan, then the plain\n", verdict, float64(worst)/(1<<20))
	b.WriteString("copy path. The same bound is asserted by `TestPostgresMasking` in `pkg/e2e` over 1,000,000 rows (10,000,000\n")
	b.WriteString("with `SLUICE_E2E_MASK_STREAM_ROWS=10000000`).\n\n")
	fmt.Fprintf(&b, "Machine: %s. Reproduce this section alone: `make build && sudo go run ./scripts/bench -only mask`\n", machine())
	b.WriteString("(`-mask-rows`, `-mask-rounds`).\n")
	return section{title: "PostgreSQL: a large result with masking on", text: b.String()}, nil
}
