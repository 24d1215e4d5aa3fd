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

// TestMergeOrder: a run of some sections replaces them where they were;
// a new section follows the one it follows in the report.
func TestMergeOrder(t *testing.T) {
	old := "# B\n\npre\n\n## A\n\na\n\n## P\n\np\n\n## C\n\nc\n"
	for _, tt := range []struct{ name, report, want string }{
		{"one section", "# B\n\nnew\n\n## P\n\np2\n", "# B\n\nnew\n\n## A\n\na\n\n## P\n\np2\n\n## C\n\nc\n"},
		{"a new section after a known one", "# B\n\nnew\n\n## P\n\np2\n\n## R\n\nr\n", "# B\n\nnew\n\n## A\n\na\n\n## P\n\np2\n\n## R\n\nr\n\n## C\n\nc\n"},
		{"only a new section", "# B\n\nnew\n\n## R\n\nr\n", "# B\n\nnew\n\n## A\n\na\n\n## P\n\np\n\n## C\n\nc\n\n## R\n\nr\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := merge(old, tt.report); got != tt.want {
				t.Fatalf("merge:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 746741: "746,741", 10_000_000: "10,000,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
