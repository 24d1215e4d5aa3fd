package e2e

import (
	"testing"

	"github.com/sluicehq/sluice/pkg/privtest"
)

// baseConfig is the configuration most tests run with. Everything is on
// loopback; the cgroup root is the test's own cgroup.
const baseConfig = `
listen: {{.Listen}}
listen6: "{{.Listen6}}"
control_socket: {{.Dir}}/control.sock
cgroup_root: {{.Root}}
state_dir: {{.Dir}}/state
policies: {{.Dir}}/policies
fail_mode: {{or .FailMode "closed"}}
exclude: ["127.0.0.9/32:{{.ExcludedPort}}"]
log: { format: json, level: debug }
metrics: { listen: {{.Metrics}} }
bpf: { pin_dir: {{.PinDir}}{{if .Mark}}, mark: {{.Mark}}{{end}} }
identities:
  - name: nightly-etl
    match: { systemd_unit: nightly-etl.service }
    egress: deny
  - name: ci-job
    match: { cgroup: "{{.Root}}/ci.slice/job-*.scope" }
    claimable_by: { uids: [1001], gids: [] }
    egress: allow
  - name: svc-uid
    match: { uid: 4242 }
  - name: deploy
    claimable_by: { uids: [1002] }
targets:
  - name: artifact-cache
    protocol: tcp
    address: {{.Cache}}
  - name: cache-v6
    protocol: tcp
    address: "{{.Cache6}}"
`

// world starts the servers the base config refers to and sluiced.
type world struct {
	*env
	cache    *privtest.LineServer // target artifact-cache on 127.0.0.3
	cache6   *privtest.LineServer // target cache-v6 on [::1]
	other    *privtest.LineServer // not a target, on 127.0.0.4
	excluded *privtest.LineServer // excluded destination on 127.0.0.9
}

func newWorld(t *testing.T, extra map[string]any) *world {
	e := newEnv(t)
	w := &world{env: e}
	w.cache = e.serve("tcp4", "127.0.0.3:0")
	w.cache6 = e.serve("tcp6", "[::1]:0")
	w.other = e.serve("tcp4", "127.0.0.4:0")
	w.excluded = e.serve("tcp4", "127.0.0.9:0")
	e.vars["Cache"] = w.cache.Addr.String()
	e.vars["Cache6"] = w.cache6.Addr.String()
	e.vars["ExcludedPort"] = w.excluded.Addr.Port()
	for k, v := range extra {
		e.vars[k] = v
	}
	e.start(e.writeConfig(baseConfig))
	return w
}
