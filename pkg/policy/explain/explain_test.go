package explain

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/policy/offline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// env loads the test configuration and policies.
func env(t *testing.T) (*offline.Env, *policy.Set) {
	t.Helper()
	cfg, err := config.Load("testdata/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := offline.New(cfg)
	set, err := e.LoadPolicies("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}
	return e, set
}

// night and day are query times: 03:00 and 14:00 in Berlin.
var (
	night = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	day   = time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
)

var etlUnit = policy.Attribution{PID: 23911, UID: 994, GID: 994, Exe: "/opt/etl/bin/orders-sync", Comm: "orders-sync", Unit: "nightly-etl.service", Cgroup: "/system.slice/nightly-etl.service"}

func TestExplainGolden(t *testing.T) {
	tests := []struct {
		name string
		q    offline.Query
		json bool
	}{
		{"read", offline.Query{Identity: "nightly-etl", Target: "orders-db", Time: night,
			SQL: "SELECT o.id, lower(c.email) FROM orders o JOIN customers c ON c.id = o.customer"}, false},
		{"multi", offline.Query{Identity: "nightly-etl", Target: "orders-db", Time: night, Attribution: etlUnit,
			SQL: "BEGIN; DELETE FROM staging.orders; INSERT INTO staging.orders SELECT * FROM orders; DROP TABLE staging.old; COMMIT"}, false},
		{"multi", offline.Query{Identity: "nightly-etl", Target: "orders-db", Time: night, Attribution: etlUnit,
			SQL: "BEGIN; DELETE FROM staging.orders; INSERT INTO staging.orders SELECT * FROM orders; DROP TABLE staging.old; COMMIT"}, true},
		{"condition-day", offline.Query{Identity: "nightly-etl", Target: "orders-db", Time: day, Attribution: etlUnit,
			SQL: "DELETE FROM staging.orders WHERE loaded < now() - interval '7 days'"}, false},
		{"condition-night", offline.Query{Identity: "nightly-etl", Target: "orders-db", Time: night, Attribution: etlUnit,
			SQL: "DELETE FROM staging.orders WHERE loaded < now() - interval '7 days'"}, false},
		{"abstain", offline.Query{Identity: "ci-build", Target: "orders-db", Time: night, SearchPath: []string{"hr"},
			SQL: "SELECT * FROM salaries; SELECT reporting.export_csv('orders')"}, false},
		{"unparseable", offline.Query{Identity: "nightly-etl", Target: "orders-db", Time: night,
			SQL: "SELEC * FROM orders"}, false},
	}
	e, set := env(t)
	for _, tt := range tests {
		name := tt.name + ".txt"
		if tt.json {
			name = tt.name + ".json"
		}
		t.Run(name, func(t *testing.T) {
			res, err := e.Decide(set, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			rep := New(tt.q, "testdata/policies", set, res)
			var out bytes.Buffer
			if tt.json {
				err = rep.WriteJSON(&out)
			} else {
				err = rep.WriteText(&out)
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, out.Bytes())
		})
	}
}

func TestExplainErrors(t *testing.T) {
	e, set := env(t)
	tests := []struct {
		name string
		q    offline.Query
		want error
	}{
		{"unknown identity", offline.Query{Identity: "nightly-et", Target: "orders-db", SQL: "SELECT 1"}, offline.ErrUnknownName},
		{"unknown target", offline.Query{Identity: "ci-build", Target: "orders", SQL: "SELECT 1"}, offline.ErrUnknownName},
		{"tcp target", offline.Query{Identity: "ci-build", Target: "cache", SQL: "SELECT 1"}, offline.ErrNotInspected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Decide(set, tt.q); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}
