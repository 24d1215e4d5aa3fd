package mask

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time: on a shared machine
// it measures the work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchMasker(b *testing.B, st Strategy) *Scanner {
	b.Helper()
	k, err := NewKey([]byte("benchmark hash key, 32 bytes ..."))
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(Config{Detectors: All, Strategy: st, Region: "US", Key: k})
	if err != nil {
		b.Fatal(err)
	}
	return m.Scanner()
}

// benchCells scans the corpus round-robin and reports cells/s, ns/cell
// (wall clock), cpu-ns/cell (process CPU time, which includes the
// runtime's GC work) and bytes/s.
func benchCells(b *testing.B, cells [][]byte, st Strategy) {
	sc := benchMasker(b, st)
	var total int
	for _, c := range cells {
		total += len(c)
	}
	b.SetBytes(int64(total / len(cells)))
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	found := 0
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		out, res := sc.Text(buf[:0], cells[i%len(cells)], Context{})
		if res.Changed {
			found++
			buf = out
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/cell")
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "cells/s")
	b.ReportMetric(sec*1e9/float64(b.N), "ns/cell")
	b.ReportMetric(float64(found)/float64(b.N), "dirty-ratio")
}

// BenchmarkScan measures Scanner.Text with every detector on (IPv4 and
// IPv6 included, phone region US) over a mixed corpus (one cell in
// twenty dirty), clean cells only and dirty cells only.
func BenchmarkScan(b *testing.B) {
	b.Run("mixed", func(b *testing.B) { benchCells(b, mixedCorpus(4096), Redact) })
	b.Run("clean", func(b *testing.B) { benchCells(b, cleanCorpus(4096), Redact) })
	b.Run("dirty", func(b *testing.B) { benchCells(b, dirtyCorpus(4096), Redact) })
	b.Run("dirty-hash", func(b *testing.B) { benchCells(b, dirtyCorpus(4096), Hash) })
}
