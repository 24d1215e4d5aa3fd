package control

import "time"

// Approval is an approval request: a statement a policy sent to review,
// who sent it, and, once decided, the decision.
type Approval struct {
	ID    string `json:"id"`
	State string `json:"state"` // waiting, timeout, withdrawn, approved, denied
	// Who sent the statement, and where.
	Identity string `json:"identity"`
	Target   string `json:"target"`
	Database string `json:"database,omitempty"`
	User     string `json:"user,omitempty"`
	Session  string `json:"session,omitempty"`
	PID      uint32 `json:"pid"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
	Comm     string `json:"comm,omitempty"`
	Exe      string `json:"exe,omitempty"`
	Unit     string `json:"unit,omitempty"`
	Cgroup   string `json:"cgroup,omitempty"`
	// The statement (masked), its classification and the rule.
	Statement   string    `json:"statement"`
	Kind        string    `json:"kind,omitempty"`
	Command     string    `json:"command,omitempty"`
	Reads       []string  `json:"reads,omitempty"`
	Writes      []string  `json:"writes,omitempty"`
	Policy      string    `json:"policy,omitempty"`
	Rule        string    `json:"rule,omitempty"`
	Message     string    `json:"message,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	Requested   time.Time `json:"requested"`
	Deadline    time.Time `json:"deadline"` // when it times out, if it is waiting
	// The decision, once there is one.
	Approver   *Approver `json:"approver,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Grant      *Grant    `json:"grant,omitempty"`
	Held       bool      `json:"held,omitempty"`        // a statement was waiting for the decision
	Released   []string  `json:"released,omitempty"`    // other requests an approval --for released
	ReleasedBy string    `json:"released_by,omitempty"` // the request whose approval --for released this one
}

// Approver is who decided a request: a caller of the control socket, or
// a human of the approval HTTP API (Issuer and Subject set).
type Approver struct {
	UID     uint32 `json:"uid"`
	GID     uint32 `json:"gid"`
	Name    string `json:"name,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// Grant is what an approval lets through.
type Grant struct {
	Mode    string    `json:"mode"`    // once or for
	Expires time.Time `json:"expires"` // end of the window; for once, when an unused grant is dropped
}

// Streaming reports whether op is answered by a stream of responses
// (see Streamer) rather than by one.
func Streaming(op string) bool { return op == OpApprovalsWatch || op == OpLogs }
