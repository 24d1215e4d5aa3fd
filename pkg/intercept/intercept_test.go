package intercept_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/privtest"
)

func TestMain(m *testing.M) { privtest.Main(m) }

func TestRedirect(t *testing.T) {
	privtest.Require(t)
	root := privtest.NewCgroup(t)
	tagged := root.Child(t, "ci.slice/job-1.scope")
	nested := tagged.Child(t, "worker")
	untagged := root.Child(t, "other.slice")
	pinDir := privtest.BPFFS(t)

	it, err := intercept.Load(intercept.Options{CgroupDir: root.Dir, PinDir: pinDir})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Adopted {
		t.Fatal("fresh pin directory reported as adopted")
	}

	upstream := privtest.ServeLines(t, "tcp4", "127.0.0.3:0", func(net.Conn, string) string { return "direct" })
	upstream6 := privtest.ServeLines(t, "tcp6", "[::1]:0", func(net.Conn, string) string { return "direct6" })
	var proxy4, proxy6 *privtest.LineServer
	proxyReply := func(c net.Conn, _ string) string {
		local := netip.MustParseAddrPort(c.LocalAddr().String())
		remote := netip.MustParseAddrPort(c.RemoteAddr().String())
		o, err := it.Lookup(remote, local)
		if err != nil {
			return "proxy error " + err.Error()
		}
		return fmt.Sprintf("proxy id=%d kind=%s dst=%s pid=%d uid=%d comm=%s", o.Identity, o.TagKind, o.Dst, o.PID, o.UID, o.Comm)
	}
	proxy4 = privtest.ServeLines(t, "tcp4", "127.0.0.1:0", proxyReply)
	proxy6 = privtest.ServeLines(t, "tcp6", "[::1]:0", proxyReply)

	if err := it.Configure(intercept.Redirect{Proxy4: proxy4.Addr, Proxy6: proxy6.Addr, Mark: 0x5c1ce}); err != nil {
		t.Fatal(err)
	}
	if err := it.TagCgroup(tagged.ID, 7); err != nil {
		t.Fatal(err)
	}
	if err := it.TagUID(4242, 9); err != nil {
		t.Fatal(err)
	}

	up4, up6 := upstream.Addr, upstream6.Addr
	mapped := netip.AddrPortFrom(netip.AddrFrom16(up4.Addr().As16()), up4.Port())
	cases := []struct {
		name      string
		cg        *privtest.Cgroup
		dial      privtest.Dial
		uid       uint32
		wantReply string // prefix
		wantPeer  string
	}{
		{"untagged process goes direct", untagged, privtest.Dial{Family: "4", Addr: up4}, 0, "direct", up4.String()},
		{"tagged cgroup is redirected", tagged, privtest.Dial{Family: "4", Addr: up4}, 0,
			fmt.Sprintf("proxy id=7 kind=cgroup dst=%s", up4), up4.String()},
		{"child of tagged cgroup is redirected", nested, privtest.Dial{Family: "4", Addr: up4}, 0,
			fmt.Sprintf("proxy id=7 kind=cgroup dst=%s", up4), up4.String()},
		{"IPv6 is redirected to the IPv6 listener", tagged, privtest.Dial{Family: "6", Addr: up6}, 0,
			fmt.Sprintf("proxy id=7 kind=cgroup dst=%s", up6), up6.String()},
		{"IPv4-mapped IPv6 is redirected", tagged, privtest.Dial{Family: "mapped", Addr: mapped}, 0,
			fmt.Sprintf("proxy id=7 kind=cgroup dst=%s", up4), mapped.String()},
		{"tagged uid is redirected", untagged, privtest.Dial{Family: "4", Addr: up4}, 4242,
			fmt.Sprintf("proxy id=9 kind=uid dst=%s pid=", up4), up4.String()},
		{"cgroup tag wins over uid tag", tagged, privtest.Dial{Family: "4", Addr: up4}, 4242,
			"proxy id=7 kind=cgroup", up4.String()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.dial.Send = "hello"
			res := privtest.Client(t, tc.cg.Dir, tc.dial, tc.uid, tc.uid)
			if res.Error != "" {
				t.Fatalf("client error: %s", res.Error)
			}
			if !strings.HasPrefix(res.Reply, tc.wantReply) {
				t.Errorf("reply = %q, want prefix %q", res.Reply, tc.wantReply)
			}
			if strings.HasPrefix(res.Reply, "proxy") && !strings.Contains(res.Reply, fmt.Sprintf("pid=%d ", res.PID)) {
				t.Errorf("reply %q does not attribute the client pid %d", res.Reply, res.PID)
			}
			if res.Peer != tc.wantPeer {
				t.Errorf("getpeername = %s, want %s", res.Peer, tc.wantPeer)
			}
		})
	}

	t.Run("direct connection to the proxy has no record", func(t *testing.T) {
		res := privtest.Client(t, untagged.Dir, privtest.Dial{Family: "4", Addr: proxy4.Addr, Send: "x"}, 0, 0)
		if !strings.Contains(res.Reply, intercept.ErrNoRecord.Error()) {
			t.Errorf("reply = %q, want a lookup failure", res.Reply)
		}
	})

	t.Run("exclusions are honored", func(t *testing.T) {
		ex := []intercept.Exclusion{{Prefix: netip.PrefixFrom(up4.Addr(), 32), Port: up4.Port()}}
		if err := it.SetExclusions(ex); err != nil {
			t.Fatal(err)
		}
		defer it.SetExclusions(nil)
		for _, fam := range []string{"4", "mapped"} {
			addr := up4
			if fam == "mapped" {
				addr = mapped
			}
			res := privtest.Client(t, tagged.Dir, privtest.Dial{Family: fam, Addr: addr, Send: "x"}, 0, 0)
			if res.Reply != "direct" {
				t.Errorf("%s: excluded destination: reply %q error %q, want direct", fam, res.Reply, res.Error)
			}
		}
		// Another port on the same address is still redirected.
		other := privtest.ServeLines(t, "tcp4", "127.0.0.3:0", func(net.Conn, string) string { return "direct" })
		res := privtest.Client(t, tagged.Dir, privtest.Dial{Family: "4", Addr: other.Addr, Send: "x"}, 0, 0)
		if !strings.HasPrefix(res.Reply, "proxy id=7") {
			t.Errorf("port-specific exclusion leaked to another port: %q", res.Reply)
		}
	})

	t.Run("pins outlive the loader and are adopted", func(t *testing.T) {
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		proxy4.Close()
		res := privtest.Client(t, tagged.Dir, privtest.Dial{Family: "4", Addr: up4, Send: "x"}, 0, 0)
		if !strings.Contains(res.Error, "connection refused") {
			t.Errorf("tagged connect with no proxy: reply %q error %q, want connection refused", res.Reply, res.Error)
		}
		res = privtest.Client(t, untagged.Dir, privtest.Dial{Family: "4", Addr: up4, Send: "x"}, 0, 0)
		if res.Reply != "direct" {
			t.Errorf("untagged connect while daemon is down: %+v", res)
		}

		it2, err := intercept.Load(intercept.Options{CgroupDir: root.Dir, PinDir: pinDir})
		if err != nil {
			t.Fatal(err)
		}
		defer it2.Close()
		if !it2.Adopted {
			t.Error("pins not reported as adopted")
		}
		tags, err := it2.TaggedCgroups()
		if err != nil || tags[tagged.ID] != 7 {
			t.Fatalf("tags after adopt = %v, %v", tags, err)
		}
		it = it2 // the proxy closure uses it
		proxy4 = privtest.ServeLines(t, "tcp4", "127.0.0.1:0", proxyReply)
		if err := it2.Configure(intercept.Redirect{Proxy4: proxy4.Addr, Proxy6: proxy6.Addr, Mark: 0x5c1ce}); err != nil {
			t.Fatal(err)
		}
		res = privtest.Client(t, tagged.Dir, privtest.Dial{Family: "4", Addr: up4, Send: "x"}, 0, 0)
		if !strings.HasPrefix(res.Reply, "proxy id=7") {
			t.Errorf("after adopt: %+v", res)
		}
		st, err := it2.Stats()
		if err != nil || st.Redirect4 == 0 || st.TupleStored == 0 || st.PeernameRewritten == 0 {
			t.Errorf("stats = %+v, %v", st, err)
		}

		if err := intercept.Remove(pinDir); err != nil {
			t.Fatal(err)
		}
		it2.Close()
		res = privtest.Client(t, tagged.Dir, privtest.Dial{Family: "4", Addr: up4, Send: "x"}, 0, 0)
		if res.Reply != "direct" {
			t.Errorf("after Remove and Close the programs must be gone: %+v", res)
		}
	})
}

func TestRemoveMissingDir(t *testing.T) {
	if err := intercept.Remove(t.TempDir() + "/none"); err != nil && !errors.Is(err, nil) {
		t.Fatal(err)
	}
}
