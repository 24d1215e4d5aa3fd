package offline

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

const testConfig = `
policies: /etc/sluice/policies
identities:
  - name: etl
targets:
  - name: orders-db
    protocol: postgres
    address: 127.0.0.1:5432
    postgres:
      search_path: [sales]
      dangerous_functions: ["reporting.export_*"]
      auth: inject
      credentials: { username: etl_reader, password_file: /nonexistent }
  - name: cache
    protocol: tcp
    address: 127.0.0.1:6379
`

const testPolicies = `policies:
  - name: etl
    identities: [etl]
    targets: [orders-db]
    rules:
      - {name: reads, action: allow, postgres: {kinds: [select, set], schemas: [sales]}}
      - {name: night, action: review, postgres: {kinds: [delete]}, when: 'time.getHours("UTC") < 6 && attribution.uid == 994'}
  - name: guard
    identities: ["*"]
    targets: ["*"]
    default: abstain
    rules:
      - {name: no-export, action: deny, postgres: {kinds: [dangerous]}}
`

func testEnv(t *testing.T, withConfig bool) (*Env, *policy.Set) {
	t.Helper()
	var cfg *config.Config
	if withConfig {
		var err error
		if cfg, err = config.Parse("sluice.yaml", []byte(testConfig)); err != nil {
			t.Fatal(err)
		}
	}
	env := New(cfg)
	set, err := policy.Parse("p.yaml", []byte(testPolicies), env.Known())
	if err != nil {
		t.Fatal(err)
	}
	return env, set
}

func TestDecide(t *testing.T) {
	night := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		config     bool
		q          Query
		actions    []policy.Action // of each statement
		decisive   int
		searchPath []string
	}{
		{"the target's search_path", true, Query{Identity: "etl", Target: "orders-db", SQL: "SELECT * FROM orders"},
			[]policy.Action{policy.Allow}, 0, []string{"sales"}},
		{"without a configuration: public", false, Query{Identity: "etl", Target: "orders-db", SQL: "SELECT * FROM orders"},
			[]policy.Action{policy.Deny}, 0, []string{"public"}},
		{"a search_path given", true, Query{Identity: "etl", Target: "orders-db", SQL: "SELECT * FROM orders", SearchPath: []string{"hr"}},
			[]policy.Action{policy.Deny}, 0, []string{"hr"}},
		{"SET in the query", true, Query{Identity: "etl", Target: "orders-db", SQL: "SET search_path TO hr; SELECT * FROM orders"},
			[]policy.Action{policy.Allow, policy.Deny}, 1, []string{"sales"}},
		{"the target's dangerous functions", true, Query{Identity: "etl", Target: "orders-db", SQL: "SELECT 1; SELECT reporting.export_all()"},
			[]policy.Action{policy.Allow, policy.Deny}, 1, []string{"sales"}},
		{"the first of the strictest", true, Query{Identity: "etl", Target: "orders-db", SQL: "DELETE FROM a; SELECT 1; DELETE FROM b", Time: night, Attribution: policy.Attribution{UID: 994}},
			[]policy.Action{policy.Review, policy.Allow, policy.Review}, 0, []string{"sales"}},
		{"conditions see the attribution", true, Query{Identity: "etl", Target: "orders-db", SQL: "DELETE FROM a", Time: night, Attribution: policy.Attribution{UID: 1}},
			[]policy.Action{policy.Deny}, 0, []string{"sales"}},
		{"unparseable is refused", true, Query{Identity: "etl", Target: "orders-db", SQL: "SELEC 1"},
			[]policy.Action{policy.Deny}, 0, []string{"sales"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, set := testEnv(t, tt.config)
			res, err := env.Decide(set, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []policy.Action
			for _, st := range res.Statements {
				got = append(got, st.Decision.Action)
			}
			if !slices.Equal(got, tt.actions) || res.Decisive != tt.decisive || !slices.Equal(res.SearchPath, tt.searchPath) {
				t.Errorf("actions %v decisive %d search_path %v, want %v %d %v", got, res.Decisive, res.SearchPath, tt.actions, tt.decisive, tt.searchPath)
			}
			if res.Decision != res.Statements[res.Decisive].Decision || res.Time.IsZero() {
				t.Errorf("decision %+v, time %v", res.Decision, res.Time)
			}
			if last := res.Statements[len(res.Statements)-1]; last.Kind == sqlclass.KindUnparseable &&
				(!last.Refused || last.Decision.Policy != "sluice" || last.Decision.Rule != "unparseable") {
				t.Errorf("unparseable statement %+v", last)
			}
		})
	}
}

func TestDecideNames(t *testing.T) {
	env, set := testEnv(t, true)
	for _, q := range []struct {
		q    Query
		want error
	}{
		{Query{Identity: "et", Target: "orders-db", SQL: "SELECT 1"}, ErrUnknownName},
		{Query{Identity: "etl", Target: "orders", SQL: "SELECT 1"}, ErrUnknownName},
		{Query{Identity: "etl", Target: "cache", SQL: "SELECT 1"}, ErrNotInspected},
	} {
		if _, err := env.Decide(set, q.q); !errors.Is(err, q.want) {
			t.Errorf("%+v: error %v, want %v", q.q, err, q.want)
		}
	}
	if k := env.Known(); !slices.Equal(k.Identities, []string{"etl"}) || !slices.Equal(k.Targets, []string{"orders-db", "cache"}) {
		t.Errorf("known %+v", k)
	}
	if k := New(nil).Known(); k.Identities != nil || k.Targets != nil {
		t.Errorf("known without a configuration %+v", k)
	}
}
