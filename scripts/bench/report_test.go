package main

import "testing"

func TestMerge(t *testing.T) {
	old := "# Benchmarks\n\nold intro\n\n## PostgreSQL: pgbench -S\n\nold figures\n\n## Recording: Append\n\nappend figures\n"
	report := "# Benchmarks\n\nnew intro\n\n## PostgreSQL: pgbench -S\n\nnew figures\n"
	want := "# Benchmarks\n\nnew intro\n\n## PostgreSQL: pgbench -S\n\nnew figures\n\n## Recording: Append\n\nappend figures\n"
	if got := merge(old, report); got != want {
		t.Fatalf("merge:\n%s\nwant:\n%s", got, want)
	}
	// Merging again changes nothing.
	if got := merge(want, report); got != want {
		t.Fatalf("second merge:\n%s\nwant:\n%s", got, want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 746741: "746,741", 10_000_000: "10,000,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
