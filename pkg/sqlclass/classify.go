package sqlclass

import (
	"errors"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

var errNoSession = errors.New("sqlclass: nil session")

// Classify splits query, a query string of the simple query protocol, into
// its statements and classifies each in the context of sess. An empty or
// comment-only query gives one KindEmpty statement; a text the parser
// refuses gives one KindUnparseable statement holding the whole text and
// the parser's message in Error. Effects of an earlier statement on the
// session (SET search_path, PREPARE, CREATE TEMP TABLE, ...) apply to the
// later statements of the same query, but Classify does not change sess:
// the caller applies each statement with [Session.Apply] once it ran.
//
// The returned statements, and the slices in them, may be shared with the
// classifier's cache and with other callers: they must not be modified.
// The error is for misuse only (a nil session).
func (c *Classifier) Classify(sess *Session, query string) ([]Statement, error) {
	if c == nil {
		return nil, errors.New("sqlclass: nil classifier")
	}
	if sess == nil {
		return nil, errNoSession
	}
	return c.resolveExecutes(sess, c.classifyCached(sess, query)), nil
}

// ClassifyOne classifies the text of a Parse message of the extended
// protocol, which may hold at most one statement: more than one gives a
// KindUnparseable statement, as the server refuses them. The result may
// share slices with other callers: they must not be modified.
func (c *Classifier) ClassifyOne(sess *Session, query string) (Statement, error) {
	if c == nil {
		return Statement{}, errors.New("sqlclass: nil classifier")
	}
	if sess == nil {
		return Statement{}, errNoSession
	}
	stmts := c.classifyCached(sess, query)
	if len(stmts) > 1 {
		return unparseable(query, "cannot insert multiple commands into a prepared statement")[0], nil
	}
	return c.resolveExecutes(sess, stmts)[0], nil
}

// classifyCached classifies through the cache.
func (c *Classifier) classifyCached(sess *Session, query string) []Statement {
	// A zero byte never comes from the wire (the protocol's strings end
	// at one); through the API, it could make a text look like a shape
	// key, and it would cut the C normalizer's text short (shapeKey).
	if why := tooDeep(query); why != "" {
		// Before the cache: its shape key may need the parser too.
		return unparseable(query, why)
	}
	if c.cache == nil || len(query) > maxCachedText || strings.IndexByte(query, 0) >= 0 {
		stmts, _ := c.classifyText(sess, query)
		return stmts
	}
	state := sess.stateKey()
	key := cacheKey{state: state, text: query}
	if stmts, ok := c.cache.get(key); ok {
		return stmts
	}
	shape := cacheKey{state: state, text: shapeKey(query)}
	if shape.text != "" {
		if stmts, ok := c.cache.get(shape); ok {
			return withText(stmts, query)
		}
	}
	stmts, cacheable := c.classifyText(sess, query)
	if cacheable {
		if shape.text != "" && shapeSafe(stmts) {
			c.cache.put(shape, stmts)
		} else {
			c.cache.put(key, stmts)
		}
	}
	return stmts
}

// classifyText parses and classifies a query string. cacheable is false
// when the result depends on more of the session than its cache key.
func (c *Classifier) classifyText(sess *Session, query string) (stmts []Statement, cacheable bool) {
	defer func() {
		if r := recover(); r != nil {
			stmts, cacheable = unparseable(query, fmt.Sprintf("sqlclass: internal error: %v", r)), false
		}
	}()
	if strings.IndexByte(query, 0) >= 0 {
		return unparseable(query, "query string contains a zero byte"), true
	}
	if len(query) > c.maxText {
		return unparseable(query, fmt.Sprintf("the query string is %d bytes, more than the %d bytes sluice parses (postgres.max_statement_size)", len(query), c.maxText)), false
	}
	if len(query) > bigText {
		// Large texts are parsed a few at a time, so that their parses
		// together stay within a bounded amount of memory.
		bigParses <- struct{}{}
		defer func() { <-bigParses }()
	}
	tree, err := pg_query.Parse(query)
	if err != nil {
		return unparseable(query, err.Error()), true
	}
	if len(tree.Stmts) == 0 {
		st := Statement{Kind: KindEmpty}
		st.redact(strings.TrimSpace(query))
		return []Statement{st}, true
	}
	cacheable = true
	stmts = make([]Statement, 0, len(tree.Stmts))
	view := sess
	for i, raw := range tree.Stmts {
		st := c.classifyStmt(view, raw, stmtText(query, raw))
		stmts = append(stmts, st)
		if i == len(tree.Stmts)-1 || !hasSessionEffects(&st) {
			continue
		}
		if view == sess {
			view = sess.forQuery()
		}
		view.Apply(&st)
		switch st.Transaction {
		case TxNone, TxBegin, TxSavepoint, TxRelease, TxOther:
		default:
			// Later statements depend on the state as of the last
			// commit, which the cache key does not hold.
			cacheable = false
		}
	}
	return stmts, cacheable
}

// Query strings over bigText bytes are parsed at most cap(bigParses) at
// a time in the process: at about 200 times their size in parser memory,
// a few of them at max_statement_size stay within a few hundred MiB.
const bigText = 64 << 10

var bigParses = make(chan struct{}, 2)

func unparseable(query, msg string) []Statement {
	st := Statement{Kind: KindUnparseable}
	st.redact(strings.TrimSpace(query))
	st.Error = st.RedactSecrets(msg) // the parser quotes the text near the error
	return []Statement{st}
}

func hasSessionEffects(st *Statement) bool {
	return st.SetSearchPath != nil || st.SetLocalSearchPath != nil || st.StatementTimeout != nil || len(st.CreatesTemp) > 0 ||
		len(st.DropsTemp) > 0 || st.Transaction != TxNone
}

// stmtText cuts a statement's own text from the query string: from
// StmtLocation, StmtLen bytes (0: to the end), without surrounding white
// space and trailing semicolons.
func stmtText(query string, raw *pg_query.RawStmt) string {
	start := int(raw.StmtLocation)
	if start < 0 || start > len(query) {
		start = 0
	}
	end := len(query)
	if raw.StmtLen > 0 && start+int(raw.StmtLen) <= len(query) {
		end = start + int(raw.StmtLen)
	}
	t := strings.TrimSpace(query[start:end])
	for strings.HasSuffix(t, ";") {
		t = strings.TrimSpace(strings.TrimSuffix(t, ";"))
	}
	return t
}

// classifyStmt classifies one statement.
func (c *Classifier) classifyStmt(sess *Session, raw *pg_query.RawStmt, text string) Statement {
	st := Statement{}
	st.redact(text)
	if raw.Stmt == nil {
		st.Kind = KindEmpty
		return st
	}
	pm := raw.Stmt.ProtoReflect()
	fd := pm.WhichOneof(nodeOneof)
	if fd == nil {
		st.Kind = KindEmpty
		return st
	}
	inner := pm.Get(fd).Message().Interface()
	kind, tag := describe(inner)
	if kind == "" {
		kind, tag = KindDDL, tagFromNode(inner) // unknown: the severe side
	}
	st.Command = tag
	w := walker{c: c, sess: sess, kind: kind}
	c.topLevel(&w, &st, inner)
	w.visit(pm, modeWrite)
	if w.tooDeep {
		st.Kind = KindUnparseable
		st.Error = "statement nested too deeply"
		return st
	}
	st.Kind = w.kind
	st.Reads = w.reads.list
	st.Writes = w.writes.list
	st.Functions = w.funcs.list
	st.Dangerous = w.dangerous.list
	st.Unfiltered = w.unfiltered
	st.SetSearchPath = w.setPath
	st.SetLocalSearchPath = w.setLocal
	st.StatementTimeout = w.setTimeout
	st.SetsComputed = w.setComputed
	if st.Unsafe = w.unsafe; st.Unsafe != "" {
		st.UnsafeRule = RuleUnsafeSetting
	}
	st.CreatesTemp = w.createsTemp
	st.DropsTemp = w.dropsTemp
	if st.Executes == "" {
		st.Executes = w.executes
	}
	return st
}

// topLevel records the effects only a statement of its own has on the
// session (a SET inside ALTER ROLE does not change this session).
func (c *Classifier) topLevel(w *walker, st *Statement, m proto.Message) {
	switch n := m.(type) {
	case *pg_query.SelectStmt:
		if bareSetConfig(n) {
			w.setConfigSelect = n
		}
	case *pg_query.VariableSetStmt:
		variableSet(w, n)
	case *pg_query.DiscardStmt:
		switch n.Target {
		case pg_query.DiscardMode_DISCARD_ALL:
			st.Deallocates = "*"
			w.dropsTemp = append(w.dropsTemp, "*")
			p := w.sess.initial
			w.setPath = &p
			w.setTimeout = &Setting{Reset: true}
		case pg_query.DiscardMode_DISCARD_TEMP:
			w.dropsTemp = append(w.dropsTemp, "*")
		}
	case *pg_query.TransactionStmt:
		st.Transaction = txOp(n)
		st.Savepoint = n.SavepointName
	case *pg_query.CopyStmt:
		st.CopyOut = !n.IsFrom && !n.IsProgram && n.Filename == ""
		st.CopyBinary = copyBinary(n.Options)
	case *pg_query.PrepareStmt:
		st.Prepares = n.Name
	case *pg_query.DeallocateStmt:
		if n.Isall {
			st.Deallocates = "*"
		} else {
			st.Deallocates = n.Name
		}
	}
}

// variableSet follows SET / RESET of search_path and statement_timeout
// (and RESET ALL).
func variableSet(w *walker, n *pg_query.VariableSetStmt) {
	if u := unsafeSet(n); u != "" {
		w.unsafe = u
	}
	var p []string
	switch {
	case n.Kind == pg_query.VariableSetKind_VAR_RESET_ALL:
		p = w.sess.initial
		w.setTimeout = &Setting{Reset: true}
	case strings.EqualFold(n.Name, "statement_timeout"):
		timeoutSet(w, n)
		return
	case !strings.EqualFold(n.Name, "search_path"):
		return
	case n.Kind == pg_query.VariableSetKind_VAR_SET_VALUE:
		p = setArgs(n.Args)
	case n.Kind == pg_query.VariableSetKind_VAR_SET_DEFAULT, n.Kind == pg_query.VariableSetKind_VAR_RESET:
		p = w.sess.initial
	default:
		return // SET ... FROM CURRENT keeps the value
	}
	if n.IsLocal {
		w.setLocal = &p
	} else {
		w.setPath = &p
	}
}

// timeoutSet follows SET [LOCAL] statement_timeout.
func timeoutSet(w *walker, n *pg_query.VariableSetStmt) {
	switch n.Kind {
	case pg_query.VariableSetKind_VAR_SET_VALUE:
		if v := setArgs(n.Args); len(v) == 1 {
			w.setTimeout = &Setting{Value: v[0], Local: n.IsLocal}
		}
	case pg_query.VariableSetKind_VAR_SET_DEFAULT, pg_query.VariableSetKind_VAR_RESET:
		w.setTimeout = &Setting{Reset: true, Local: n.IsLocal}
	}
}

// setArgs returns the schema names of SET search_path TO a, "B", 'c d':
// each value is one schema name, as written (the parser has already folded
// unquoted identifiers).
func setArgs(args []*pg_query.Node) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		c := a.GetAConst()
		if c == nil || c.Isnull {
			continue
		}
		var s string
		switch v := c.Val.(type) {
		case *pg_query.A_Const_Sval:
			s = v.Sval.GetSval()
		case *pg_query.A_Const_Ival:
			s = fmt.Sprint(v.Ival.GetIval())
		case *pg_query.A_Const_Fval:
			s = v.Fval.GetFval()
		case *pg_query.A_Const_Boolval:
			s = fmt.Sprint(v.Boolval.GetBoolval())
		}
		if s != "" {
			out = append(out, truncIdent(s))
		}
	}
	return out
}
