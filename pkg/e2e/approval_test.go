package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestApprovals(t *testing.T) {
	w := newApprovalWorld(t)

	t.Run("a held DELETE runs once approved", func(t *testing.T) {
		const stmt = "DELETE FROM sales.items WHERE id = 50"
		j := w.psql(t, nil, "", stmt)
		req := w.requested(t, stmt)
		id := req.str("id")
		for k, want := range map[string]string{
			"identity": "legacy-etl", "target": "orders-db", "database": "orders", "user": "etl", "kind": "delete",
			"policy": "etl", "rule": "review-deletes", "reason": "deletes need a human", "comm": "psql",
			"approve_command": "sluice approve " + id,
		} {
			if got := req.str(k); got != want {
				t.Errorf("approval.requested %s = %q, want %q", k, got, want)
			}
		}
		if req.num("uid") != jobUID || req.num("pid") == 0 || len(req.str("fingerprint")) != 16 {
			t.Errorf("approval.requested: %v", req)
		}
		list := w.cli(t, approverUID, 0, "approvals", "list", "--json")
		if !strings.Contains(list, `"id": "`+id+`"`) || !strings.Contains(list, `"state": "waiting"`) {
			t.Errorf("approvals list:\n%s", list)
		}
		if got := w.rows(t, 50); len(got) != 1 {
			t.Fatalf("row 50 is gone while its DELETE is held")
		}
		if out := w.cli(t, jobUID, -1, "approve", id); !strings.Contains(out, "cannot approve one's own request") {
			t.Errorf("self-approval: %s", out)
		}
		if out := w.cli(t, outsiderUID, -1, "approve", id); !strings.Contains(out, "not an approver") {
			t.Errorf("approval by an outsider: %s", out)
		}
		w.cli(t, approverUID, 0, "approve", id, "--reason", "cleanup ticket 7")
		res := j.wait(t)
		if res.code != 0 || !strings.Contains(res.stdout, "DELETE 1") {
			t.Fatalf("psql: %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		if got := w.rows(t, 50); len(got) != 0 {
			t.Errorf("row 50 is still there after the approved DELETE")
		}
		q := w.query(t, stmt, id, "approved")
		if q.num("approver_uid") != approverUID || q.str("approval_reason") != "cleanup ticket 7" ||
			q.str("approval_grant") != "once" || q.num("held_ms") <= 0 || q.num("rows") != 1 {
			t.Errorf("db.query: %v", q)
		}
		if o, _ := q["ocsf"].(map[string]any); o == nil || o["disposition"] != "Approved" || o["action"] != "Allowed" {
			t.Errorf("db.query ocsf of an approved statement: %v", q["ocsf"])
		}
		if ev := w.decided(t, "approval.approved", id); ev.num("approver_uid") != approverUID || ev["held"] != true {
			t.Errorf("approval.approved: %v", ev)
		}
		// The recording holds the decision with the approver.
		show := w.cli(t, 0, 0, "sessions", "show", q.str("session"), "--state-dir", filepath.Join(w.dir, "state"))
		if !strings.Contains(show, "APPROVED") || !strings.Contains(show, "approval "+id+" of statement") ||
			!strings.Contains(show, "granted (once) by uid 1002") || !strings.Contains(show, "cleanup ticket 7") {
			t.Errorf("sessions show:\n%s", show)
		}
		// The webhooks heard of it.
		w.hook.wait(t, "/generic", id)
		if slack := w.hook.wait(t, "/slack/T000/B000/hook-token", id); !strings.Contains(slack, "sluice approve "+id) {
			t.Errorf("slack payload: %s", slack)
		}
		var generic map[string]any
		if err := json.Unmarshal([]byte(w.hook.wait(t, "/generic", id)), &generic); err != nil || generic["statement"] != stmt ||
			generic["identity"] != "legacy-etl" || generic["uid"] != float64(jobUID) || generic["approve_command"] != "sluice approve "+id {
			t.Errorf("generic payload: %v (%v)", generic, err)
		}
	})

	t.Run("a denied statement fails with the reason; the session goes on", func(t *testing.T) {
		const stmt = "DELETE FROM sales.items WHERE id = 51"
		j := w.psql(t, nil, stmt+";\nSELECT 'still' || ' here';\n", "")
		id := w.requested(t, stmt).str("id")
		w.cli(t, approverUID, -1, "deny", id) // a reason is required
		w.cli(t, approverUID, 0, "deny", id, "--reason", "not during the sale")
		res := j.wait(t)
		if !strings.Contains(res.stderr, "ERROR:  permission denied by sluice policy") ||
			!strings.Contains(res.stderr, "approval request "+id+" denied by uid 1002: not during the sale") {
			t.Errorf("psql stderr: %s", res.stderr)
		}
		if !strings.Contains(res.stdout, "still here") {
			t.Errorf("the session did not go on: %s", res.stdout)
		}
		if got := w.rows(t, 51); len(got) != 1 {
			t.Error("row 51 was deleted")
		}
		if q := w.query(t, stmt, id, "denied"); q.str("sqlstate") != "42501" {
			t.Errorf("db.query: %v", q)
		}
	})

	t.Run("a timed-out statement passes exactly once after approve --once", func(t *testing.T) {
		const stmt = "UPDATE sales.items SET amount = amount + 1 WHERE id = 60"
		before := w.amount(t, 60)
		res := w.psql(t, nil, "", stmt).wait(t)
		id := w.requested(t, stmt).str("id")
		if res.code == 0 || !strings.Contains(res.stderr, "approval request "+id+" got no decision within 2s") ||
			!strings.Contains(res.stderr, "`sluice approve "+id+"`") {
			t.Fatalf("psql: %d\n%s", res.code, res.stderr)
		}
		w.decided(t, "approval.timeout", id)
		w.cli(t, approverUID, 0, "approve", id, "--once")
		// The approval is for that statement, not for its shape: another
		// row is held again and stays untouched.
		const other = "UPDATE sales.items SET amount = amount + 1 WHERE id = 59"
		before59 := w.amount(t, 59)
		res = w.psql(t, nil, "", other).wait(t)
		if otherID := w.requested(t, other).str("id"); otherID == id || res.code == 0 {
			t.Errorf("another literal under the approval: request %s (approved %s), status %d", otherID, id, res.code)
		}
		if got := w.amount(t, 59); got != before59 {
			t.Errorf("row 59: amount %s, want %s", got, before59)
		}
		res = w.psql(t, nil, "", stmt).wait(t)
		if res.code != 0 || !strings.Contains(res.stdout, "UPDATE 1") {
			t.Fatalf("re-run after the approval: %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		q := w.query(t, stmt, id, "approved")
		if q.str("approval_grant") != "once" || q["held_ms"] != nil {
			t.Errorf("db.query of the re-run: %v", q)
		}
		if got := w.amount(t, 60); got != fmt.Sprint(mustAtoi(t, before)+1) {
			t.Errorf("amount %s, want %s + 1", got, before)
		}
		// Once: the next run is held again.
		res = w.psql(t, nil, "", stmt).wait(t)
		again := w.requested(t, stmt).str("id")
		if again == id || res.code == 0 {
			t.Errorf("third run: request %s (first %s), status %d", again, id, res.code)
		}
		if got := w.amount(t, 60); got != fmt.Sprint(mustAtoi(t, before)+1) {
			t.Errorf("amount %s after the third run, want %s + 1", got, before)
		}
	})

	t.Run("approve --for lets the shape run until the window ends", func(t *testing.T) {
		j := w.psql(t, nil, "", "DELETE FROM sales.items WHERE id = 61")
		id := w.requested(t, "DELETE FROM sales.items WHERE id = 61").str("id")
		w.cli(t, approverUID, 0, "approve", id, "--for", "15s")
		if res := j.wait(t); res.code != 0 {
			t.Fatalf("psql: %s", res.stderr)
		}
		approved := w.decided(t, "approval.approved", id)
		expires, err := time.Parse(time.RFC3339Nano, approved.str("grant_expires"))
		if err != nil {
			t.Fatalf("grant_expires %q: %v", approved.str("grant_expires"), err)
		}
		// Same shape, other value, within the window: no request.
		if res := w.psql(t, nil, "", "DELETE FROM sales.items WHERE id = 62").wait(t); res.code != 0 || !strings.Contains(res.stdout, "DELETE 1") {
			t.Fatalf("second DELETE in the window: %d %s", res.code, res.stderr)
		}
		if q := w.query(t, "DELETE FROM sales.items WHERE id = 62", id, "approved"); q.str("approval_grant") != "for" {
			t.Errorf("db.query in the window: %v", q)
		}
		// After the window: held again.
		// The window is wall-clock time; the event has it to the second.
		time.Sleep(time.Until(expires.Truncate(time.Second).Add(time.Second + 100*time.Millisecond)))
		j = w.psql(t, nil, "", "DELETE FROM sales.items WHERE id = 63")
		late := w.requested(t, "DELETE FROM sales.items WHERE id = 63").str("id")
		w.cli(t, approverUID, 0, "deny", late, "--reason", "window over")
		if res := j.wait(t); res.code == 0 {
			t.Error("the DELETE after the window ran")
		}
		if got := w.rows(t, 61, 62, 63); !slices.Equal(got, []int{63}) {
			t.Errorf("rows left %v, want [63]", got)
		}
	})

	t.Run("the client gives up: the request is withdrawn", func(t *testing.T) {
		// psql sends a CancelRequest on SIGINT.
		j := w.psql(t, nil, "", "DELETE FROM sales.items WHERE id = 64")
		id := w.requested(t, "DELETE FROM sales.items WHERE id = 64").str("id")
		_ = j.cmd.Process.Signal(syscall.SIGINT)
		res := j.wait(t)
		if !strings.Contains(res.stderr, "canceling statement due to user request") {
			t.Errorf("psql after SIGINT: %s", res.stderr)
		}
		w.decided(t, "approval.withdrawn", id)
		w.daemon.waitEvent(t, "db.cancel withdrawn", func(ev event) bool {
			return ev.str("event") == "db.cancel" && ev.str("outcome") == "withdrawn"
		})

		// pgx: a context cancelled with the cancel-request handler.
		j = w.start(t, nil, "", filepath.Join(binDir, "heldclient"), "-dsn", w.dsn(), "-scenario", "cancel", "-sql", "DELETE FROM sales.items WHERE id = 65")
		id = w.requested(t, "DELETE FROM sales.items WHERE id = 65").str("id")
		_ = j.cmd.Process.Signal(syscall.SIGUSR1)
		if res := j.wait(t); res.code != 0 {
			t.Errorf("heldclient cancel: %s %s", res.stdout, res.stderr)
		}
		w.decided(t, "approval.withdrawn", id)

		// pgx's default: the connection is given up.
		j = w.start(t, nil, "", filepath.Join(binDir, "heldclient"), "-dsn", w.dsn(), "-scenario", "disconnect", "-sql", "DELETE FROM sales.items WHERE id = 66")
		id = w.requested(t, "DELETE FROM sales.items WHERE id = 66").str("id")
		_ = j.cmd.Process.Signal(syscall.SIGUSR1)
		if res := j.wait(t); res.code != 0 {
			t.Errorf("heldclient disconnect: %s %s", res.stdout, res.stderr)
		}
		w.decided(t, "approval.withdrawn", id)
		w.query(t, "DELETE FROM sales.items WHERE id = 66", id, "withdrawn")

		// statement_timeout bounds the hold, as the server's would.
		j = w.psql(t, []string{"PGOPTIONS=-c statement_timeout=1s"}, "", "DELETE FROM sales.items WHERE id = 67")
		id = w.requested(t, "DELETE FROM sales.items WHERE id = 67").str("id")
		if res := j.wait(t); !strings.Contains(res.stderr, "canceling statement due to statement timeout") {
			t.Errorf("psql with statement_timeout: %s", res.stderr)
		}
		w.decided(t, "approval.withdrawn", id)

		if got := w.rows(t, 64, 65, 66, 67); !slices.Equal(got, []int{64, 65, 66, 67}) {
			t.Errorf("rows left %v: a withdrawn statement ran", got)
		}
	})

	t.Run("20 held statements across sessions are decided independently", func(t *testing.T) {
		const n = 20
		j := w.start(t, nil, "", filepath.Join(binDir, "heldclient"), "-dsn", w.dsn(), "-scenario", "concurrent", "-n", fmt.Sprint(n))
		ids := make([]string, n+1)
		sessions := map[string]bool{}
		for i := 1; i <= n; i++ {
			ev := w.requested(t, fmt.Sprintf("DELETE FROM sales.items WHERE id = %d", i))
			ids[i] = ev.str("id")
			sessions[ev.str("session")] = true
		}
		if len(sessions) != n {
			t.Errorf("%d sessions for %d requests", len(sessions), n)
		}
		var wg sync.WaitGroup
		outs, codes := make([]string, n+1), make([]int, n+1)
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					outs[i], codes[i] = w.sluice(approverUID, "approve", ids[i])
				} else {
					outs[i], codes[i] = w.sluice(approverUID, "deny", ids[i], "--reason", fmt.Sprintf("odd %d", i))
				}
			}()
		}
		wg.Wait()
		for i := 1; i <= n; i++ {
			if codes[i] != 0 {
				t.Errorf("deciding request %d: status %d: %s", i, codes[i], outs[i])
			}
		}
		res := j.wait(t)
		if res.code != 0 {
			t.Fatalf("heldclient: %s %s", res.stdout, res.stderr)
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		for i := 1; i <= n; i++ {
			want := fmt.Sprintf("%d ok DELETE 1", i)
			if i%2 == 1 {
				want = fmt.Sprintf("%d err 42501 permission denied by sluice policy \"etl\" rule \"review-deletes\": approval request %s denied by uid 1002: odd %d", i, ids[i], i)
			}
			if i-1 >= len(lines) || lines[i-1] != want {
				t.Errorf("connection %d: got %q, want %q", i, at(lines, i-1), want)
			}
		}
		all := make([]int, n)
		var odd []int
		for i := range n {
			all[i] = i + 1
			if (i+1)%2 == 1 {
				odd = append(odd, i+1)
			}
		}
		if got := w.rows(t, all...); !slices.Equal(got, odd) {
			t.Errorf("rows left %v, want the odd ones %v", got, odd)
		}
	})

	// Every request above was also posted to a webhook that never answers.
	if w.dead.accepted.Load() == 0 {
		t.Error("the dead webhook was never tried")
	}
}
