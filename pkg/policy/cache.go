package policy

import (
	"fmt"
	"strconv"
	"strings"
)

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
	enforced  []*Policy
	shadow    []*Policy
	noPolicy  Decision // the decision when no enforced policy applies
	abstained Decision // the decision when every enforced policy abstains
	// masking is the merged masking of the enforced policies (shadow
	// policies never mask), set on every decision for the pair.
	masking *Masking
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
	var names []string
	for _, p := range s.policies {
		if !p.covers(identity, target) {
			continue
		}
		if p.Enforce {
			e.enforced = append(e.enforced, p)
			names = append(names, strconv.Quote(p.Name))
		} else {
			e.shadow = append(e.shadow, p)
		}
	}
	if len(names) > maxKnownShown {
		names = append(names[:maxKnownShown], fmt.Sprintf("and %d more", len(names)-maxKnownShown))
	}
	e.masking = s.masking(e.enforced)
	e.abstained = Decision{
		Action: Deny,
		Message: fmt.Sprintf("no policy decides for identity %q on target %q: every policy that applies abstains (%s)",
			identity, target, strings.Join(names, ", ")),
		Version: s.version,
		Masking: e.masking,
	}
	return e
}

// covers reports whether the policy's identities and targets match.
func (p *Policy) covers(identity, target string) bool {
	return anyGlob(p.identities, identity) && anyGlob(p.targets, target)
}

// CoversIdentity reports whether one of the policy's identities entries
// matches name, for tooling.
func (p *Policy) CoversIdentity(name string) bool { return anyGlob(p.identities, name) }
