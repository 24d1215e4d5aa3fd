package sqlclass

import (
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Statements that differ only in their constants (SELECT ... WHERE id = 1,
// then id = 2) classify the same way for the kinds below: kind, relations
// and functions come from identifiers, never from literal values. Their
// classification is therefore also cached by shape, the text with every
// constant replaced by a placeholder by PostgreSQL's own normalizer, so a
// job sending the same query with new values costs one normalization
// instead of a parse and a tree walk. Statements whose meaning can depend
// on a literal (set_config, EXPLAIN options, COPY targets, utility
// statements) are never cached by shape.

// shapePrefix keeps shape keys apart from exact texts in the cache.
const shapePrefix = "\x00shape\x00"

// shapeSafe reports whether stmts may be reused for any text of the same
// shape.
func shapeSafe(stmts []Statement) bool {
	if len(stmts) != 1 {
		return false
	}
	st := &stmts[0]
	switch st.Kind {
	case KindSelect, KindInsert, KindUpdate, KindDelete, KindMerge:
	default:
		return false
	}
	for _, f := range st.Functions {
		// set_config's classification reads its literal arguments (the
		// setting's name): set_config('work_mem', ...) and
		// set_config('search_path', ...) share a shape but not a meaning.
		if strings.EqualFold(f.Name, "set_config") {
			return false
		}
	}
	return st.SetSearchPath == nil && st.SetLocalSearchPath == nil && st.StatementTimeout == nil && len(st.CreatesTemp) == 0 &&
		len(st.DropsTemp) == 0 && st.Transaction == TxNone && st.Prepares == "" && st.Executes == "" &&
		st.Deallocates == "" && len(st.Dangerous) == 0 && st.Error == "" && !st.CopyOut
}

// shapeKey returns the normalized text of query, or "" when it has no
// constants or does not normalize.
func shapeKey(query string) string {
	// The normalizer is C: it would stop at a zero byte and give the shape
	// of only the text before it.
	if strings.IndexByte(query, 0) >= 0 {
		return ""
	}
	// A literal that is not valid UTF-8 makes the parser refuse the text,
	// while its normalized shape (the literal replaced) parses.
	if !utf8.ValidString(query) {
		return ""
	}
	// The statement's own text starts where the parser says, after empty
	// statements and comments; withText cannot tell where without a
	// parse, so such texts are not cached by shape.
	if t := strings.TrimLeft(query, " \t\n\r\f\v"); t == "" || t[0] == ';' || t[0] == '/' || t[0] == '-' {
		return ""
	}
	norm, err := pg_query.Normalize(query)
	if err != nil || norm == query {
		return ""
	}
	return shapePrefix + norm
}

// withText returns a copy of the single cached statement carrying the
// text of query.
func withText(stmts []Statement, query string) []Statement {
	st := stmts[0]
	t := strings.TrimSpace(query)
	for strings.HasSuffix(t, ";") {
		t = strings.TrimSpace(strings.TrimSuffix(t, ";"))
	}
	st.redact(t)
	return []Statement{st}
}
