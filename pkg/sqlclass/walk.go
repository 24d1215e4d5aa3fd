package sqlclass

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// mode is how a relation named at some place of the tree is used.
type mode uint8

const (
	modeRead   mode = iota // read
	modeWrite              // an existing relation that is changed
	modeCreate             // a relation being created
)

// walker walks the parse tree of one statement and collects what it does.
type walker struct {
	c    *Classifier
	sess *Session // name resolution state

	kind      Kind
	reads     set[relKey, Relation]
	writes    set[relKey, Relation]
	funcs     set[Function, Function]
	dangerous set[Function, Function]

	ctes         []string // CTE names in scope
	explainOnly  bool     // inside EXPLAIN without ANALYZE: statements do not run
	createSchema string   // inside CREATE SCHEMA: the schema its elements go to

	// set_config calls that may change the session's search_path: only
	// the direct targets of a bare SELECT.
	setConfigSelect *pg_query.SelectStmt
	setPath         *[]string
	setLocal        *[]string
	setTimeout      *Setting

	createsTemp []string
	dropsTemp   []string
	executes    string
	unfiltered  bool   // an UPDATE or DELETE that runs has no row filter
	unsafe      string // see Statement.Unsafe
	setComputed bool   // see Statement.SetsComputed

	depth   int
	tooDeep bool
}

// addStmtKind counts the effect of a statement node; inside EXPLAIN
// without ANALYZE statements do not run and count for nothing.
func (w *walker) addStmtKind(k Kind) {
	if !w.explainOnly {
		w.kind = worse(w.kind, k)
	}
}

// addFnKind counts the effect of a function call. It counts inside EXPLAIN
// too: planning evaluates immutable functions over constants.
func (w *walker) addFnKind(k Kind) {
	w.kind = worse(w.kind, k)
}

// visitNode visits a Node (the oneof wrapper of every parse node).
func (w *walker) visitNode(n *pg_query.Node, md mode) {
	if n != nil {
		w.visit(n.ProtoReflect(), md)
	}
}

// visit walks the message m and everything below it; md is how a relation
// met there is used unless the node says otherwise.
func (w *walker) visit(m protoreflect.Message, md mode) {
	if !m.IsValid() {
		return
	}
	if w.depth >= maxDepth {
		w.tooDeep = true
		return
	}
	w.depth++
	w.visitMsg(m, md)
	w.depth--
}

