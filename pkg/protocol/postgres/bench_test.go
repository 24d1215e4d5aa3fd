package postgres

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/wire"
	"github.com/sluicehq/sluice/pkg/record"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// benchRows is the size of each result BenchmarkRows streams.
const benchRows = 10000

// BenchmarkRows streams results of benchRows rows of three text columns
// (about 70 bytes a row) from a server through the inspector to a client
// over loopback TCP, recording on: plain, with row samples of the
// recording, with masking (content detectors), and both. Compare ns/row
// and cpu-ns/row (the whole process: server, inspector and client) of the
// variants with "plain" of the same run; "plain" is the path of every
// session that neither masks nor samples, and must not pay for either.
func BenchmarkRows(b *testing.B) {
	resp := benchResult(b)
	for _, c := range []struct {
		name   string
		sample int
		masked bool
	}{
		{"plain", 0, false},
		{"sampled 10", 10, false},
		{"sampled 1000", 1000, false},
		{"masked", 0, true},
		{"masked sampled 10", 10, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			store, err := record.Open(b.TempDir(), record.Options{SampleRows: c.sample, FsyncInterval: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			e := newEnv(b, envOptions{records: store, fake: fakeOptions{handle: func(conn net.Conn, q string) bool {
				if q != "SELECT * FROM big" {
					return false
				}
				_, _ = conn.Write(resp)
				return true
			}}})
			if c.masked {
				e.policy.set(sqlclass.KindSelect, policy.Decision{Action: policy.Allow, Policy: "pii", Rule: "read",
					Masking: &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.Card, mask.Email), Strategy: mask.Redact}})
			}
			cl, _ := e.connect(nil)
			query, _ := (&pgproto3.Query{String: "SELECT * FROM big"}).Encode(nil)
			r := bufio.NewReaderSize(cl.conn, 64<<10)
			_ = cl.conn.SetDeadline(time.Time{})
			cpu := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				if _, err := cl.conn.Write(query); err != nil {
					b.Fatal(err)
				}
				if err := skipUntilReady(r); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perRow(b, cpu)
			cl.terminate()
		})
	}
}

// perRow reports the wall-clock and CPU time per row since the timer
// started, and since the CPU time cpu.
func perRow(b *testing.B, cpu time.Duration) {
	rows := float64(b.N * benchRows)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/rows, "cpu-ns/row")
}

// cpuTime is the process's user and system CPU time so far: the
// server's, the inspector's and the client's work together.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchResult is the server's answer to the benchmark's query.
func benchResult(b *testing.B) []byte {
	out, err := rowDescription([]string{"id", "email", "note"}).Encode(nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchRows {
		row := &pgproto3.DataRow{Values: [][]byte{
			fmt.Appendf(nil, "%d", 100000+i), fmt.Appendf(nil, "user%d@example.com", i), []byte("shipped to the warehouse, no card"),
		}}
		if out, err = row.Encode(out); err != nil {
			b.Fatal(err)
		}
	}
	out, _ = (&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "SELECT %d", benchRows)}).Encode(out)
	out, _ = (&pgproto3.ReadyForQuery{TxStatus: 'I'}).Encode(out)
	return out
}

// skipUntilReady reads frames without decoding them, up to and including
// ReadyForQuery.
func skipUntilReady(r *bufio.Reader) error {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		if _, err := r.Discard(int(binary.BigEndian.Uint32(hdr[1:])) - 4); err != nil {
			return err
		}
		if hdr[0] == 'Z' {
			return nil
		}
	}
}

// BenchmarkPump runs the upstream side of a session alone, on one
// goroutine, over results of benchRows rows held in memory and a client
// that discards what it gets: the inspector's own cost per row, without
// sockets or a server. "framing only" is the baseline, measured in the
// same run: every frame read and copied through, as an inspector that
// neither masks nor samples must do and do no more.
func BenchmarkPump(b *testing.B) {
	resp := benchResult(b)
	b.Run("framing only", func(b *testing.B) {
		cpu := cpuTime(b)
		for range b.N {
			r, w := wire.NewReader(bytes.NewReader(resp), 1<<20), wire.NewWriter(io.Discard)
			for {
				typ, n, err := r.Header(true)
				if err != nil {
					break
				}
				if err := r.Copy(w, typ, n); err != nil {
					b.Fatal(err)
				}
				if r.Buffered() == 0 {
					_ = w.Flush()
				}
			}
		}
		perRow(b, cpu)
	})
	masking := &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.Card, mask.Email), Strategy: mask.Redact}
	for _, c := range []struct {
		name   string
		sample int
		m      *policy.Masking
	}{
		{"plain", 0, nil}, {"sampled 10", 10, nil}, {"sampled 1000", 1000, nil}, {"masked", 0, masking}, {"masked sampled 10", 10, masking},
	} {
		b.Run(c.name, func(b *testing.B) {
			h, err := New(testTarget, "127.0.0.1", testConfig(config.Postgres{}), Deps{})
			if err != nil {
				b.Fatal(err)
			}
			st := &sqlclass.Statement{Text: "SELECT * FROM big", Kind: sqlclass.KindSelect, Command: "SELECT"}
			cpu := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				ss := &session{h: h, s: testSession("bench"), end: newEnding(func() {}),
					c:  &conn{w: wire.NewWriter(io.Discard)},
					up: &upstream{conn: &conn{r: wire.NewReader(bytes.NewReader(resp), 1<<20)}}}
				ss.sample.max = c.sample
				ss.inspect.Store(c.sample > 0 || c.m != nil)
				if c.m != nil {
					ss.lastMasking.Store(c.m)
				}
				ss.q.push(&pending{kind: 'Q', stmts: []*audited{{st: st, dec: policy.Decision{Action: policy.Allow, Masking: c.m}, recorded: true}}})
				if err := ss.pump(); !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
			}
			perRow(b, cpu)
		})
	}
}
