package sqlclass

import pg_query "github.com/pganalyze/pg_query_go/v6"

// set is an insertion-ordered set of V keyed by K.
type set[K comparable, V any] struct {
	list []V
	keys []K
	idx  map[K]struct{} // built once the list grows past a few entries
}

func (s *set[K, V]) add(k K, v V) {
	if s.idx != nil {
		if _, ok := s.idx[k]; ok {
			return
		}
		s.idx[k] = struct{}{}
	} else {
		for _, x := range s.keys {
			if x == k {
				return
			}
		}
		if len(s.keys) >= 16 {
			s.idx = make(map[K]struct{}, 2*len(s.keys))
			for _, x := range s.keys {
				s.idx[x] = struct{}{}
			}
			s.idx[k] = struct{}{}
		}
	}
	s.keys = append(s.keys, k)
	s.list = append(s.list, v)
}

// relKey identifies a relation for deduplication: the same relation named
// with and without its schema is one.
type relKey struct{ schema, name string }

func (r Relation) key() relKey { return relKey{r.Schema, r.Name} }

// rangeVar records the relation rv names, used as md says. A name read
// that is a CTE in scope is not a relation.
func (w *walker) rangeVar(rv *pg_query.RangeVar, md mode) (Relation, bool) {
	if rv == nil || rv.Relname == "" {
		return Relation{}, false
	}
	if md == modeRead && rv.Schemaname == "" && rv.Catalogname == "" && w.isCTE(rv.Relname) {
		return Relation{}, false
	}
	r := w.resolve(rv.Schemaname, rv.Relname, md, rv.Relpersistence == "t")
	w.addResolved(r, md)
	return r, true
}

// addResolved records an existing relation resolved by w.resolve. An
// unqualified name also stands for the relation of that name in every
// later schema of the path: PostgreSQL takes the first schema where one
// exists, which sluice cannot see.
func (w *walker) addResolved(r Relation, md mode) {
	w.addRel(r, md)
	if md == modeCreate || r.Qualified || r.Schema == "pg_temp" || r.Schema == "pg_catalog" {
		return
	}
	for _, s := range w.sess.laterSchemas(r.Schema) {
		w.addRel(Relation{Schema: s, Name: r.Name}, md)
	}
}

func (w *walker) addRel(r Relation, md mode) {
	if md == modeRead {
		w.reads.add(r.key(), r)
	} else {
		w.writes.add(r.key(), r)
	}
}

// resolve gives a relation name its schema (see [Session.lookupSchema]).
func (w *walker) resolve(schema, name string, md mode, temp bool) Relation {
	if schema != "" {
		return Relation{Schema: schema, Name: name, Qualified: true}
	}
	r := Relation{Name: name}
	switch {
	case md == modeCreate && temp:
		r.Schema = "pg_temp"
	case md != modeRead && w.createSchema != "":
		r.Schema = w.createSchema // an element of CREATE SCHEMA
	case md == modeCreate:
		r.Schema = w.sess.creationSchema(false)
	default:
		r.Schema = w.sess.lookupSchema(name)
	}
	return r
}

// createdRel records a relation being created; a temporary one (unless
// ON COMMIT DROP, gone by the time it could be named again in most cases)
// becomes known to the session, unless only explained (EXPLAIN without
// ANALYZE creates nothing).
func (w *walker) createdRel(rv *pg_query.RangeVar, onCommit pg_query.OnCommitAction) {
	r, ok := w.rangeVar(rv, modeCreate)
	if ok && !w.explainOnly && r.Schema == "pg_temp" && onCommit != pg_query.OnCommitAction_ONCOMMIT_DROP {
		w.createsTemp = append(w.createsTemp, r.Name)
	}
}

// relationObject says whether objects of type t name a relation: whole
// (the name is the relation's) or as the relation an object belongs to
// (the last name is the object's: a column, constraint, trigger...).
func relationObject(t pg_query.ObjectType) (ok, whole bool) {
	switch t {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW,
		pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_INDEX,
		pg_query.ObjectType_OBJECT_SEQUENCE, pg_query.ObjectType_OBJECT_FOREIGN_TABLE:
		return true, true
	case pg_query.ObjectType_OBJECT_COLUMN, pg_query.ObjectType_OBJECT_TABCONSTRAINT,
		pg_query.ObjectType_OBJECT_TRIGGER, pg_query.ObjectType_OBJECT_POLICY,
		pg_query.ObjectType_OBJECT_RULE:
		return true, false
	}
	return false, false
}

// stringList returns the names of a List of String nodes (or of a lone
// String node).
func stringList(n *pg_query.Node) []string {
	if s := n.GetString_(); s != nil {
		return []string{s.Sval}
	}
	l := n.GetList()
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l.Items))
	for _, it := range l.Items {
		s := it.GetString_()
		if s == nil {
			return nil
		}
		out = append(out, s.Sval)
	}
	return out
}

// objectRelation records as written the relation an object of a DROP,
// COMMENT or SECURITY LABEL names (those name objects by lists of names,
// not RangeVars), and returns it.
func (w *walker) objectRelation(t pg_query.ObjectType, obj *pg_query.Node) (Relation, bool) {
	ok, whole := relationObject(t)
	if !ok || obj == nil {
		return Relation{}, false
	}
	names := stringList(obj)
	if !whole && len(names) > 0 {
		names = names[:len(names)-1]
	}
	if len(names) == 0 || names[len(names)-1] == "" {
		return Relation{}, false
	}
	schema := ""
	if len(names) >= 2 {
		schema = names[len(names)-2]
	}
	r := w.resolve(schema, names[len(names)-1], modeWrite, false)
	w.addRel(r, modeWrite)
	return r, true
}

func (w *walker) dropStmt(n *pg_query.DropStmt) {
	_, whole := relationObject(n.RemoveType)
	for _, obj := range n.Objects {
		r, ok := w.objectRelation(n.RemoveType, obj)
		if ok && whole && r.Schema == "pg_temp" {
			w.dropsTemp = append(w.dropsTemp, r.Name)
		}
	}
}

// renameStmt: ALTER ... RENAME writes the relation; renaming a relation
// also writes the new name (in the same schema).
func (w *walker) renameStmt(n *pg_query.RenameStmt) {
	r, ok := w.rangeVar(n.Relation, modeWrite)
	if !ok {
		return
	}
	if isRel, whole := relationObject(n.RenameType); !isRel || !whole || n.Newname == "" {
		return
	}
	nr := Relation{Schema: r.Schema, Name: n.Newname, Qualified: r.Qualified}
	w.addRel(nr, modeWrite)
	if r.Schema == "pg_temp" {
		w.dropsTemp = append(w.dropsTemp, r.Name)
		w.createsTemp = append(w.createsTemp, nr.Name)
	}
}

// setSchemaStmt: ALTER ... SET SCHEMA writes the relation and the relation
// of the same name in the new schema.
func (w *walker) setSchemaStmt(n *pg_query.AlterObjectSchemaStmt) {
	r, ok := w.rangeVar(n.Relation, modeWrite)
	if !ok {
		return
	}
	if isRel, whole := relationObject(n.ObjectType); isRel && whole && n.Newschema != "" {
		w.addRel(Relation{Schema: n.Newschema, Name: r.Name, Qualified: true}, modeWrite)
	}
}
