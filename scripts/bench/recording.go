package main

import (
	"fmt"
	"sort"
	"strings"
)

// runRecordingCost measures what recording costs: pgbench -S at 8 clients
// through the same daemon with recording on and off, in pairs measured
// back to back (a daemon restart in between), the order of each pair
// alternating (on-off, then off-on) so that a machine getting faster or
// slower over the run does not favour either. Each pair gives one ratio;
// the median and the spread of the ratios are reported.
func runRecordingCost(e *benchEnv, pairs, seconds int) (section, error) {
	type result struct {
		ratios, cpu []float64 // per pair: TPS on / off, sluiced's CPU per query on − off
		machine     []float64 // per pair: the machine's busy CPU per query on − off
		idle        []float64 // per run: the machine's idle share
	}
	modes := []string{"simple", "prepared"}
	results := map[string]*result{}
	variants := map[daemonVariant]string{full: "sluice", noRecording: "sluice-norec"}
	for _, mode := range modes {
		res := &result{}
		results[mode] = res
		for i := range pairs {
			order := []daemonVariant{full, noRecording}
			if i%2 == 1 {
				order = []daemonVariant{noRecording, full}
			}
			got := map[daemonVariant]sample{}
			for _, v := range order {
				if e.variant != v {
					if err := e.restartDaemon(v); err != nil {
						return section{}, err
					}
				}
				s, err := e.pgbench(pgbenchCase{variants[v], mode, 8}, seconds)
				if err != nil {
					return section{}, err
				}
				got[v] = s
			}
			on, off := got[full], got[noRecording]
			res.ratios = append(res.ratios, on.tps/off.tps)
			res.cpu = append(res.cpu, on.cpuPerQuery-off.cpuPerQuery)
			res.machine = append(res.machine, on.machine-off.machine)
			res.idle = append(res.idle, on.idle, off.idle)
		}
	}
	if e.variant != full {
		if err := e.restartDaemon(full); err != nil {
			return section{}, err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pgbench -S at 8 clients through sluice with recording on (every statement event handed to the kernel\n")
	b.WriteString("before it is forwarded, results with the next one, recordings synced every 100 ms) and through the same\n")
	fmt.Fprintf(&b, "daemon with `recording: { enabled: false }`: %d pairs of %d s runs, each pair measured back to back\n", pairs, seconds)
	b.WriteString("(on then off, off then on, alternately). \"On / off\" is the TPS with recording on divided by the TPS\n")
	b.WriteString("with it off, in the same pair; \"recording's CPU\" is the difference of sluiced's CPU time per query in\n")
	b.WriteString("the same pair; \"in the whole machine\" is the same difference for the busy time of all CPUs\n")
	b.WriteString("(every process and kernel thread, writeback and the file system's journal included); \"idle\" is the\n")
	b.WriteString("share of the machine's CPU time left idle or waiting for I/O during the runs. Goal: on / off ≥ 0.9.\n")
	b.WriteString("Single pairs spread widely on a shared 2-vCPU machine, where pgbench, PostgreSQL and sluiced compete\n")
	b.WriteString("for the same cores: the median is the figure.\n\n")
	b.WriteString("| protocol | on / off, median | lowest–highest pair | pairs ≥ 0.9 | recording's CPU per query in sluiced, median | in the whole machine, median | idle, median |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, mode := range modes {
		res := results[mode]
		r, c, m, idle := sorted(res.ratios), sorted(res.cpu), sorted(res.machine), sorted(res.idle)
		above := 0
		for _, v := range r {
			if v >= 0.9 {
				above++
			}
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.3f–%.3f | %d of %d | %.1f µs | %.1f µs | %.0f%% |\n",
			mode, r[len(r)/2], r[0], r[len(r)-1], above, len(r), c[len(c)/2], m[len(m)/2], 100*idle[len(idle)/2])
	}
	return section{title: "Recording: on / off", text: b.String()}, nil
}

func sorted(v []float64) []float64 {
	out := append([]float64(nil), v...)
	sort.Float64s(out)
	return out
}
