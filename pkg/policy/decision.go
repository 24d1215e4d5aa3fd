package policy

import (
	"strconv"
	"strings"
)

// String renders the decision on one line, for people: `deny by policy
// "p" rule "r": message`, and the shadow decision after it.
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(string(d.Action))
	if d.Policy != "" {
		b.WriteString(" by policy " + strconv.Quote(d.Policy) + " rule " + strconv.Quote(d.Rule))
	}
	if d.Message != "" {
		b.WriteString(": " + d.Message)
	}
	if d.Shadow != nil {
		b.WriteString(" (shadow: " + d.Shadow.Short() + ")")
	}
	return b.String()
}

// Short renders the action, policy and rule only: `deny by policy "p"
// rule "r"`.
func (d Decision) Short() string {
	if d.Policy == "" {
		return string(d.Action)
	}
	return string(d.Action) + " by policy " + strconv.Quote(d.Policy) + " rule " + strconv.Quote(d.Rule)
}
