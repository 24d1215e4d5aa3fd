package cgroup

import (
	"slices"
	"testing"
)

func TestDiff(t *testing.T) {
	old := map[string]uint64{
		"/":         1,
		"/a":        10,
		"/a/b":      11,
		"/a/b/c":    12,
		"/keep":     20,
		"/replaced": 30,
	}
	now := map[string]uint64{
		"/":         1,
		"/keep":     20,
		"/replaced": 31, // removed and recreated: new id
		"/n":        40,
		"/n/m":      41,
		"/n-x":      42,
	}
	want := []Event{
		{Removed, "/replaced", 30},
		{Removed, "/a/b/c", 12},
		{Removed, "/a/b", 11},
		{Removed, "/a", 10},
		{Added, "/n", 40},
		{Added, "/n-x", 42},
		{Added, "/n/m", 41},
		{Added, "/replaced", 31},
	}
	got := diff(old, now)
	if !slices.Equal(got, want) {
		t.Fatalf("diff:\n got %v\nwant %v", got, want)
	}
	checkOrder(t, got)

	if got := diff(now, now); len(got) != 0 {
		t.Errorf("diff of equal snapshots = %v", got)
	}
	if got := diff(nil, map[string]uint64{"/": 1}); !slices.Equal(got, []Event{{Added, "/", 1}}) {
		t.Errorf("diff from empty = %v", got)
	}
}

// checkOrder checks the Watcher ordering contract on a sequence of events:
// no cgroup is Added before its parent (unless the parent was reported
// earlier) and no cgroup is Removed after its parent.
func checkOrder(t *testing.T, evs []Event) {
	t.Helper()
	removed := map[string]bool{}
	for _, ev := range evs {
		switch ev.Kind {
		case Removed:
			for _, a := range Ancestors(ev.Path)[1:] {
				if removed[a] {
					t.Errorf("%v after its ancestor %s was removed", ev, a)
				}
			}
			removed[ev.Path] = true
		case Added:
			delete(removed, ev.Path)
		}
	}
}
