package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -update flag rewrites golden files; another test file of the
// package may define it already.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// runSluicePolicy runs `sluice policy ARGS` and returns its exit status
// and output.
func runSluicePolicy(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runPolicy(args, policyIO{in: strings.NewReader(stdin), out: &out, err: &errOut})
	var ee exitError
	switch {
	case err == nil:
		return 0, out.String(), errOut.String()
	case errors.As(err, &ee):
		return ee.code, out.String(), errOut.String()
	}
	return 1, out.String(), errOut.String() + err.Error()
}

// policyGolden compares got with testdata/policy/name, or rewrites it
// with -update.
func policyGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "policy", name)
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestExamplePolicyTests runs the tests shipped with the example
// policies, so that they stay true.
func TestExamplePolicyTests(t *testing.T) {
	for _, args := range [][]string{
		{"test", "../../policies"},
		{"test", "--config", "testdata/policy/examples.yaml", "../../policies"},
	} {
		code, out, errOut := runSluicePolicy(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "ok: ") {
			t.Errorf("sluice policy %s: status %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
	}{
		{"examples are clean", []string{"check", "--strict", "--config", "testdata/policy/examples.yaml", "../../policies"}, 0, "check-examples.golden"},
		{"errors", []string{"check", "testdata/policy/bad", "--config", "testdata/policy/examples.yaml"}, 1, "check-errors.golden"},
		{"warnings", []string{"check", "testdata/policy/warn"}, 0, "check-warnings.golden"},
		{"warnings with --strict", []string{"check", "--strict", "testdata/policy/warn"}, exitWarnings, "check-warnings.golden"},
		{"hash without a key", []string{"check", "--config", "testdata/policy/no-key.yaml", "../../policies"}, 1, "check-no-key.golden"},
		{"column rules on a passthrough target", []string{"check", "--config", "testdata/policy/passthrough.yaml", "../../policies"}, 1, "check-passthrough.golden"},
		{"no directory", []string{"check"}, 2, ""},
		{"two directories", []string{"check", "a", "b"}, 2, ""},
		{"bad flag", []string{"check", "--stricter", "x"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runSluicePolicy(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("status %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			if tt.golden != "" {
				policyGolden(t, tt.golden, out)
			}
		})
	}
}

func TestPolicyTestFails(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ci.yaml", "policies:\n  - {name: ci, identities: [ci-build], targets: [orders-db], rules: [{name: reads, action: allow, postgres: {kinds: [select]}}]}\n")
	write("ci_test.yaml", "defaults: {identity: ci-build, target: orders-db}\ntests:\n  - {name: reads, sql: SELECT 1, expect: {action: allow}}\n  - {name: drop, sql: DROP TABLE t, expect: {action: allow}}\n")
	code, out, _ := runSluicePolicy(t, "", "test", dir)
	if code != 1 || !strings.Contains(out, "--- FAIL: "+filepath.Join(dir, "ci_test.yaml")+":4: drop") || !strings.HasSuffix(out, "FAIL: 1 of 2 tests failed (1 file)\n") {
		t.Errorf("status %d:\n%s", code, out)
	}
	write("ci_test.yaml", "tests: [{name: x}]\n")
	if code, out, _ := runSluicePolicy(t, "", "test", dir); code != 1 || !strings.Contains(out, "sql is required") {
		t.Errorf("status %d:\n%s", code, out)
	}
	write("ci.yaml", "policies: [{name: ci}]\n")
	if code, out, _ := runSluicePolicy(t, "", "test", dir); code != 1 || !strings.Contains(out, "identities is required") {
		t.Errorf("status %d:\n%s", code, out)
	}
}

func TestPolicyExplain(t *testing.T) {
	base := []string{"explain", "--config", "testdata/policy/examples.yaml", "--policies", "../../policies", "--time", "2026-11-22T03:00:00+01:00"}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		golden string
	}{
		{"text", []string{"--identity", "ci-build", "--target", "orders-db", "--sql", "DELETE FROM staging.orders; SELECT * FROM prod.orders"}, "", 0, "explain.golden"},
		{"json", []string{"--identity", "nightly-etl", "--target", "orders-db", "--unit", "nightly-etl.service", "--uid", "994", "--json", "--sql", "-"},
			"SELECT email FROM sales.customers", 0, "explain-json.golden"},
		{"search_path", []string{"--identity", "legacy-etl", "--target", "orders-db", "--search-path", "hr,public", "--sql", "SELECT * FROM salaries"}, "", 0, "explain-search-path.golden"},
		{"unknown identity", []string{"--identity", "nobody", "--target", "orders-db", "--sql", "SELECT 1"}, "", 1, ""},
		{"tcp target", []string{"--identity", "ci-build", "--target", "cache", "--sql", "SELECT 1"}, "", 1, ""},
		{"missing sql", []string{"--identity", "ci-build", "--target", "orders-db"}, "", 2, ""},
		{"bad time", []string{"--identity", "ci-build", "--target", "orders-db", "--sql", "SELECT 1", "--time", "03:00"}, "", 2, ""},
		{"claims", []string{"--identity", "ci-build", "--target", "orders-db", "--sql", "SELECT 1", "--claims", `{"ref":"refs/heads/main","run_id":42}`}, "", 0, ""},
		{"claims not an object", []string{"--identity", "ci-build", "--target", "orders-db", "--sql", "SELECT 1", "--claims", "[1]"}, "", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runSluicePolicy(t, tt.stdin, append(base, tt.args...)...)
			if code != tt.code {
				t.Errorf("status %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			if tt.golden != "" {
				policyGolden(t, tt.golden, out)
			}
		})
	}
}

func TestPolicyUsage(t *testing.T) {
	if code, _, errOut := runSluicePolicy(t, ""); code != 2 || !strings.Contains(errOut, "usage: sluice policy") {
		t.Errorf("status %d: %s", code, errOut)
	}
	if code, _, _ := runSluicePolicy(t, "", "lint"); code != 2 {
		t.Errorf("status %d", code)
	}
	if code, out, _ := runSluicePolicy(t, "", "help"); code != 0 || !strings.Contains(out, "explain") {
		t.Errorf("status %d: %s", code, out)
	}
}
