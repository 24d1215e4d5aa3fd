package cgroup

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestUnit(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/system.slice/cron.service", "cron.service"},
		{"/system.slice/nightly-etl.service/sub", "nightly-etl.service"},
		{"/system.slice/nightly-etl.service/a/b/c", "nightly-etl.service"},
		{"/user.slice/user-1000.slice/session-3.scope", "session-3.scope"},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope", "app-firefox-1234.scope"},
		{"/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope"},
		{"/system.slice/docker-0123abcd.scope/inner.service", "inner.service"},
		{"/system.slice/x.service/payload.scope/leaf", "payload.scope"},
		{"/system.slice", ""},
		{"/user.slice/user-1000.slice", ""},
		{"/kubepods/besteffort/pod1234/abcdef", ""},
		{"/", ""},
		{"", ""},
		{"/ci/job.services/x", ""},
	}
	for _, tt := range tests {
		if got := Unit(tt.in); got != tt.want {
			t.Errorf("Unit(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAncestors(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/a/b/c", []string{"/a/b/c", "/a/b", "/a", "/"}},
		{"/a", []string{"/a", "/"}},
		{"/", []string{"/"}},
		{"", []string{"/"}},
		{"a/b/", []string{"/a/b", "/a", "/"}},
		{"/system.slice/x.service", []string{"/system.slice/x.service", "/system.slice", "/"}},
	}
	for _, tt := range tests {
		if got := Ancestors(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Ancestors(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTreeDir(t *testing.T) {
	tr := &Tree{Mount: "/sys/fs/cgroup/unified", Root: "/"}
	tests := []struct{ in, want string }{
		{"/", "/sys/fs/cgroup/unified"},
		{"", "/sys/fs/cgroup/unified"},
		{"/ci.slice/job-1.scope", "/sys/fs/cgroup/unified/ci.slice/job-1.scope"},
		{"ci.slice/", "/sys/fs/cgroup/unified/ci.slice"},
		{"/../../etc", "/sys/fs/cgroup/unified/etc"},
	}
	for _, tt := range tests {
		if got := tr.Dir(tt.in); got != tt.want {
			t.Errorf("Dir(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		p, root string
		want    bool
	}{
		{"/a", "/", true},
		{"/", "/", true},
		{"/a", "/a", true},
		{"/a/b", "/a", true},
		{"/ab", "/a", false},
		{"/", "/a", false},
	}
	for _, tt := range tests {
		if got := within(tt.p, tt.root); got != tt.want {
			t.Errorf("within(%q, %q) = %v", tt.p, tt.root, got)
		}
	}
}

func TestParseProcCgroup(t *testing.T) {
	hybrid := "9:name=systemd:/\n4:memory:/x/y\n1:cpu:/\n0::/ci.slice/job-1.scope\n"
	if got, err := parseProcCgroup(strings.NewReader(hybrid)); err != nil || got != "/ci.slice/job-1.scope" {
		t.Errorf("hybrid: got %q, %v", got, err)
	}
	if got, err := parseProcCgroup(strings.NewReader("0::/\n")); err != nil || got != "/" {
		t.Errorf("v2 root: got %q, %v", got, err)
	}
	if _, err := parseProcCgroup(strings.NewReader("4:memory:/x\n")); !errors.Is(err, ErrNoCgroup2) {
		t.Errorf("v1 only: got %v, want ErrNoCgroup2", err)
	}
}

func TestParseEvents(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"populated 1\nfrozen 0\n", true, false},
		{"populated 0\nfrozen 1\n", false, false},
		{"frozen 0\npopulated 1\n", true, false},
		{"frozen 0\n", false, true},
		{"populated x\n", false, true},
	}
	for _, tt := range tests {
		got, err := parseEvents(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseEvents(%q) = %v, %v", tt.in, got, err)
		}
	}
}
