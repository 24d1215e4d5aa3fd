package pgmask

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/wire"
)

// streamFields are the columns of the streamed result: an id, a name, an
// e-mail address, a free-text note, a JSON document and an amount.
var streamFields = []pgproto3.FieldDescription{
	field("id", pgtype.Int8OID, 0), field("name", pgtype.TextOID, 0), field("email", pgtype.VarcharOID, 0),
	field("note", pgtype.TextOID, 0), field("doc", pgtype.JSONBOID, 0), field("amount", pgtype.NumericOID, 0),
}

// rowPool encodes n realistic DataRow frames (one in twenty with personal
// data in its note or document).
func rowPool(n int) [][]byte {
	r := rand.New(rand.NewPCG(7, 8))
	first := []string{"Ada", "Grace", "Linus", "Margaret", "José", "Zoë"}
	last := []string{"Lovelace", "Hopper", "Torvalds", "Hamilton", "García", "Müller"}
	words := strings.Fields("the customer called about order delivery late refund shipping address changed new office contact next week ticket escalated")
	out := make([][]byte, n)
	for i := range out {
		note := make([]string, 8+r.IntN(16))
		for j := range note {
			note[j] = words[r.IntN(len(words))]
		}
		doc := fmt.Sprintf(`{"status": "shipped", "items": [{"sku": "SKU-%05d", "qty": %d}]}`, r.IntN(99999), 1+r.IntN(9))
		if r.IntN(20) == 0 {
			note[r.IntN(len(note))] = "card 4111 1111 1111 1111"
			doc = `{"status": "hold", "contact": "bob.smith@example.com"}`
		}
		name := first[r.IntN(len(first))] + " " + last[r.IntN(len(last))]
		email := strings.ToLower(strings.Fields(name)[0]) + strconv.Itoa(i) + "@example.com"
		frame, err := (&pgproto3.DataRow{Values: [][]byte{
			[]byte(strconv.Itoa(i)), []byte(name), []byte(email), []byte(strings.Join(note, " ")), []byte(doc),
			[]byte(fmt.Sprintf("%d.%02d", r.IntN(10000), r.IntN(100))),
		}}).Encode(nil)
		if err != nil {
			panic(err)
		}
		out[i] = frame
	}
	return out
}

// rowSource is an io.Reader of n DataRow frames, cycling through a pool:
// it produces any number of rows without holding them.
type rowSource struct {
	pool [][]byte
	n    int
	cur  []byte
	i    int
}

func (s *rowSource) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if len(s.cur) == 0 {
			if s.i == s.n {
				break
			}
			s.cur = s.pool[s.i%len(s.pool)]
			s.i++
		}
		k := copy(p, s.cur)
		s.cur, p, total = s.cur[k:], p[k:], total+k
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// streamRows copies frames from r to w as the inspector's upstream side
// does, rewriting DataRows through p unless p is empty: an empty plan
// leaves the copy path exactly as it is without masking.
func streamRows(r io.Reader, w io.Writer, p *Plan) (rows int, err error) {
	rd := wire.NewReader(r, 64<<20)
	wr := wire.NewWriter(w)
	var buf []byte
	for {
		typ, n, err := rd.Header(true)
		if err == io.EOF {
			return rows, wr.Flush()
		}
		if err != nil {
			return rows, err
		}
		if typ != 'D' || p.Empty() {
			if err := rd.Copy(wr, typ, n); err != nil {
				return rows, err
			}
		} else {
			body, err := rd.Body(n)
			if err != nil {
				return rows, err
			}
			out, changed, err := p.Row(buf[:0], body)
			if err != nil {
				return rows, err
			}
			if changed {
				buf = out
				body = out
			}
			wr.Frame(typ, body)
		}
		rows++
		if rd.Buffered() == 0 {
			if err := wr.Flush(); err != nil {
				return rows, err
			}
		}
	}
}

// memSampler tracks heap and RSS growth over a run.
type memSampler struct {
	heap0, rss0     uint64
	heapMax, rssMax uint64
	samples         []metrics.Sample
}

