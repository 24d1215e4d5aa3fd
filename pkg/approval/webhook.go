package approval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sluicehq/sluice/pkg/approval/approvalspec"
	"github.com/sluicehq/sluice/pkg/metrics"
)

// Format is a webhook's payload format.
type Format string

// Formats.
const (
	FormatGeneric Format = "generic" // one JSON object describing the request
	FormatSlack   Format = "slack"   // a Slack incoming-webhook message
)

// Webhook defaults and bounds.
const (
	DefaultWebhookTimeout = approvalspec.DefaultWebhookTimeout
	DefaultQueueSize      = 64
	// maxEndpoints bounds the distinct webhooks served (global ones plus
	// those requests carry); notifications to more are dropped.
	maxEndpoints = 64
	// maxResponse is how much of a response body is read (and dropped).
	maxResponse = 64 << 10
)

// Webhook is an endpoint notified of each new request. Its URL may hold a
// secret (a Slack webhook's path does): it is never logged, only its
// scheme and host (RedactURL).
type Webhook struct {
	URL     string
	Format  Format        // "": FormatGeneric
	Timeout time.Duration // per attempt; 0: DefaultWebhookTimeout
}

func (w Webhook) normalize() (Webhook, error) {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return w, fmt.Errorf("not an http or https URL: %s", RedactURL(w.URL))
	}
	switch w.Format {
	case "":
		w.Format = FormatGeneric
	case FormatGeneric, FormatSlack:
	default:
		return w, fmt.Errorf("unknown format %q (generic or slack)", w.Format)
	}
	if w.Timeout <= 0 {
		w.Timeout = DefaultWebhookTimeout
	}
	return w, nil
}

// Retry says how a failed notification is retried: up to Attempts
// attempts, waiting between them a random time between half and all of
// Base, 2·Base, 4·Base... capped at Max. A response other than 2xx is a
// failure; 3xx and 4xx (but 408 and 429) are not retried.
type Retry struct {
	Attempts int           // 0: 5
	Base     time.Duration // 0: 1s
	Max      time.Duration // 0: 30s
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	return r
}

// backoff is the wait after the attempt-th failed attempt (from 1).
func (r Retry) backoff(attempt int) time.Duration {
	d := r.Max
	if attempt < 31 && r.Base<<(attempt-1) > 0 && r.Base<<(attempt-1) < r.Max {
		d = r.Base << (attempt - 1)
	}
	return d/2 + rand.N(d/2+1)
}

// failure is a notification that did not reach its webhook.
type failure struct {
	hook     Webhook
	id       string
	reason   string // metrics.WebhookFailed or metrics.WebhookDropped
	attempts int
	err      string // never holds the URL's path or query
}

// notifier posts notifications: one worker and one bounded queue per
// endpoint, so a slow or dead endpoint only delays its own
// notifications, and post never blocks.
type notifier struct {
	retry  Retry
	size   int
	onFail func(failure)
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	eps map[Webhook]chan notification
}

type notification struct {
	id   string
	body []byte
}

func newNotifier(r Retry, size int, onFail func(failure)) *notifier {
	if size <= 0 {
		size = DefaultQueueSize
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{
		retry: r.withDefaults(), size: size, onFail: onFail, ctx: ctx, cancel: cancel,
		eps: map[Webhook]chan notification{},
		client: &http.Client{
			// A webhook that redirects is misconfigured: say so rather
			// than post the request elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// post queues the notification of p for each hook, without blocking.
func (n *notifier) post(hooks []Webhook, p *Pending) {
	for _, h := range hooks {
		h, err := h.normalize()
		if err != nil {
			n.onFail(failure{hook: h, id: p.ID, reason: metrics.WebhookDropped, err: err.Error()})
			continue
		}
		q, err := n.queue(h)
		if err != nil {
			if n.ctx.Err() == nil {
				n.onFail(failure{hook: h, id: p.ID, reason: metrics.WebhookDropped, err: err.Error()})
			}
			continue
		}
		body, err := payload(h.Format, p)
		if err != nil {
			n.onFail(failure{hook: h, id: p.ID, reason: metrics.WebhookFailed, err: err.Error()})
			continue
		}
		select {
		case q <- notification{id: p.ID, body: body}:
		default:
			n.onFail(failure{hook: h, id: p.ID, reason: metrics.WebhookDropped,
				err: fmt.Sprintf("queue full (%d notifications waiting)", n.size)})
		}
	}
}

// queue returns the queue of h, starting its worker the first time.
func (n *notifier) queue(h Webhook) (chan notification, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return nil, errors.New("stopping")
	}
	if q, ok := n.eps[h]; ok {
		return q, nil
	}
	if len(n.eps) >= maxEndpoints {
		return nil, fmt.Errorf("more than %d distinct webhooks", maxEndpoints)
	}
	q := make(chan notification, n.size)
	n.eps[h] = q
	n.wg.Add(1)
	go n.worker(h, q)
	return q, nil
}

func (n *notifier) worker(h Webhook, q chan notification) {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case m := <-q:
			n.deliver(h, m)
		}
	}
}

// deliver posts m to h, retrying as n.retry says.
func (n *notifier) deliver(h Webhook, m notification) {
	for attempt := 1; ; attempt++ {
		retry, err := n.attempt(h, m.body)
		if err == nil {
			return
		}
		if n.ctx.Err() != nil {
			return // stopping: not a failure of the endpoint
		}
		if !retry || attempt >= n.retry.Attempts {
			n.onFail(failure{hook: h, id: m.id, reason: metrics.WebhookFailed, attempts: attempt, err: err.Error()})
			return
		}
		t := time.NewTimer(n.retry.backoff(attempt))
		select {
		case <-n.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// attempt posts body once. retry says whether a failure may be retried.
// Errors never carry the URL.
func (n *notifier) attempt(h Webhook, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluiced")
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return true, fmt.Errorf("no answer within %s", h.Timeout)
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("HTTP %d", c)
	default:
		return false, fmt.Errorf("HTTP %d (not retried)", c)
	}
}

// close stops the workers; notifications not yet delivered are dropped.
func (n *notifier) close() {
	n.mu.Lock()
	n.cancel()
	n.mu.Unlock()
	n.wg.Wait()
}

// RedactURL keeps a URL's scheme and host: webhook URLs carry secrets in
// their path or query, and user info. "https://hooks.slack.com/…".
func RedactURL(raw string) string { return approvalspec.RedactURL(raw) }
