package record

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
)

// The events of one pgbench -S transaction: the prepared SELECT, decided
// and written before it is forwarded, and its result.
func benchEvents() (*Statement, *Result) {
	return &Statement{Phase: "execute", Text: "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", Prepared: "P_1",
			Params: []string{"48151"}, Class: "select", Command: "SELECT", Reads: []string{"public.pgbench_accounts"},
			Decision: DecisionAllow, Policy: "bench", Rule: "read-accounts"},
		&Result{Duration: 38 * time.Microsecond, Rows: 1, HasRows: true}
}

func BenchmarkAppend(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	for _, mode := range []struct {
		name       string
		recipients []string
	}{{"plain", nil}, {"encrypted", []string{id.Recipient().String()}}} {
		for _, ev := range []string{"statement", "result"} {
			b.Run(fmt.Sprintf("%s/%s", ev, mode.name), func(b *testing.B) {
				s, _ := openStore(b, Options{Recipients: mode.recipients, Now: time.Now})
				r, err := s.Create(pgHeader("bench"))
				if err != nil {
					b.Fatal(err)
				}
				st, res := benchEvents()
				var e Event = st
				if ev == "result" {
					e = res
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := r.Append(e); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// A statement and its result as the inspector writes them: the
		// result queued and written with the next statement, one write(2)
		// per statement.
		b.Run("statement+result/"+mode.name, func(b *testing.B) {
			s, _ := openStore(b, Options{Recipients: mode.recipients, Now: time.Now})
			r, err := s.Create(pgHeader("bench"))
			if err != nil {
				b.Fatal(err)
			}
			st, res := benchEvents()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				seq, err := r.Append(st)
				if err != nil {
					b.Fatal(err)
				}
				res.Statement = seq
				if _, err := r.AppendLater(res); err != nil {
					b.Fatal(err)
				}
			}
		})
		// 8 sessions at once, as pgbench -c 8: each appends a statement
		// and queues its result, while the syncer fsyncs every 100 ms.
		b.Run("8-sessions/"+mode.name, func(b *testing.B) {
			s, _ := openStore(b, Options{Recipients: mode.recipients, Now: time.Now})
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r, err := s.Create(pgHeader(fmt.Sprintf("bench-%d", n.Add(1))))
				if err != nil {
					b.Error(err)
					return
				}
				st, res := benchEvents()
				for pb.Next() {
					seq, err := r.Append(st)
					if err != nil {
						b.Error(err)
						return
					}
					res.Statement = seq
					if _, err := r.AppendLater(res); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
