package control

import "time"

// Operations.
const (
	OpRun    = "run"    // place the caller in a new job cgroup tagged with an identity
	OpStatus = "status" // report programs, pins, tags, listeners, counts
	OpDetach = "detach" // remove programs and pins, then stop the daemon (root only)
	OpReload = "reload" // reload configuration (root only)
	// OpRefresh replaces the OIDC token of the caller's job with a newer
	// one for the same subject (sluice run --refresh).
	OpRefresh = "oidc.refresh"

	// Approvals (approvals.go): root and approvers only.
	OpApprovals      = "approvals"       // list the open approval requests
	OpApprovalsWatch = "approvals.watch" // stream the open requests, then every change
	OpApprove        = "approve"         // approve a request, once or for a window
	OpDeny           = "deny"            // deny a request

	// OpLogs streams the audit events (logs.go): root and log.readers only.
	OpLogs = "logs"
)

// Request is one call.
type Request struct {
	Op       string `json:"op"`
	Identity string `json:"identity,omitempty"` // OpRun
	// Token is an OIDC token (OpRun, OpRefresh): the job's identity is
	// the one its claims map to. The daemon never logs or echoes it.
	Token  string `json:"token,omitempty"`
	ID     string `json:"id,omitempty"`     // OpApprove, OpDeny: the approval request
	For    string `json:"for,omitempty"`    // OpApprove: a window such as "30m"; "" approves once
	Reason string `json:"reason,omitempty"` // OpApprove, OpDeny (required)
	// Logs selects the events of OpLogs.
	Logs *LogsRequest `json:"logs,omitempty"`
}

// Response is the answer to one Request. Error is set when the call failed;
// it is meant for a human.
type Response struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Job    *Job    `json:"job,omitempty"`
	Status *Status `json:"status,omitempty"`
	// Approvals answers OpApprovals (absent when none is open).
	Approvals []Approval `json:"approvals,omitempty"`
	// Approval answers OpApprove and OpDeny (the request as decided) and
	// is each step of OpApprovalsWatch, with Change.
	Approval *Approval `json:"approval,omitempty"`
	Change   string    `json:"change,omitempty"`
	// Logs is each step of OpLogs.
	Logs *LogsBatch `json:"logs,omitempty"`
}

// Job is the cgroup created for `sluice run`.
type Job struct {
	Identity string `json:"identity"`
	Cgroup   string `json:"cgroup"` // path relative to the cgroup2 mount
	CgroupID uint64 `json:"cgroup_id"`
	// OIDC describes the token the job is bound to, when it was started
	// (or refreshed) with one.
	OIDC *JobOIDC `json:"oidc,omitempty"`
}

// JobOIDC is what the token of a job said (never the token).
type JobOIDC struct {
	Issuer  string    `json:"issuer"`
	Subject string    `json:"subject"`
	JTI     string    `json:"jti,omitempty"`
	Expires time.Time `json:"expires"`
}

// Status describes a running daemon.
type Status struct {
	Version    string         `json:"version"`
	PID        int            `json:"pid"`
	Started    time.Time      `json:"started"`
	Config     string         `json:"config"`
	CgroupRoot string         `json:"cgroup_root"` // absolute directory the programs are attached to
	FailMode   string         `json:"fail_mode"`
	PinDir     string         `json:"pin_dir,omitempty"`
	Adopted    bool           `json:"adopted"` // pins from an earlier run were re-used
	Programs   []Program      `json:"programs"`
	Listeners  []string       `json:"listeners"`
	Tagged     []Tagged       `json:"tagged"`
	TaggedUIDs []TaggedUID    `json:"tagged_uids"`
	Maps       map[string]Map `json:"maps"`
	Active     int            `json:"active_connections"`
	// MaxSessions is the daemon-wide bound (0: none); Sessions lists the
	// identities with sessions open or a bound of their own.
	MaxSessions uint32             `json:"max_sessions"`
	Sessions    []IdentitySessions `json:"sessions"`
	Connections map[string]uint64  `json:"kernel_counters"`
	// Recording is the recording store's state; absent when recording is
	// off.
	Recording *RecordingStatus `json:"recording,omitempty"`
	// Bindings are the jobs bound to OIDC tokens. BindingDetails says
	// whether the caller may see their tokens' issuer, subject, jti and
	// claims (root, log readers and approvers); without it they are left
	// out.
	Bindings       []Binding `json:"bindings"`
	BindingDetails bool      `json:"binding_details"`
}

// Binding is a job bound to an OIDC token (sluice run --oidc-token-file).
type Binding struct {
	Identity string    `json:"identity"`
	Cgroup   string    `json:"cgroup"` // the job cgroup, relative to the cgroup2 mount
	CgroupID uint64    `json:"cgroup_id"`
	Expires  time.Time `json:"expires"`
	Expired  bool      `json:"expired"`
	// Sessions is the number of connections relayed under the binding
	// now.
	Sessions int `json:"sessions"`
	// Restored: the binding was read back from state_dir when sluiced
	// started.
	Restored bool `json:"restored"`
	// What the token said; only with Status.BindingDetails.
	Issuer  string         `json:"issuer,omitempty"`
	Subject string         `json:"subject,omitempty"`
	JTI     string         `json:"jti,omitempty"`
	Claims  map[string]any `json:"claims,omitempty"`
}

// IdentitySessions is what one identity holds against its max_sessions.
type IdentitySessions struct {
	Identity string `json:"identity"`
	Open     uint32 `json:"open"`
	Max      uint32 `json:"max"` // 0: no bound of its own
}

// RecordingStatus is what `sluice sessions verify` needs to be checked
// against from off the host: the host's public key and the head log's
// current tree head.
type RecordingStatus struct {
	HostKey   string `json:"host_key"`    // ed25519:BASE64, the key that signs recordings and the head log
	HostKeyID string `json:"host_key_id"` // 16 hex digits, as in signatures
	LogSize   int64  `json:"log_size"`    // recordings and expiries in the head log
	LogRoot   string `json:"log_root"`    // the signed tree head's root, hex: --log-head SIZE:ROOT
	Encrypted bool   `json:"encrypted"`   // recordings are encrypted to age recipients
}

// Program is one attached program.
type Program struct {
	Name   string `json:"name"`
	Attach string `json:"attach"`
	LinkID uint32 `json:"link_id"`
	Pinned string `json:"pinned,omitempty"`
}

// Tagged is one tagged cgroup.
type Tagged struct {
	Cgroup   string `json:"cgroup"`
	CgroupID uint64 `json:"cgroup_id"`
	Identity string `json:"identity"`
	Source   string `json:"source"` // "config" (match rule) or "job" (sluice run)
}

// TaggedUID is one tagged uid.
type TaggedUID struct {
	UID      uint32 `json:"uid"`
	Identity string `json:"identity"`
}

// Map is one BPF map's fill level.
type Map struct {
	Entries  int `json:"entries"`
	Capacity int `json:"capacity"`
}