func (w *walker) visitMsg(m protoreflect.Message, md mode) {
	switch n := m.Interface().(type) {
	case *pg_query.Node:
		if fd := m.WhichOneof(nodeOneof); fd != nil {
			w.visit(m.Get(fd).Message(), md)
		}
	case *pg_query.RangeVar:
		w.rangeVar(n, md)
	case *pg_query.FuncCall:
		w.funcCall(n)
		w.children(m, modeRead, 0)
	case *pg_query.A_Indirection:
		w.fieldSelection(n)
		w.children(m, md, 0)
	case *pg_query.LockingClause:
		// FOR UPDATE OF names FROM items (aliases), not relations.
	case *pg_query.SelectStmt:
		w.selectStmt(n, m)
	case *pg_query.InsertStmt:
		w.addStmtKind(KindInsert)
		if oc := n.GetOnConflictClause(); oc != nil && oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			w.addStmtKind(KindUpdate) // an upsert changes existing rows
		}
		w.dml(m, n.WithClause, n.Relation, skipInsert)
	case *pg_query.UpdateStmt:
		w.addStmtKind(KindUpdate)
		w.rowFilter(n.WhereClause)
		w.dml(m, n.WithClause, n.Relation, skipUpdate)
	case *pg_query.DeleteStmt:
		w.addStmtKind(KindDelete)
		w.rowFilter(n.WhereClause)
		w.dml(m, n.WithClause, n.Relation, skipDelete)
	case *pg_query.MergeStmt:
		w.addStmtKind(KindMerge)
		for _, c := range n.MergeWhenClauses {
			if c.GetMergeWhenClause().GetCommandType() == pg_query.CmdType_CMD_DELETE {
				w.addStmtKind(KindDelete) // MERGE ... THEN DELETE deletes
			}
		}
		w.dml(m, n.WithClause, n.Relation, skipMerge)
	case *pg_query.WithClause:
		// Only met here in a place the grammar does not put one; its
		// names are not taken as CTEs, so they show as relations.
		w.withClause(n)
	case *pg_query.IntoClause:
		w.intoClause(n, m)
	case *pg_query.CopyStmt:
		w.addStmtKind(copyKind(n))
		if n.Relation != nil {
			if n.IsFrom {
				w.rangeVar(n.Relation, modeWrite)
			} else {
				w.rangeVar(n.Relation, modeRead)
			}
		}
		w.children(m, modeRead, skipCopy)
	case *pg_query.ExplainStmt:
		w.addStmtKind(KindExplain)
		saved := w.explainOnly
		if !explainAnalyze(n.Options) {
			w.explainOnly = true
		}
		w.visitNode(n.Query, md)
		w.explainOnly = saved
		w.children(m, modeRead, skipExplain)
	case *pg_query.ExecuteStmt:
		w.addStmtKind(KindExecute)
		if w.executes == "" {
			w.executes = n.Name
		}
		w.children(m, modeRead, 0)
	case *pg_query.DeclareCursorStmt:
		w.addStmtKind(KindSelect)
		w.children(m, modeRead, 0)
	case *pg_query.CreateStmt:
		w.addStmtKind(KindDDL)
		w.createdRel(n.Relation, n.Oncommit)
		for _, r := range n.InhRelations {
			w.visitNode(r, modeWrite) // INHERITS / PARTITION OF: the parent changes
		}
		w.children(m, modeWrite, skipCreate)
	case *pg_query.ViewStmt:
		w.addStmtKind(KindDDL)
		w.createdRel(n.View, pg_query.OnCommitAction_ONCOMMIT_NOOP)
		w.visitNode(n.Query, modeRead)
		w.children(m, modeWrite, skipView)
	case *pg_query.CreateSeqStmt:
		w.addStmtKind(KindDDL)
		w.createdRel(n.Sequence, pg_query.OnCommitAction_ONCOMMIT_NOOP)
		w.children(m, modeWrite, skipSeq)
	case *pg_query.CompositeTypeStmt:
		w.addStmtKind(KindDDL)
		w.createdRel(n.Typevar, pg_query.OnCommitAction_ONCOMMIT_NOOP)
		w.children(m, modeWrite, skipCompType)
	case *pg_query.CreateTableAsStmt:
		w.addStmtKind(KindDDL)
		w.visitNode(n.Query, modeRead)
		if n.Into != nil {
			w.intoClause(n.Into, n.Into.ProtoReflect())
		}
		w.children(m, modeWrite, skipCTAS)
	case *pg_query.Constraint:
		if n.Pktable != nil {
			w.rangeVar(n.Pktable, modeRead) // REFERENCES: read
		}
		w.children(m, md, skipConstr)
	case *pg_query.TableLikeClause:
		if n.Relation != nil {
			w.rangeVar(n.Relation, modeRead) // LIKE source: read
		}
		w.children(m, md, skipLike)
	case *pg_query.CreateSchemaStmt:
		w.addStmtKind(KindDDL)
		saved := w.createSchema
		w.createSchema = n.Schemaname
		if w.createSchema == "" {
			w.createSchema = roleName(n.Authrole, w.sess.user)
		}
		for _, e := range n.SchemaElts {
			w.visitNode(e, modeWrite)
		}
		w.createSchema = saved
		w.children(m, md, skipSchema)
	case *pg_query.ImportForeignSchemaStmt:
		w.addStmtKind(KindDDL)
		for _, t := range n.TableList {
			if rv := t.GetRangeVar(); rv != nil && rv.Relname != "" && n.LocalSchema != "" {
				w.writes.add(relKey{n.LocalSchema, rv.Relname}, Relation{Schema: n.LocalSchema, Name: rv.Relname, Qualified: true})
			}
		}
		w.children(m, md, skipImport)
	case *pg_query.AlterTableCmd:
		if n.Subtype == pg_query.AlterTableType_AT_ChangeOwner {
			w.addStmtKind(KindGrant) // ALTER TABLE ... OWNER TO
		}
		w.children(m, md, 0)
	case *pg_query.DropStmt:
		w.addStmtKind(KindDDL)
		w.dropStmt(n)
		w.children(m, md, 0)
	case *pg_query.CommentStmt:
		w.addStmtKind(KindDDL)
		w.objectRelation(n.Objtype, n.Object)
	case *pg_query.SecLabelStmt:
		w.addStmtKind(KindDDL)
		w.objectRelation(n.Objtype, n.Object)
	case *pg_query.RenameStmt:
		w.addStmtKind(KindDDL)
		w.renameStmt(n)
	case *pg_query.AlterObjectSchemaStmt:
		w.addStmtKind(KindDDL)
		w.setSchemaStmt(n)
	case *pg_query.VariableSetStmt:
		// A statement of its own, it has its kind already (describe):
		// set, or set_role for the role. Inside DDL (ALTER ROLE,
		// DATABASE or FUNCTION ... SET, CREATE FUNCTION ... SET) it is a
		// default for later sessions or calls, which the DDL's own kind
		// (grant, ddl) covers.
		w.addStmtKind(KindSet)
		w.children(m, md, 0)
	default:
		if info := msgInfos[m.Descriptor()]; info != nil && info.isStmt {
			k, _ := describe(n)
			if k == "" {
				k = KindDDL // a statement this package does not know
			}
			w.addStmtKind(k)
		}
		w.children(m, md, 0)
	}
}

