package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/pkg/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// receiver is a webhook endpoint on 127.0.0.1 that records what it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][][]byte // by path
	got    chan string         // the path of each request, as it arrives
	status func(n int) int     // the status of the n-th request (from 1); nil: 200
	block  chan struct{}       // when set, handlers wait for it to close
	n      int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{bodies: map[string][][]byte{}, got: make(chan string, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.n++
		n := r.n
		r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], body)
		block, status := r.block, r.status
		r.mu.Unlock()
		if req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", req.Header.Get("Content-Type"))
		}
		r.got <- req.URL.Path
		if block != nil {
			select {
			case <-block:
			case <-req.Context().Done():
			}
		}
		if status != nil {
			w.WriteHeader(status(n))
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T) string {
	t.Helper()
	select {
	case p := <-r.got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook request")
		return ""
	}
}

// deadURL is an http URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/services/T000/B000/SECRET-TOKEN?token=hunter2"
}

func TestWebhookPayloads(t *testing.T) {
	rcv := newReceiver(t)
	tb := newTestBroker(t, Options{Settings: Settings{Webhooks: []Webhook{
		{URL: rcv.URL + "/generic"},
		{URL: rcv.URL + "/slack", Format: FormatSlack},
	}}})
	h := tb.hold(t, deleteRequest(fpDelete))
	paths := map[string]bool{rcv.wait(t): true, rcv.wait(t): true}
	if !paths["/generic"] || !paths["/slack"] {
		t.Fatalf("webhook paths %v", paths)
	}
	rcv.mu.Lock()
	generic, slack := rcv.bodies["/generic"][0], rcv.bodies["/slack"][0]
	rcv.mu.Unlock()

	var g map[string]any
	if err := json.Unmarshal(generic, &g); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"event": "approval.requested", "id": h.id, "identity": "nightly-etl", "target": "orders-db",
		"database": "orders", "user": "etl_writer", "uid": float64(jobUID), "exe": "/opt/etl/bin/orders-sync",
		"unit": "nightly-etl.service", "statement": deleteRequest("").Statement, "rule": "deletes",
		"fingerprint": fpDelete, "approve_command": "sluice approve " + h.id,
		"approve_for_command": "sluice approve " + h.id + " --for 30m",
		"deny_command":        "sluice deny " + h.id + ` --reason "..."`,
	} {
		if g[k] != v {
			t.Errorf("generic payload %s = %v, want %v", k, g[k], v)
		}
	}

	var s slackPayload
	dec := json.NewDecoder(bytes.NewReader(slack))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Text, "`sluice approve "+h.id+"`") || !strings.Contains(s.Text, "`sluice deny "+h.id+` --reason "..."`+"`") {
		t.Errorf("slack text %q lacks the commands", s.Text)
	}
	var all strings.Builder
	for _, b := range s.Blocks {
		if b.Text != nil {
			all.WriteString(b.Text.Text + "\n")
		}
		for _, f := range append(b.Fields, b.Elements...) {
			all.WriteString(f.Text + "\n")
		}
	}
	for _, want := range []string{
		"```DELETE FROM sales.orders WHERE created &lt; '2020-01-01'```",
		"Approve once: `sluice approve " + h.id + "`",
		"Approve for 30m: `sluice approve " + h.id + " --for 30m`",
		"Deny: `sluice deny " + h.id + ` --reason "..."` + "`",
		"*Identity*\nnightly-etl",
	} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("slack blocks lack %q:\n%s", want, all.String())
		}
	}
}

// TestPayloadGolden renders both formats of a fixed request.
func TestPayloadGolden(t *testing.T) {
	p := &Pending{
		Request: deleteRequest(fpDelete), ID: "k3xq7mz2a4bcdwef", State: Waiting,
		Requested: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), Deadline: time.Date(2026, 11, 22, 12, 10, 0, 0, time.UTC),
	}
	p.Statement = "DELETE FROM sales.orders WHERE note = '<@U123> & ```x```'"
	for _, f := range []Format{FormatGeneric, FormatSlack} {
		t.Run(string(f), func(t *testing.T) {
			body, err := payload(f, p)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := json.Indent(&out, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			out.WriteByte('\n')
			golden := filepath.Join("testdata", "payload-"+string(f)+".golden.json")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("payload differs from %s (run go test -update if intended):\n%s", golden, out.Bytes())
			}
		})
	}
}

