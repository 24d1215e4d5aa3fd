package daemon

import (
	"errors"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
)

const claimConfig = `
identities:
  - name: ci-job
    claimable_by: { uids: [1001], gids: [2000] }
  - name: nobody-may
`

func TestAuthorizeClaim(t *testing.T) {
	cfg, err := config.Parse("sluice.yaml", []byte(claimConfig))
	if err != nil {
		t.Fatal(err)
	}
	ci, _ := cfg.Identity("ci-job")
	closed, _ := cfg.Identity("nobody-may")
	cases := []struct {
		name  string
		peer  control.Peer
		ident *config.Identity
		ok    bool
	}{
		{"root may claim anything", control.Peer{UID: 0, GID: 0, PID: -1}, closed, true},
		{"listed uid", control.Peer{UID: 1001, GID: 1001, PID: -1}, ci, true},
		{"listed primary gid", control.Peer{UID: 1500, GID: 2000, PID: -1}, ci, true},
		{"unlisted uid", control.Peer{UID: 1002, GID: 1002, PID: -1}, ci, false},
		{"identity without claimable_by", control.Peer{UID: 1001, GID: 2000, PID: -1}, closed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := authorizeClaim(tc.peer, tc.ident)
			if (err == nil) != tc.ok {
				t.Fatalf("authorizeClaim = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrNotAuthorized) {
				t.Errorf("error %v does not wrap ErrNotAuthorized", err)
			}
		})
	}
}

func TestRestartKeys(t *testing.T) {
	base := `listen: 127.0.0.1:15001
identities:
  - name: a
`
	cases := []struct {
		name, next string
		want       []string
	}{
		{"identities apply without restart", base + "  - name: b\n", []string{}},
		{"listener needs a restart", "listen: 127.0.0.1:15002\nidentities:\n  - name: a\n", []string{"listen"}},
		{"fail mode and bpf need a restart", base + "fail_mode: open\nbpf: { mark: 7 }\n", []string{"fail_mode", "bpf"}},
	}
	a, err := config.Parse("a.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := config.Parse("b.yaml", []byte(tc.next))
			if err != nil {
				t.Fatal(err)
			}
			if got := restartKeys(a, b); !slices.Equal(got, tc.want) {
				t.Errorf("restartKeys = %v, want %v", got, tc.want)
			}
		})
	}
}
