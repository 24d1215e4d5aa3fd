package config

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"testing"
)

func TestParseExample(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Listen:        "127.0.0.1:15001",
		ListenAddr:    netip.MustParseAddrPort("127.0.0.1:15001"),
		Listen6:       "[::1]:15001",
		Listen6Addr:   netip.MustParseAddrPort("[::1]:15001"),
		ControlSocket: "/run/sluice/control.sock",
		CgroupRoot:    "",
		StateDir:      "/var/lib/sluice",
		PoliciesDir:   "/etc/sluice/policies",
		FailMode:      FailClosed,
		Exclude: []Exclusion{
			{Prefix: netip.MustParsePrefix("127.0.0.53/32"), Port: 53},
		},
		Log:         Log{Format: LogJSON, File: "", Level: LogInfo, MaxSize: DefaultLogMaxSize, MaxFiles: DefaultLogMaxFiles},
		MaxSessions: 10000,
		Metrics:     Metrics{Listen: "127.0.0.1:9464"},
		BPF: BPF{
			PinDir: "",
			Mark:   0x5c1ce,
			MapSizes: MapSizes{
				Origins:       65536,
				Tuples:        65536,
				TaggedCgroups: 4096,
				TaggedUIDs:    1024,
				Exclusions:    1024,
			},
		},
		Identities: []Identity{
			{
				Name:   "nightly-etl",
				ID:     IdentityID("nightly-etl"),
				Match:  Match{Kind: MatchSystemdUnit, SystemdUnit: "nightly-etl.service"},
				Egress: EgressDeny,
			},
			{
				Name:        "ci-job",
				ID:          IdentityID("ci-job"),
				Match:       Match{Kind: MatchCgroup, Cgroup: "/ci.slice/job-*.scope"},
				ClaimableBy: ClaimableBy{UIDs: []uint32{1001}},
				Egress:      EgressAllow,
				MaxSessions: 20,
			},
		},
		Targets: []Target{
			{
				Name:     "artifact-cache",
				Protocol: ProtocolTCP,
				Address:  "127.0.0.3:8081",
				Host:     "127.0.0.3",
				Port:     8081,
				Addr:     netip.MustParseAddr("127.0.0.3"),
			},
		},
		Recording: defaultRecording(),
		Approvals: defaultApprovals(),
		Masking:   defaultMasking(),
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(example.yaml) =\n%+v\nwant\n%+v", c, want)
	}

	id, ok := c.Identity("ci-job")
	if !ok || id != &c.Identities[1] {
		t.Errorf("Identity(ci-job) = %v, %v", id, ok)
	}
	id, ok = c.IdentityByID(IdentityID("nightly-etl"))
	if !ok || id.Name != "nightly-etl" {
		t.Errorf("IdentityByID(nightly-etl) = %v, %v", id, ok)
	}
	if _, ok := c.Identity("nope"); ok {
		t.Error("Identity(nope) found something")
	}
	if _, ok := c.IdentityByID(1); ok {
		t.Error("IdentityByID(1) found something")
	}
}

