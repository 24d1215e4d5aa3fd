package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func policyFile(name, identity string) string {
	return lines("policies:", "  - name: "+name, "    identities: ["+identity+"]", "    targets: [orders-db]")
}

func TestLoadDirMissing(t *testing.T) {
	s, err := LoadDir(filepath.Join(t.TempDir(), "nope"), testKnown)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Policies()) != 0 || len(s.Version()) != versionLen {
		t.Fatalf("policies %v, version %q", s.Policies(), s.Version())
	}
	checkDecision(t, s, pg("legacy-etl", "orders-db", selectOne), want{action: Deny, message: "no policy covers"})
}

func TestLoadDirFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.yml":            policyFile("b", "ci-build"),
		"a.yaml":           policyFile("a", "legacy-etl"),
		"a_test.yaml":      "not: [a policy",
		"c_test.yml":       "not: [a policy",
		".hidden.yaml":     "not: [a policy",
		"README.md":        "# policies",
		"notes.txt":        "policies: {",
		"sub.yaml/x.yaml":  "not: [a policy",
		"archive/old.yaml": "not: [a policy",
	})
	s, err := LoadDir(dir, testKnown)
	if err != nil {
		t.Fatal(err)
	}
	ps := s.Policies()
	if len(ps) != 2 || ps[0].Name != "a" || ps[1].Name != "b" {
		t.Fatalf("policies %v", ps)
	}
	if ps[0].File != filepath.Join(dir, "a.yaml") {
		t.Errorf("file %q", ps[0].File)
	}
	// Policies() is a copy.
	ps[0] = nil
	if s.Policies()[0] == nil {
		t.Error("Policies returned the set's own slice")
	}
}

func TestLoadDirErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": policyFile("shared", "legacy-etl"),
		"b.yaml": lines(
			"policies:",
			"  - name: b",
			"    identities: [legacy-etl]",
			"    targets: [orders-db]",
			"  - name: shared",
			"    identities: [ci-build]",
			"    targets: [orders-db]",
		),
		"c.yaml": lines("policies:", "  - name: c", "    identities: [nobody]", "    targets: [orders-db]"),
	})
	s, err := LoadDir(dir, testKnown)
	if s != nil {
		t.Error("Set returned along with an error")
	}
	got := splitErrors(t, err)
	want := []string{
		filepath.Join(dir, "b.yaml") + `:5: duplicate policy name "shared" (first defined at ` + filepath.Join(dir, "a.yaml") + ":2)",
		filepath.Join(dir, "c.yaml") + `:3: policies[0].identities[0]: unknown identity "nobody"`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i].Error(), w) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], w)
		}
	}
}

func TestLoadDirNotADirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{"file": "x"})
	_, err := LoadDir(filepath.Join(dir, "file"), testKnown)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not match ErrInvalid", err)
	}
}

func TestLoadDirDanglingLink(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": policyFile("a", "legacy-etl")})
	if err := os.Symlink("gone.yaml", filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir, testKnown)
	got := splitErrors(t, err)
	if len(got) != 1 || got[0].File != filepath.Join(dir, "b.yaml") || !errors.Is(got[0], os.ErrNotExist) {
		t.Fatalf("errors: %v", err)
	}
}

func TestVersion(t *testing.T) {
	a := policyFile("a", "legacy-etl")
	b := policyFile("b", "ci-build")
	dir1 := writeFiles(t, map[string]string{"a.yaml": a, "b.yaml": b, "b_test.yaml": "x"})
	dir2 := writeFiles(t, map[string]string{"a.yaml": a, "b.yaml": b})
	dir3 := writeFiles(t, map[string]string{"a.yaml": a, "c.yaml": b})
	dir4 := writeFiles(t, map[string]string{"a.yaml": a, "b.yaml": b + "# changed\n"})
	dir5 := writeFiles(t, map[string]string{"a.yaml": a})
	v := func(dir string) string {
		s, err := LoadDir(dir, testKnown)
		if err != nil {
			t.Fatal(err)
		}
		return s.Version()
	}
	v1 := v(dir1)
	if len(v1) != versionLen || strings.Trim(v1, "0123456789abcdef") != "" {
		t.Fatalf("version %q", v1)
	}
	if v(dir2) != v1 {
		t.Error("same files in another directory, or a test file, changed the version")
	}
	if v(dir3) == v1 {
		t.Error("renaming a file kept the version")
	}
	if v(dir4) == v1 {
		t.Error("changing a file kept the version")
	}
	if p := mustParse(t, a, testKnown); p.Version() == v1 {
		t.Error("one file has the version of two")
	}
	s, err := Parse(filepath.Join("elsewhere", "a.yaml"), []byte(a), testKnown)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != v(dir5) {
		t.Error("Parse and LoadDir of the same single file give different versions")
	}
	if d := s.Decide(pg("legacy-etl", "orders-db", selectOne)); d.Version != s.Version() {
		t.Errorf("decision version %q, want %q", d.Version, s.Version())
	}
}
