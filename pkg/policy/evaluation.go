package policy

import "time"

// evaluation is the state of one decision: the request, its statement
// prepared for the matchers, and the variables of conditions, built when
// a condition first needs them.
type evaluation struct {
	req   *Request
	st    stmt
	act   *activation  // nil until a condition is evaluated
	trace *[]condTrace // conditions evaluated, for Explain; nil in Decide
}

// condTrace is one condition evaluated during an Explain.
type condTrace struct {
	policy, rule string
	holds        bool
	err          error
}

// holds evaluates the condition of rule r of policy p. A condition that
// fails to evaluate holds for a deny or review rule and does not for an
// allow rule (fail closed).
func (ev *evaluation) holds(p *Policy, r *Rule) bool {
	if ev.act == nil {
		ev.act = newActivation(ev.req, ev.st.Statement)
	}
	ok, err := r.cond.eval(ev.act)
	if err != nil {
		ok = !r.all
	}
	if ev.trace != nil {
		*ev.trace = append(*ev.trace, condTrace{policy: p.Name, rule: r.Name, holds: ok, err: err})
	}
	return ok
}

// requestTime returns the request's time, or the current time for the zero Time.
func requestTime(r *Request) time.Time {
	if r.Time.IsZero() {
		return time.Now()
	}
	return r.Time
}
