package config

import "net/netip"

// Config is a decoded and validated configuration file.
type Config struct {
	// Listen is the IPv4 proxy listener as written ("" = no IPv4 listener)
	// and ListenAddr its parsed form (the zero value when Listen is "").
	Listen     string
	ListenAddr netip.AddrPort
	// Listen6 is the IPv6 proxy listener as written ("" = no IPv6 listener)
	// and Listen6Addr its parsed form (the zero value when Listen6 is "").
	Listen6     string
	Listen6Addr netip.AddrPort

	// ControlSocket is the absolute path of the daemon's control socket.
	ControlSocket string
	// CgroupRoot is a cgroup path relative to the cgroup2 mount, cleaned,
	// starting with "/"; "" means the mount root itself.
	CgroupRoot string
	// StateDir is the absolute path of the daemon's state directory.
	StateDir string
	// PoliciesDir is the absolute path of the policy directory (key "policies").
	PoliciesDir string
	// FailMode says what happens to a tagged connection when the proxy is
	// unavailable.
	FailMode FailMode
	// Exclude lists destinations that are never redirected.
	Exclude []Exclusion
	// MaxSessions bounds the sessions open at once through the proxy,
	// all identities together (0 = no bound).
	MaxSessions uint32

	Log     Log
	Metrics Metrics
	BPF     BPF

	Identities []Identity
	Targets    []Target

	// Recording says how inspected sessions are recorded (recording.go).
	Recording Recording

	// Approvals says who decides statements held for review (approvals.go).
	Approvals Approvals

	// Masking holds what result masking needs from the daemon (masking.go).
	Masking Masking

	// OIDC lists the trusted token issuers (oidc.go).
	OIDC OIDC
}

// FailMode is the value of fail_mode.
type FailMode string

// Fail modes.
const (
	FailClosed FailMode = "closed" // tagged connections fail when the proxy is down
	FailOpen   FailMode = "open"   // tagged connections go direct when the proxy is down
)

// Exclusion is a destination that is never redirected: every address in
// Prefix (always masked, IPv4 prefixes never in IPv4-mapped IPv6 form) on
// Port, or on any port when Port is 0. See [ParseExclusion] for the text forms.
type Exclusion struct {
	Prefix netip.Prefix
	Port   uint16
}

// Log is the log mapping.
type Log struct {
	Format LogFormat
	// File is an absolute path events are also appended to; "" means
	// standard output only.
	File  string
	Level LogLevel
	// MaxSize rotates File when it would grow past this many bytes (0:
	// never); MaxFiles rotated files are kept (log.go).
	MaxSize  uint64
	MaxFiles uint32
	// Readers may follow the event stream (sluice logs), besides root.
	Readers Readers
}

// LogFormat is the value of log.format.
type LogFormat string

// Log formats.
const (
	LogJSON LogFormat = "json"
	LogText LogFormat = "text"
)

// LogLevel is the value of log.level.
type LogLevel string

// Log levels.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// Metrics is the metrics mapping.
type Metrics struct {
	// Listen is a host:port for the metrics endpoint; "" disables metrics.
	Listen string
}

// BPF is the bpf mapping.
type BPF struct {
	// PinDir is the absolute directory the maps are pinned in; "" means
	// "sluice" under the bpffs mount, decided at run time.
	PinDir string
	// Mark is the SO_MARK the daemon puts on its own sockets so they are
	// never redirected. Never 0.
	Mark     uint32
	MapSizes MapSizes
}

// MapSizes holds the BPF map capacities (key bpf.map_sizes), each within
// [MinMapSize, MaxMapSize].
type MapSizes struct {
	Origins       uint32
	Tuples        uint32
	TaggedCgroups uint32
	TaggedUIDs    uint32
	Exclusions    uint32
}

// Identity is a named set of processes whose connections are redirected.
type Identity struct {
	Name string
	// ID is the stable numeric form of Name, see [IdentityID].
	ID uint32
	// Match says which processes carry the identity without asking; an
	// identity whose Match.Kind is MatchNone can only be claimed with
	// "sluice run --identity".
	Match       Match
	ClaimableBy ClaimableBy
	Egress      Egress
	// MaxSessions bounds the sessions of the identity open at once
	// through the proxy (key max_sessions; 0 = no bound of its own).
	MaxSessions uint32
	// OIDC is set for an identity claimed with an OIDC token (oidc.go):
	// it has no Match and no ClaimableBy.
	OIDC *IdentityOIDC
}

// MatchKind says which field of a [Match] is in use.
type MatchKind int

// Match kinds.
const (
	MatchNone        MatchKind = iota // no match key
	MatchSystemdUnit                  // Match.SystemdUnit
	MatchCgroup                       // Match.Cgroup
	MatchUID                          // Match.UID
)

var matchKindNames = [...]string{
	MatchNone:        "none",
	MatchSystemdUnit: "systemd_unit",
	MatchCgroup:      "cgroup",
	MatchUID:         "uid",
}

// String returns the YAML key of the match kind, or "none".
func (k MatchKind) String() string {
	if k >= 0 && int(k) < len(matchKindNames) {
		return matchKindNames[k]
	}
	return "unknown"
}

// Match selects processes. Only the field named by Kind is meaningful.
type Match struct {
	Kind MatchKind
	// SystemdUnit is a unit name or glob ending in a unit suffix.
	SystemdUnit string
	// Cgroup is a glob (path.Match syntax) on the cgroup path relative to the
	// cgroup2 mount (not to cgroup_root), starting with "/".
	Cgroup string
	// UID is a non-zero user ID.
	UID uint32
}

// ClaimableBy lists the users and groups allowed to claim an identity with
// "sluice run --identity".
type ClaimableBy struct {
	UIDs []uint32
	GIDs []uint32
}

// Egress is the value of an identity's egress key: what happens to
// connections that no target or policy covers.
type Egress string

// Egress values.
const (
	EgressDeny  Egress = "deny"
	EgressAllow Egress = "allow"
)

// Target is a destination the proxy knows about.
type Target struct {
	Name     string
	Protocol Protocol
	// Address is the host:port as written; Host and Port are its parts and
	// Addr is Host parsed when it is an IP literal (the zero Addr otherwise).
	Address string
	Host    string
	Port    uint16
	Addr    netip.Addr
	// Postgres holds the PostgreSQL options (key postgres); only for
	// targets whose Protocol is ProtocolPostgres.
	Postgres Postgres
	// OnRecordFailure says what happens to a statement whose record
	// cannot be written (default deny).
	OnRecordFailure RecordFailure
}

// Protocol is the value of a target's protocol key.
type Protocol string

// Protocols. Only those listed in supportedProtocols are accepted.
const (
	ProtocolTCP      Protocol = "tcp"
	ProtocolPostgres Protocol = "postgres"
)

// supportedProtocols is every protocol a target may use. Adding a protocol
// is adding it here.
var supportedProtocols = []Protocol{ProtocolTCP, ProtocolPostgres}
