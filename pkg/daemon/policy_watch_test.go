package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
)

// eventLog collects the daemon's events.
type eventLog struct {
	mu    sync.Mutex
	lines []map[string]any
	buf   strings.Builder
}

func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	return len(p), nil
}

// events returns the events of that type so far.
func (l *eventLog) events(t *testing.T, name string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.buf.String()))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		if ev["event"] == name {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvents waits until there are n events of that type.
func (l *eventLog) waitEvents(t *testing.T, name string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := l.events(t, name)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events after 10s, want %d:\n%s", len(evs), name, n, l.buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchConfig is a configuration whose policies are in dir.
func watchConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("sluice.yaml", []byte(fmt.Sprintf(`
policies: %s
identities:
  - name: ci-build
  - name: nightly-etl
targets:
  - name: orders-db
    protocol: postgres
    address: 127.0.0.1:5432
`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func policyText(name, identity string) string {
	return fmt.Sprintf("policies:\n  - name: %s\n    identities: [%s]\n    targets: [orders-db]\n", name, identity)
}

// writeViaRename writes a file as editors do: a temporary file, written in
// pieces, then renamed over the old one.
func writeViaRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.SplitAfter(content, "\n") {
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func versionOf(t *testing.T, cfg *config.Config) string {
	t.Helper()
	s, err := loadPolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.Version()
}

// startWatcher runs the policy watcher of d with short delays until the
// test ends.
func startWatcher(t *testing.T, d *Daemon, debounce time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	d.mu.Lock()
	dir := d.cfg.PoliciesDir
	d.mu.Unlock()
	go func() {
		done <- watchDir(ctx, dir, d.policies.dirChan(),
			watchTimes{debounce: debounce, maxDelay: 10 * debounce, retry: 50 * time.Millisecond}, d.reloadPoliciesOnChange)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
	})
}

func newWatchDaemon(t *testing.T, dir string) (*Daemon, *eventLog) {
	t.Helper()
	log := &eventLog{}
	l, err := audit.New(log, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &Daemon{cfg: watchConfig(t, dir), log: l}, log
}

func TestPolicyWatchReloads(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(a, []byte(policyText("a", "ci-build")), 0o644); err != nil {
		t.Fatal(err)
	}
	d, log := newWatchDaemon(t, dir)
	first, err := d.reloadPolicies(d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	log.waitEvents(t, audit.PolicyReloaded, 1)
	const debounce = 200 * time.Millisecond
	startWatcher(t, d, debounce)

	// A new file, written as an editor does, then changed twice more in
	// the same burst: one reload, to the final version.
	b := filepath.Join(dir, "b.yaml")
	writeViaRename(t, b, policyText("b", "nightly-etl"))
	if err := os.WriteFile(b, []byte(policyText("b", "ci-build")), 0o644); err != nil {
		t.Fatal(err)
	}
	writeViaRename(t, b, policyText("b2", "nightly-etl"))
	evs := log.waitEvents(t, audit.PolicyReloaded, 2)
	want := versionOf(t, d.cfg)
	if want == first.Version() {
		t.Fatal("the change kept the version")
	}
	if got := evs[1]["policy_version"]; got != want {
		t.Errorf("reloaded version %v, want %s", got, want)
	}
	if evs[1]["count"] != float64(2) || evs[1]["policies"] != dir {
		t.Errorf("event %v", evs[1])
	}
	if got := d.policies.set.Load().Version(); got != want {
		t.Errorf("version in force %s, want %s", got, want)
	}
	// Decisions use the new set: b2 covers nightly-etl.
	dec := d.policies.Decide(&policy.Request{Identity: "nightly-etl", Target: "orders-db", Protocol: policy.ProtocolPostgres})
	if dec.Policy != "b2" || dec.Version != want {
		t.Errorf("decision %+v", dec)
	}
	time.Sleep(3 * debounce)
	if n := len(log.events(t, audit.PolicyReloaded)); n != 2 {
		t.Errorf("%d policy.reloaded events for one burst, want 2 in all", n)
	}

	// An invalid file: the set in force stays.
	bad := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(bad, []byte("policies:\n  - name: c\n    identities: [nobody]\n    targets: [orders-db]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := log.waitEvents(t, audit.PolicyReloadFailed, 1)
	if msg, _ := failed[0]["error"].(string); !strings.Contains(msg, bad+`:3: policies[0].identities[0]: unknown identity "nobody"`) {
		t.Errorf("error %q", msg)
	}
	if got := d.policies.set.Load().Version(); got != want {
		t.Errorf("version in force %s after an invalid change, want %s", got, want)
	}

	// Fixed: the valid set is put in force.
	if err := os.WriteFile(bad, []byte(policyText("c", "ci-build")), 0o644); err != nil {
		t.Fatal(err)
	}
	evs = log.waitEvents(t, audit.PolicyReloaded, 3)
	if got, want := evs[2]["policy_version"], versionOf(t, d.cfg); got != want {
		t.Errorf("reloaded version %v, want %s", got, want)
	}
}

func TestPolicyWatchDirectoryAppears(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies")
	d, log := newWatchDaemon(t, dir)
	if _, err := d.reloadPolicies(d.cfg); err != nil {
		t.Fatal(err)
	}
	empty := log.waitEvents(t, audit.PolicyReloaded, 1)
	if empty[0]["count"] != float64(0) {
		t.Fatalf("event %v", empty[0])
	}
	startWatcher(t, d, 50*time.Millisecond)

	// The directory is created with a policy in it, then removed.
	tmp := dir + ".new"
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "a.yaml"), []byte(policyText("a", "ci-build")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	evs := log.waitEvents(t, audit.PolicyReloaded, 2)
	if evs[1]["count"] != float64(1) {
		t.Errorf("event %v", evs[1])
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	evs = log.waitEvents(t, audit.PolicyReloaded, 3)
	if evs[2]["count"] != float64(0) || evs[2]["policy_version"] != empty[0]["policy_version"] {
		t.Errorf("event %v after the directory was removed", evs[2])
	}
}

func TestPolicyWatchFollowsTheConfiguredDirectory(t *testing.T) {
	root := t.TempDir()
	one, two := filepath.Join(root, "one"), filepath.Join(root, "two")
	for _, dir := range []string{one, two} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, log := newWatchDaemon(t, one)
	if _, err := d.reloadPolicies(d.cfg); err != nil {
		t.Fatal(err)
	}
	startWatcher(t, d, 50*time.Millisecond)

	// A reload moves the policies to another directory: that one is
	// watched from then on, and the old one no longer.
	cfg := watchConfig(t, two)
	d.reloadMu.Lock()
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	if _, err := d.reloadPolicies(cfg); err != nil {
		t.Fatal(err)
	}
	d.reloadMu.Unlock()
	n := len(log.waitEvents(t, audit.PolicyReloaded, 1))
	if err := os.WriteFile(filepath.Join(two, "a.yaml"), []byte(policyText("a", "ci-build")), 0o644); err != nil {
		t.Fatal(err)
	}
	evs := log.waitEvents(t, audit.PolicyReloaded, n+1)
	if evs[n]["policies"] != two || evs[n]["count"] != float64(1) {
		t.Errorf("event %v", evs[n])
	}
	if err := os.WriteFile(filepath.Join(one, "b.yaml"), []byte("not: [a policy"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if evs := log.events(t, audit.PolicyReloadFailed); len(evs) != 0 {
		t.Errorf("the old directory is still watched: %v", evs)
	}
}
