package record

import (
	"fmt"
	"time"
)

// FormatVersion is the version of the line format this package writes.
const FormatVersion = 1

// Header is the first event of a recording: the session it records.
type Header struct {
	Version  int    `json:"version"`
	Session  string `json:"session"`  // unique; see ValidSession
	Protocol string `json:"protocol"` // postgres, ssh, http...
	Identity string `json:"identity"`
	Target   string `json:"target"`
	Host     string `json:"host"` // the host sluiced runs on; default: its hostname
	// Started is when the session began; default: when Create is called.
	Started time.Time `json:"started"`

	Process       Process `json:"process"`                  // kernel attribution
	Dst           string  `json:"dst,omitempty"`            // the original destination, host:port
	User          string  `json:"user,omitempty"`           // upstream user
	Database      string  `json:"database,omitempty"`       // upstream database
	PolicyVersion string  `json:"policy_version,omitempty"` // the policy set in force at the start
	// OIDC is set when the session's identity was claimed with a token.
	OIDC *OIDC `json:"oidc,omitempty"`

	// Set by the store: the recording is encrypted to these age
	// recipients.
	Encrypted  bool     `json:"encrypted,omitempty"`
	Recipients []string `json:"recipients,omitempty"`
}

// Process is the kernel's attribution of the connection.
type Process struct {
	PID      uint32 `json:"pid"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
	Comm     string `json:"comm,omitempty"`
	Exe      string `json:"exe,omitempty"`
	Cgroup   string `json:"cgroup,omitempty"`
	CgroupID uint64 `json:"cgroup_id,omitempty"`
	Unit     string `json:"unit,omitempty"`
}

// OIDC is what the verified token of a session's identity said: never the
// token itself.
type OIDC struct {
	Issuer  string    `json:"issuer"`
	Subject string    `json:"subject"`
	JTI     string    `json:"jti,omitempty"`
	Expires time.Time `json:"expires"`
	// Claims are the claims the issuer exposes to policies.
	Claims map[string]any `json:"claims,omitempty"`
	// KernelIdentity is the identity the kernel tagged the connection
	// with, when the token was presented on the wire and gave the session
	// its identity (PostgreSQL auth: oidc).
	KernelIdentity string `json:"kernel_identity,omitempty"`
}

// publicHeader is what an encrypted recording's header keeps in clear:
// enough to list and find it.
type publicHeader struct {
	Version    int       `json:"version"`
	Session    string    `json:"session"`
	Protocol   string    `json:"protocol"`
	Identity   string    `json:"identity"`
	Target     string    `json:"target"`
	Host       string    `json:"host"`
	Started    time.Time `json:"started"`
	Encrypted  bool      `json:"encrypted"`
	Recipients []string  `json:"recipients"`
}

func (h *Header) public() publicHeader {
	return publicHeader{Version: h.Version, Session: h.Session, Protocol: h.Protocol, Identity: h.Identity,
		Target: h.Target, Host: h.Host, Started: h.Started, Encrypted: true, Recipients: h.Recipients}
}

// ValidSession reports whether id may name a recording: 1 to 128 ASCII
// letters, digits, '_' and '-' (it is used as a file name).
func ValidSession(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// oidcText is the text of an OIDC header, for its size bound.
func oidcText(o *OIDC) string {
	if o == nil {
		return ""
	}
	return o.Issuer + o.Subject + o.JTI + o.KernelIdentity
}

func (h *Header) check() error {
	if !ValidSession(h.Session) {
		return fmt.Errorf("%w: session id %q: 1 to 128 letters, digits, _ and -", ErrInvalid, clip(h.Session))
	}
	for _, f := range []struct{ name, v string }{
		{"protocol", h.Protocol}, {"identity", h.Identity}, {"target", h.Target}, {"host", h.Host},
		{"dst", h.Dst}, {"user", h.User}, {"database", h.Database}, {"policy_version", h.PolicyVersion},
		{"comm", h.Process.Comm}, {"exe", h.Process.Exe}, {"cgroup", h.Process.Cgroup}, {"unit", h.Process.Unit},
		{"oidc", oidcText(h.OIDC)},
	} {
		if len(f.v) > 4096 {
			return fmt.Errorf("%w: header %s is longer than 4096 bytes", ErrInvalid, f.name)
		}
	}
	return nil
}
