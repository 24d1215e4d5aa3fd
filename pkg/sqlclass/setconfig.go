package sqlclass

import (
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// setConfig follows a call of set_config(name, value, is_local). It
// returns false when the call could change the search_path in a way the
// session cannot follow, which makes it dangerous: the setting name is not
// a literal; or it is search_path and the value or is_local is not a
// literal, the call is not a direct target of a bare SELECT (no FROM,
// WHERE, LIMIT... that could keep it from running, or run it many times),
// or the name may not resolve to pg_catalog.set_config.
func (w *walker) setConfig(n *pg_query.FuncCall, f Function) bool {
	if len(n.Args) != 3 {
		return true // no such function: the server refuses the call
	}
	name, ok := literal(n.Args[0])
	if !ok {
		// It may be standard_conforming_strings or client_encoding,
		// which change how the server reads the statements after it.
		w.unsafe = "set_config of a setting whose name is not a string literal"
		return false
	}
	if _, lit := literal(n.Args[1]); !lit {
		w.setComputed = true
	}
	if u := unsafeSetConfig(name, n.Args[1]); u != "" {
		w.unsafe = u
		return true
	}
	if roleSetting(name) {
		// Counted wherever the call is, even under EXPLAIN: it changes
		// whose privileges the session uses.
		w.addFnKind(KindSetRole)
		return true
	}
	if strings.EqualFold(name, "statement_timeout") {
		w.timeoutConfig(n, f)
		return true
	}
	if !strings.EqualFold(name, "search_path") {
		return true
	}
	if !w.sess.isBuiltin(f) || w.setConfigSelect == nil || !isTargetOf(w.setConfigSelect, n) {
		return false
	}
	value, ok1 := literal(n.Args[1])
	local, ok2 := constBool(n.Args[2])
	if !ok1 || !ok2 {
		return false
	}
	p := ParseSearchPath(value)
	if local {
		w.setLocal = &p
	} else {
		w.setPath, w.setLocal = &p, nil
	}
	return true
}

// literal returns the value of a string literal the server reads as
// written: uncast, or cast, with no type modifier, to one of casts (types
// that read the text as written, such as text or regclass). Other casts
// may change it before the server uses it ('roleX'::varchar(4) is role,
// 'role '::bpchar is role, a long path cast to name is cut at 63 bytes),
// so such a literal is taken for an unknown value, as an expression is.
func literal(n *pg_query.Node, casts ...string) (string, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		tn := tc.GetTypeName()
		if tn == nil || len(tn.Typmods) > 0 || len(tn.ArrayBounds) > 0 || tn.Setof || tn.PctType {
			return "", false
		}
		t := funcName(tn.Names)
		if t.Schema != "" && t.Schema != "pg_catalog" || !slices.Contains(casts, t.Name) {
			return "", false
		}
	}
	return constString(n)
}

// roleSetting says whether the setting name (the server matches names
// without regard to case) changes whose privileges the session uses: role
// (SET ROLE) or session_authorization (SET SESSION AUTHORIZATION).
func roleSetting(name string) bool {
	return strings.EqualFold(name, "role") || strings.EqualFold(name, "session_authorization")
}

// timeoutConfig follows set_config('statement_timeout', value, is_local)
// when it surely runs once with literal arguments; other calls are not
// followed (the timeout is only used to bound how long a statement is
// held, never to decide).
func (w *walker) timeoutConfig(n *pg_query.FuncCall, f Function) {
	if !w.sess.isBuiltin(f) || w.setConfigSelect == nil || !isTargetOf(w.setConfigSelect, n) {
		return
	}
	value, ok1 := literal(n.Args[1])
	local, ok2 := constBool(n.Args[2])
	if ok1 && ok2 {
		w.setTimeout = &Setting{Value: value, Local: local}
	}
}

// bareSetConfig says whether s is a SELECT of nothing but set_config
// calls, with nothing that could keep them from running once each: such a
// statement is KindSet, and its search_path changes are followed.
func bareSetConfig(s *pg_query.SelectStmt) bool {
	if s == nil || len(s.TargetList) == 0 || s.IntoClause != nil || len(s.FromClause) > 0 ||
		s.WhereClause != nil || len(s.GroupClause) > 0 || s.HavingClause != nil ||
		len(s.WindowClause) > 0 || len(s.ValuesLists) > 0 || len(s.SortClause) > 0 ||
		s.LimitOffset != nil || s.LimitCount != nil || len(s.LockingClause) > 0 ||
		s.WithClause != nil || s.Larg != nil || s.Rarg != nil || len(s.DistinctClause) > 0 ||
		(s.Op != pg_query.SetOperation_SETOP_NONE && s.Op != pg_query.SetOperation_SET_OPERATION_UNDEFINED) {
		return false
	}
	for _, t := range s.TargetList {
		fc := t.GetResTarget().GetVal().GetFuncCall()
		if fc == nil || fc.AggStar || fc.AggDistinct || fc.AggFilter != nil || fc.Over != nil ||
			len(fc.AggOrder) > 0 || fc.FuncVariadic || len(fc.Args) != 3 {
			return false
		}
		f := funcName(fc.Funcname)
		if f.Name != "set_config" || (f.Schema != "" && f.Schema != "pg_catalog") {
			return false
		}
		if _, ok := literal(fc.Args[0]); !ok {
			return false
		}
	}
	return true
}

// isTargetOf says whether fc is a direct target of s.
func isTargetOf(s *pg_query.SelectStmt, fc *pg_query.FuncCall) bool {
	for _, t := range s.TargetList {
		if t.GetResTarget().GetVal().GetFuncCall() == fc {
			return true
		}
	}
	return false
}

// constant returns the A_Const n is, looking through a cast.
func constant(n *pg_query.Node) *pg_query.A_Const {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return nil
	}
	return c
}

// constString returns the value of a string literal.
func constString(n *pg_query.Node) (string, bool) {
	c := constant(n)
	if c == nil {
		return "", false
	}
	if s, ok := c.Val.(*pg_query.A_Const_Sval); ok {
		return s.Sval.GetSval(), true
	}
	return "", false
}

// constBool returns the value of a boolean literal, or of a string literal
// read as a boolean.
func constBool(n *pg_query.Node) (bool, bool) {
	c := constant(n)
	if c == nil {
		return false, false
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Boolval:
		return v.Boolval.GetBoolval(), true
	case *pg_query.A_Const_Sval:
		return parseBool(v.Sval.GetSval())
	}
	return false, false
}

// parseBool reads a boolean as PostgreSQL's boolean input does: true,
// yes, on, 1 and false, no, off, 0, any unique prefix, any case, with
// surrounding whitespace.
func parseBool(s string) (bool, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return false, false
	}
	prefixOf := func(word string, min int) bool {
		return len(s) >= min && len(s) <= len(word) && word[:len(s)] == s
	}
	switch {
	case prefixOf("true", 1), prefixOf("yes", 1), prefixOf("on", 2), s == "1":
		return true, true
	case prefixOf("false", 1), prefixOf("no", 1), prefixOf("off", 2), s == "0":
		return false, true
	}
	return false, false
}
