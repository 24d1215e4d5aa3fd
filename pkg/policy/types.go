package policy

import (
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Protocol names, as in [Request.Protocol] and the targets of the daemon
// configuration.
const (
	ProtocolPostgres = "postgres"
)

// Policy is one entry of a policy file's policies list. The exported
// fields hold what the file says, defaults applied, for tooling; they must
// not be modified.
type Policy struct {
	Name        string
	Description string
	// Identities and Targets are the names or globs the policy covers;
	// it applies to a request whose identity matches one of Identities
	// and whose target matches one of Targets.
	Identities []string
	Targets    []string
	// Enforce is false for a shadow-mode policy (key enforce, default
	// true).
	Enforce bool
	// Default is the action when no rule matches (key default, default
	// deny): Allow, Deny, Review, or Abstain (no opinion: the other
	// policies decide).
	Default Action
	// Rules in file order; the first that matches decides.
	Rules []*Rule
	// Masking is the policy's masking: block, nil when it has none (see
	// masking.go). Its Policies is the policy's name alone.
	Masking *Masking
	// File and Line locate the policy ("- name: ..." item).
	File string
	Line int

	pos        int // in the set's load order; keys merged maskings
	identities []glob
	targets    []glob
	dflt       Decision // the decision of the default, precomputed; unused for Abstain
	// slots lists, for each slot (see kinds.go), the rules that can
	// match a request of that slot, in order: the rules without a matcher
	// and those whose matcher admits the slot's kind.
	slots [numSlots][]*Rule
}

// Rule is one entry of a policy's rules list.
//
// A rule with no matcher matches every request. A protocol matcher
// (Postgres today; SSH and HTTP matchers are planned, and their keys are
// rejected until then) only matches requests of its protocol. A rule with
// a When condition matches only when its matchers match and the condition
// holds.
type Rule struct {
	Name    string
	Action  Action
	Message string // as written; "" when the file has none
	// Postgres is the postgres: matcher, nil when the rule has none.
	Postgres *PostgresMatch
	// Claims is the claims: matcher as written (claim name to globs),
	// nil when the rule has none. See claims.go.
	Claims map[string][]string
	// When is the rule's condition (a CEL expression) as written; ""
	// when the rule has none.
	When string
	// Approval is a review rule's approval settings (approval:), nil
	// when it has none.
	Approval *Approval
	Line     int

	decision Decision   // precomputed
	pg       *pgMatcher // &Postgres.m, or nil
	claims   []claimMatch
	cond     *condition // the compiled When, or nil
	all      bool       // Action is allow: set matchers take every item
}

// PostgresMatch is a rule's postgres: matcher. Every field present must
// hold; nil (absent) fields do not constrain. See docs/policy.md for the
// semantics of each.
type PostgresMatch struct {
	Kinds     []sqlclass.Kind
	Reads     []string
	Writes    []string
	Relations []string
	Schemas   []string
	Functions []string
	Text      string // "" when absent
	// Unfiltered, when set, requires the statement's Unfiltered fact
	// (an UPDATE or DELETE without a row filter) to be that value.
	Unfiltered *bool

	m pgMatcher
}

// pgMatcher is the compiled form of a PostgresMatch.
type pgMatcher struct {
	kinds     uint64 // 0 when absent
	reads     []relGlob
	writes    []relGlob
	relations []relGlob
	schemas   []glob
	functions []funcGlob
	text      *regexp.Regexp
	hasSets   bool // one of the set matchers is present
	// unfiltered is the unfiltered: key: 0 when absent, else
	// unfilteredTrue or unfilteredFalse.
	unfiltered uint8
}

const (
	unfilteredTrue  = 1
	unfilteredFalse = 2
)

// relGlob is a compiled "schema.table" glob.
type relGlob struct {
	schema, name glob
}

// funcGlob is a compiled function glob: "schema.name", or a bare "name"
// matching the name in any schema.
type funcGlob struct {
	qualified    bool
	schema, name glob
}

// Known holds the identity and target names the daemon configuration
// defines. Policies are checked against them: a literal name that is not
// known, or a glob that matches none of them, is an error. A nil slice
// turns the check off for that side.
type Known struct {
	Identities []string
	Targets    []string
	// NoHashKey says that the daemon configuration holds no hash key
	// (masking.hash_key_file): a policy whose masking uses the hash
	// strategy is then an error. False turns the check off.
	NoHashKey bool
	// Passthrough names the PostgreSQL targets with auth: passthrough.
	// sluice has no login of its own there, so it cannot read their
	// catalog: a policy that covers one of them must not hold
	// schema.table.column masking rules (every statement it masks there
	// would be refused). Nil turns the check off.
	Passthrough []string
}

// Request is what [Set.Decide] decides on.
type Request struct {
	Identity string // identity name from the configuration
	Target   string // target name from the configuration
	Protocol string // ProtocolPostgres
	// SQL is the classified statement, set when Protocol is postgres. A
	// nil SQL is treated as an unparseable statement.
	SQL *sqlclass.Statement
	// Attribution is what the kernel reported about the process that
	// opened the connection. Only conditions (when:) read it.
	Attribution Attribution
	// Time is when the request was made; the zero Time stands for the
	// moment of the decision. Only conditions read it.
	Time time.Time
}

// Attribution describes the process behind a request, as the kernel
// reported it when the connection was opened.
type Attribution struct {
	PID    uint32
	UID    uint32
	GID    uint32
	Exe    string // executable path; "" when it could not be read
	Comm   string // the task's command name
	Unit   string // systemd unit owning the cgroup; "" when none
	Cgroup string // cgroup path relative to the cgroup2 mount
	// Claims are the OIDC claims exposed for an identity claimed with a
	// token (the variable claims, and claims: matchers); nil when none.
	Claims map[string]any
}

// Decision is the outcome of [Set.Decide].
type Decision struct {
	// Action is the action to enforce.
	Action Action
	// Policy names the policy that decided; "" when no enforced policy
	// decided.
	Policy string
	// Rule names the rule that decided, "default" when the policy's
	// default did, or "" when no enforced policy decided (none applies,
	// or every one that applies abstains).
	Rule string
	// Message is human text for the client and the events: the rule's
	// message, or a generated one (`no policy covers identity "x" on
	// target "y"`). It is "" for an allow without a message.
	Message string
	// Shadow is set when a shadow-mode policy (enforce: false) would have
	// decided more strictly than Action: the strictest such decision. It
	// points to memory shared by every call and must not be modified.
	Shadow *Decision
	// Version is the version of the policy set (see [Set.Version]).
	Version string
	// Masking is how the request's result is masked, nil for nothing. It
	// is shared by every decision for the same identity and target, and
	// set whatever the action (a review that is approved runs with it).
	Masking *Masking
	// Approval is the approval settings of the review rule that decided,
	// nil when it has none (a policy's default, or a rule without
	// approval:): the approvals configuration applies. Shared by every
	// call: it must not be modified.
	Approval *Approval
}

// Set is a loaded set of policies. It is immutable and safe for
// concurrent use; reloading builds a new Set.
type Set struct {
	policies []*Policy
	version  string

	pairs  sync.Map // pairKey → *pairEntry, see cache.go
	npairs atomic.Int64
	// maskings holds the merged maskings of several policies, keyed by
	// the policies' indexes (see masking_merge.go).
	maskings sync.Map
}
