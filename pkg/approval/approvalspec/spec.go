// Package approvalspec holds what the configuration file (the approvals
// mapping) and the policy language (a review rule's approval settings)
// both check in approval settings: the bounds of approval and webhook
// timeouts, the webhook formats and what a webhook URL must be. It has no
// dependencies, so that the policy language does not depend on the
// broker.
package approvalspec

import (
	"fmt"
	"net/url"
	"time"
)

// Bounds and defaults of approval settings.
const (
	DefaultTimeout        = 10 * time.Minute // how long a statement is held
	MinTimeout            = time.Second
	MaxTimeout            = 24 * time.Hour
	DefaultWebhookTimeout = 5 * time.Second // one attempt to notify a webhook
	MinWebhookTimeout     = 100 * time.Millisecond
	MaxWebhookTimeout     = time.Minute
)

// Webhook payload formats.
const (
	FormatGeneric = "generic" // one JSON object describing the request
	FormatSlack   = "slack"   // a Slack incoming-webhook message
)

// Formats lists the webhook formats.
var Formats = []string{FormatGeneric, FormatSlack}

// CheckURL returns "" for an http or https URL with a host, else why not.
// The URL is never quoted: its path or query may be a token.
func CheckURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "must not be empty"
	case err != nil:
		return "not a valid URL (not repeated here: it may hold a token)"
	case u.Scheme == "":
		return "must be an http:// or https:// URL; this one has no scheme"
	case u.Scheme != "http" && u.Scheme != "https":
		scheme := u.Scheme
		if len(scheme) > 64 {
			scheme = scheme[:64] + "..."
		}
		return fmt.Sprintf("must be an http:// or https:// URL, got scheme %q", scheme)
	case u.Host == "":
		return "has no host"
	}
	return ""
}

// CheckTimeout returns "" when d is within [lo, hi], else why not.
func CheckTimeout(d, lo, hi time.Duration) string {
	if d < lo || d > hi {
		return fmt.Sprintf("must be between %s and %s, got %s", lo, hi, d)
	}
	return ""
}

// RedactURL keeps a URL's scheme and host: webhook URLs carry secrets in
// their path or query, and user info. "https://hooks.slack.com/…".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		s += "/…"
	}
	return s
}
