package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// A rule's claims: matcher constrains the OIDC claims of the request's
// identity (the claims its issuer exposes): every claim named must be
// present, and its value, or one item of a list claim, must match one of
// the claim's globs. An identity without a token has no claims, so a rule
// with a claims: matcher never matches its requests, whatever its action.

// claimMatch is one entry of a claims: matcher.
type claimMatch struct {
	path  string
	globs []glob
}

// matchClaims reports whether the claims c satisfy every entry of ms.
func matchClaims(ms []claimMatch, c map[string]any) bool {
	for i := range ms {
		v, ok := claims.Lookup(c, ms[i].path)
		if !ok {
			return false
		}
		items := []any{v}
		if l, isList := v.([]any); isList {
			items = l
		}
		matched := false
		for _, it := range items {
			if s, ok := claims.Text(it); ok && anyGlob(ms[i].globs, s) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// claimsMatcher decodes a claims: matcher, a mapping of claim names to a
// glob or a list of globs.
func (d *decoder) claimsMatcher(n *yaml.Node, path string) (map[string][]string, []claimMatch) {
	n, ok := d.resolve(n)
	if !ok {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		d.errorf(n.Line, path, "expected a mapping of claim names to globs, such as {environment: production}, got %s", yamldoc.Describe(n))
		return nil, nil
	}
	written := map[string][]string{}
	var out []claimMatch
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.resolve(n.Content[i])
		if !ok {
			return nil, nil
		}
		kp := yamldoc.JoinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.errorf(k.Line, path, "claim names must be strings")
			continue
		}
		if _, dup := written[k.Value]; dup {
			d.errorf(k.Line, path, "duplicate claim %q", k.Value)
			continue
		}
		if err := claims.CheckPath(k.Value); err != nil {
			d.errorf(k.Line, kp, "%v", err)
			continue
		}
		m := claimMatch{path: k.Value}
		add := func(s string, line int, p string) {
			if g, ok := d.glob(s, line, p); ok {
				m.globs = append(m.globs, g)
				written[k.Value] = append(written[k.Value], s)
			}
		}
		v, ok := d.resolve(n.Content[i+1])
		if !ok {
			return nil, nil
		}
		if v.Kind == yaml.SequenceNode {
			d.stringList(n.Content[i+1], kp, fmt.Sprintf("claim %q lists no value: remove it, or give the globs its value must match", k.Value), add)
		} else if s, line, ok := d.str(n.Content[i+1], kp); ok {
			add(s, line, kp)
		}
		if _, seen := written[k.Value]; !seen {
			written[k.Value] = nil
		}
		out = append(out, m)
	}
	return written, out
}

// AttributionOf returns the attribution a request carries for the kernel's
// (and, for an identity claimed with a token, the token's) attribution a.
func AttributionOf(a *identity.Attribution) Attribution {
	out := Attribution{PID: a.PID, UID: a.UID, GID: a.GID, Exe: a.Exe, Comm: a.Comm, Unit: a.Unit, Cgroup: a.Cgroup}
	if a.OIDC != nil {
		out.Claims = a.OIDC.Claims
	}
	return out
}
