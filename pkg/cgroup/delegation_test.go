package cgroup_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/pkg/cgroup"
	"github.com/sluicehq/sluice/pkg/privtest"
)

func TestDelegatedAncestor(t *testing.T) {
	privtest.Require(t) // the directories must be owned by root, and one chowned
	mount := t.TempDir()
	for _, d := range []string{"system.slice", "user.slice/user@1001.service/app.slice", "open/x"} {
		if err := os.MkdirAll(filepath.Join(mount, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(mount, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(mount, "user.slice/user@1001.service"), 1001, 1001); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(mount, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cgroup, want string
	}{
		{"a system unit", "/system.slice/nightly-etl.service", ""},
		{"a unit with Delegate=: its own cgroup is the user's, its name root's", "/user.slice/user@1001.service", ""},
		{"a cgroup the user created", "/user.slice/user@1001.service/nightly-etl.service", "/user.slice/user@1001.service"},
		{"deeper in the delegated tree", "/user.slice/user@1001.service/app.slice/x.service", "/user.slice/user@1001.service"},
		{"a parent anyone may write", "/open/x", "/open"},
		{"the root cgroup", "/", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cgroup.DelegatedAncestor(mount, tc.cgroup)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("DelegatedAncestor(%q) = %q, want %q", tc.cgroup, got, tc.want)
			}
		})
	}
	if _, err := cgroup.DelegatedAncestor(mount, "/missing/x"); err == nil {
		t.Fatal("no error for a missing parent")
	}
}
