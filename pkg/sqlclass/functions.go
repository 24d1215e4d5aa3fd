package sqlclass

import (
	_ "embed"
	"fmt"
	"path"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// builtinsText is the list of the functions in pg_catalog, one name a line,
// made by gen-builtins.sh.
//
//go:embed builtins.txt
var builtinsText string

// builtins is the set of function names in pg_catalog.
var builtins = func() map[string]struct{} {
	m := make(map[string]struct{}, 3000)
	for _, line := range strings.Split(builtinsText, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			m[line] = struct{}{}
		}
	}
	return m
}()

// DefaultDangerous are the function name globs a Classifier treats as
// dangerous when [Options.Dangerous] is nil. A call of one of them makes a
// statement KindDangerous wherever it appears (a sub-select, a DEFAULT, a
// function body, an EXPLAIN...). They are functions that reach outside the
// database or its access rules, act on the server or other sessions, or run
// SQL given to them as a string, out of sight of the classifier:
var DefaultDangerous = []string{
	// Server files.
	"pg_read_file",        // reads a server file
	"pg_read_binary_file", // reads a server file
	"pg_stat_file",        // stats a server file
	"pg_ls_*dir",          // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir...: list server directories
	"pg_file_*",           // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync
	"pg_logdir_ls",        // adminpack: lists the log directory
	"lo_import",           // server-side: reads a server file into a large object
	"lo_export",           // server-side: writes a large object to a server file
	// Other databases and servers.
	"dblink*", // dblink, dblink_exec, dblink_connect...: SQL on another connection
	// Other sessions and the server.
	"pg_terminate_backend", // ends another session
	"pg_cancel_backend",    // cancels another session's query
	"pg_reload_conf",       // reloads the server configuration
	"pg_rotate_logfile",    // rotates the server log
	"pg_promote",           // promotes a standby
	"pg_switch_wal",        // forces a WAL switch
	"pg_create_restore_point",
	"pg_backup_*", // pg_backup_start, pg_backup_stop
	"pg_start_backup",
	"pg_stop_backup",
	"pg_wal_replay_*", // pause/resume recovery
	// Replication.
	"pg_*replication_slot*",     // create, drop, copy, advance replication slots
	"pg_replication_origin_*",   // replication origin state
	"pg_logical_emit_message",   // writes into the WAL stream
	"pg_logical_slot_*_changes", // consumes a logical slot's changes
	// SQL given as a string: statements the classifier cannot see.
	"query_to_xml*",    // query_to_xml, query_to_xml_and_xmlschema, query_to_xmlschema
	"cursor_to_xml*",   // cursor_to_xml, cursor_to_xmlschema
	"table_to_xml*",    // reads a whole table given by name
	"schema_to_xml*",   // reads every table of a schema
	"database_to_xml*", // reads every table of the database
	"ts_stat",          // runs the query given as text
	"ts_rewrite",       // ts_rewrite(query, select text) runs the select
	// Catalog surgery meant for pg_upgrade only.
	"binary_upgrade_*",
	// Statistics, catalogs and indexes changed by a SELECT.
	"pg_stat_reset*",              // pg_stat_reset, _shared, _single_table_counters...: reset statistics
	"pg_import_system_collations", // writes pg_collation
	"brin_summarize_*",            // brin_summarize_new_values, brin_summarize_range: change an index
	"brin_desummarize_range",      // changes an index
	"gin_clean_pending_list",      // changes an index
	// Large objects created, written or removed: pg_largeobject, which no
	// relation of the statement names.
	"lo_create", "lo_creat", "lo_unlink", "lo_from_bytea", "lo_put", "lowrite", "lo_truncate", "lo_truncate64",
}

// globs are compiled dangerous-function globs.
type globs struct {
	exact   map[string]struct{} // exact bare names
	bare    []string            // bare patterns (match the name, any schema)
	schemas []qualGlob          // patterns with a schema
}

type qualGlob struct{ schema, name string }

