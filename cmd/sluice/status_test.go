package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

// TestStatusBindings: the OIDC-bound jobs of sluice status, with the
// time left on each token, and their tokens' details only when the daemon
// sent them.
func TestStatusBindings(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 30, 48, 0, time.UTC)
	bindings := []control.Binding{
		{Identity: "gha:acme/app@refs/heads/main", Cgroup: "/sluice.jobs/job-5d5c748f35ba", CgroupID: 18151,
			Expires: time.Date(2026, 11, 22, 12, 40, 0, 0, time.UTC), Sessions: 2,
			Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/app:environment:production",
			JTI: "0c7e5a7d-4a6b-4a0e-9b51-3f0d2f4b8a11", Claims: map[string]any{"environment": "production", "ref": "refs/heads/main"}},
		{Identity: "gha:acme/app@refs/heads/main", Cgroup: "/sluice.jobs/job-9e8d7c6b5a49", CgroupID: 18170,
			Expires: time.Date(2026, 11, 22, 12, 10, 0, 0, time.UTC), Expired: true, Restored: true,
			Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/app:ref:refs/heads/main"},
	}
	for _, tc := range []struct {
		name    string
		details bool
		list    []control.Binding
	}{
		{"status-bindings", true, bindings},
		{"status-bindings-other-user", false, bindings},
		{"status-bindings-none", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := tc.list
			if !tc.details {
				list = nil
				for _, b := range tc.list {
					b.Issuer, b.Subject, b.JTI, b.Claims = "", "", "", nil
					list = append(list, b)
				}
			}
			var buf bytes.Buffer
			printBindings(&buf, &control.Status{Bindings: list, BindingDetails: tc.details}, now)
			golden(t, tc.name+".golden", buf.String())
		})
	}
}

// TestStatusSessions: the sessions each identity holds against its bound;
// nothing when no identity has sessions or a bound.
func TestStatusSessions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sessions []control.IdentitySessions
	}{
		{"status-sessions", []control.IdentitySessions{
			{Identity: "ci-job", Open: 20, Max: 20},
			{Identity: "nightly-etl", Open: 0, Max: 5},
			{Identity: "removed-by-a-reload", Open: 1},
		}},
		{"status-sessions-none", []control.IdentitySessions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			printSessions(&buf, &control.Status{Sessions: tc.sessions})
			golden(t, tc.name+".golden", buf.String())
		})
	}
}
