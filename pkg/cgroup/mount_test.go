package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	tests := []struct {
		file string
		want string // "" means ErrNoCgroup2
	}{
		{"mountinfo-hybrid-nosystemd.txt", "/sys/fs/cgroup/unified"},
		{"mountinfo-hybrid-systemd.txt", "/sys/fs/cgroup/unified"},
		{"mountinfo-v2-debian12.txt", "/sys/fs/cgroup"},
		{"mountinfo-container.txt", "/sys/fs/cgroup"},
		{"mountinfo-escaped.txt", "/mnt/my cgroups"},
		{"mountinfo-v1-only.txt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := parseMountInfo(f)
			if tt.want == "" {
				if !errors.Is(err, ErrNoCgroup2) {
					t.Fatalf("got %q, %v; want ErrNoCgroup2", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseMountInfoEdgeCases(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"garbage", "not a mountinfo line\n\n", ""},
		// "cgroup2" as a mount source or in options is not the fs type.
		{"cgroup2 elsewhere", "30 21 0:26 / /mnt/cgroup2 rw - tmpfs cgroup2 rw,cgroup2\n", ""},
		{"first wins", "1 0 0:1 / /a rw - cgroup2 cgroup2 rw\n2 0 0:1 / /b rw - cgroup2 cgroup2 rw\n", "/a"},
		{"no optional fields", "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified"},
		{"several optional fields", "41 31 0:38 / /cg rw shared:1 master:2 propagate_from:3 - cgroup2 cgroup2 rw\n", "/cg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountInfo(strings.NewReader(tt.in))
			if tt.want == "" {
				if !errors.Is(err, ErrNoCgroup2) {
					t.Fatalf("got %q, %v; want ErrNoCgroup2", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
