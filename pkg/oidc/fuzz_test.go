package oidc

import (
	"strings"
	"testing"
)

// FuzzInspect: whatever a job or a client sends as a token, reading it
// before verification ends with a header and claims or a refusal, never a
// panic, and a refusal never repeats the token.
func FuzzInspect(f *testing.F) {
	for _, seed := range []string{
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleS0xIn0.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xIiwic3ViIjoieCIsImV4cCI6MX0.c2ln",
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
		"e30.e30.e30",
		"a.b",
		"",
		"..",
		"eyJhbGciOiJSUzI1NiJ9.W10.x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, c, err := inspect(raw)
		if err != nil {
			if len(raw) > 8 && strings.Contains(err.Error(), raw) {
				t.Fatalf("refusal repeats the token: %v", err)
			}
			return
		}
		if h.Alg == "" || c == nil {
			t.Fatalf("accepted without alg or claims: %+v %v", h, c)
		}
	})
}
