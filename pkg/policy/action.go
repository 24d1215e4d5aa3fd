package policy

// Action is what a rule, a policy default or a decision does with a
// request.
type Action string

// The actions, from the most to the least permissive. Across policies the
// strictest wins: deny beats review beats allow.
const (
	// Allow lets the request through.
	Allow Action = "allow"
	// Review asks for a human decision on the request. The decision
	// itself does not let the request through; how a request waiting for
	// review is handled is up to the enforcing side.
	Review Action = "review"
	// Deny refuses the request.
	Deny Action = "deny"
	// Abstain is only a policy default: a policy none of whose rules
	// matches has no opinion, and the other policies decide. It is never
	// the action of a rule or of a Decision.
	Abstain Action = "abstain"
)

// actions lists the valid actions, in the order messages name them.
var actions = []Action{Allow, Deny, Review}

// defaults lists the valid policy defaults.
var defaults = []Action{Allow, Deny, Review, Abstain}

// ParseAction returns the Action named s ("allow", "deny" or "review").
func ParseAction(s string) (Action, bool) {
	switch a := Action(s); a {
	case Allow, Deny, Review:
		return a, true
	}
	return "", false
}

// String returns the action's name.
func (a Action) String() string { return string(a) }

// Valid reports whether a is the action of a rule or a decision: allow,
// deny or review (not abstain).
func (a Action) Valid() bool {
	_, ok := ParseAction(string(a))
	return ok
}

// rank orders actions by strictness: allow 0, review 1, deny 2. Anything
// else ranks as deny, so that a zero or unknown action never loosens a
// decision.
func (a Action) rank() int {
	switch a {
	case Allow:
		return 0
	case Review:
		return 1
	}
	return 2
}

// Stricter reports whether a is stricter than b (deny > review > allow).
func (a Action) Stricter(b Action) bool { return a.rank() > b.rank() }
