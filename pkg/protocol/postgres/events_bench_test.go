package postgres

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// BenchmarkEmit writes the db.query event of a pgbench -S statement, as
// the upstream side does for every statement: the event log buffered, with
// a history for readers, metrics counted.
func BenchmarkEmit(b *testing.B) {
	log, err := audit.New(io.Discard, audit.Options{Buffered: true, History: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	h, err := New(testTarget, "127.0.0.1", testConfig(config.Postgres{}), Deps{Log: log})
	if err != nil {
		b.Fatal(err)
	}
	s := &protocol.Session{
		ID: "5d5c748f35ba0c1e", Identity: "nightly-etl", Target: testTarget,
		Attribution: identity.Attribution{PID: 4242, UID: 998, GID: 998, Comm: "pgbench", Exe: "/usr/lib/postgresql/15/bin/pgbench",
			Cgroup: "/system.slice/nightly-etl.service", Unit: "nightly-etl.service"},
		Dst: netip.MustParseAddrPort("127.0.0.1:5432"), Src: netip.MustParseAddrPort("127.0.0.1:40112"), Started: time.Now(),
	}
	up := &upstream{user: "etl", database: "pgbench"}
	ss := newEventSession(h, s, up)
	st := &sqlclass.Statement{
		Text: "SELECT abalance FROM pgbench_accounts WHERE aid = 80751;", Kind: sqlclass.KindSelect, Command: "SELECT",
		Reads: []sqlclass.Relation{{Schema: "public", Name: "pgbench_accounts"}},
	}
	a := &audited{st: st, dec: policy.Decision{Action: policy.Allow, Policy: "bench", Rule: "read"}, phase: "query",
		duration: 180 * time.Microsecond, rows: 1, hasRows: true}
	b.ReportAllocs()
	for b.Loop() {
		ss.emitOne(a)
	}
}
