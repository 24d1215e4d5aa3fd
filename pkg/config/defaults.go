package config

import "net/netip"

// Default values of the optional keys.
const (
	DefaultPath          = "/etc/sluice/sluice.yaml"
	DefaultListen        = "127.0.0.1:15001"
	DefaultListen6       = "[::1]:15001"
	DefaultControlSocket = "/run/sluice/control.sock"
	DefaultStateDir      = "/var/lib/sluice"
	DefaultPoliciesDir   = "/etc/sluice/policies"
	DefaultMark          = 0x5c1ce
	DefaultMaxSessions   = 10000

	DefaultOrigins       = 65536
	DefaultTuples        = 65536
	DefaultTaggedCgroups = 4096
	DefaultTaggedUIDs    = 1024
	DefaultExclusions    = 1024
)

// Bounds of every bpf.map_sizes entry.
const (
	MinMapSize = 16
	MaxMapSize = 1 << 22
)

// Default returns a configuration with every default applied and no
// exclusions, identities or targets. Each call returns a new value.
func Default() *Config {
	return &Config{
		Listen:        DefaultListen,
		ListenAddr:    netip.MustParseAddrPort(DefaultListen),
		Listen6:       DefaultListen6,
		Listen6Addr:   netip.MustParseAddrPort(DefaultListen6),
		ControlSocket: DefaultControlSocket,
		CgroupRoot:    "",
		StateDir:      DefaultStateDir,
		PoliciesDir:   DefaultPoliciesDir,
		FailMode:      FailClosed,
		MaxSessions:   DefaultMaxSessions,
		Log: Log{
			Format:   LogJSON,
			Level:    LogInfo,
			MaxSize:  DefaultLogMaxSize,
			MaxFiles: DefaultLogMaxFiles,
		},
		BPF: BPF{
			Mark: DefaultMark,
			MapSizes: MapSizes{
				Origins:       DefaultOrigins,
				Tuples:        DefaultTuples,
				TaggedCgroups: DefaultTaggedCgroups,
				TaggedUIDs:    DefaultTaggedUIDs,
				Exclusions:    DefaultExclusions,
			},
		},
		Recording: defaultRecording(),
		Approvals: defaultApprovals(),
		Masking:   defaultMasking(),
	}
}

// newIdentity returns an identity with its defaults applied.
func newIdentity() Identity {
	return Identity{Egress: EgressDeny}
}
