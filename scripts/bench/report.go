package main

import (
	"fmt"
	"strings"
)

func render(sections []section, rounds, ops int) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`go run ./scripts/bench`). Every ratio compares two figures measured in the\n")
	b.WriteString("same run on the same machine; scenarios are interleaved round by round and each figure is the median of\n")
	fmt.Fprintf(&b, "%d rounds of %d operations. Absolute times depend on the machine; the ratios are the result.\n\n", rounds, ops)
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine())
	b.WriteString("Reproduce: `sudo make bench` (root: it creates its own cgroups and a private bpffs, starts sluiced on\n")
	b.WriteString("loopback, and removes everything afterwards).\n")
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", s.title, s.text)
		if len(s.results) == 0 {
			continue
		}
		b.WriteString("\n")
		b.WriteString("| scenario | median µs/op | min–max over rounds |\n|---|---:|---:|\n")
		byName := map[string]result{}
		for _, r := range s.results {
			byName[r.name] = r
			lo, hi := r.samples[0], r.samples[0]
			for _, v := range r.samples {
				lo, hi = min(lo, v), max(hi, v)
			}
			fmt.Fprintf(&b, "| %s | %.2f | %.2f–%.2f |\n", r.name, r.nsPerOp/1000, lo/1000, hi/1000)
		}
		b.WriteString("\n| ratio | value | added per operation | goal |\n|---|---:|---:|---|\n")
		for _, q := range s.ratios {
			num, den := byName[q.num], byName[q.den]
			goal := q.goal
			if goal == "" {
				goal = "—"
			}
			fmt.Fprintf(&b, "| %s | %.3f | %+.1f µs | %s |\n", q.name, num.nsPerOp/den.nsPerOp, (num.nsPerOp-den.nsPerOp)/1000, goal)
		}
	}
	return b.String()
}

// merge returns old with its sections replaced by those of report that
// have the same title, in old's order; report's other sections follow the
// section of report they follow (at the end when that one is new too).
// So a run of some sections (-only) keeps the others where they were, and
// the sections written from `go test -bench` results (policy decisions,
// masking, recording) survive a run of this program.
func merge(old, report string) string {
	rep := splitSections(report)
	idx := map[string]int{}
	for i, s := range rep {
		idx[s.title] = i
	}
	olds := splitSections(old)
	inOld := map[string]bool{}
	for _, s := range olds {
		inOld[s.title] = true
	}
	used := make([]bool, len(rep))
	var out []string
	emit := func(i int) {
		out = append(out, rep[i].text)
		used[i] = true
		// New sections right after it in report go with it.
		for j := i + 1; j < len(rep) && !inOld[rep[j].title] && !used[j]; j++ {
			out = append(out, rep[j].text)
			used[j] = true
		}
	}
	out = append(out, rep[0].text) // report's preamble; new sections after it go last
	used[0] = true
	for _, s := range olds[1:] {
		if i, ok := idx[s.title]; ok {
			if !used[i] {
				emit(i)
			}
			continue
		}
		out = append(out, s.text)
	}
	for i := range rep {
		if !used[i] {
			out = append(out, rep[i].text)
		}
	}
	var b strings.Builder
	for i, t := range out {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(strings.TrimRight(t, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// mdSection is a "## " section of a markdown file, heading included; the
// text before the first one has an empty title.
type mdSection struct {
	title, text string
}

func splitSections(doc string) []mdSection {
	var out []mdSection
	cur := mdSection{}
	for _, line := range strings.SplitAfter(doc, "\n") {
		if t, ok := strings.CutPrefix(line, "## "); ok {
			out = append(out, cur)
			cur = mdSection{title: strings.TrimSpace(t)}
		}
		cur.text += line
	}
	return append(out, cur)
}
