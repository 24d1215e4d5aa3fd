package approval

import (
	"errors"
	"time"

	"github.com/sluicehq/sluice/pkg/identity"
)

// Errors of Approve and Deny, matched with errors.Is. The errors returned
// wrap them with a message meant for the approver.
var (
	ErrNotFound     = errors.New("no such approval request")
	ErrNotApprover  = errors.New("not an approver")
	ErrSelfApproval = errors.New("cannot approve one's own request")
	ErrDecided      = errors.New("already decided")
	ErrNoReason     = errors.New("a reason is required")
	ErrBadWindow    = errors.New("invalid grant window")
)

// MaxWindow is the longest window an approval --for may open. Longer
// needs a policy change.
const MaxWindow = 24 * time.Hour

// MaxReason bounds an approver's reason, in bytes.
const MaxReason = 1024

// MaxStatement bounds the statement text a request keeps, in bytes; a
// longer one is cut and ends with "…" (the fingerprint covers all of it).
const MaxStatement = 4096

// State is where a request stands; Outcome.Decision is one of the states
// but Waiting.
type State string

// States.
const (
	Waiting   State = "waiting"   // a session is held on it
	Approved  State = "approved"  // approved by an approver, or released by a grant
	Denied    State = "denied"    // denied by an approver
	TimedOut  State = "timeout"   // nobody decided in time; still open for approval
	Withdrawn State = "withdrawn" // the client gave up; still open for approval
)

// Open reports whether a request in state s can still be decided.
func (s State) Open() bool { return s == Waiting || s == TimedOut || s == Withdrawn }

// Request describes a held statement. Statement must already be masked:
// it is shown to approvers, logged and posted to webhooks as given (cut
// after MaxStatement bytes).
type Request struct {
	Identity    string
	Target      string
	Database    string
	User        string
	Attribution identity.Attribution
	Session     string // the session (connection) id of the events
	Statement   string
	Kind        string
	Command     string
	Reads       []string
	Writes      []string
	Policy      string
	Rule        string
	Message     string // the rule's message
	Fingerprint string // the statement's shape; grants are keyed on it
	// Exact identifies the statement itself (see Exact): a once grant lets
	// through only a statement with the same Exact. "" matches no once
	// grant.
	Exact string
	// Scope identifies what the statement does as classified (see Scope):
	// its kind, the relations it reads and writes, the functions it calls,
	// the rule that sent it to review. A grant lets through only a
	// statement of the same Scope: the same text under another
	// search_path, or a dblink_exec of other SQL, is another statement.
	Scope string
	// Timeout overrides Options.Timeout for this request (the rule's
	// setting); 0 means the default.
	Timeout time.Duration
	// Webhooks are notified in addition to Options.Webhooks (a policy's
	// own).
	Webhooks []Webhook
}

// Approver is whoever decides: a caller of the control socket, as the
// kernel reports it, or a human of the approval HTTP API, as a verified
// OIDC token says (OIDC set; UID and GID then mean nothing).
type Approver struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"-"`              // supplementary groups, for the gids check
	Name   string   `json:"name,omitempty"` // user name, when the uid has one; the token's name claim
	// OIDC is the human behind a bearer token of the approval HTTP API.
	OIDC *OIDCApprover `json:"oidc,omitempty"`
}

// OIDCApprover is a human approver as their verified token says.
type OIDCApprover struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	// Groups are the token's groups, checked against Approvers.Groups.
	Groups []string `json:"-"`
	// LocalUser is the approver's login name on this host (the
	// configured user claim), "" when unknown: the statements of
	// processes running as that user are their own.
	LocalUser string `json:"local_user,omitempty"`
}

// Mode is how an approval lets statements through: once (the zero
// value), or every statement of the same shape for a window.
type Mode struct {
	For time.Duration // 0: once
}

// Once is the default mode.
func Once() Mode { return Mode{} }

// For lets the statement's shape run for d.
func For(d time.Duration) Mode { return Mode{For: d} }

func (m Mode) String() string {
	if m.For == 0 {
		return "once"
	}
	return "for " + m.For.String()
}

// Grant is what an approval creates: the right for one identity to run
// statements of one fingerprint on one target, once or until Expires.
type Grant struct {
	Request     string `json:"request"` // the approved request's id
	Identity    string `json:"identity"`
	Target      string `json:"target"`
	Fingerprint string `json:"fingerprint"`
	Once        bool   `json:"once"`
	// Exact is, for a once grant, the Exact of the approved statement:
	// the grant lets through that statement, not another of its shape.
	Exact string `json:"exact,omitempty"`
	// Scope is the approved statement's Scope: the grant lets through
	// only statements that do the same.
	Scope   string    `json:"scope,omitempty"`
	Created time.Time `json:"created"`
	// Expires ends a --for window; for a once grant it is when the grant,
	// still unused, is dropped.
	Expires  time.Time `json:"expires"`
	Approver Approver  `json:"approver"`
	Reason   string    `json:"reason,omitempty"`
}

// Outcome is how Request ended.
type Outcome struct {
	Decision State
	ID       string // the request's id; for a grant found at once, the id of the request the grant came from
	// Approver and Reason are set when a human decided.
	Approver *Approver
	Reason   string
	// Grant is set when approved: the grant the statement runs under.
	Grant *Grant
	// Message is for the client when the statement does not run: who
	// denied it and why, or, on a timeout, the request id and the command
	// that approves it.
	Message string
}

// Pending is a request as the broker holds it.
type Pending struct {
	Request
	ID        string
	State     State
	Requested time.Time
	Deadline  time.Time // when a waiting request times out
	Ended     time.Time // when it stopped waiting: decided, timed out or withdrawn
	Approver  *Approver // who decided
	Reason    string
	Grant     *Grant
	// Held says whether a statement was waiting for the decision (it ran
	// or was refused at once); set once decided.
	Held bool
	// ReleasedBy is the id of the request whose approval --for released
	// this one.
	ReleasedBy string
	// Released lists the other held requests an approval --for released.
	Released []string
}

// Change is one step of a request, as Watch reports it.
type Change struct {
	// Kind is ChangeOpen for the requests open when the watch began,
	// ChangeRequested for a new request, then the new state: "approved",
	// "denied", "timeout" or "withdrawn".
	Kind    string
	Request Pending
}

// Change kinds besides the states.
const (
	ChangeOpen      = "open"      // already open when the watch began
	ChangeRequested = "requested" // a new request
)
