package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/privtest"
)

func dial(addr netip.AddrPort) privtest.Dial {
	fam := "4"
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		fam = "6"
	}
	return privtest.Dial{Family: fam, Addr: addr, Send: "hello"}
}

func byPID(kind string, pid int) func(event) bool {
	return func(ev event) bool { return ev.str("event") == kind && int(ev.num("pid")) == pid }
}

// TestInterception covers who is redirected and who is not, with one daemon.
func TestInterception(t *testing.T) {
	w := newWorld(t, nil)
	d := w.daemon
	other := w.root.Child(t, "other.slice")

	// Cgroups created after the daemon started are tagged from the watcher.
	unit := w.root.Child(t, "system.slice/nightly-etl.service")
	job := w.root.Child(t, "ci.slice/job-7.scope")
	worker := job.Child(t, "worker")
	for _, cg := range []string{unit.Path, job.Path} {
		d.waitEvent(t, "identity.tagged for "+cg, func(ev event) bool {
			return ev.str("event") == "identity.tagged" && ev.str("cgroup") == cg
		})
	}

	t.Run("untagged process is untouched", func(t *testing.T) {
		res := privtest.Client(t, other.Dir, dial(w.cache.Addr), 0, 0)
		if proxied(t, res) {
			t.Fatal("untagged connection went through the proxy")
		}
		if res.Peer != w.cache.Addr.String() {
			t.Errorf("peer = %s", res.Peer)
		}
		if ev := d.findEvent(byPID("connection.open", res.PID)); ev != nil {
			t.Errorf("event for an untagged process: %v", ev)
		}
	})

	t.Run("systemd unit is redirected to its target with attribution", func(t *testing.T) {
		res := privtest.Client(t, unit.Dir, dial(w.cache.Addr), 0, 0)
		if !proxied(t, res) {
			t.Fatal("tagged connection went direct")
		}
		if res.Peer != w.cache.Addr.String() {
			t.Errorf("getpeername = %s, want the original %s", res.Peer, w.cache.Addr)
		}
		open := d.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
		exe, _ := os.Executable()
		want := map[string]string{
			"identity": "nightly-etl", "unit": "nightly-etl.service", "target": "artifact-cache",
			"dst": w.cache.Addr.String(), "cgroup": unit.Path, "tag": "cgroup",
		}
		for k, v := range want {
			if got := open.str(k); got != v {
				t.Errorf("connection.open %s = %q, want %q", k, got, v)
			}
		}
		if open.str("exe") == "" || open.str("comm") == "" || open.str("session") == "" {
			t.Errorf("connection.open lacks exe/comm/session: %v (test binary %s)", open, exe)
		}
		cl := d.waitEvent(t, "connection.close", byPID("connection.close", res.PID))
		if cl.str("session") != open.str("session") || cl.num("bytes_up") != 6 || cl.num("bytes_down") == 0 {
			t.Errorf("connection.close = %v", cl)
		}
	})

	cases := []struct {
		name         string
		cg           *privtest.Cgroup
		addr         netip.AddrPort
		family       string
		uid          uint32
		wantProxied  bool
		wantIdentity string
		wantTarget   string
	}{
		{"cgroup glob match", job, w.cache.Addr, "", 0, true, "ci-job", "artifact-cache"},
		{"child cgroup of a tagged cgroup", worker, w.cache.Addr, "", 0, true, "ci-job", "artifact-cache"},
		{"IPv6", job, w.cache6.Addr, "", 0, true, "ci-job", "cache-v6"},
		{"IPv4-mapped IPv6", job, netip.AddrPortFrom(netip.AddrFrom16(w.cache.Addr.Addr().As16()), w.cache.Addr.Port()), "mapped", 0, true, "ci-job", "artifact-cache"},
		{"uid tag", other, w.cache.Addr, "", 4242, true, "svc-uid", "artifact-cache"},
		{"egress allow outside any target", job, w.other.Addr, "", 0, true, "ci-job", ""},
		{"excluded destination goes direct", job, w.excluded.Addr, "", 0, false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dl := dial(tc.addr)
			if tc.family != "" {
				dl.Family = tc.family
			}
			res := privtest.Client(t, tc.cg.Dir, dl, tc.uid, tc.uid)
			if got := proxied(t, res); got != tc.wantProxied {
				t.Fatalf("proxied = %v, want %v", got, tc.wantProxied)
			}
			if res.Peer != tc.addr.String() {
				t.Errorf("getpeername = %s, want %s", res.Peer, tc.addr)
			}
			if !tc.wantProxied {
				return
			}
			ev := d.waitEvent(t, "connection.open", byPID("connection.open", res.PID))
			if ev.str("identity") != tc.wantIdentity || ev.str("target") != tc.wantTarget || int(ev.num("uid")) != int(tc.uid) {
				t.Errorf("event = %v, want identity %s target %q uid %d", ev, tc.wantIdentity, tc.wantTarget, tc.uid)
			}
		})
	}

	t.Run("egress deny closes connections outside targets", func(t *testing.T) {
		res := privtest.Client(t, unit.Dir, dial(w.other.Addr), 0, 0)
		if res.Reply != "" || res.Error == "" {
			t.Fatalf("denied connection got a reply: %+v", res)
		}
		ev := d.waitEvent(t, "connection.denied", byPID("connection.denied", res.PID))
		if ev.str("identity") != "nightly-etl" || !strings.Contains(ev.str("reason"), "egress") {
			t.Errorf("connection.denied = %v", ev)
		}
	})

	t.Run("direct connection to the proxy port is rejected", func(t *testing.T) {
		listen := netip.MustParseAddrPort(w.vars["Listen"].(string))
		res := privtest.Client(t, other.Dir, dial(listen), 0, 0)
		if res.Reply != "" {
			t.Fatalf("proxy answered a connection it has no record of: %+v", res)
		}
		d.waitEvent(t, "connection.rejected", func(ev event) bool {
			return ev.str("event") == "connection.rejected" && strings.HasSuffix(ev.str("src"), fmt.Sprintf(":%d", mustPort(t, res.Local)))
		})
	})

	t.Run("status lists programs and tagged cgroups", func(t *testing.T) {
		out, code := w.sluice(0, "status")
		if code != 0 {
			t.Fatalf("sluice status: exit %d\n%s", code, out)
		}
		for _, want := range []string{"sluice_connect4", "sluice_sockops", "sluice_getpeername6", unit.Path, "nightly-etl", job.Path, "uid 4242", w.pinDir} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("metrics count connections by identity", func(t *testing.T) {
		body := scrape(t, w.vars["Metrics"].(string))
		for _, want := range []string{
			`sluice_connections_total{identity="nightly-etl",outcome="accepted",target="artifact-cache"}`,
			`sluice_connections_total{identity="nightly-etl",outcome="denied",target=""}`,
			`sluice_redirect_record_misses_total 1`,
			`sluice_bpf_map_capacity{map="tuples"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("removed cgroup is untagged", func(t *testing.T) {
		gone := w.root.Child(t, "ci.slice/job-8.scope")
		d.waitEvent(t, "tagged job-8", func(ev event) bool {
			return ev.str("event") == "identity.tagged" && ev.str("cgroup") == gone.Path
		})
		if err := os.Remove(gone.Dir); err != nil {
			t.Fatal(err)
		}
		d.waitEvent(t, "untagged job-8", func(ev event) bool {
			return ev.str("event") == "identity.untagged" && ev.str("cgroup") == gone.Path
		})
	})
	_ = filepath.Join
}

func mustPort(t *testing.T, s string) uint16 { return unmapped(t, s).Port() }
