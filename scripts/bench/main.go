// Command bench measures what sluice costs and writes docs/benchmarks.md.
// Every figure is a ratio against a baseline measured in the same run, on
// the same machine, interleaved round by round so drift hits both alike.
//
// It needs root: it creates cgroups (children of the cgroup2 mount, removed
// at the end), mounts a private bpffs, starts bin/sluiced on loopback
// addresses, and moves itself between its own cgroups to measure. Counts are
// bounded; it stops by itself.
//
//	go run ./scripts/bench -out docs/benchmarks.md
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"time"
)

// cpuProfile, when set, is where each sluiced started writes a CPU profile
// (--cpuprofile), suffixed with its number and variant.
var cpuProfile string

func main() {
	out := flag.String("out", "docs/benchmarks.md", "markdown report to write")
	rounds := flag.Int("rounds", 9, "interleaved rounds per scenario (the median is reported)")
	ops := flag.Int("ops", 2000, "operations per scenario per round")
	bin := flag.String("bin", "bin", "directory holding sluiced")
	pgRounds := flag.Int("pgbench-rounds", 3, "interleaved pgbench runs per configuration")
	pgSeconds := flag.Int("pgbench-seconds", 5, "length of one pgbench run")
	pgCases := flag.String("pgbench-cases", "", "only these pgbench configurations, e.g. simple/8,prepared/1")
	recPairs := flag.Int("recording-pairs", 9, "pairs of recording on/off runs")
	recSeconds := flag.Int("recording-seconds", 4, "length of one recording on/off run")
	recFsync := flag.String("recording-fsync-interval", "", "recording.fsync_interval of the daemons that record (default: sluiced's)")
	maskRows := flag.Int64("mask-rows", 10_000_000, "rows of the streamed results of the masking section")
	maskRounds := flag.Int("mask-rounds", 3, "interleaved rounds of the masking section")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "have each sluiced started write a CPU profile to this path, suffixed .N.VARIANT")
	only := flag.String("only", "", "run only this section: connect, tag, pgbench, recording, mask")
	relay := flag.String("relay", "", "internal: run as a relay of the relay floor (go, thread or epoll)")
	relayListen := flag.String("relay-listen", "", "internal: the relay's address")
	relayUp := flag.String("relay-up", "", "internal: where the relay connects")
	flag.Parse()
	if *relay != "" {
		log.Fatal(runRelay(*relay, *relayListen, *relayUp))
	}
	if os.Geteuid() != 0 {
		log.Fatal("bench: run as root (cgroups, eBPF)")
	}
	for name, v := range map[string]int{"-rounds": *rounds, "-ops": *ops, "-pgbench-rounds": *pgRounds, "-pgbench-seconds": *pgSeconds,
		"-recording-pairs": *recPairs, "-recording-seconds": *recSeconds, "-mask-rounds": *maskRounds} {
		if v < 1 {
			log.Fatalf("bench: %s must be at least 1, got %d", name, v)
		}
	}

	env, err := setup(*bin, *recFsync)
	if err != nil {
		log.Fatalf("bench: setup: %v", err)
	}
	var sections []section
	run := func(name string, f func() (section, error)) {
		if err != nil || (*only != "" && *only != name) {
			return
		}
		var s section
		s, err = f()
		sections = append(sections, s)
	}
	if *only == "" || *only == "connect" {
		var cs []section
		cs, err = runConnect(env, *rounds, *ops)
		sections = append(sections, cs...)
	}
	run("tag", func() (section, error) { return runTagLatency(env, 50) })
	if env.pg != nil {
		run("pgbench", func() (section, error) { return runPgbench(env, *pgRounds, *pgSeconds, *pgCases) })
		run("recording", func() (section, error) { return runRecordingCost(env, *recPairs, *recSeconds) })
		run("mask", func() (section, error) { return runMaskStream(env, *maskRounds, *maskRows) })
	}
	env.teardown()
	if err != nil {
		log.Fatalf("bench: %v", err)
	}
	report := render(sections, *rounds, *ops)
	if old, err := os.ReadFile(*out); err == nil {
		report = merge(string(old), report)
	}
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		log.Fatalf("bench: %v", err)
	}
	fmt.Print(report)
}

// machine describes where the figures were measured.
func machine() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu := ""
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpu, _ = strings.Cut(l, ":")
				break
			}
		}
	}
	return fmt.Sprintf("Linux %s, %d CPUs (%s), %s, %s", strings.TrimSpace(string(kernel)), runtime.NumCPU(),
		strings.TrimSpace(cpu), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}
