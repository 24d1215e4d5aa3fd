package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/privtest"
)

// TestDelegatedCgroups: a cgroup a user could have created and named (in
// a subtree delegated to them, as systemd's user managers are) is never
// tagged by its name, so nobody claims an identity by naming a cgroup
// after its unit; a unit whose own cgroup is delegated (Delegate=) keeps
// its identity, and what its user creates below it stays tagged.
func TestDelegatedCgroups(t *testing.T) {
	w := newWorld(t, nil)
	d := w.daemon

	manager := w.root.Child(t, "user.slice/user@1001.service")
	chown(t, manager.Dir, 1001)
	claimed := manager.Child(t, "nightly-etl.service")
	ev := d.waitEvent(t, "identity.refused", func(ev event) bool {
		return ev.str("event") == "identity.refused" && ev.str("cgroup") == claimed.Path
	})
	if ev.str("identity") != "nightly-etl" || ev.str("delegated") != manager.Path {
		t.Errorf("identity.refused: %v", ev)
	}
	res := privtest.Client(t, claimed.Dir, dial(w.cache.Addr), 1001, 1001)
	if proxied(t, res) {
		t.Fatal("a cgroup named by its user was tagged as nightly-etl")
	}
	if ev := d.findEvent(byPID("connection.open", res.PID)); ev != nil {
		t.Errorf("event for the user's process: %v", ev)
	}

	unit := w.root.Child(t, "system.slice/nightly-etl.service")
	d.waitEvent(t, "identity.tagged", func(ev event) bool {
		return ev.str("event") == "identity.tagged" && ev.str("cgroup") == unit.Path
	})
	chown(t, unit.Dir, 1001) // Delegate=yes with User=
	worker := unit.Child(t, "worker")
	res = privtest.Client(t, worker.Dir, dial(w.cache.Addr), 1001, 1001)
	if !proxied(t, res) {
		t.Fatal("a cgroup below a tagged unit went direct")
	}
	open := d.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
	if open.str("identity") != "nightly-etl" || open.str("cgroup") != worker.Path {
		t.Errorf("connection.open: %v", open)
	}
}

// TestDeepCgroupNotTagged: the programs see a tag from the cgroups below
// it only down to level 31, so a deeper cgroup is not tagged (its children
// would not be redirected).
func TestDeepCgroupNotTagged(t *testing.T) {
	w := newWorld(t, nil)
	depth := strings.Count(w.root.Path, "/")
	deep := w.root.Child(t, strings.Repeat("d/", 31-depth)+"nightly-etl.service")
	ev := w.daemon.waitEvent(t, "identity.refused", func(ev event) bool {
		return ev.str("event") == "identity.refused" && ev.str("cgroup") == deep.Path
	})
	if !strings.Contains(ev.str("reason"), "32 levels deep") {
		t.Errorf("identity.refused: %v", ev)
	}
}

// chown gives dir to uid, as systemd does when it delegates a subtree.
func chown(t *testing.T, dir string, uid int) {
	t.Helper()
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
}
