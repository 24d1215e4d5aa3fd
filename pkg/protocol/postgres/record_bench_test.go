package postgres

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/record"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// BenchmarkRecordStatement is what recording adds to one statement of a
// pgbench -S session, on the session's side: its statement event built
// and written before it would be forwarded, its result queued after it
// (pkg/record's BenchmarkAppend "statement+result" is the store's share of
// it). The store is on b.TempDir()'s file system, synced every second.
func BenchmarkRecordStatement(b *testing.B) {
	for _, c := range []struct {
		name, phase, text string
		params            []string
	}{
		{"simple", "query", "SELECT abalance FROM pgbench_accounts WHERE aid = 425599", nil},
		{"prepared", "execute", "SELECT abalance FROM pgbench_accounts WHERE aid = $1", []string{"495521"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			store, err := record.Open(b.TempDir(), record.Options{FsyncInterval: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			h, err := New(testTarget, "127.0.0.1", testConfig(config.Postgres{}), Deps{Records: store})
			if err != nil {
				b.Fatal(err)
			}
			ss := &session{h: h, s: testSession("9a1b2c3d4e5f6071"), end: newEnding(func() {}),
				up: &upstream{user: "bench", database: "pgbench"}}
			cl, err := sqlclass.New(sqlclass.Options{})
			if err != nil {
				b.Fatal(err)
			}
			st, err := cl.ClassifyOne(sqlclass.NewSession("bench", nil), c.text)
			if err != nil {
				b.Fatal(err)
			}
			dec := policy.Decision{Action: policy.Allow, Policy: "bench", Rule: "read"}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				a := &audited{st: &st, dec: dec, phase: c.phase, name: "P_0", params: c.params}
				ss.recordStatement(a)
				if !a.recorded {
					b.Fatal("not recorded")
				}
				a.duration, a.rows, a.hasRows = 500*time.Microsecond, 1, true
				ss.recordResult(a)
			}
		})
	}
}
