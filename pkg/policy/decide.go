package policy

// Decide returns the decision for r. Every policy whose identities and
// targets match r applies; each decides by its first matching rule, or by
// its default. The strictest decision of the enforced policies is kept
// (deny beats review beats allow; among equals, the first policy in load
// order); with no enforced policy applying, the request is denied. Shadow
// policies (enforce: false) are evaluated alike, and the strictest of
// their decisions is reported in Shadow when it is stricter than the
// enforced one.
//
// Decide does not allocate once the (identity, target) pair has been seen,
// and is safe for concurrent use. A nil Set denies everything.
func (s *Set) Decide(r *Request) Decision {
	if s == nil {
		s = emptySet
	}
	e := s.applicable(r.Identity, r.Target)
	st := stmt{slot: slotOther}
	if r.Protocol == ProtocolPostgres {
		st = newStmt(r.SQL)
	}
	best := strictest(e.enforced, &st, nil)
	if best == nil {
		return e.noPolicy
	}
	d := *best
	if d.Action != Deny && len(e.shadow) > 0 {
		if sh := strictest(e.shadow, &st, best); sh != nil {
			d.Shadow = sh
		}
	}
	return d
}

// strictest returns the strictest decision of policies, the first one
// among equals, or nil when there are no policies. With floor set, only a
// decision stricter than floor is returned.
func strictest(policies []*Policy, st *stmt, floor *Decision) *Decision {
	best := floor
	for _, p := range policies {
		d := p.decide(st)
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

// decide returns the decision of the first rule of p that matches, or of
// p's default. Only the rules that can match the statement's kind (or
// the request's protocol) are tried: a rule without a matcher matches
// everything, a protocol matcher only requests of its protocol.
func (p *Policy) decide(st *stmt) *Decision {
	for _, rule := range p.slots[st.slot] {
		if rule.pg == nil || rule.pg.match(st, rule.all) {
			return &rule.decision
		}
	}
	return &p.dflt
}
