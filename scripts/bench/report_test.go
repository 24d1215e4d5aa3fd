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