// children visits the message fields of m, less those in skip (a bit mask
// of field numbers).
func (w *walker) children(m protoreflect.Message, md mode, skip uint64) {
	info := msgInfos[m.Descriptor()]
	if info == nil {
		return
	}
	for _, fd := range info.fields {
		if num := fd.Number(); num < 64 && skip&(1<<uint(num)) != 0 {
			continue
		}
		if fd.IsList() {
			l := m.Get(fd).List()
			for i := 0; i < l.Len(); i++ {
				w.visit(l.Get(i).Message(), md)
			}
		} else if m.Has(fd) {
			w.visit(m.Get(fd).Message(), md)
		}
	}
}

func (w *walker) selectStmt(n *pg_query.SelectStmt, m protoreflect.Message) {
	if n == w.setConfigSelect {
		w.addStmtKind(KindSet)
	} else {
		w.addStmtKind(KindSelect)
	}
	mark := len(w.ctes)
	if n.WithClause != nil {
		w.withClause(n.WithClause)
	}
	if n.IntoClause != nil {
		w.addStmtKind(KindDDL) // SELECT INTO creates a table
		w.intoClause(n.IntoClause, n.IntoClause.ProtoReflect())
	}
	w.children(m, modeRead, skipSelect)
	w.ctes = w.ctes[:mark]
}

// dml walks INSERT, UPDATE, DELETE and MERGE: the target is written,
// everything else (sources, conditions, RETURNING) read.
func (w *walker) dml(m protoreflect.Message, with *pg_query.WithClause, target *pg_query.RangeVar, skip uint64) {
	mark := len(w.ctes)
	if with != nil {
		w.withClause(with)
	}
	if target != nil {
		w.rangeVar(target, modeWrite)
	}
	w.children(m, modeRead, skip)
	w.ctes = w.ctes[:mark]
}

// withClause walks the CTEs of a WITH and leaves their names in scope (the
// caller drops them when the statement ends). A CTE sees the CTEs before
// it; with RECURSIVE every CTE of the list, itself included.
func (w *walker) withClause(wc *pg_query.WithClause) {
	if wc.Recursive {
		for _, n := range wc.Ctes {
			if cte := n.GetCommonTableExpr(); cte != nil && cte.Ctename != "" {
				w.ctes = append(w.ctes, cte.Ctename)
			}
		}
	}
	for _, n := range wc.Ctes {
		cte := n.GetCommonTableExpr()
		if cte == nil {
			w.visitNode(n, modeRead)
			continue
		}
		w.visitNode(cte.Ctequery, modeRead)
		w.children(cte.ProtoReflect(), modeRead, skipCTE)
		if !wc.Recursive && cte.Ctename != "" {
			w.ctes = append(w.ctes, cte.Ctename)
		}
	}
}

func (w *walker) isCTE(name string) bool {
	for i := len(w.ctes) - 1; i >= 0; i-- {
		if w.ctes[i] == name {
			return true
		}
	}
	return false
}

// intoClause walks the target of SELECT INTO / CREATE TABLE AS.
func (w *walker) intoClause(n *pg_query.IntoClause, m protoreflect.Message) {
	w.createdRel(n.Rel, n.OnCommit)
	w.children(m, modeRead, skipInto)
}

func roleName(r *pg_query.RoleSpec, user string) string {
	if r == nil {
		return ""
	}
	if r.Roletype == pg_query.RoleSpecType_ROLESPEC_CSTRING {
		return r.Rolename
	}
	return user
}
