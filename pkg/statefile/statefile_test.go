package statefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/privtest"
)

func TestWriteAtomicRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if _, err := Read(p, 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
	for _, content := range []string{`{"v":1}`, `{"v":2,"longer":true}`, ``} {
		if err := WriteAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p, 100)
		if err != nil || string(got) != content {
			t.Fatalf("Read = %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := WriteAtomic(filepath.Join(dir, "no-such-dir", "f"), nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := WriteAtomic(good, []byte(strings.Repeat("x", 64))); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		max        int64
		want       error
		msg        string
	}{
		{"readable by others", open, 100, ErrNotPrivate, "mode 0644 gives access to group or others"},
		{"symbolic link", link, 100, ErrNotPrivate, "symbolic link"},
		{"directory", sub, 100, ErrNotPrivate, "not a regular file"},
		{"over the bound", good, 63, ErrTooLarge, "over 63 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.path, tc.max)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Read = %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	if got, err := Read(good, 64); err != nil || len(got) != 64 {
		t.Fatalf("a file of exactly the bound: %d bytes, %v", len(got), err)
	}
}

// TestReadOtherOwner: a file another user owns is refused, whatever its
// mode (root is needed to give it away).
func TestReadOtherOwner(t *testing.T) {
	privtest.Require(t)
	p := filepath.Join(t.TempDir(), "theirs")
	if err := WriteAtomic(p, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(p, 100); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("Read = %v, want ErrNotPrivate naming the owner", err)
	}
}
