package approvalspec

import (
	"strings"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" for valid, else part of the message
	}{
		{"https://hooks.slack.com/services/T0/B0/secret", ""},
		{"http://127.0.0.1:8080/hook", ""},
		{"", "must not be empty"},
		{"hooks.example.com/x", "has no scheme"},
		{"ftp://host/secret-token", `got scheme "ftp"`},
		{"https:///path", "has no host"},
		{"http://[::1", "not a valid URL"},
	}
	for _, tt := range tests {
		got := CheckURL(tt.url)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("CheckURL(%q) = %q, want %q", tt.url, got, tt.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("CheckURL(%q) repeats the URL: %q", tt.url, got)
		}
	}
}

func TestCheckTimeout(t *testing.T) {
	if msg := CheckTimeout(5*time.Minute, MinTimeout, MaxTimeout); msg != "" {
		t.Errorf("5m: %q", msg)
	}
	if msg := CheckTimeout(25*time.Hour, MinTimeout, MaxTimeout); msg != "must be between 1s and 24h0m0s, got 25h0m0s" {
		t.Errorf("25h: %q", msg)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/secret": "https://hooks.slack.com/…",
		"https://user:pw@h.example/":                    "https://h.example",
		"http://127.0.0.1:9?token=x":                    "http://127.0.0.1:9/…",
		"not a url":                                     "(not a URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