// TestWebhookNeverBlocks: with one endpoint that never answers and one
// where nothing listens, requests are held, approved and released as if
// there were none.
func TestWebhookNeverBlocks(t *testing.T) {
	slow := newReceiver(t)
	release := make(chan struct{})
	slow.block = release
	defer close(release)
	tb := newTestBroker(t, Options{
		Settings: Settings{Webhooks: []Webhook{
			{URL: slow.URL + "/slow", Timeout: time.Hour},
			{URL: deadURL(t), Format: FormatSlack},
		}},
		Retry: Retry{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond},
	})
	h := tb.hold(t, deleteRequest(fpDelete))
	slow.wait(t) // the slow endpoint holds its first notification
	for i := range 5 {
		r := deleteRequest(fpUpdate)
		r.Session = string(rune('a' + i))
		hi := tb.hold(t, r)
		if _, err := tb.Deny(alice, hi.id, "no"); err != nil {
			t.Fatal(err)
		}
		if o := hi.outcome(t); o.Decision != Denied {
			t.Fatalf("outcome %+v", o)
		}
	}
	if _, err := tb.Approve(alice, h.id, Once(), ""); err != nil {
		t.Fatal(err)
	}
	if o := h.outcome(t); o.Decision != Approved {
		t.Fatalf("outcome %+v", o)
	}
	// The dead endpoint's failures are reported, without its secret.
	deadline := time.Now().Add(10 * time.Second)
	for len(tb.events.events(t, "approval.webhook_failed")) < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	evs := tb.events.events(t, "approval.webhook_failed")
	if len(evs) != 6 {
		t.Fatalf("%d approval.webhook_failed events, want 6: %v", len(evs), evs)
	}
	for _, ev := range evs {
		if ev["reason"] != "failed" || ev["attempts"] != float64(3) || ev["format"] != "slack" ||
			!strings.HasPrefix(ev["webhook"].(string), "http://127.0.0.1:") || !strings.HasSuffix(ev["webhook"].(string), "/…") {
			t.Errorf("event %v", ev)
		}
	}
	raw := tb.events.String()
	for _, secret := range []string{"SECRET-TOKEN", "hunter2", "/services/"} {
		if strings.Contains(raw, secret) {
			t.Errorf("events contain %q:\n%s", secret, raw)
		}
	}
	if got := testutil.ToFloat64(tb.m.WebhookFailures.WithLabelValues("slack", metrics.WebhookFailed)); got != 6 {
		t.Errorf("failures = %v", got)
	}
}

// TestWebhookQueueFull: an endpoint's queue holds QueueSize notifications
// while its worker is busy; more are dropped, with an event and a metric.
func TestWebhookQueueFull(t *testing.T) {
	slow := newReceiver(t)
	release := make(chan struct{})
	slow.block = release
	tb := newTestBroker(t, Options{
		Settings:  Settings{Webhooks: []Webhook{{URL: slow.URL + "/hook?key=s3cret", Timeout: time.Hour}}},
		QueueSize: 2,
	})
	tb.hold(t, deleteRequest("0000000000000000"))
	slow.wait(t) // the worker is busy with the first
	for i := 1; i <= 4; i++ {
		r := deleteRequest(strings.Repeat(string(rune('0'+i)), 16))
		tb.hold(t, r)
	}
	// Request posts after the request is held: wait for the posts.
	dropped := func() float64 {
		return testutil.ToFloat64(tb.m.WebhookFailures.WithLabelValues("generic", metrics.WebhookDropped))
	}
	for deadline := time.Now().Add(10 * time.Second); dropped() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := dropped(); got != 2 {
		t.Fatalf("dropped = %v, want 2", got)
	}
	evs := tb.events.events(t, "approval.webhook_failed")
	if len(evs) != 2 || evs[0]["reason"] != "dropped" || !strings.Contains(evs[0]["error"].(string), "queue full") {
		t.Fatalf("events %v", evs)
	}
	if strings.Contains(tb.events.String(), "s3cret") {
		t.Fatal("events contain the webhook's key")
	}
	close(release)
	for range 2 { // the two queued ones are delivered
		slow.wait(t)
	}
}

