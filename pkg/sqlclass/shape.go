package sqlclass

import (
	"math"
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

// shapePrefix keeps shape keys apart from exact texts in the cache;
// lexPrefix keeps the keys of literalShape apart from the normalizer's.
const (
	shapePrefix = "\x00shape\x00"
	lexPrefix   = "\x00lex\x00"
)

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
		// These classifications read literal arguments: set_config's
		// setting name (set_config('work_mem', ...) and
		// set_config('search_path', ...) share a shape but not a
		// meaning), the sequence of nextval and setval.
		switch strings.ToLower(f.Name) {
		case "set_config", "nextval", "setval":
			return false
		}
	}
	return st.SetSearchPath == nil && st.SetLocalSearchPath == nil && st.StatementTimeout == nil && len(st.CreatesTemp) == 0 &&
		len(st.DropsTemp) == 0 && st.Transaction == TxNone && st.Prepares == "" && st.Executes == "" &&
		st.Deallocates == "" && len(st.Dangerous) == 0 && st.Error == "" && !st.CopyOut &&
		st.Unsafe == "" && st.Command != "EXPLAIN" // EXPLAIN (ANALYZE 0) and (ANALYZE 1) differ by a literal
}

// shapeKey returns the shape of query (literalShape's key, or else the
// text as PostgreSQL's normalizer gives it), or "" when it has no
// constants or has no shape.
//
// The caller never passes a text with a zero byte (classifyCached does
// not cache those): the normalizer is C and would give the shape of only
// the text before it.
func shapeKey(query string) string {
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
	if key, ok := literalShape(query); ok {
		if key == "" {
			return ""
		}
		return lexPrefix + key
	}
	norm, err := pg_query.Normalize(query)
	if err != nil || norm == query {
		return ""
	}
	return shapePrefix + norm
}

// Placeholders of literalShape. The zero byte cannot occur in a text that
// gets a shape, so they cannot collide with anything written.
const (
	litString  = "\x00s" // '...'
	litInteger = "\x00i" // an integer constant (it fits int32)
	litLong    = "\x00n" // more: PostgreSQL reads it as numeric
	litDecimal = "\x00f" // digits with a decimal point
)

// literalShape is the fast path of shapeKey, for the common texts a job
// sends with new values each time: it replaces each plain string and
// numeric constant with a placeholder of its category, keeping every other
// byte, so two texts share a key only if PostgreSQL's lexer sees the same
// tokens in both, bar the values of those constants. It reads only what
// it can read exactly as PostgreSQL does whatever the session's settings:
// it gives up (ok false) at a backslash (escape strings,
// standard_conforming_strings), a dollar sign (dollar quoting,
// parameters), a comment, a string prefix (E'x', B'1', X'f', N'x',
// U&'x'), a leading-dot or malformed number, a non-ASCII byte outside
// quotes, an unterminated quote, an empty quoted identifier or a control
// character. It returns "" with ok true
// for a text without constants.
func literalShape(query string) (key string, ok bool) {
	if strings.IndexByte(query, '\\') >= 0 {
		return "", false
	}
	out := make([]byte, 0, len(query))
	literals := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		// A dollar sign first: before anything else, or the body of a
		// dollar-quoted string would be read as SQL.
		case c == '$' || c >= 0x80 || c < ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f',
			c == '.' && i+1 < len(query) && isDigit(query[i+1]),
			c == '-' && i+1 < len(query) && query[i+1] == '-',
			c == '/' && i+1 < len(query) && query[i+1] == '*':
			return "", false
		case c == '\'':
			if i > 0 && (isIdentByte(query[i-1]) || query[i-1] == '&' || query[i-1] == '"') {
				return "", false
			}
			end := closingQuote(query, i, '\'')
			if end < 0 {
				return "", false
			}
			out = append(out, litString...)
			literals++
			i = end + 1
		case c == '"':
			if i > 0 && query[i-1] == '&' {
				return "", false
			}
			end := closingQuote(query, i, '"')
			if end < 0 || end == i+1 { // "" is an error
				return "", false
			}
			out = append(out, query[i:end+1]...)
			i = end + 1
		case c >= '0' && c <= '9':
			j, decimal := i, false
			for j < len(query) && isDigit(query[j]) {
				j++
			}
			if j < len(query) && query[j] == '.' {
				decimal = true
				for j++; j < len(query) && isDigit(query[j]); j++ {
				}
			}
			// 1e5, 0x1f, 1_000, 12abc, 1.2.3: not read here.
			if j < len(query) && (isIdentByte(query[j]) || query[j] == '.' || query[j] >= 0x80) {
				return "", false
			}
			switch {
			case decimal:
				out = append(out, litDecimal...)
			case fitsInt32(query[i:j]):
				out = append(out, litInteger...)
			default:
				out = append(out, litLong...)
			}
			literals++
			i = j
		case isIdentByte(c):
			j := i
			for j < len(query) && isIdentByte(query[j]) {
				j++
			}
			out = append(out, query[i:j]...)
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	if literals == 0 {
		return "", true
	}
	return string(out), true
}

// closingQuote returns the index of the quote closing the one at i (a
// doubled quote is part of the text), or -1.
func closingQuote(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] != q {
			continue
		}
		if j+1 < len(s) && s[j+1] == q {
			j++
			continue
		}
		return j
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// fitsInt32 reports whether the digits are an integer PostgreSQL's lexer
// reads as such (ICONST), not as numeric (FCONST).
func fitsInt32(digits string) bool {
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
		if n > math.MaxInt32 {
			return false
		}
	}
	return true
}

// isIdentByte reports whether c continues an identifier (or a number,
// which an identifier byte right after makes something else). A dollar
// sign would too, but literalShape gives up at any.
func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
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
