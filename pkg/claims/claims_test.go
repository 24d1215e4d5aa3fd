package claims

import (
	"errors"
	"strings"
	"testing"
)

// gha is the claims of a GitHub Actions token, as the issuer sends them.
const gha = `{
  "iss": "https://token.actions.githubusercontent.com",
  "sub": "repo:acme/app:environment:production",
  "aud": "sluice",
  "ref": "refs/heads/main",
  "repository": "acme/app",
  "repository_owner": "acme",
  "environment": "production",
  "run_id": 9007199254740993,
  "run_attempt": "1",
  "groups": ["ci", "deployers"],
  "kubernetes.io": {"namespace": "batch", "serviceaccount": {"name": "etl"}},
  "big": "` + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + `"
}`

func decoded(t *testing.T, s string) map[string]any {
	t.Helper()
	c, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTemplateRender(t *testing.T) {
	c := decoded(t, gha)
	tests := []struct {
		name, tmpl, want, wantErr string
	}{
		{"github ref", "gha:{repository}@{ref}", "gha:acme/app@refs/heads/main", ""},
		{"environment", "gha:{repository}:{environment}", "gha:acme/app:production", ""},
		{"integer claim", "run-{run_id}", "run-9007199254740993", ""},
		{"nested claim with a dotted name", "k8s:{kubernetes.io.namespace}/{kubernetes.io.serviceaccount.name}", "k8s:batch/etl", ""},
		{"nested claim", "k8s-{kubernetes.io.namespace}.{kubernetes.io.serviceaccount.name}", "k8s-batch.etl", ""},
		{"subject with the separator", "gha:{sub}", "", `claim "sub" holds "repo:acme/app:environment:production"`},
		{"subject alone", "{sub}", "repo:acme/app:environment:production", ""},
		{"missing claim", "gha:{workflow}", "", `claim "workflow" is missing`},
		{"list claim", "x-{groups}", "", `claim "groups" is not a string or an integer`},
		{"repository owner as separator source", "{repository_owner}/{repository}", "", `contains "/", a separator`},
		{"too long", "{big}{big2}", "", "must be separated"},
		{"name too long", "{big}-{big}", "", "identity names are at most 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := ParseTemplate(tt.tmpl)
			if err != nil {
				if tt.wantErr != "" && strings.Contains(err.Error(), tt.wantErr) {
					return
				}
				t.Fatalf("ParseTemplate(%q): %v", tt.tmpl, err)
			}
			got, err := tp.Render(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrRender) {
					t.Fatalf("Render = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tt.want)
			}
			if !tp.CanProduce(got) {
				t.Errorf("CanProduce(%q) = false for a rendered name", got)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"", "empty template"},
		{"gha:main", "no placeholder"},
		{"gha:{repository", "is not closed"},
		{"gha:{repo{x}}", "is not closed"},
		{"gha}:{sub}", `unexpected "}" at byte 4`},
		{"{a}{b}", "must be separated by literal text"},
		{"{a}x{b}", `between {a} and {b} must hold one of`},
		{"gha {sub}", `holds ' '`},
		{"gha:{}", "empty claim name"},
		{"gha:{a..b}", "empty segment"},
		{"gha:{a b}", "whitespace"},
		{strings.Repeat("a", 300) + "{sub}", "longer than 256"},
		{strings.Repeat("{a}-", 9), "more than 8 placeholders"},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.tmpl)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTemplate(%q) = %v, want %q", tt.tmpl, err, tt.want)
		}
	}
}

// TestTemplateInjective: claims that render the same name are the same
// claims, whatever the values hold (separators in values are refused).
func TestTemplateInjective(t *testing.T) {
	tp, err := ParseTemplate("gha:{repository}@{ref}")
	if err != nil {
		t.Fatal(err)
	}
	a, errA := tp.Render(map[string]any{"repository": "x@y", "ref": "z"})
	b, errB := tp.Render(map[string]any{"repository": "x", "ref": "y@z"})
	if errA == nil || errB == nil {
		t.Fatalf("both rendered: %q %q", a, b)
	}
	for _, name := range []string{"gha:acme/app@main", "gha:a@b"} {
		if !tp.CanProduce(name) {
			t.Errorf("CanProduce(%q) = false", name)
		}
	}
	for _, name := range []string{"deploy", "gha:@main", "gha:a@b@c", "gha:a:b@c"} {
		if tp.CanProduce(name) {
			t.Errorf("CanProduce(%q) = true", name)
		}
	}
}

func TestRequirement(t *testing.T) {
	c := decoded(t, gha)
	tests := []struct {
		name string
		r    Requirement
		want string
	}{
		{"equal", Requirement{"repository_owner", []string{"acme"}}, ""},
		{"one of", Requirement{"environment", []string{"staging", "production"}}, ""},
		{"integer as text", Requirement{"run_id", []string{"9007199254740993"}}, ""},
		{"list holds one", Requirement{"groups", []string{"deployers"}}, ""},
		{"nested", Requirement{"kubernetes.io.namespace", []string{"batch"}}, ""},
		{"other value", Requirement{"repository_owner", []string{"evil"}}, `claim "repository_owner" is "acme" (required: "evil")`},
		{"missing", Requirement{"job_workflow_ref", []string{"x"}}, `claim "job_workflow_ref" is missing`},
		{"list without", Requirement{"groups", []string{"admins", "dba"}}, `a list without any of them (required: one of "admins", "dba")`},
		{"object", Requirement{"kubernetes.io", []string{"x"}}, "a value that is not text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Check(c)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrRequired) {
				t.Fatalf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	c := decoded(t, gha)
	got, err := Select(c, []string{"ref", "environment", "run_id", "workflow", "kubernetes.io.namespace", "groups"})
	if err != nil {
		t.Fatal(err)
	}
	if got["ref"] != "refs/heads/main" || got["environment"] != "production" || got["run_id"] != int64(9007199254740993) ||
		got["kubernetes.io.namespace"] != "batch" || len(got["groups"].([]any)) != 2 {
		t.Fatalf("Select = %v", got)
	}
	if _, ok := got["workflow"]; ok {
		t.Error("a missing claim was selected")
	}
	c["huge"] = strings.Repeat("x", MaxExposed)
	if _, err := Select(c, []string{"huge"}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Select(huge) = %v", err)
	}
}

func TestDecode(t *testing.T) {
	for _, bad := range []string{"", "null", "[]", `{"a":`, "1"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
	c := decoded(t, `{"f": 1.5, "n": -3, "b": true}`)
	if c["f"] != 1.5 || c["n"] != int64(-3) || c["b"] != true {
		t.Fatalf("Decode = %#v", c)
	}
}

// TestDecodeFoldedNames: top-level names equal without regard to case
// (Unicode simple folding, as encoding/json matches struct fields) are
// refused; the same name in nested objects, or one name twice, is not.
func TestDecodeFoldedNames(t *testing.T) {
	tests := []struct {
		name, json string
		folded     bool
	}{
		{"distinct names", `{"sub":"a","aud":"b","exp":1}`, false},
		{"sub and SUB", `{"sub":"a","SUB":"b"}`, true},
		{"exp and Exp", `{"Exp":1,"exp":2}`, true},
		{"long s", `{"sub":"a","\u017Fub":"b"}`, true},
		{"kelvin sign", `{"kid":"a","\u212Aid":"b"}`, true},
		{"nested objects keep their names", `{"ctx":{"sub":"a","SUB":"b"}}`, false},
		{"one name twice", `{"sub":"a","sub":"b"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.json))
			if got := errors.Is(err, ErrFoldedNames); got != tc.folded {
				t.Fatalf("Decode(%s) = %v, want folded %v", tc.json, err, tc.folded)
			}
		})
	}
}