func TestWebhookRetries(t *testing.T) {
	cases := []struct {
		name         string
		status       func(n int) int
		wantRequests int
		wantFailed   bool
		wantError    string
	}{
		{"server errors, then success", func(n int) int { return statusUntil(n, 3, 503, 200) }, 3, false, ""},
		{"rate limited, then success", func(n int) int { return statusUntil(n, 2, 429, 204) }, 2, false, ""},
		{"always failing", func(int) int { return 500 }, 4, true, "HTTP 500"},
		{"not found is not retried", func(int) int { return 404 }, 1, true, "HTTP 404 (not retried)"},
		{"redirect is not followed", func(int) int { return 302 }, 1, true, "HTTP 302 (not retried)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t)
			rcv.status = tc.status
			var mu sync.Mutex
			var fails []failure
			n := newNotifier(Retry{Attempts: 4, Base: time.Millisecond, Max: 4 * time.Millisecond}, 0, func(f failure) {
				mu.Lock()
				fails = append(fails, f)
				mu.Unlock()
			})
			hook := Webhook{URL: rcv.URL + "/x", Timeout: 5 * time.Second}
			n.post([]Webhook{hook}, &Pending{Request: deleteRequest(fpDelete), ID: "k3xq7mz2a4bcdwef"})
			for range tc.wantRequests {
				rcv.wait(t)
			}
			if tc.wantFailed {
				deadline := time.Now().Add(10 * time.Second)
				for {
					mu.Lock()
					k := len(fails)
					mu.Unlock()
					if k > 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			n.close()
			select {
			case p := <-rcv.got:
				t.Fatalf("unexpected extra request %s", p)
			default:
			}
			mu.Lock()
			defer mu.Unlock()
			if (len(fails) == 1) != tc.wantFailed {
				t.Fatalf("failures %+v, want failed = %v", fails, tc.wantFailed)
			}
			if tc.wantFailed && (fails[0].attempts != tc.wantRequests || fails[0].err != tc.wantError) {
				t.Fatalf("failure %+v", fails[0])
			}
		})
	}
}

// statusUntil answers bad to the requests before the until-th, then good.
func statusUntil(n, until, bad, good int) int {
	if n < until {
		return bad
	}
	return good
}

func TestBackoffBounded(t *testing.T) {
	r := Retry{Attempts: 10, Base: time.Second, Max: 30 * time.Second}
	for attempt := 1; attempt <= 64; attempt++ {
		want := 30 * time.Second
		if attempt <= 5 {
			want = time.Second << (attempt - 1)
		}
		for range 20 {
			if d := r.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
	if d := (Retry{}).withDefaults(); d.Attempts != 5 || d.Base != time.Second || d.Max != 30*time.Second {
		t.Fatalf("defaults %+v", d)
	}
}

func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://user:pass@example.com/hook", "https://example.com/…"},
		{"https://example.com?token=abc", "https://example.com/…"},
		{"not a url", "(not a URL)"},
		{"http://[::1", "(not a URL)"},
	}
	for _, tc := range cases {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWebhookSettings(t *testing.T) {
	cases := []struct {
		name    string
		hook    Webhook
		wantErr string
	}{
		{"ftp", Webhook{URL: "ftp://127.0.0.1/x"}, "not an http or https URL: ftp://127.0.0.1/…"},
		{"no host", Webhook{URL: "https:///path"}, "not an http or https URL"},
		{"format", Webhook{URL: "https://127.0.0.1/x", Format: "teams"}, `unknown format "teams"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Settings: Settings{Webhooks: []Webhook{tc.hook}}})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Configure(Settings{Webhooks: []Webhook{{URL: "gopher://x"}}}); err == nil {
		t.Fatal("Configure accepted a gopher URL")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if o := b.Request(ctx, deleteRequest(fpDelete)); o.Decision != Withdrawn {
		t.Fatalf("request with a done context: %+v", o)
	}
}
