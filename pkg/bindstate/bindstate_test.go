package bindstate

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/statefile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func sample() []Binding {
	exp := time.Date(2026, 11, 22, 12, 40, 0, 0, time.UTC)
	return []Binding{
		{Job: "/sluice.jobs/job-5d5c748f35ba", CgroupID: 18151, OIDC: &identity.OIDC{
			Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/app:environment:production",
			Identity: "gha:acme/app@refs/heads/main", JTI: "0c7e5a7d-4a6b-4a0e-9b51-3f0d2f4b8a11",
			Expires: exp, IssuedAt: exp.Add(-10 * time.Minute),
			Claims: map[string]any{"environment": "production", "ref": "refs/heads/main", "run_id": int64(9007199254740993),
				"ratio": 0.5, "protected": true, "groups": []any{"a", "b"}},
		}},
		{Job: "/ci.slice/sluice.jobs/job-0a1b2c3d4e5f", CgroupID: 7, Expired: true, OIDC: &identity.OIDC{
			Issuer: "https://gitlab.example.com", Subject: "project_path:acme/web:ref_type:branch:ref:main",
			Identity: "gitlab:acme/web", Expires: exp.Add(-time.Hour),
		}},
	}
}

// TestRoundTrip: what is saved is read back as it was (claims keep their
// JSON types, integers beyond 2^53 every digit), in a stable layout.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := Path(dir)
	if bs, problems, err := Load(p); err != nil || bs != nil || problems != nil {
		t.Fatalf("missing file: %v %v %v", bs, problems, err)
	}
	if err := Save(p, sample()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "bindings.json")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, _ := os.ReadFile(golden); string(want) != string(data) {
		t.Errorf("file differs from %s (go test -update if intended):\n%s", golden, data)
	}
	bs, problems, err := Load(p)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Load: %v %v", problems, err)
	}
	want := sample()
	want[0], want[1] = want[1], want[0] // ordered by job
	if !reflect.DeepEqual(bs, want) {
		t.Fatalf("read back:\n%#v\nwant:\n%#v", bs, want)
	}
	if err := Save(p, nil); err != nil {
		t.Fatal(err)
	}
	if bs, _, err := Load(p); err != nil || len(bs) != 0 {
		t.Fatalf("empty file: %v %v", bs, err)
	}
}

// TestDecodeDamage: a file that is not a bindings file is refused as a
// whole; a damaged entry costs that entry only.
func TestDecodeDamage(t *testing.T) {
	good := `{"job":"/sluice.jobs/job-aa","cgroup_id":5,"identity":"i","issuer":"https://i","subject":"s","expires":"2026-11-22T12:40:00Z"}`
	file := func(entries ...string) string {
		return `{"version":1,"bindings":[` + strings.Join(entries, ",") + `]}`
	}
	whole := []struct{ name, data, msg string }{
		{"not JSON", "\x00\x01garbage", "invalid character"},
		{"truncated", file(good)[:60], "unexpected EOF"},
		{"another version", `{"version":2,"bindings":[]}`, "format version 2, want 1"},
		{"unknown field", `{"version":1,"bindings":[],"token":"x"}`, `unknown field "token"`},
		{"two values", file() + file(), "more than one JSON value"},
		{"bindings not an array", `{"version":1,"bindings":{}}`, "cannot unmarshal"},
	}
	for _, tc := range whole {
		t.Run(tc.name, func(t *testing.T) {
			bs, _, err := Decode([]byte(tc.data))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) || bs != nil {
				t.Fatalf("Decode = %v, %v; want ErrCorrupt with %q", bs, err, tc.msg)
			}
		})
	}

	entries := []struct{ name, entry, job, msg string }{
		{"relative job", strings.Replace(good, `"/sluice.jobs/job-aa"`, `"sluice.jobs/job-aa"`, 1), "", "is not a clean absolute cgroup path"},
		{"job with ..", strings.Replace(good, `"/sluice.jobs/job-aa"`, `"/sluice.jobs/../x"`, 1), "", "is not a clean absolute cgroup path"},
		{"no subject", strings.Replace(good, `"subject":"s"`, `"subject":""`, 1), "/sluice.jobs/job-aa", "subject is missing"},
		{"no cgroup id", strings.Replace(good, `"cgroup_id":5`, `"cgroup_id":0`, 1), "/sluice.jobs/job-aa", "cgroup_id is missing"},
		{"no expiry", strings.Replace(good, `,"expires":"2026-11-22T12:40:00Z"`, ``, 1), "/sluice.jobs/job-aa", "expires is missing"},
		{"bad expiry", strings.Replace(good, `2026-11-22T12:40:00Z`, `tomorrow`, 1), "", "cannot parse"},
		{"expiry before year 1", strings.Replace(good, `2026-11-22T12:40:00Z`, `0000-01-01T00:00:00+01:00`, 1), "/sluice.jobs/job-aa", "outside the years 1 to 9999"},
		{"claims not an object", strings.Replace(good, `}`, `,"claims":[1]}`, 1), "/sluice.jobs/job-aa", "claims:"},
		{"a token", strings.Replace(good, `}`, `,"token":"eyJ"}`, 1), "", `unknown field "token"`},
		{"long subject", strings.Replace(good, `"subject":"s"`, `"subject":"`+strings.Repeat("s", 5000)+`"`, 1), "/sluice.jobs/job-aa", "subject is longer than 4096 bytes"},
		{"duplicate job", good, "/sluice.jobs/job-aa", "the job is also bound by binding 0"},
	}
	for _, tc := range entries {
		t.Run(tc.name, func(t *testing.T) {
			other := strings.Replace(good, "job-aa", "job-bb", 1)
			bs, problems, err := Decode([]byte(file(good, tc.entry, other)))
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != 2 || bs[0].Job != "/sluice.jobs/job-aa" || bs[1].Job != "/sluice.jobs/job-bb" {
				t.Fatalf("kept %v, want the two good entries", bs)
			}
			if len(problems) != 1 || problems[0].Index != 1 || problems[0].Job != tc.job || !strings.Contains(problems[0].Error(), tc.msg) {
				t.Fatalf("problems = %v, want entry 1 (job %q) with %q", problems, tc.job, tc.msg)
			}
		})
	}
}

// TestLoadRefusesOpenFile: a file others could have written is not used.
func TestLoadRefusesOpenFile(t *testing.T) {
	p := Path(t.TempDir())
	if err := Save(p, sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(p); !errors.Is(err, statefile.ErrNotPrivate) {
		t.Fatalf("Load = %v, want ErrNotPrivate", err)
	}
}
