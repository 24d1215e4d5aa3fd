package approvalhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/oidc"
	"github.com/sluicehq/sluice/pkg/oidctest"
)

// api is the approval API in front of a broker, with a local issuer of
// human tokens, configured as a sluice.yaml would.
type api struct {
	url    string
	issuer *oidctest.Issuer
	broker *approval.Broker
	events *lockedBuffer
}

// lockedBuffer is the event log, written by the broker's goroutines and
// read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newAPI(t *testing.T) *api {
	is := oidctest.New(t)
	c, err := config.Parse("sluice.yaml", []byte(`
oidc:
  issuers:
    - name: corp
      issuer: `+is.URL+`
      audiences: [sluice-approvals]
approvals:
  approvers: { uids: [1000] }
  http:
    listen: 127.0.0.1:9465
    issuer: corp
    groups: [dba]
    user_claim: preferred_username
`))
	if err != nil {
		t.Fatal(err)
	}
	v, err := oidc.New(c.OIDC.Issuers, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var events lockedBuffer
	log, err := audit.New(&events, audit.Options{Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Approvals.HTTP
	b, err := approval.New(approval.Options{Log: log, Settings: approval.Settings{
		Approvers: approval.Approvers{UIDs: c.Approvals.Approvers.UIDs, Groups: h.Groups},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srv := &Server{Broker: b, Log: log, Auth: &OIDCAuth{
		Verify:      func(ctx context.Context, tok string) (*oidc.Token, error) { return v.VerifyIssuer(ctx, h.Issuer, tok) },
		GroupsClaim: h.GroupsClaim, NameClaim: h.NameClaim, UserClaim: h.UserClaim,
	}}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &api{url: ts.URL, issuer: is, broker: b, events: &events}
}

// human returns the token of a human of the groups.
func (a *api) human(t *testing.T, subject, user string, groups ...string) string {
	c := a.issuer.Claims(subject, "sluice-approvals", 10*time.Minute)
	c["email"], c["preferred_username"], c["groups"] = subject+"@example.com", user, groups
	return a.issuer.Sign(t, c)
}

// hold holds a statement of a process of uid, bound (when job is set) to
// a token of that subject of the issuer; it returns the request id and
// the outcome to come.
func (a *api) hold(t *testing.T, uid uint32, job string) (string, <-chan approval.Outcome) {
	t.Helper()
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	changes := a.broker.Watch(wctx)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	at := identity.Attribution{PID: 4242, UID: uid, GID: uid}
	if job != "" {
		at.OIDC = &identity.OIDC{Issuer: a.issuer.URL, Subject: job, Identity: "gha:acme/app@main", Expires: time.Now().Add(time.Hour)}
	}
	session := "s" + job + strings.Repeat("x", int(uid%7))
	out := make(chan approval.Outcome, 1)
	go func() {
		out <- a.broker.Request(ctx, approval.Request{
			Identity: "nightly-etl", Target: "orders-db", Attribution: at, Session: session,
			Statement: "DELETE FROM sales.orders WHERE id = 7", Kind: "delete", Policy: "review-writes", Rule: "deletes", Fingerprint: "d1f0a3c2b4e59687",
		})
	}()
	for c := range changes {
		if c.Kind == approval.ChangeRequested && c.Request.Session == session {
			return c.Request.ID, out
		}
	}
	t.Fatal("not held")
	return "", nil
}

func (a *api) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

func TestAPI(t *testing.T) {
	a := newAPI(t)
	alice := a.human(t, "00u-alice", "alice", "staff", "dba")
	mallory := a.human(t, "00u-mallory", "mallory", "staff")
	id, out := a.hold(t, 994, "")

	t.Run("list with a human token", func(t *testing.T) {
		code, body := a.call(t, "GET", "/v1/approvals", alice, "")
		list, _ := body["approvals"].([]any)
		if code != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != id {
			t.Fatalf("%d %v", code, body)
		}
		code, body = a.call(t, "GET", "/v1/approvals/"+id, alice, "")
		if code != 200 || body["statement"] != "DELETE FROM sales.orders WHERE id = 7" {
			t.Fatalf("%d %v", code, body)
		}
	})
	refused := []struct {
		name, method, path, token, body string
		code                            int
		reason, msg                     string
	}{
		{"no token", "GET", "/v1/approvals", "", "", 401, "no_token", "an OIDC bearer token is required"},
		{"not a token", "GET", "/v1/approvals", "hunter2", "", 401, "invalid_token", "not a signed JWT"},
		{"a workload token", "GET", "/v1/approvals", "", "", 401, "invalid_token", `the token is for audience ["sluice"]`},
		{"not in an approver group", "POST", "/v1/approvals/" + id + "/approve", mallory, "", 403, "not_approver", "is in none of the approver groups"},
		{"deny without a reason", "POST", "/v1/approvals/" + id + "/deny", alice, `{}`, 400, "bad_request", "a reason is required"},
		{"unknown field", "POST", "/v1/approvals/" + id + "/approve", alice, `{"uid":0}`, 400, "bad_request", `unknown field "uid"`},
		{"bad window", "POST", "/v1/approvals/" + id + "/approve", alice, `{"for":"ever"}`, 400, "bad_request", "write a duration"},
		{"unknown request", "POST", "/v1/approvals/aaaaaaaaaaaaaaaa/approve", alice, "", 404, "not_found", "no such approval request"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token
			if tc.name == "a workload token" {
				tok = a.issuer.Sign(t, a.issuer.Claims("repo:acme/app", "sluice", time.Minute))
			}
			code, body := a.call(t, tc.method, tc.path, tok, tc.body)
			if code != tc.code || body["reason"] != tc.reason || !strings.Contains(body["error"].(string), tc.msg) {
				t.Fatalf("%d %v, want %d %s %q", code, body, tc.code, tc.reason, tc.msg)
			}
		})
	}

	t.Run("approve with a human token", func(t *testing.T) {
		code, body := a.call(t, "POST", "/v1/approvals/"+id+"/approve", alice, `{"reason":"OPS-12"}`)
		ap, _ := body["approver"].(map[string]any)
		if code != 200 || body["state"] != "approved" || ap["subject"] != "00u-alice" || ap["name"] != "00u-alice@example.com" {
			t.Fatalf("%d %v", code, body)
		}
		select {
		case o := <-out:
			if o.Decision != approval.Approved || o.Approver.OIDC.Subject != "00u-alice" {
				t.Fatalf("outcome %+v", o)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("still held")
		}
		if code, body := a.call(t, "POST", "/v1/approvals/"+id+"/deny", alice, `{"reason":"x"}`); code != 404 && code != 409 {
			t.Fatalf("decided twice: %d %v", code, body)
		}
	})

	t.Run("self-approval: the approver's own job", func(t *testing.T) {
		id, _ := a.hold(t, 995, "00u-alice")
		code, body := a.call(t, "POST", "/v1/approvals/"+id+"/approve", alice, "")
		if code != 403 || body["reason"] != "self_approval" || !strings.Contains(body["error"].(string), `a job bound to a token of subject "00u-alice"`) {
			t.Fatalf("%d %v", code, body)
		}
		if code, body := a.call(t, "POST", "/v1/approvals/"+id+"/deny", alice, `{"reason":"not mine to run"}`); code != 200 || body["state"] != "denied" {
			t.Fatalf("deny of one's own request: %d %v", code, body)
		}
	})

	t.Run("self-approval: a process of the approver's local user", func(t *testing.T) {
		root := a.human(t, "00u-root", "root", "dba")
		id, _ := a.hold(t, 0, "")
		code, body := a.call(t, "POST", "/v1/approvals/"+id+"/approve", root, "")
		if code != 403 || body["reason"] != "self_approval" || !strings.Contains(body["error"].(string), "running as user root") {
			t.Fatalf("%d %v", code, body)
		}
	})

	ev := a.events.String()
	if !strings.Contains(ev, `"event":"approval.approved"`) || !strings.Contains(ev, `"approver_subject":"00u-alice"`) ||
		!strings.Contains(ev, `"event":"approval.api_refused"`) {
		t.Fatalf("events:\n%s", ev)
	}
	for _, tok := range []string{alice, mallory} {
		if strings.Contains(ev, tok) || strings.Contains(ev, tok[strings.LastIndexByte(tok, '.')+1:]) {
			t.Fatal("an event holds a token")
		}
	}
}
