package intercept_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/privtest"
)

// TestOccupancyCached: the maps are walked at most every two seconds,
// however often status asks; then the count is current again.
func TestOccupancyCached(t *testing.T) {
	privtest.Require(t)
	root := privtest.NewCgroup(t)
	job := root.Child(t, "job")
	it, err := intercept.Load(intercept.Options{CgroupDir: root.Dir, PinDir: privtest.BPFFS(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	before, err := it.Occupancy()
	if err != nil {
		t.Fatal(err)
	}
	id, err := cgroup.ID(job.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.TagCgroup(id, 7); err != nil {
		t.Fatal(err)
	}
	again, _ := it.Occupancy()
	if again["tagged_cgroups"] != before["tagged_cgroups"] {
		t.Fatalf("counted again at once: %v, then %v", before["tagged_cgroups"], again["tagged_cgroups"])
	}
	time.Sleep(2100 * time.Millisecond)
	later, _ := it.Occupancy()
	if later["tagged_cgroups"].Entries != before["tagged_cgroups"].Entries+1 {
		t.Fatalf("after two seconds: %v, want one more than %v", later["tagged_cgroups"], before["tagged_cgroups"])
	}
}