func compileGlobs(patterns []string) (*globs, error) {
	g := &globs{exact: make(map[string]struct{})}
	for _, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("sqlclass: empty dangerous function pattern")
		}
		schema, name, qualified := strings.Cut(p, ".")
		for _, part := range []string{schema, name} {
			if _, err := path.Match(part, ""); err != nil {
				return nil, fmt.Errorf("sqlclass: dangerous function pattern %q: %w", p, err)
			}
		}
		switch {
		case qualified && (schema == "" || name == ""):
			return nil, fmt.Errorf("sqlclass: dangerous function pattern %q: empty schema or name", p)
		case qualified:
			g.schemas = append(g.schemas, qualGlob{schema, name})
		case !strings.ContainsAny(p, `*?[\`):
			g.exact[p] = struct{}{}
		default:
			g.bare = append(g.bare, p)
		}
	}
	return g, nil
}

// match says whether f is dangerous. A bare pattern matches the name in any
// schema; a qualified one matches calls qualified with a matching schema,
// and calls written without a schema whose name matches (the search path
// may lead them to that schema).
func (g *globs) match(f Function) bool {
	if _, ok := g.exact[f.Name]; ok {
		return true
	}
	for _, p := range g.bare {
		if ok, _ := path.Match(p, f.Name); ok {
			return true
		}
	}
	for _, q := range g.schemas {
		if ok, _ := path.Match(q.name, f.Name); !ok {
			continue
		}
		if f.Schema == "" {
			return true
		}
		if ok, _ := path.Match(q.schema, f.Schema); ok {
			return true
		}
	}
	return false
}

// funcName returns the function a FuncCall names: the last name is the
// function, the one before it the schema (a catalog before that is
// dropped).
func funcName(names []*pg_query.Node) Function {
	var parts []string
	for _, n := range names {
		if s, ok := n.GetNode().(*pg_query.Node_String_); ok {
			parts = append(parts, s.String_.GetSval())
		}
	}
	switch len(parts) {
	case 0:
		return Function{}
	case 1:
		return Function{Name: parts[0]}
	default:
		return Function{Schema: parts[len(parts)-2], Name: parts[len(parts)-1]}
	}
}

// isBuiltin says whether a call of f is a call of a pg_catalog function the
// server ships: qualified with pg_catalog, or unqualified while the search
// path looks in pg_catalog first. A call qualified with any other schema is
// never a built-in.
func (s *Session) isBuiltin(f Function) bool {
	if f.Schema != "pg_catalog" && (f.Schema != "" || !s.catalogFirst()) {
		return false
	}
	_, ok := builtins[f.Name]
	return ok
}

// funcCall records a function call and what it makes the statement.
func (w *walker) funcCall(n *pg_query.FuncCall) {
	f := funcName(n.Funcname)
	if f.Name == "" {
		return
	}
	f.Builtin = f.Schema == "" && w.sess.isBuiltin(f)
	w.funcs.add(f, f)
	if w.c.dangerous.match(f) {
		w.flagDangerous(f)
		return
	}
	if f.Name == "set_config" && (f.Schema == "" || f.Schema == "pg_catalog") && !w.setConfig(n, f) {
		w.flagDangerous(f)
		return
	}
	if !w.sess.isBuiltin(f) {
		w.addFnKind(KindCall)
		return
	}
	if f.Name == "nextval" || f.Name == "setval" {
		w.sequenceWrite(n, f)
	}
}

// fieldSelection follows (expr).name: PostgreSQL reads it as the field
// name of a composite value, or else as a call of the function name with
// expr as its one argument ("functional notation"): `('/etc/passwd'::
// text).pg_read_file` reads the file. Which it is depends on types sluice
// does not know, so each name is taken for a call as well: listed with
// the functions, dangerous when a dangerous function has that name (or
// nextval/setval, whose sequence this form hides), and a call of an
// unknown function unless a built-in one has it. A field selection of a
// composite value is then seen as a call too: reads of composite fields
// need a rule that allows calls (or their functions), which fails closed.
// (t.name with t a table is also a call of name with the row of t when t
// has no column name; the functions reached that way take that row type,
// so they are the database's own, not built-ins: not followed.)
func (w *walker) fieldSelection(n *pg_query.A_Indirection) {
	for _, ind := range n.Indirection {
		s := ind.GetString_()
		if s == nil || s.Sval == "" {
			continue // a subscript or *
		}
		f := Function{Name: s.Sval}
		f.Builtin = w.sess.isBuiltin(f)
		w.funcs.add(f, f)
		switch {
		case w.c.dangerous.match(f), f.Name == "nextval", f.Name == "setval":
			w.flagDangerous(f)
		case !w.sess.isBuiltin(f):
			w.addFnKind(KindCall)
		}
	}
}

// sequenceWrite follows nextval(seq) and setval(seq, ...): they change the
// sequence, so the statement writes it, and is at least an insert
// (nextval adds to the sequence) or an update (setval sets it). The
// sequence must be a literal (the regclass text PostgreSQL reads),
// uncast or cast to regclass or text; otherwise (an expression, a cast
// that may cut it such as varchar(8)) which one it is cannot be known,
// and the call is dangerous.
func (w *walker) sequenceWrite(n *pg_query.FuncCall, f Function) {
	if len(n.Args) == 0 {
		return // no such function: the server refuses the call
	}
	text, ok := literal(n.Args[0], "regclass", "text")
	if !ok {
		w.flagDangerous(f)
		return
	}
	schema, name, ok := regclassName(text)
	if !ok {
		w.flagDangerous(f)
		return
	}
	if !w.explainOnly {
		if f.Name == "setval" {
			w.addFnKind(KindUpdate)
		} else {
			w.addFnKind(KindInsert)
		}
	}
	w.addResolved(w.resolve(schema, name, modeWrite, false), modeWrite)
}

// regclassName reads a relation name as PostgreSQL's regclass input does:
// name or schema.name, each part folded to lower case unless double-quoted
// (a doubled quote inside stands for one). It reports false for anything
// else (a database part, an OID, an unterminated quote).
func regclassName(s string) (schema, name string, ok bool) {
	var parts []string
	for i := 0; ; {
		var part string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return "", "", false
			}
			part, i = b.String(), j+1
		} else {
			j := i
			for j < len(s) && s[j] != '.' {
				j++
			}
			part, i = strings.ToLower(strings.TrimSpace(s[i:j])), j
		}
		if part == "" {
			return "", "", false
		}
		parts = append(parts, truncIdent(part))
		if i >= len(s) {
			break
		}
		if s[i] != '.' {
			return "", "", false
		}
		i++
	}
	switch len(parts) {
	case 1:
		if parts[0][0] >= '0' && parts[0][0] <= '9' {
			return "", "", false // an OID
		}
		return "", parts[0], true
	case 2:
		return parts[0], parts[1], true
	}
	return "", "", false
}

func (w *walker) flagDangerous(f Function) {
	w.dangerous.add(f, f)
	w.addFnKind(KindDangerous)
}