func TestEmptyMappingIsDefault(t *testing.T) {
	c, err := Parse("sluice.yaml", []byte("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse({}) =\n%+v\nwant Default()\n%+v", c, Default())
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "overrides",
			yaml: `
listen: 127.1.2.3:9000
listen6: ""
control_socket: /run/x//sluice.sock
cgroup_root: /build.slice/
state_dir: /var/lib/sluice/
fail_mode: open
max_sessions: 250
log: {format: text, level: debug, file: /var/log/sluice.log, max_size: 10MiB, max_files: 0, readers: {uids: [1001], gids: [27]}}
metrics: {listen: ":9464"}
bpf:
  pin_dir: /sys/fs/bpf/other
  mark: 0x1
  map_sizes: {origins: 16, tuples: 4194304, tagged_cgroups: 1_000, tagged_uids: 0o20, exclusions: 32}
`,
			check: func(t *testing.T, c *Config) {
				want := Default()
				want.Listen, want.ListenAddr = "127.1.2.3:9000", netip.MustParseAddrPort("127.1.2.3:9000")
				want.Listen6, want.Listen6Addr = "", netip.AddrPort{}
				want.ControlSocket = "/run/x/sluice.sock"
				want.CgroupRoot = "/build.slice"
				want.StateDir = "/var/lib/sluice"
				want.FailMode = FailOpen
				want.MaxSessions = 250
				want.Log = Log{Format: LogText, Level: LogDebug, File: "/var/log/sluice.log", MaxSize: 10 << 20, MaxFiles: 0,
					Readers: Readers{UIDs: []uint32{1001}, GIDs: []uint32{27}}}
				want.Metrics.Listen = ":9464"
				want.BPF = BPF{PinDir: "/sys/fs/bpf/other", Mark: 1, MapSizes: MapSizes{16, 1 << 22, 1000, 16, 32}}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got\n%+v\nwant\n%+v", c, want)
				}
			},
		},
		{
			name: "cgroup root slash is the mount root",
			yaml: "cgroup_root: /\n",
			check: func(t *testing.T, c *Config) {
				if c.CgroupRoot != "" {
					t.Errorf("CgroupRoot = %q, want \"\"", c.CgroupRoot)
				}
			},
		},
		{
			name: "identities",
			yaml: `
identities:
  - name: run-only
    claimable_by: {gids: [0, 100]}
  - name: by-uid
    match: {uid: 1001}
    max_sessions: 4
  - name: unit-glob
    match: {systemd_unit: "backup-*.timer"}
  - name: "svc@host/a:b"
    match: {}
  - name: 42
`,
			check: func(t *testing.T, c *Config) {
				want := []Identity{
					{Name: "run-only", ClaimableBy: ClaimableBy{GIDs: []uint32{0, 100}}},
					{Name: "by-uid", Match: Match{Kind: MatchUID, UID: 1001}, MaxSessions: 4},
					{Name: "unit-glob", Match: Match{Kind: MatchSystemdUnit, SystemdUnit: "backup-*.timer"}},
					{Name: "svc@host/a:b"},
					{Name: "42"},
				}
				for i := range want {
					want[i].ID = IdentityID(want[i].Name)
					want[i].Egress = EgressDeny
				}
				if !reflect.DeepEqual(c.Identities, want) {
					t.Errorf("got\n%+v\nwant\n%+v", c.Identities, want)
				}
			},
		},
		{
			name: "targets",
			yaml: `
targets:
  - {name: db, protocol: tcp, address: "db.internal:5432"}
  - {name: v6, protocol: tcp, address: "[::1]:443"}
  - {name: same-port-other-host, protocol: tcp, address: "db2.internal:5432"}
`,
			check: func(t *testing.T, c *Config) {
				want := []Target{
					{Name: "db", Protocol: ProtocolTCP, Address: "db.internal:5432", Host: "db.internal", Port: 5432},
					{Name: "v6", Protocol: ProtocolTCP, Address: "[::1]:443", Host: "::1", Port: 443, Addr: netip.MustParseAddr("::1")},
					{Name: "same-port-other-host", Protocol: ProtocolTCP, Address: "db2.internal:5432", Host: "db2.internal", Port: 5432},
				}
				if !reflect.DeepEqual(c.Targets, want) {
					t.Errorf("got\n%+v\nwant\n%+v", c.Targets, want)
				}
			},
		},
		{
			name: "anchors and aliases",
			yaml: `
identities:
  - name: a
    claimable_by: &ops {uids: [1001, 1002]}
  - name: b
    claimable_by: *ops
`,
			check: func(t *testing.T, c *Config) {
				if got := c.Identities[1].ClaimableBy.UIDs; !reflect.DeepEqual(got, []uint32{1001, 1002}) {
					t.Errorf("aliased uids = %v", got)
				}
			},
		},
		{
			name: "exclusions",
			yaml: `exclude: ["127.0.0.0/8", "::ffff:127.0.0.53", "[::/8]:53", "127.0.0.7:22"]`,
			check: func(t *testing.T, c *Config) {
				want := []Exclusion{
					{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
					{Prefix: netip.MustParsePrefix("127.0.0.53/32")},
					{Prefix: netip.MustParsePrefix("::/8"), Port: 53},
					{Prefix: netip.MustParsePrefix("127.0.0.7/32"), Port: 22},
				}
				if !reflect.DeepEqual(c.Exclude, want) {
					t.Errorf("got %v, want %v", c.Exclude, want)
				}
			},
		},
		{
			name: "empty exclude replaces nothing",
			yaml: "exclude: []\n",
			check: func(t *testing.T, c *Config) {
				if len(c.Exclude) != 0 {
					t.Errorf("Exclude = %v", c.Exclude)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("sluice.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing) = %v, should not match ErrInvalid", err)
	}
}

func TestIdentityID(t *testing.T) {
	// FNV-1a 32 of "" is the offset basis.
	if got := IdentityID(""); got != 0x811c9dc5 {
		t.Errorf("IdentityID(\"\") = %#x", got)
	}
	// "p2808743aad7" hashes to 0, which is reserved.
	if got := IdentityID("p2808743aad7"); got != 1 {
		t.Errorf("IdentityID(p2808743aad7) = %#x, want 1", got)
	}
}
