package policytest

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/policy/offline"
	"github.com/sluicehq/sluice/pkg/yamldoc"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func testEnv(t *testing.T) (*offline.Env, *policy.Set) {
	t.Helper()
	cfg, err := config.Load("testdata/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := offline.New(cfg)
	set, err := env.LoadPolicies("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}
	return env, set
}

func TestRunPasses(t *testing.T) {
	env, set := testEnv(t)
	files, err := LoadDir("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || len(files[0].Cases) != 7 {
		t.Fatalf("files %+v", files)
	}
	rep := Run(env, set, files)
	var out bytes.Buffer
	if err := rep.Write(&out, true); err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 {
		t.Errorf("%d failed:\n%s", rep.Failed(), out.String())
	}
	golden(t, "pass.golden", out.Bytes())
}

func TestRunFailures(t *testing.T) {
	env, set := testEnv(t)
	data, err := os.ReadFile("testdata/failing_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("testdata/failing_cases.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(env, set, []*File{f})
	if rep.Failed() != 8 {
		t.Errorf("%d failed, want 8", rep.Failed())
	}
	if !errors.Is(rep.Results[3].Err, offline.ErrUnknownName) {
		t.Errorf("error %v", rep.Results[3].Err)
	}
	var out bytes.Buffer
	if err := rep.Write(&out, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "fail.golden", out.Bytes())
}

func TestParseDefaults(t *testing.T) {
	f, err := Parse("t_test.yaml", []byte(`
tests:
  - name: takes the defaults declared after it
    sql: SELECT 1
    expect: {action: allow}
  - name: overrides them
    identity: ci-build
    search_path: []
    attribution: {pid: 1, uid: 4294967295, gid: 2, exe: /bin/x, comm: x, unit: x.service, cgroup: /x}
    time: 2026-11-22T03:00:00.5Z
    sql: SELECT 2
    expect: {action: deny, policy: "", rule: default, message: "no", shadow: {action: review, policy: p, rule: r}}
defaults:
  identity: nightly-etl
  target: orders-db
  search_path: [sales]
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Cases[0], f.Cases[1]
	if a.Identity != "nightly-etl" || a.Target != "orders-db" || !slices.Equal(a.SearchPath, []string{"sales"}) || a.Line != 3 {
		t.Errorf("case 0: %+v", a)
	}
	if a.Expect.Policy != nil || a.Expect.Rule != nil || a.Expect.Shadow != nil || !a.Time.IsZero() {
		t.Errorf("case 0 expects %+v", a.Expect)
	}
	if b.Identity != "ci-build" || b.SearchPath == nil || len(b.SearchPath) != 0 || b.Attribution.UID != 4294967295 ||
		b.Attribution.Unit != "x.service" || b.Time.Nanosecond() != 5e8 {
		t.Errorf("case 1: %+v", b)
	}
	if e := b.Expect; *e.Policy != "" || *e.Rule != "default" || e.Shadow.Action != policy.Review || e.Message != "no" {
		t.Errorf("case 1 expects %+v", e)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // error lines, as prefixes
	}{
		{"empty", "# nothing\n", []string{"t_test.yaml:1: empty test file"}},
		{"no tests", "defaults: {identity: a}\n", []string{"t_test.yaml:1: tests is required"}},
		{"empty tests", "tests: []\n", []string{"t_test.yaml:1: tests: must not be empty"}},
		{"unknown key", "tests:\n  - name: a\n    identity: x\n    target: y\n    sql: SELECT 1\n    expct: {action: allow}\n",
			[]string{"t_test.yaml:2: tests[0]: expect is required", `t_test.yaml:6: tests[0]: unknown key "expct" (did you mean "expect"?)`}},
		{"missing identity", "tests:\n  - {name: a, target: y, sql: SELECT 1, expect: {action: allow}}\n",
			[]string{"t_test.yaml:2: tests[0]: identity is required (here or in defaults)"}},
		{"bad action", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: alow}}\n",
			[]string{`t_test.yaml:3: tests[0].expect.action: invalid action "alow": must be one of allow, deny, review (did you mean "allow"?)`}},
		{"abstain is no decision", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: abstain}}\n",
			[]string{`t_test.yaml:3: tests[0].expect.action: invalid action "abstain"`}},
		{"shadow allow", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: allow, shadow: {action: allow, policy: p, rule: r}}}\n",
			[]string{`t_test.yaml:3: tests[0].expect.shadow.action: invalid action "allow": must be one of deny, review`}},
		{"shadow word", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: allow, shadow: nothing}}\n",
			[]string{`t_test.yaml:3: tests[0].expect.shadow: expected none or a mapping`}},
		{"bad time", "defaults: {identity: a, target: b, time: yesterday}\ntests:\n  - {name: a, sql: x, expect: {action: allow}}\n",
			[]string{`t_test.yaml:1: defaults.time: expected an RFC 3339 time`}},
		{"bad uid", "defaults: {identity: a, target: b, attribution: {uid: -1}}\ntests:\n  - {name: a, sql: x, expect: {action: allow}}\n",
			[]string{`t_test.yaml:1: defaults.attribution.uid: expected an integer from 0 to 4294967295`}},
		{"duplicate name", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: allow}}\n  - {name: a, sql: y, expect: {action: allow}}\n",
			[]string{`t_test.yaml:4: tests[1]: duplicate test name "a" (first at line 3)`}},
		{"null sql", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: , expect: {action: allow}}\n",
			[]string{`t_test.yaml:3: tests[0].sql: expected a string, got null`}},
		{"syntax", "tests: [\n", []string{"t_test.yaml:2: YAML syntax error"}},
		{"masking word", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: allow, masking: nothing}}\n",
			[]string{`t_test.yaml:3: tests[0].expect.masking: expected none or a mapping {policies, detectors, columns, whole_result}, got string "nothing"`}},
		{"empty masking", "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: allow, masking: {}}}\n",
			[]string{`t_test.yaml:3: tests[0].expect.masking: must not be empty`}},
		{"masking mistakes", "defaults: {identity: a, target: b}\ntests:\n  - name: a\n    sql: x\n    expect:\n      action: allow\n      masking:\n        polices: [p]\n        detectors: [crad, secrets]\n        columns: email\n        whole_result: hide\n",
			[]string{
				`t_test.yaml:8: tests[0].expect.masking: unknown key "polices" (did you mean "policies"?)`,
				`t_test.yaml:9: tests[0].expect.masking.detectors[0]: unknown detector "crad" (did you mean "card"?)`,
				`t_test.yaml:10: tests[0].expect.masking.columns: expected a list, got string "email"`,
				`t_test.yaml:11: tests[0].expect.masking.whole_result: expected none or a strategy (redact, partial, hash, null), got "hide"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t_test.yaml", []byte(tt.yaml))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ye *yamldoc.Error
				if !errors.As(e, &ye) {
					t.Fatalf("error %T", e)
				}
				got = append(got, ye.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLoadDirSkipsPolicies(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml":       "policies: []\n",
		"a_test.yaml":  "defaults: {identity: a, target: b}\ntests:\n  - {name: a, sql: x, expect: {action: allow}}\n",
		"b_test.yml":   "defaults: {identity: a, target: b}\ntests:\n  - {name: b, sql: x, expect: {action: deny}}\n",
		".c_test.yaml": "not: [a test",
		"d_test.json":  "{}",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != filepath.Join(dir, "a_test.yaml") || got[1].Cases[0].Name != "b" {
		t.Fatalf("files %+v", got)
	}
	// The policy loader skips the test files.
	set, err := policy.LoadDir(dir, policy.Known{})
	if err != nil || len(set.Policies()) != 0 {
		t.Fatalf("policies %v, %v", set.Policies(), err)
	}
}
