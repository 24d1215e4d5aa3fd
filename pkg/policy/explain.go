package policy

// Explanation is what [Set.Explain] reports: the decision and how every
// applicable policy came to its part of it.
type Explanation struct {
	// Decision is what Decide returns for the request.
	Decision Decision
	// Outcomes lists every policy whose identities and targets cover the
	// request, enforced and shadow, in load order.
	Outcomes []Outcome
}

// Outcome is what one policy decided on a request.
type Outcome struct {
	Policy  string
	Enforce bool
	// Action is the policy's decision, or Abstain when no rule matched
	// and its default is abstain.
	Action Action
	// Rule is the rule that decided, "default" for the default, "" when
	// the policy abstained.
	Rule    string
	Message string
	// Conditions are the rule conditions evaluated on the way, in order:
	// those of rules whose matchers matched.
	Conditions []ConditionResult
}

// ConditionResult is one evaluated condition (when:).
type ConditionResult struct {
	Rule string
	// Holds is how the condition counted: its value, or, when it failed
	// to evaluate, true for a deny or review rule and false for an allow
	// rule.
	Holds bool
	// Error says why the condition failed to evaluate; "" when it gave a
	// boolean.
	Error string
}

// Explain decides r as Decide does and reports what each applicable
// policy decided, for tooling (sluice policy explain). Conditions see one
// time: r.Time, or the current time when it is zero. It allocates and is
// much slower than Decide.
func (s *Set) Explain(r *Request) Explanation {
	if s == nil {
		s = emptySet
	}
	rr := *r
	rr.Time = requestTime(r)
	e := s.resolve(rr.Identity, rr.Target)
	st := stmt{slot: slotOther}
	if rr.Protocol == ProtocolPostgres {
		st = newStmt(rr.SQL)
	}
	var out Explanation
	for _, p := range s.policies {
		if !p.covers(rr.Identity, rr.Target) {
			continue
		}
		var trace []condTrace
		ev := evaluation{req: &rr, st: st, trace: &trace}
		o := Outcome{Policy: p.Name, Enforce: p.Enforce, Action: Abstain}
		if d := p.decide(&ev); d != nil {
			o.Action, o.Rule, o.Message = d.Action, d.Rule, d.Message
		}
		for _, c := range trace {
			cr := ConditionResult{Rule: c.rule, Holds: c.holds}
			if c.err != nil {
				cr.Error = c.err.Error()
			}
			o.Conditions = append(o.Conditions, cr)
		}
		out.Outcomes = append(out.Outcomes, o)
	}
	ev := evaluation{req: &rr, st: st}
	out.Decision = e.decide(&ev)
	if out.Decision.Shadow != nil {
		sh := *out.Decision.Shadow
		out.Decision.Shadow = &sh
	}
	return out
}
