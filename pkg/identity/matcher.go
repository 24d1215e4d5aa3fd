package identity

import (
	"path"
)

// Rule is one configured identity's match, in config order.
type Rule struct {
	Name        string
	ID          uint32  // stable numeric id carried by the kernel tag
	SystemdUnit string  // glob on a cgroup's last path component ("nightly-etl.service")
	Cgroup      string  // glob on the cgroup path relative to the cgroup2 mount
	UID         *uint32 // every process of this uid
}

// Matcher decides which identity a cgroup belongs to. First match wins.
type Matcher struct {
	rules []Rule
}

// NewMatcher keeps rules in order. Patterns must already be valid globs
// (the config package checks them).
func NewMatcher(rules []Rule) *Matcher { return &Matcher{rules: rules} }

// MatchCgroup returns the first identity whose systemd_unit or cgroup pattern
// matches the cgroup at path (relative to the cgroup2 mount).
func (m *Matcher) MatchCgroup(p string) (Rule, bool) {
	base := path.Base(p)
	for _, r := range m.rules {
		if r.SystemdUnit != "" {
			if ok, _ := path.Match(r.SystemdUnit, base); ok {
				return r, true
			}
		}
		if r.Cgroup != "" {
			if ok, _ := path.Match(r.Cgroup, p); ok {
				return r, true
			}
		}
	}
	return Rule{}, false
}

// UIDs returns the uid-tagged identities; when two identities name the same
// uid, the first wins.
func (m *Matcher) UIDs() map[uint32]Rule {
	out := map[uint32]Rule{}
	for _, r := range m.rules {
		if r.UID == nil {
			continue
		}
		if _, dup := out[*r.UID]; !dup {
			out[*r.UID] = r
		}
	}
	return out
}
