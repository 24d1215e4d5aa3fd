package sqlclass

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// copyKind classifies COPY: PROGRAM runs a command on the server, a file
// name reads or writes a server file, STDIN / STDOUT move data to or from
// the client.
func copyKind(n *pg_query.CopyStmt) Kind {
	switch {
	case n.IsProgram:
		return KindCopyProgram
	case n.Filename != "":
		return KindCopyFile
	case n.IsFrom:
		return KindCopyFrom
	default:
		return KindCopyTo
	}
}

// copyBinary says whether COPY options ask for a format other than text or
// CSV: FORMAT binary, or the BINARY keyword, which the grammar turns into
// the same option. A value the server would refuse counts as binary.
func copyBinary(opts []*pg_query.Node) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.Defname, "format") {
			continue
		}
		if s := d.Arg.GetString_(); s != nil && (s.Sval == "text" || s.Sval == "csv") {
			continue
		}
		return true
	}
	return false
}

// explainAnalyze says whether EXPLAIN options ask for ANALYZE, which runs
// the statement: the ANALYZE keyword, or an "analyze" option that is not
// plainly false (a value the server would refuse counts as true).
func explainAnalyze(opts []*pg_query.Node) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.Defname, "analyze") {
			continue
		}
		if v, ok := defBool(d.Arg); !ok || v {
			return true
		}
	}
	return false
}

// defBool reads the value of an option as the server's defGetBoolean does:
// no value is true; 0 and 1; true, false, on, off (any case).
func defBool(arg *pg_query.Node) (bool, bool) {
	if arg == nil {
		return true, true
	}
	if i := arg.GetInteger(); i != nil {
		switch i.Ival {
		case 0:
			return false, true
		case 1:
			return true, true
		}
		return false, false
	}
	if b := arg.GetBoolean(); b != nil {
		return b.Boolval, true
	}
	var s string
	switch {
	case arg.GetString_() != nil:
		s = arg.GetString_().Sval
	case arg.GetAConst() != nil:
		v, ok := constString(arg)
		if !ok {
			if b, ok := constBool(arg); ok {
				return b, true
			}
			return false, false
		}
		s = v
	default:
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "on":
		return true, true
	case "false", "off":
		return false, true
	}
	return false, false
}
