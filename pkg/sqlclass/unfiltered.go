package sqlclass

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// rowFilter records an UPDATE or DELETE whose WHERE clause, where, does
// not select rows (see [Statement.Unfiltered]). Inside EXPLAIN without
// ANALYZE nothing runs, so nothing is recorded.
func (w *walker) rowFilter(where *pg_query.Node) {
	if !w.explainOnly && !refersToRows(where) {
		w.unfiltered = true
	}
}

// refersToRows reports whether a WHERE clause can tell rows apart: it
// mentions a column (anywhere, sub-queries included) or is WHERE CURRENT
// OF a cursor. A nil clause cannot.
func refersToRows(where *pg_query.Node) bool {
	if where == nil {
		return false
	}
	found, complete := false, true
	var visit func(m protoreflect.Message, depth int)
	visit = func(m protoreflect.Message, depth int) {
		if found || !m.IsValid() {
			return
		}
		if depth >= maxDepth {
			complete = false
			return
		}
		switch m.Interface().(type) {
		case *pg_query.ColumnRef, *pg_query.CurrentOfExpr:
			found = true
			return
		}
		info := msgInfos[m.Descriptor()]
		if info == nil {
			return
		}
		for _, fd := range info.fields {
			if fd.IsList() {
				l := m.Get(fd).List()
				for i := 0; i < l.Len() && !found; i++ {
					visit(l.Get(i).Message(), depth+1)
				}
			} else if m.Has(fd) {
				visit(m.Get(fd).Message(), depth+1)
			}
		}
	}
	visit(where.ProtoReflect(), 0)
	// A clause too deep to walk in full is taken to select rows only if a
	// column was seen; the walker marks the statement unparseable anyway.
	return found || !complete
}
