package protocol

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicehq/sluice/pkg/identity"
)

// TestFieldsRun: an event written with a session's pre-rendered run holds
// the same bytes, in the same order, as one written field by field.
func TestFieldsRun(t *testing.T) {
	base := Session{
		ID: "5d5c748f35ba0c1e", Identity: "nightly-etl", Target: "orders-db",
		Attribution: identity.Attribution{PID: 4242, UID: 998, GID: 998, Comm: "psql", Exe: "/usr/bin/psql",
			Cgroup: "/system.slice/nightly-etl.service"},
		Dst: netip.MustParseAddrPort("127.0.0.1:5432"), Src: netip.MustParseAddrPort("127.0.0.1:40112"),
	}
	unit := base
	unit.Attribution.Unit = "nightly-etl.service"
	oidc := unit
	oidc.KernelIdentity = "ci-runner"
	oidc.Attribution.OIDC = &identity.OIDC{
		Issuer: "https://issuer.example", Subject: "repo:acme/etl:ref:refs/heads/main", Identity: "nightly-etl",
		JTI: "a1b2", Expires: time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC),
		Claims: map[string]any{"repository": "acme/etl", "run_id": int64(7), "quote": `"\n<>&`},
	}
	odd := base
	odd.Identity, odd.Attribution.Comm, odd.Attribution.Exe = `we"ird\`, "tab\there", "/opt/\u2028/x"
	more := func(e *zerolog.Event) *zerolog.Event {
		return e.Str("protocol", "postgres").Str("database", "orders").Str("user", "etl")
	}
	for _, tt := range []struct {
		name string
		s    Session
		more func(*zerolog.Event) *zerolog.Event
	}{
		{"plain", base, nil}, {"unit", unit, more}, {"oidc", oidc, more}, {"escaped", odd, more},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run := tt.s.FieldsRun(tt.more)
			if run == nil {
				t.Fatal("no run")
			}
			var direct, viaRun bytes.Buffer
			ld, lr := zerolog.New(&direct), zerolog.New(&viaRun)
			e := tt.s.Fields(ld.Info().Str("event", "db.query"))
			if tt.more != nil {
				e = tt.more(e)
			}
			e.Str("phase", "query").Msg("statement")
			lr.Info().Str("event", "db.query").RawJSON(FieldsKey, run).Str("phase", "query").Msg("statement")
			if !bytes.Equal(direct.Bytes(), viaRun.Bytes()) {
				t.Errorf("field by field:\n%s\nwith the run:\n%s", direct.Bytes(), viaRun.Bytes())
			}
			if !json.Valid(viaRun.Bytes()) {
				t.Errorf("not JSON: %s", viaRun.Bytes())
			}
		})
	}
}
