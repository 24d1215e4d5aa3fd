package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// benchSet builds policies policies of rules rules each, all covering
// legacy-etl on orders-db and allowing by default. No rule matches the
// benchmark statement, so Decide tries every rule of every policy that
// admits a select (half of them) and ends with the defaults.
func benchSet(b *testing.B, policies, rules int) *Set {
	return benchSetWith(b, policies, rules, "")
}

// benchSetWith is benchSet with extra, lines indented as a policy's keys,
// added to every policy.
func benchSetWith(b *testing.B, policies, rules int, extra string) *Set {
	var y strings.Builder
	y.WriteString("policies:\n")
	for p := range policies {
		fmt.Fprintf(&y, "  - name: p%d\n    identities: [legacy-etl, \"ci-*\", \"team-%d-*\"]\n    targets: [\"orders-*\"]\n    default: allow\n%s    rules:\n", p, p, extra)
		for r := range rules {
			switch r % 4 {
			case 0:
				fmt.Fprintf(&y, "      - {name: r%d, action: deny, postgres: {kinds: [ddl, grant, do], text: \"(?i)pg_sleep\"}}\n", r)
			case 1:
				fmt.Fprintf(&y, "      - {name: r%d, action: review, postgres: {kinds: [delete, update], writes: [\"prod%d.*\", \"archive.*\"]}}\n", r, p)
			case 2:
				fmt.Fprintf(&y, "      - {name: r%d, action: deny, postgres: {functions: [\"public.drop_%d_*\", lo_export], relations: [\"hr.*\"]}}\n", r, r)
			case 3:
				fmt.Fprintf(&y, "      - {name: r%d, action: allow, postgres: {kinds: [select], reads: [\"sales.orders\", \"reporting_%d.*\"], schemas: [sales, public]}}\n", r, r)
			}
		}
	}
	s, err := Parse("bench.yaml", []byte(y.String()), Known{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

var benchStatement = &sqlclass.Statement{
	Text:      "SELECT o.id, c.name, lower(c.email) FROM sales.orders o JOIN sales.customers c ON c.id = o.customer JOIN public.currencies USING (currency)",
	Kind:      sqlclass.KindSelect,
	Command:   "SELECT",
	Reads:     rels("sales.orders", "sales.customers", "public.currencies"),
	Functions: fns("lower"),
}

func BenchmarkDecide(b *testing.B) {
	for _, size := range []struct{ policies, rules int }{{100, 1}, {100, 4}, {1, 100}, {10, 10}} {
		b.Run(fmt.Sprintf("policies=%d/rules=%d", size.policies, size.rules), func(b *testing.B) {
			s := benchSet(b, size.policies, size.rules)
			r := pg("legacy-etl", "orders-db", benchStatement)
			if d := s.Decide(r); d.Action != Allow {
				b.Fatalf("decision %+v", d)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Decide(r)
			}
		})
	}
}

// benchWhenSet builds policies policies covering legacy-etl on orders-db
// and allowing by default. The first conditional ones have a first rule
// with the condition when, a deny rule whose matcher matches the
// benchmark statement, so that their condition is evaluated on every
// decision (and never holds: the defaults decide); the others have a rule
// that does not match it.
func benchWhenSet(b *testing.B, policies, conditional int, when string) *Set {
	var y strings.Builder
	y.WriteString("policies:\n")
	for p := range policies {
		fmt.Fprintf(&y, "  - name: p%d\n    identities: [legacy-etl, \"ci-*\", \"team-%d-*\"]\n    targets: [\"orders-*\"]\n    default: allow\n    rules:\n", p, p)
		if p < conditional {
			fmt.Fprintf(&y, "      - {name: when%d, action: deny, postgres: {kinds: [select]}, when: %q}\n", p, when)
		} else {
			fmt.Fprintf(&y, "      - {name: r%d, action: deny, postgres: {kinds: [ddl, grant, do], text: \"(?i)pg_sleep\"}}\n", p)
		}
	}
	s, err := Parse("bench.yaml", []byte(y.String()), Known{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkDecideWhen decides against 100 policies, one or all of which
// evaluate a condition on every decision.
func BenchmarkDecideWhen(b *testing.B) {
	conds := []struct{ name, when string }{
		{"identity", `identity == "nightly-etl"`},
		{"attribution", `attribution.uid == 0 && attribution.unit.endsWith(".service")`},
		{"statement", `statement.unfiltered || "hr.salaries" in statement.reads`},
		{"time-utc", `time.getHours("UTC") < 6`},
		{"time-zone", `time.getHours("Europe/Berlin") < 6`},
	}
	for _, c := range conds {
		for _, conditional := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/policies=100/conditions=%d", c.name, conditional), func(b *testing.B) {
				s := benchWhenSet(b, 100, conditional, c.when)
				r := pg("legacy-etl", "orders-db", benchStatement)
				r.Attribution = Attribution{PID: 4242, UID: 1001, GID: 1001, Exe: "/usr/bin/psql", Comm: "psql", Cgroup: "/sluice.jobs/job-1"}
				r.Time = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
				if d := s.Decide(r); d.Action != Allow || d.Rule != "default" {
					b.Fatalf("decision %+v", d)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.Decide(r)
				}
			})
		}
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	s := benchSet(b, 100, 4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := pg("legacy-etl", "orders-db", benchStatement)
		for pb.Next() {
			s.Decide(r)
		}
	})
}
