package privtest

import (
	"os"
	"testing"

	"github.com/sluicehq/sluice/pkg/cgroup"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "SLUICE_REQUIRE_PRIVILEGED"

// Required reports whether privileged tests must run (CI).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Require skips t, or fails it when privileged tests are required, unless
// the process is root and a cgroup2 hierarchy is mounted.
func Require(t testing.TB) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root (eBPF, cgroups)"
	} else if _, err := cgroup.Mount(); err != nil {
		reason = "needs a cgroup2 mount: " + err.Error()
	}
	if reason == "" {
		return
	}
	if Required() {
		t.Fatalf("privileged test cannot run: %s (%s=1)", reason, RequireEnv)
	}
	t.Skip("skipping privileged test: " + reason)
}
