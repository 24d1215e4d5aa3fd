package policy

// Decide returns the decision for r. Every policy whose identities and
// targets match r applies; each decides by its first matching rule, or by
// its default, which may be to abstain (no opinion). The strictest
// decision of the enforced policies that do not abstain is kept (deny
// beats review beats allow; among equals, the first policy in load
// order). With no enforced policy applying, or every one abstaining, the
// request is denied. Shadow policies (enforce: false) are evaluated alike,
// and the strictest of their decisions is reported in Shadow when it is
// stricter than the enforced one. The decision carries the masking of the
// pair (see [Set.Masking]), whatever its action.
//
// A rule's condition (when:) is evaluated only when its matchers match.
// A condition that fails to evaluate (an error, the cost limit) counts as
// holding for a deny or review rule and as not holding for an allow rule.
//
// Decide does not allocate once the (identity, target) pair has been seen,
// unless it evaluates a condition, and is safe for concurrent use. A nil
// Set denies everything.
func (s *Set) Decide(r *Request) Decision {
	if s == nil {
		s = emptySet
	}
	e := s.applicable(r.Identity, r.Target)
	ev := evaluation{req: r, st: stmt{slot: slotOther}}
	if r.Protocol == ProtocolPostgres {
		ev.st = newStmt(r.SQL)
	}
	return e.decide(&ev)
}

// decide makes the decision of a pair's policies on ev.
func (e *pairEntry) decide(ev *evaluation) Decision {
	best := strictest(e.enforced, ev, nil)
	if best == nil {
		if len(e.enforced) == 0 {
			return e.noPolicy
		}
		return e.abstained
	}
	d := *best
	d.Masking = e.masking
	if d.Action != Deny && len(e.shadow) > 0 {
		if sh := strictest(e.shadow, ev, best); sh != nil {
			d.Shadow = sh
		}
	}
	return d
}

// strictest returns the strictest decision of policies, the first one
// among equals, or nil when there are none (no policies, or all abstain).
// With floor set, only a decision stricter than floor is returned.
func strictest(policies []*Policy, ev *evaluation, floor *Decision) *Decision {
	best := floor
	for _, p := range policies {
		d := p.decide(ev)
		if d == nil {
			continue
		}
		if best == nil || d.Action.Stricter(best.Action) {
			best = d
			if d.Action == Deny {
				break
			}
		}
	}
	if best == floor {
		return nil
	}
	return best
}

// decide returns the decision of the first rule of p that matches, of
// p's default, or nil when p abstains. Only the rules that can match the
// statement's kind (or the request's protocol) are tried: a rule without
// a matcher matches everything, a protocol matcher only requests of its
// protocol. A rule's condition is evaluated last.
func (p *Policy) decide(ev *evaluation) *Decision {
	for _, rule := range p.slots[ev.st.slot] {
		if rule.pg != nil && !rule.pg.match(&ev.st, rule.all) {
			continue
		}
		if rule.claims != nil && !matchClaims(rule.claims, ev.req.Attribution.Claims) {
			continue
		}
		if rule.cond != nil && !ev.holds(p, rule) {
			continue
		}
		return &rule.decision
	}
	if p.Default == Abstain {
		return nil
	}
	return &p.dflt
}
