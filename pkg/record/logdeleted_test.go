package record

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Deleting the head log must not let a new, empty one stand in for it:
// the recordings deleted with it would then be invisible to verify.
func TestHeadLogDeleted(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "recordings")
	key := installKey(t, base)
	s := openAt(t, dir, key, Options{FsyncInterval: time.Hour})
	for _, id := range []string{idA, idB} {
		r, err := s.Create(pgHeader(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
			t.Fatal(err)
		}
	}
	pub := s.PublicKey()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, dirLog)); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, VerifyOptions{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || strings.Contains(p.Msg, "head log") && strings.Contains(p.Msg, "missing")
	}
	if !found {
		t.Fatalf("verify without the head log: %+v", rep.Problems)
	}
	_, err = Open(dir, Options{HostKey: key, FsyncInterval: time.Hour})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "holds 2 recordings") {
		t.Fatalf("Open without the head log: %v", err)
	}
}
