package policy

import "fmt"

// maxPairs bounds the (identity, target) pairs a Set remembers. Names come
// from the daemon configuration, so real sets stay far below it; past it,
// pairs are resolved on every call instead.
const maxPairs = 4096

// pairKey is an (identity, target) pair.
type pairKey struct {
	identity, target string
}

// pairEntry lists the policies that apply to a pair, in load order.
type pairEntry struct {
	enforced []*Policy
	shadow   []*Policy
	noPolicy Decision // the decision when no enforced policy applies
}

// applicable returns the policies covering identity on target, from the
// cache or computed (and cached while there is room).
func (s *Set) applicable(identity, target string) *pairEntry {
	key := pairKey{identity, target}
	if e, ok := s.pairs.Load(key); ok {
		return e.(*pairEntry)
	}
	e := s.resolve(identity, target)
	if s.npairs.Load() < maxPairs {
		if prev, loaded := s.pairs.LoadOrStore(key, e); loaded {
			return prev.(*pairEntry)
		}
		s.npairs.Add(1)
	}
	return e
}

// resolve computes the entry of a pair.
func (s *Set) resolve(identity, target string) *pairEntry {
	e := &pairEntry{noPolicy: Decision{
		Action:  Deny,
		Message: fmt.Sprintf("no policy covers identity %q on target %q", identity, target),
		Version: s.version,
	}}
	for _, p := range s.policies {
		if !p.covers(identity, target) {
			continue
		}
		if p.Enforce {
			e.enforced = append(e.enforced, p)
		} else {
			e.shadow = append(e.shadow, p)
		}
	}
	return e
}

// covers reports whether the policy's identities and targets match.
func (p *Policy) covers(identity, target string) bool {
	return anyGlob(p.identities, identity) && anyGlob(p.targets, target)
}
