package policy

import (
	"slices"
	"strconv"
)

// emptySet is the Set of no policies.
var emptySet = newSet(nil, newVersioner().sum())

// newSet builds a Set and precomputes the decisions its rules and defaults
// return.
func newSet(policies []*Policy, version string) *Set {
	s := &Set{policies: policies, version: version}
	for i, p := range policies {
		p.pos = i
		p.index()
		for _, r := range p.Rules {
			r.decision = Decision{
				Action:   r.Action,
				Policy:   p.Name,
				Rule:     r.Name,
				Message:  ruleMessage(p, r),
				Version:  version,
				Approval: r.Approval,
			}
		}
		p.dflt = Decision{
			Action:  p.Default,
			Policy:  p.Name,
			Rule:    defaultRule,
			Message: defaultMessage(p),
			Version: version,
		}
	}
	return s
}

func ruleMessage(p *Policy, r *Rule) string {
	switch {
	case r.Message != "":
		return r.Message
	case r.Action == Deny:
		return "denied by rule " + strconv.Quote(r.Name) + " of policy " + strconv.Quote(p.Name)
	case r.Action == Review:
		return "review required by rule " + strconv.Quote(r.Name) + " of policy " + strconv.Quote(p.Name)
	}
	return ""
}

func defaultMessage(p *Policy) string {
	switch p.Default {
	case Deny:
		return "denied by policy " + strconv.Quote(p.Name) + ": no rule allows this"
	case Review:
		return "review required by policy " + strconv.Quote(p.Name) + ": no rule matches"
	}
	return ""
}

// Policies returns the policies of the set in load order (files by name,
// then file order), for tooling. The policies must not be modified.
func (s *Set) Policies() []*Policy {
	if s == nil {
		return nil
	}
	return slices.Clone(s.policies)
}

// index prepares the rules for Decide: their compiled matchers and the
// rule lists of each slot.
func (p *Policy) index() {
	for _, r := range p.Rules {
		r.all = r.Action == Allow
		r.pg = nil
		if r.Postgres != nil {
			r.pg = &r.Postgres.m
			m := r.pg
			m.hasSets = m.reads != nil || m.writes != nil || m.relations != nil || m.schemas != nil || m.functions != nil
		}
	}
	for slot := range p.slots {
		p.slots[slot] = nil
		for _, r := range p.Rules {
			if r.admits(slot) {
				p.slots[slot] = append(p.slots[slot], r)
			}
		}
	}
}

// admits reports whether the rule can match a request of the slot.
func (r *Rule) admits(slot int) bool {
	switch {
	case r.pg == nil:
		return true
	case slot == slotOther:
		return false
	case r.pg.kinds == 0:
		return true
	case slot == slotUnknownKind:
		return false
	}
	return r.pg.kinds&(1<<slot) != 0
}
