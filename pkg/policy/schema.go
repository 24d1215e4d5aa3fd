package policy

import (
	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// The tables below list every key a policy file may hold, mapping by
// mapping. Adding a key is adding a line here and a field to the type in
// types.go; its checks go in check.go. Keys reserved for later versions
// are listed with what they will hold, so that they are refused with a
// clear message rather than as unknown.

const (
	emptyMatcher = "must not be empty (remove the key to leave it unconstrained)"
	emptyNames   = `must not be empty; list names or globs ("*" for all)`
)

// document decodes the top-level mapping of a policy file.
func (d *decoder) document(root *yaml.Node) []*Policy {
	var policies []*Policy
	present, ok := d.mapping(root, "", []field{
		{key: "policies", decode: func(d *decoder, n *yaml.Node, path string) {
			d.sequence(n, path, func(item *yaml.Node, p string) {
				if pol := d.policy(item, p); pol != nil {
					policies = append(policies, pol)
				}
			})
		}},
	})
	if ok && !present["policies"] && !d.aborted {
		d.errorf(root.Line, "", "policies is required (write \"policies: []\" for a file without policies)")
	}
	d.uniqueNames(policies)
	return policies
}

// uniqueNames reports policies of one file sharing a name.
func (d *decoder) uniqueNames(policies []*Policy) {
	first := map[string]*Policy{}
	for _, p := range policies {
		if p.Name == "" {
			continue // reported already
		}
		if f, dup := first[p.Name]; dup {
			d.errorf(p.Line, "", "duplicate policy name %q (first defined at line %d)", p.Name, f.Line)
			continue
		}
		first[p.Name] = p
	}
}

// policy decodes one item of policies. It returns nil when the item is
// not a mapping.
func (d *decoder) policy(n *yaml.Node, path string) *Policy {
	p := &Policy{Enforce: true, Default: Deny, File: d.file, Line: n.Line}
	ruleNames := map[string]int{}
	var qualified []maskEntry // schema.table.column rules of masking
	present, ok := d.mapping(n, path, []field{
		{key: "name", decode: d.name(&p.Name, "policy")},
		{key: "description", decode: func(d *decoder, n *yaml.Node, path string) {
			p.Description, _, _ = d.str(n, path)
		}},
		{key: "identities", decode: d.names("identity", d.known.Identities, &p.Identities, &p.identities)},
		{key: "targets", decode: d.names("target", d.known.Targets, &p.Targets, &p.targets)},
		{key: "enforce", decode: func(d *decoder, n *yaml.Node, path string) {
			if b, ok := d.boolean(n, path); ok {
				p.Enforce = b
			}
		}},
		{key: "default", decode: d.action(&p.Default, true)},
		{key: "rules", decode: func(d *decoder, n *yaml.Node, path string) {
			d.sequence(n, path, func(item *yaml.Node, ip string) {
				r := d.rule(item, ip)
				if r == nil {
					return
				}
				if first, dup := ruleNames[r.Name]; dup && r.Name != "" {
					d.errorf(r.Line, ip, "duplicate rule name %q (first defined at line %d)", r.Name, first)
				} else {
					ruleNames[r.Name] = r.Line
				}
				p.Rules = append(p.Rules, r)
			})
		}},
		{key: "masking", decode: func(d *decoder, n *yaml.Node, path string) {
			p.Masking, qualified = d.masking(n, path)
		}},
	})
	if !ok {
		return nil
	}
	for _, key := range []string{"name", "identities", "targets"} {
		if !present[key] {
			d.errorf(n.Line, path, "%s is required", key)
		}
	}
	if p.Masking != nil {
		d.checkCatalogRules(p, qualified)
		p.Masking.Policies = []string{p.Name}
		for i := range p.Masking.Columns {
			p.Masking.Columns[i].Policy = p.Name
		}
	}
	return p
}

// rule decodes one item of rules. It returns nil when the item is not a
// mapping.
func (d *decoder) rule(n *yaml.Node, path string) *Rule {
	r := &Rule{Line: n.Line}
	present, ok := d.mapping(n, path, []field{
		{key: "name", decode: d.name(&r.Name, "rule")},
		{key: "action", decode: d.action(&r.Action, false)},
		{key: "message", decode: func(d *decoder, n *yaml.Node, path string) {
			if s, line, ok := d.str(n, path); ok && d.checkMessage(s, line, path) {
				r.Message = s
			}
		}},
		{key: "postgres", decode: func(d *decoder, n *yaml.Node, path string) {
			r.Postgres = d.postgres(n, path)
		}},
		{key: "claims", decode: func(d *decoder, n *yaml.Node, path string) {
			r.Claims, r.claims = d.claimsMatcher(n, path)
		}},
		{key: "ssh", later: "matching of SSH commands, subsystems and forwarding"},
		{key: "http", later: "matching of HTTP methods, hosts, paths and Kubernetes verbs, resources and namespaces"},
		{key: "when", decode: func(d *decoder, n *yaml.Node, path string) {
			r.When, r.cond = d.when(n, path)
		}},
		{key: "approval", decode: func(d *decoder, n *yaml.Node, path string) {
			r.Approval = d.approval(n, path)
		}},
	})
	if !ok {
		return nil
	}
	for _, key := range []string{"name", "action"} {
		if !present[key] {
			d.errorf(n.Line, path, "%s is required", key)
		}
	}
	d.checkApproval(r, path)
	return r
}

// postgres decodes a postgres: matcher. {} is a matcher without
// constraints: it matches every postgres statement.
func (d *decoder) postgres(n *yaml.Node, path string) *PostgresMatch {
	m := &PostgresMatch{}
	if r, ok := d.resolve(n); !ok || yamldoc.IsNull(r) {
		if ok {
			d.errorf(r.Line, path, "expected a mapping, got null (write {} to match every statement)")
		}
		return m
	}
	d.mapping(n, path, []field{
		{key: "kinds", decode: func(d *decoder, n *yaml.Node, path string) {
			d.stringList(n, path, emptyMatcher, func(s string, line int, p string) {
				if k, bit, ok := d.kind(s, line, p); ok {
					m.Kinds = append(m.Kinds, k)
					m.m.kinds |= bit
				}
			})
		}},
		{key: "reads", decode: d.relations(&m.Reads, &m.m.reads)},
		{key: "writes", decode: d.relations(&m.Writes, &m.m.writes)},
		{key: "relations", decode: d.relations(&m.Relations, &m.m.relations)},
		{key: "schemas", decode: func(d *decoder, n *yaml.Node, path string) {
			d.stringList(n, path, emptyMatcher, func(s string, line int, p string) {
				if g, ok := d.schemaGlob(s, line, p); ok {
					m.Schemas = append(m.Schemas, s)
					m.m.schemas = append(m.m.schemas, g)
				}
			})
		}},
		{key: "functions", decode: func(d *decoder, n *yaml.Node, path string) {
			d.stringList(n, path, emptyMatcher, func(s string, line int, p string) {
				if g, ok := d.funcGlob(s, line, p); ok {
					m.Functions = append(m.Functions, s)
					m.m.functions = append(m.m.functions, g)
				}
			})
		}},
		{key: "text", decode: func(d *decoder, n *yaml.Node, path string) {
			if s, line, ok := d.str(n, path); ok {
				if re, ok := d.regexp(s, line, path); ok {
					m.Text, m.m.text = s, re
				}
			}
		}},
		{key: "unfiltered", decode: func(d *decoder, n *yaml.Node, path string) {
			if b, ok := d.boolean(n, path); ok {
				m.Unfiltered = &b
				m.m.unfiltered = unfilteredFalse
				if b {
					m.m.unfiltered = unfilteredTrue
				}
			}
		}},
	})
	return m
}

// name decodes a policy or rule name.
func (d *decoder) name(out *string, what string) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if s, line, ok := d.str(n, path); ok && d.checkName(s, what, line, path) {
			*out = s
		}
	}
}

// action decodes the action of a rule, or with dflt the default of a
// policy.
func (d *decoder) action(out *Action, dflt bool) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if s, line, ok := d.str(n, path); ok {
			if a, ok := d.checkAction(s, dflt, line, path); ok {
				*out = a
			}
		}
	}
}

// names decodes the identities or targets of a policy.
func (d *decoder) names(what string, known []string, out *[]string, globs *[]glob) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.stringList(n, path, emptyNames, func(s string, line int, p string) {
			if g, ok := d.nameGlob(what, known, s, line, p); ok {
				*out = append(*out, s)
				*globs = append(*globs, g)
			}
		})
	}
}

// relations decodes reads, writes or relations.
func (d *decoder) relations(out *[]string, globs *[]relGlob) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.stringList(n, path, emptyMatcher, func(s string, line int, p string) {
			if g, ok := d.relGlob(s, line, p); ok {
				*out = append(*out, s)
				*globs = append(*globs, g)
			}
		})
	}
}
