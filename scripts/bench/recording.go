package main

import (
	"fmt"
	"math"
	"strings"
)

// recordingPairs holds one protocol's pairs of the recording section.
type recordingPairs struct {
	ratios, cpu []float64 // per pair: TPS on / off, sluiced's CPU per query on − off
	machine     []float64 // per pair: the machine's busy CPU per query on − off
	idle        []float64 // per run: the machine's idle share
	on, off     []sample  // per run, by state
}

// runRecordingCost measures what recording costs: pgbench -S at 8 clients
// through the same daemon with recording on and off, in pairs measured
// back to back (a daemon restart in between), the order of each pair
// alternating (on-off, then off-on) so that a machine getting faster or
// slower over the run does not favour either. Each pair gives one ratio;
// the median of the ratios, a confidence interval of that median and
// their spread are reported, with what recording costs the CPUs and the
// disk.
func runRecordingCost(e *benchEnv, pairs, seconds int) (section, error) {
	modes := []string{"simple", "prepared"}
	results := map[string]*recordingPairs{}
	variants := map[daemonVariant]string{full: "sluice", noRecording: "sluice-norec"}
	for _, mode := range modes {
		res := &recordingPairs{}
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
			res.on, res.off = append(res.on, on), append(res.off, off)
		}
	}
	if e.variant != full {
		if err := e.restartDaemon(full); err != nil {
			return section{}, err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pgbench -S at 8 clients through sluice with recording on (every statement event handed to the kernel\n")
	fmt.Fprintf(&b, "before it is forwarded, results with the next one or within 100 ms; recordings synced every %s) and\n", e.syncEvery())
	fmt.Fprintf(&b, "through the same daemon with `recording: { enabled: false }`: %d pairs of %d s runs, each pair measured back to back\n", pairs, seconds)
	b.WriteString("(on then off, off then on, alternately). \"On / off\" is the TPS with recording on divided by the TPS\n")
	b.WriteString("with it off, in the same pair. Its \"interval\" is a distribution-free confidence interval of the median\n")
	b.WriteString("(order statistics; its coverage is given): the goal, on / off ≥ 0.9, is \"met\" when the whole interval\n")
	b.WriteString("is at or above 0.9, \"missed\" when it is below, and \"not resolved\" when it spans 0.9: this machine's\n")
	b.WriteString("noise is then larger than the distance to the goal. \"Recording's CPU\" is the difference of sluiced's CPU\n")
	b.WriteString("time per query in the same pair; \"in the whole machine\" is the same difference for the busy time of\n")
	b.WriteString("all CPUs (every process and kernel thread, writeback and the file system's journal included). \"Disk\n")
	b.WriteString("writes\" and \"cache flushes\" are the requests per second the disk holding the state directory completed\n")
	b.WriteString("during the runs with recording on (and off). \"Idle\" is the share of the machine's CPU time left idle\n")
	b.WriteString("or waiting for I/O. Single pairs spread widely on a shared 2-vCPU machine, where pgbench, PostgreSQL\n")
	b.WriteString("and sluiced compete for the same cores: the median and its interval are the figures.\n\n")
	b.WriteString("| protocol | on / off, median | interval of the median | goal | lowest–highest pair | recording's CPU per query in sluiced, median | in the whole machine, median | disk writes / s, on (off) | cache flushes / s, on (off) | idle, median |\n")
	b.WriteString("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, mode := range modes {
		res := results[mode]
		r, c, m, idle := sorted(res.ratios), sorted(res.cpu), sorted(res.machine), sorted(res.idle)
		ci, goal := "—", "not resolved"
		if lo, hi, cov, ok := medianInterval(r); ok {
			ci = fmt.Sprintf("%.3f–%.3f (%.0f%%)", lo, hi, 100*cov)
			switch {
			case lo >= 0.9:
				goal = "met"
			case hi < 0.9:
				goal = "missed"
			}
		}
		fmt.Fprintf(&b, "| %s | %.3f | %s | %s | %.3f–%.3f | %.1f µs | %.1f µs | %s | %s | %.0f%% |\n",
			mode, median(r), ci, goal, r[0], r[len(r)-1], median(c), median(m),
			onOff(res, func(s sample) float64 { return s.writes }), onOff(res, func(s sample) float64 { return s.flushes }),
			100*median(idle))
	}
	return section{title: "Recording: on / off", text: b.String()}, nil
}

// onOff formats the medians of f over the runs with recording on and
// off: "on (off)", or "—" where the state directory has no disk of its
// own to count.
func onOff(res *recordingPairs, f func(sample) float64) string {
	med := func(ss []sample) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		return median(v)
	}
	on, off := med(res.on), med(res.off)
	if math.IsNaN(on) || math.IsNaN(off) {
		return "—"
	}
	return fmt.Sprintf("%.0f (%.0f)", on, off)
}