func newMemSampler() *memSampler {
	runtime.GC()
	m := &memSampler{samples: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
	m.heap0, m.rss0 = m.heap(), rss()
	m.heapMax, m.rssMax = m.heap0, m.rss0
	return m
}

func (m *memSampler) heap() uint64 {
	metrics.Read(m.samples)
	return m.samples[0].Value.Uint64()
}

func (m *memSampler) sample() {
	m.heapMax, m.rssMax = max(m.heapMax, m.heap()), max(m.rssMax, rss())
}

// growth returns the peak heap and RSS growth in MiB.
func (m *memSampler) growth() (heapMiB, rssMiB float64) {
	m.sample()
	return float64(m.heapMax-m.heap0) / (1 << 20), float64(m.rssMax-m.rss0) / (1 << 20)
}

// cpuTime is the process's user and system CPU time: on a shared machine
// it measures the work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss reads the resident set size from /proc/self/statm.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// sampledWriter discards what it is given and samples memory now and then.
type sampledWriter struct {
	m     *memSampler
	n     int
	bytes int64
}

func (w *sampledWriter) Write(p []byte) (int, error) {
	w.n++
	w.bytes += int64(len(p))
	if w.n%256 == 0 {
		w.m.sample()
	}
	return len(p), nil
}

func streamPlan(t testing.TB) *Plan {
	m := testMasker(t, mask.Defaults)
	rs, err := NewRuleSet(RuleSetConfig{Columns: []ColumnRule{{Pattern: "email", Strategy: mask.Hash}}, Content: m})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(context.Background(), streamFields, rs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runStream pushes n rows through p and reports rows/s and memory growth.
func runStream(t testing.TB, n int, p *Plan) (heapMiB, rssMiB float64, out int64) {
	src := &rowSource{pool: rowPool(4096), n: n}
	mem := newMemSampler()
	w := &sampledWriter{m: mem}
	rows, err := streamRows(bufio.NewReaderSize(src, 64<<10), w, p)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Fatalf("streamed %d rows, want %d", rows, n)
	}
	heapMiB, rssMiB = mem.growth()
	return heapMiB, rssMiB, w.bytes
}

// TestStream streams rows through a masking plan and checks the output
// frames; with SLUICE_MASK_STREAM_ROWS=10000000 it is the 10-million-row
// run, and the RSS growth must stay under 64 MiB.
func TestStream(t *testing.T) {
	n := 20000
	if s := os.Getenv("SLUICE_MASK_STREAM_ROWS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	p := streamPlan(t)
	heapMiB, rssMiB, _ := runStream(t, n, p)
	t.Logf("%d rows: heap growth %.1f MiB, RSS growth %.1f MiB, %d rows masked", n, heapMiB, rssMiB, p.Stats().Rows)
	if rssMiB >= 64 {
		t.Errorf("RSS grew by %.1f MiB streaming %d rows (limit 64 MiB)", rssMiB, n)
	}
	if p.Stats().Rows != uint64(n) {
		t.Errorf("%d rows masked, want all %d (every row has an e-mail column)", p.Stats().Rows, n)
	}
	// The output is valid DataRows with masked e-mail addresses.
	var out bytes.Buffer
	if _, err := streamRows(&rowSource{pool: rowPool(64), n: 64}, &out, p); err != nil {
		t.Fatal(err)
	}
	rd := wire.NewReader(&out, 1<<20)
	for i := 0; i < 64; i++ {
		typ, body, err := rd.Next()
		if err != nil || typ != 'D' {
			t.Fatalf("frame %d: %q %v", i, typ, err)
		}
		v := decodeRow(t, body)
		if strings.Contains(string(v[2]), "example.com") || strings.Contains(string(v[3]), "4111") {
			t.Fatalf("row %d not masked: %q", i, v)
		}
	}
}

// BenchmarkStream pushes b.N DataRows (six columns: an e-mail column
// hashed by a column rule, detectors on the text and JSON columns) from
// an io.Reader to an io.Writer through a plan, and reports rows/s, ns/row
// CPU ns/row (user and system time of the process, which holds on a
// shared machine) and peak heap and RSS growth. The 10-million-row run:
//
//	go test ./pkg/protocol/postgres/pgmask -run XXX -bench Stream -benchtime 10000000x
func BenchmarkStream(b *testing.B) {
	for _, c := range []struct {
		name string
		plan func(testing.TB) *Plan
	}{
		{"no-rule", func(testing.TB) *Plan { return nil }},
		{"masked", streamPlan},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := c.plan(b)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			heapMiB, rssMiB, out := runStream(b, b.N, p)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/row")
			sec := b.Elapsed().Seconds()
			b.SetBytes(out / int64(b.N))
			b.ReportMetric(float64(b.N)/sec, "rows/s")
			b.ReportMetric(sec*1e9/float64(b.N), "ns/row")
			b.ReportMetric(heapMiB, "heap-growth-MiB")
			b.ReportMetric(rssMiB, "rss-growth-MiB")
		})
	}
}

// BenchmarkRow measures Plan.Row alone on realistic rows: cells/s and
// ns/cell with every detector on the text columns, and the cost of the
// "no rule" check that leaves a row to the plain copy path.
func BenchmarkRow(b *testing.B) {
	pool := rowPool(4096)
	bodies := make([][]byte, len(pool))
	for i, f := range pool {
		bodies[i] = f[5:]
	}
	m := testMasker(b, mask.All)
	detectors, err := Compile(context.Background(), streamFields, ResolverFunc(func(_ context.Context, name string, _ uint32, _ int16) (Rule, error) {
		return Rule{Masker: m}, nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	empty, _ := Compile(context.Background(), streamFields, byName{})
	cells := 0
	for _, c := range detectors.cols {
		if c.active {
			cells++
		}
	}
	b.Run("no-rule", func(b *testing.B) {
		var dst []byte
		for i := 0; i < b.N; i++ {
			if !empty.Empty() {
				dst, _, _ = empty.Row(dst[:0], bodies[i%len(bodies)])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
	})
	b.Run("detectors", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for i := 0; i < b.N; i++ {
			out, changed, err := detectors.Row(dst[:0], bodies[i%len(bodies)])
			if err != nil {
				b.Fatal(err)
			}
			if changed {
				dst = out
			}
		}
		sec := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N*cells)/sec, "cells/s")
		b.ReportMetric(sec*1e9/float64(b.N*cells), "ns/cell")
	})
}
