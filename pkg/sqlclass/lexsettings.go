package sqlclass

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Two settings change how PostgreSQL reads the bytes of every later
// statement of a session, and the classifier parses as PostgreSQL does
// with their defaults:
//
//   - standard_conforming_strings off makes a backslash in a plain
//     '...' string an escape, so 'x\'' ; DROP TABLE t; --' is a string
//     for the classifier and a SELECT followed by a DROP TABLE for the
//     server;
//   - a client encoding whose multibyte characters may end with an ASCII
//     byte (SJIS, BIG5, GBK, UHC, GB18030, JOHAB: PostgreSQL's client-only
//     encodings) lets a character swallow a backslash the classifier
//     reads as an escape.
//
// A statement that would turn either on is unsafe: it is refused whatever
// the policies say. Setting them back (DEFAULT, RESET) is safe: the
// inspector checks the values a session starts with, and ends a session
// whose server reports either changed.

// UnsafeSetting reports why the value a server reports for a setting
// (ParameterStatus) makes the session's statements unreadable to the
// classifier, or "" when it does not.
func UnsafeSetting(name, value string) string {
	switch strings.ToLower(name) {
	case "standard_conforming_strings":
		if on, ok := parseBool(value); !ok || !on {
			return fmt.Sprintf("standard_conforming_strings is %q: sluice reads statements as PostgreSQL does with it on", value)
		}
	case "client_encoding":
		if clientOnlyEncoding(value) {
			return fmt.Sprintf("client_encoding %q can hide an ASCII byte inside a multibyte character: sluice reads statements in encodings where it cannot", value)
		}
	}
	return ""
}

// unsafeSet checks SET [LOCAL] name = value (and SET NAMES, which the
// parser turns into client_encoding).
func unsafeSet(n *pg_query.VariableSetStmt) string {
	name := strings.ToLower(n.Name)
	if name != "standard_conforming_strings" && name != "client_encoding" {
		return ""
	}
	if n.Kind != pg_query.VariableSetKind_VAR_SET_VALUE {
		return "" // DEFAULT, RESET, FROM CURRENT: the value the session started with
	}
	v := setArgs(n.Args)
	if len(v) != 1 || len(n.Args) != 1 {
		return fmt.Sprintf("SET %s to a value sluice cannot read", name)
	}
	return UnsafeSetting(name, v[0])
}

// unsafeSetConfig checks set_config(name, value, is_local) for the same
// two settings; a value that is not a literal is unsafe.
func unsafeSetConfig(name string, value *pg_query.Node) string {
	name = strings.ToLower(name)
	if name != "standard_conforming_strings" && name != "client_encoding" {
		return ""
	}
	v, ok := literal(value)
	if !ok {
		return fmt.Sprintf("set_config of %s to a value that is not a literal", name)
	}
	return UnsafeSetting(name, v)
}

// clientOnlyEncoding reports PostgreSQL's client-only encodings under
// any of their names (matched as PostgreSQL does: case and
// non-alphanumerics ignored).
func clientOnlyEncoding(v string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(v) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	switch b.String() {
	case "sjis", "shiftjis", "mskanji", "win932", "windows932",
		"shiftjis2004",
		"big5", "win950", "windows950",
		"gbk", "win936", "windows936",
		"uhc", "win949", "windows949",
		"gb18030",
		"johab":
		return true
	}
	return false
}
