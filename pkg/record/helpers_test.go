package record

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a test clock: each reading is 1 ms after the one before.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// installKey copies the test host key into dir, mode 0600.
func installKey(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/host_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "host_key")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openStore opens a store under a new temporary directory with the test
// host key and clock; it is closed when the test ends.
func openStore(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "recordings")
	return openAt(t, dir, installKey(t, base), opts), dir
}

func openAt(t testing.TB, dir, key string, opts Options) *Store {
	t.Helper()
	opts.HostKey = key
	if opts.Host == "" {
		opts.Host = "build-7"
	}
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	if opts.OnError == nil {
		opts.OnError = func(err error) { t.Errorf("store error: %v", err) }
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func pgHeader(id string) Header {
	return Header{
		Session: id, Protocol: "postgres", Identity: "nightly-etl", Target: "orders-db",
		Process: Process{PID: 4242, UID: 1001, GID: 1001, Comm: "psql", Exe: "/usr/bin/psql",
			Cgroup: "/system.slice/nightly-etl.service", CgroupID: 8812, Unit: "nightly-etl.service"},
		Dst: "127.0.0.2:5432", User: "etl_reader", Database: "orders", PolicyVersion: "3f9c2a1b",
	}
}

// pgEvents is a short PostgreSQL session: a login, an allowed SELECT with
// its result, a refused DROP TABLE with its error.
func pgEvents() []Event {
	return []Event{
		&Login{User: "etl_reader", Database: "orders", Auth: "inject", TLS: true},
		&Statement{Phase: "query", Text: "SELECT id, total FROM sales.orders WHERE placed > now() - interval '1 day'",
			Class: "select", Command: "SELECT", Reads: []string{"sales.orders"}, Functions: []string{"pg_catalog.now"},
			Decision: DecisionAllow, Policy: "nightly-etl", Rule: "read-sales"},
		&Result{Statement: 2, Duration: 4200 * time.Microsecond, Rows: 2, HasRows: true,
			Sample: &Sample{Columns: []string{"id", "total"}, Rows: [][]string{{"1001", "19.90"}, {"1002", "5.00"}}}},
		&Statement{Phase: "query", Text: "DROP TABLE sales.orders", Class: "ddl", Command: "DROP TABLE",
			Writes: []string{"sales.orders"}, Decision: DecisionDeny, Policy: "nightly-etl", Rule: "default",
			Reason: "no rule allows ddl on sales.orders"},
		&Result{Statement: 4, Duration: 90 * time.Microsecond, Error: `permission denied by sluice policy "nightly-etl" rule "default"`, Code: "42501"},
	}
}

// record writes a whole session and closes it.
func record(t testing.TB, s *Store, id string) *Recording {
	t.Helper()
	r, err := s.Create(pgHeader(id))
	if err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	for i, ev := range pgEvents() {
		seq, err := r.Append(ev)
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("Append %d: seq %d, want %d", i, seq, i+1)
		}
	}
	if err := r.Close(Summary{Reason: "client_closed", BytesUp: 180, BytesDown: 412}); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return r
}
