package policy

import (
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// pgCatalog is the schema an unqualified function call is taken to resolve
// to when an allow rule checks it against a qualified glob.
const pgCatalog = "pg_catalog"

// stmt is a statement prepared once per decision.
type stmt struct {
	*sqlclass.Statement
	bit    uint64 // the kind's bit; 0 for a kind this package does not know
	slot   int    // see kinds.go
	opaque bool   // relation and function sets unknown (see kinds.go)
}

// unparseable stands in for a postgres request without a statement.
var unparseable = sqlclass.Statement{Kind: sqlclass.KindUnparseable}

func newStmt(st *sqlclass.Statement) stmt {
	if st == nil {
		st = &unparseable
	}
	bit, slot, opaque := kindInfo(st.Kind)
	return stmt{Statement: st, bit: bit, slot: slot, opaque: opaque}
}

// match reports whether the statement satisfies every constraint of m.
//
// all selects the reading of the set constraints (reads, writes,
// relations, schemas, functions): with all (allow rules), every item of the
// set must match one of the globs, which holds for an empty set; without
// (deny and review rules), one matching item is enough, which an empty set
// never has. A statement whose sets are unknown (opaque) fails every set
// constraint of an allow rule and satisfies every set constraint of a deny
// or review rule. The unfiltered constraint is read the same way: an
// opaque statement fails it in an allow rule and satisfies it in a deny
// or review rule.
func (m *pgMatcher) match(s *stmt, all bool) bool {
	if m.kinds != 0 && m.kinds&s.bit == 0 {
		return false
	}
	if m.hasSets {
		if s.opaque {
			if all {
				return false
			}
		} else if !m.sets(s.Statement, all) {
			return false
		}
	}
	if m.unfiltered != 0 {
		// Unknown for an opaque statement: the safe reading again.
		if s.opaque {
			if all {
				return false
			}
		} else if s.Unfiltered != (m.unfiltered == unfilteredTrue) {
			return false
		}
	}
	return m.text == nil || m.text.MatchString(s.Text)
}

// sets checks the set constraints of a statement whose sets are known.
func (m *pgMatcher) sets(st *sqlclass.Statement, all bool) bool {
	if m.reads != nil && !relsMatch(m.reads, st.Reads, nil, all) {
		return false
	}
	if m.writes != nil && !relsMatch(m.writes, st.Writes, nil, all) {
		return false
	}
	if m.relations != nil && !relsMatch(m.relations, st.Reads, st.Writes, all) {
		return false
	}
	if m.schemas != nil && !schemasMatch(m.schemas, st.Reads, st.Writes, all) {
		return false
	}
	if m.functions != nil && !funcsMatch(m.functions, st.Functions, all) {
		return false
	}
	return true
}

// relsMatch applies globs to the relations of a and b: all of them must
// match one glob (all), or one of them must (!all).
func relsMatch(globs []relGlob, a, b []sqlclass.Relation, all bool) bool {
	for i := range a {
		if anyRel(globs, &a[i]) != all {
			return !all
		}
	}
	for i := range b {
		if anyRel(globs, &b[i]) != all {
			return !all
		}
	}
	return all
}

func anyRel(globs []relGlob, r *sqlclass.Relation) bool {
	for i := range globs {
		if globs[i].schema.match(r.Schema) && globs[i].name.match(r.Name) {
			return true
		}
	}
	return false
}

// schemasMatch applies globs to the schemas of the relations of a and b.
func schemasMatch(globs []glob, a, b []sqlclass.Relation, all bool) bool {
	for i := range a {
		if anyGlob(globs, a[i].Schema) != all {
			return !all
		}
	}
	for i := range b {
		if anyGlob(globs, b[i].Schema) != all {
			return !all
		}
	}
	return all
}

func anyGlob(globs []glob, s string) bool {
	for i := range globs {
		if globs[i].match(s) {
			return true
		}
	}
	return false
}

// funcsMatch applies globs to functions.
func funcsMatch(globs []funcGlob, fns []sqlclass.Function, all bool) bool {
	for i := range fns {
		if anyFunc(globs, &fns[i], all) != all {
			return !all
		}
	}
	return all
}

// anyFunc reports whether one of globs matches f. A bare glob matches the
// name in any schema. A qualified glob matches a qualified call by schema
// and name; for an unqualified call, whose schema depends on the
// search_path at run time, an allow rule (all) takes the schema to be
// pg_catalog only when the call resolves to a built-in function there
// (f.Builtin), and to be unknown otherwise (no qualified glob matches),
// and a deny or review rule takes it to be any schema (the name alone
// decides).
func anyFunc(globs []funcGlob, f *sqlclass.Function, all bool) bool {
	for i := range globs {
		g := &globs[i]
		if !g.name.match(f.Name) {
			continue
		}
		switch {
		case !g.qualified:
			return true
		case f.Schema != "":
			if g.schema.match(f.Schema) {
				return true
			}
		case !all || f.Builtin && g.schema.match(pgCatalog):
			return true
		}
	}
	return false
}
