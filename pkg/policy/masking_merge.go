package policy

import (
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/mask"
)

// Masking returns the masking of the results of identity on target: the
// merged masking: blocks of the enforced policies that cover them, nil
// when none has one. It is the Masking of every Decision for the pair.
func (s *Set) Masking(identity, target string) *Masking {
	if s == nil {
		return nil
	}
	return s.applicable(identity, target).masking
}

// masking returns the masking of policies, the enforced policies of a
// pair in load order: nil when none has a masking: block, the policy's own
// when one has, else their merge. A merge is built once per combination
// of policies and kept in the Set, so that a pair always gets the same
// pointer, even when the pair cache is full.
func (s *Set) masking(policies []*Policy) *Masking {
	var with []*Policy
	for _, p := range policies {
		if p.Masking != nil {
			with = append(with, p)
		}
	}
	switch len(with) {
	case 0:
		return nil
	case 1:
		return with[0].Masking
	}
	var key strings.Builder
	for _, p := range with {
		key.WriteString(strconv.Itoa(p.pos))
		key.WriteByte(',')
	}
	if m, ok := s.maskings.Load(key.String()); ok {
		return m.(*Masking)
	}
	ms := make([]*Masking, len(with))
	for i, p := range with {
		ms[i] = p.Masking
	}
	m, _ := s.maskings.LoadOrStore(key.String(), mergeMasking(ms))
	return m.(*Masking)
}

// mergeMasking merges maskings in order: the union of the detectors, each
// with the strategy of the first masking that runs it; the first strategy,
// region and whole_result set; every column rule, in order.
func mergeMasking(ms []*Masking) *Masking {
	out := &Masking{}
	for _, m := range ms {
		out.Policies = append(out.Policies, m.Policies...)
		for det := mask.Detector(1); int(det) < mask.NumDetectors; det++ {
			if !m.Detectors.Has(det) || out.Detectors.Has(det) {
				continue
			}
			if out.Strategies == nil {
				out.Strategies = map[mask.Detector]mask.Strategy{}
			}
			out.Strategies[det] = m.StrategyOf(det)
		}
		out.Detectors |= m.Detectors
		if out.Strategy == 0 {
			out.Strategy = m.Strategy
		}
		if out.Region == "" {
			out.Region = m.Region
		}
		if out.Whole == 0 {
			out.Whole = m.Whole
		}
		out.Columns = append(out.Columns, m.Columns...)
	}
	return out
}
