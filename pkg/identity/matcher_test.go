package identity

import "testing"

func TestMatchCgroup(t *testing.T) {
	uid := uint32(1001)
	m := NewMatcher([]Rule{
		{Name: "nightly-etl", SystemdUnit: "nightly-etl.service"},
		{Name: "ci-job", Cgroup: "/ci.slice/job-*.scope"},
		{Name: "any-ci", Cgroup: "/ci.slice/*"},
		{Name: "svc", UID: &uid},
	})
	cases := []struct {
		name, path, want string
	}{
		{"unit in system.slice", "/system.slice/nightly-etl.service", "nightly-etl"},
		{"unit under a test root", "/sluice-test-1/system.slice/nightly-etl.service", "nightly-etl"},
		{"sub-cgroup of a unit is not matched itself (it inherits)", "/system.slice/nightly-etl.service/worker", ""},
		{"ci job scope", "/ci.slice/job-42.scope", "ci-job"},
		{"first match wins", "/ci.slice/runner.service", "any-ci"},
		{"glob does not cross slashes", "/ci.slice/job-1.scope/x", ""},
		{"other unit", "/system.slice/cron.service", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := m.MatchCgroup(tc.path)
			if got := r.Name; got != tc.want || ok != (tc.want != "") {
				t.Errorf("MatchCgroup(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
			}
		})
	}
	if got := m.UIDs(); len(got) != 1 || got[1001].Name != "svc" {
		t.Errorf("UIDs() = %v", got)
	}
}
