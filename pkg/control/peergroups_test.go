package control

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPeerGroups(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	want, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	got, err := peerGroups(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for _, g := range want {
		if !slices.Contains(got, uint32(g)) {
			t.Errorf("group %d missing from %v", g, got)
		}
	}
	if _, err := peerGroups(-1); err == nil {
		t.Error("no error for a bad descriptor")
	}
}
