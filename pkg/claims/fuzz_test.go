package claims

import (
	"strings"
	"testing"
)

// FuzzTemplate: whatever a configuration holds, parsing ends with a
// template or an error; a template renders only names within the limits,
// and only names it reports it can produce.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []struct{ tmpl, claims string }{
		{"gha:{repository}@{ref}", `{"repository":"acme/app","ref":"refs/heads/main"}`},
		{"{sub}", `{"sub":"repo:acme/app:ref:refs/heads/main"}`},
		{"k8s-{kubernetes.io.namespace}.{kubernetes.io.serviceaccount.name}", `{"kubernetes.io":{"namespace":"a","serviceaccount":{"name":"b"}}}`},
		{"run-{run_id}", `{"run_id":12345678901234567890}`},
		{"{a}{b}", `{"a":"x","b":"y"}`},
		{"x{", `{}`},
		{"gha:{repository}@{ref}", `{"repository":"x@y","ref":"z"}`},
		{"{a.b..c}", `{"a":{"b":1}}`},
	} {
		f.Add(seed.tmpl, seed.claims)
	}
	f.Fuzz(func(t *testing.T, tmpl, claimsJSON string) {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		c, err := Decode([]byte(claimsJSON))
		if err != nil {
			return
		}
		name, err := tp.Render(c)
		if err != nil {
			return
		}
		if name == "" || len(name) > MaxName || strings.ContainsAny(name, " {}\n") {
			t.Fatalf("Render(%q) = %q", tmpl, name)
		}
		if !tp.CanProduce(name) {
			t.Fatalf("template %q rendered %q, which it says it cannot produce", tmpl, name)
		}
	})
}
