package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/metrics"
)

// approvalsDaemon is a daemon with only its approval broker started,
// from configuration text.
func approvalsDaemon(t *testing.T, text string) *Daemon {
	t.Helper()
	cfg, err := config.Parse("sluice.yaml", []byte("state_dir: "+t.TempDir()+"\n"+text))
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cfg: cfg, log: audit.Discard(), metrics: metrics.New()}
	if err := d.startApprovals(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.approvals.Close)
	return d
}

func TestApprovalsControl(t *testing.T) {
	d := approvalsDaemon(t, `
approvals:
  timeout: 15m
  approvers: {uids: [1000]}
  webhooks:
    - {url: "http://127.0.0.1:9/hook", format: slack, timeout: 1s}
`)
	h := &controlHandler{d: d}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := d.Approvals().Watch(ctx)
	out := make(chan approval.Outcome, 1)
	go func() {
		out <- d.Approvals().Request(ctx, approval.Request{
			Identity: "nightly-etl", Target: "orders-db", Attribution: identity.Attribution{UID: 994},
			Statement: "DELETE FROM sales.orders", Fingerprint: "d1f0a3c2b4e59687",
		})
	}()
	c := <-changes
	if c.Kind != approval.ChangeRequested || !c.Request.Deadline.Equal(c.Request.Requested.Add(15*time.Minute)) {
		t.Fatalf("change %+v: the configured timeout is not in force", c)
	}
	id := c.Request.ID

	alice, carol := control.Peer{PID: -1, UID: 1000, GID: 1000}, control.Peer{PID: -1, UID: 1003, GID: 1003}
	if resp := h.Handle(ctx, carol, control.Request{Op: control.OpApprovals}); resp.OK || !strings.Contains(resp.Error, "not an approver") {
		t.Fatalf("list by uid 1003: %+v", resp)
	}
	if resp := h.Handle(ctx, alice, control.Request{Op: control.OpApprovals}); !resp.OK || len(resp.Approvals) != 1 || resp.Approvals[0].ID != id {
		t.Fatalf("list by uid 1000: %+v", resp)
	}

	// A reload that adds uid 1003 to the approvers applies at once.
	cfg, err := config.Parse("sluice.yaml", []byte("approvals: {approvers: {uids: [1000, 1003]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d.reconfigureApprovals(cfg)
	if resp := h.Handle(ctx, carol, control.Request{Op: control.OpApprove, ID: id, For: "1h", Reason: "backfill"}); !resp.OK {
		t.Fatalf("approve by uid 1003 after the reload: %+v", resp)
	}
	if o := <-out; o.Decision != approval.Approved || o.Approver.UID != 1003 {
		t.Fatalf("outcome %+v", o)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.StateDir, approval.GrantsFile)); err != nil {
		t.Fatalf("grant not kept in state_dir: %v", err)
	}

	// approvals.watch starts with the open requests.
	go d.Approvals().Request(ctx, approval.Request{
		Identity: "nightly-etl", Target: "orders-db", Attribution: identity.Attribution{UID: 994},
		Statement: "DROP TABLE sales.orders", Fingerprint: "0a1b2c3d4e5f6071",
	})
	for c := range changes {
		if c.Kind == approval.ChangeRequested {
			break
		}
	}
	enough := errors.New("enough")
	var got []control.Response
	err = h.Stream(ctx, carol, control.Request{Op: control.OpApprovalsWatch}, func(r control.Response) error {
		got = append(got, r)
		return enough
	})
	if err != enough || len(got) != 1 || got[0].Change != approval.ChangeOpen || got[0].Approval.Statement != "DROP TABLE sales.orders" {
		t.Fatalf("watch: %v, %+v", err, got)
	}
}

func TestApprovalSettings(t *testing.T) {
	cfg, err := config.Parse("sluice.yaml", []byte(`
approvals:
  approvers: {uids: [1000], gids: [27]}
  webhooks:
    - url: https://127.0.0.1/generic
    - {url: "https://127.0.0.1/slack", format: slack, timeout: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := approvalSettings(cfg)
	if s.Timeout != config.DefaultApprovalTimeout || len(s.Approvers.UIDs) != 1 || s.Approvers.GIDs[0] != 27 {
		t.Fatalf("settings %+v", s)
	}
	want := []approval.Webhook{
		{URL: "https://127.0.0.1/generic", Format: approval.FormatGeneric, Timeout: config.DefaultWebhookTimeout},
		{URL: "https://127.0.0.1/slack", Format: approval.FormatSlack, Timeout: 2 * time.Second},
	}
	if len(s.Webhooks) != 2 || s.Webhooks[0] != want[0] || s.Webhooks[1] != want[1] {
		t.Fatalf("webhooks %+v, want %+v", s.Webhooks, want)
	}
}
