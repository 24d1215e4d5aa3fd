package sqlclass

import (
	"strings"
	"unicode"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// describe returns the kind a statement node has by itself (before what is
// inside it is counted) and its command tag. It returns "" for a node it
// does not know.
func describe(m proto.Message) (Kind, string) {
	switch n := m.(type) {
	// Queries and data changes.
	case *pg_query.SelectStmt:
		if n.IntoClause != nil {
			return KindDDL, "SELECT INTO"
		}
		if bareSetConfig(n) {
			return KindSet, "SELECT"
		}
		return KindSelect, "SELECT"
	case *pg_query.InsertStmt:
		return KindInsert, "INSERT"
	case *pg_query.UpdateStmt:
		return KindUpdate, "UPDATE"
	case *pg_query.DeleteStmt:
		return KindDelete, "DELETE"
	case *pg_query.MergeStmt:
		return KindMerge, "MERGE"
	case *pg_query.CopyStmt:
		return copyKind(n), "COPY"
	case *pg_query.TruncateStmt:
		return KindTruncate, "TRUNCATE TABLE"
	case *pg_query.CallStmt:
		return KindCall, "CALL"
	case *pg_query.DoStmt:
		return KindDo, "DO"
	case *pg_query.ExplainStmt:
		return KindExplain, "EXPLAIN"
	case *pg_query.PrepareStmt:
		return KindPrepare, "PREPARE"
	case *pg_query.ExecuteStmt:
		return KindExecute, "EXECUTE"
	case *pg_query.DeallocateStmt:
		if n.Isall {
			return KindUtility, "DEALLOCATE ALL"
		}
		return KindUtility, "DEALLOCATE"
	case *pg_query.DeclareCursorStmt:
		return KindSelect, "DECLARE CURSOR"
	case *pg_query.FetchStmt:
		if n.Ismove {
			return KindUtility, "MOVE"
		}
		return KindSelect, "FETCH"
	case *pg_query.ClosePortalStmt:
		if n.Portalname == "" {
			return KindUtility, "CLOSE CURSOR ALL"
		}
		return KindUtility, "CLOSE CURSOR"

	// Settings and transactions.
	case *pg_query.VariableSetStmt:
		kind := KindSet
		if roleSetting(n.Name) {
			kind = KindSetRole
		}
		if n.Kind == pg_query.VariableSetKind_VAR_RESET || n.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
			return kind, "RESET"
		}
		return kind, "SET"
	case *pg_query.VariableShowStmt:
		return KindShow, "SHOW"
	case *pg_query.ConstraintsSetStmt:
		return KindSet, "SET CONSTRAINTS"
	case *pg_query.TransactionStmt:
		return KindTransaction, txTag(n)

	// Utilities.
	case *pg_query.ListenStmt:
		return KindUtility, "LISTEN"
	case *pg_query.UnlistenStmt:
		return KindUtility, "UNLISTEN"
	case *pg_query.NotifyStmt:
		return KindUtility, "NOTIFY"
	case *pg_query.DiscardStmt:
		return KindUtility, discardTag(n.Target)
	case *pg_query.CheckPointStmt:
		return KindUtility, "CHECKPOINT"
	case *pg_query.LockStmt:
		return KindUtility, "LOCK TABLE"
	case *pg_query.LoadStmt:
		return KindDangerous, "LOAD" // loads a shared library into the server process
	case *pg_query.AlterSystemStmt:
		return KindDangerous, "ALTER SYSTEM" // server configuration: archive_command, libraries...

	// Privileges and roles.
	case *pg_query.GrantStmt:
		if n.IsGrant {
			return KindGrant, "GRANT"
		}
		return KindGrant, "REVOKE"
	case *pg_query.GrantRoleStmt:
		if n.IsGrant {
			return KindGrant, "GRANT ROLE"
		}
		return KindGrant, "REVOKE ROLE"
	case *pg_query.AlterDefaultPrivilegesStmt:
		return KindGrant, "ALTER DEFAULT PRIVILEGES"
	case *pg_query.CreateRoleStmt:
		return KindGrant, "CREATE ROLE"
	case *pg_query.AlterRoleStmt, *pg_query.AlterRoleSetStmt:
		return KindGrant, "ALTER ROLE"
	case *pg_query.DropRoleStmt:
		return KindGrant, "DROP ROLE"
	case *pg_query.DropOwnedStmt:
		return KindGrant, "DROP OWNED"
	case *pg_query.ReassignOwnedStmt:
		return KindGrant, "REASSIGN OWNED"
	case *pg_query.AlterOwnerStmt:
		return KindGrant, "ALTER " + objectName(n.ObjectType)

	// Maintenance: rewrites, locks or changes statistics of relations.
	case *pg_query.VacuumStmt:
		if n.IsVacuumcmd {
			return KindDDL, "VACUUM"
		}
		return KindDDL, "ANALYZE"
	case *pg_query.ClusterStmt:
		return KindDDL, "CLUSTER"
	case *pg_query.ReindexStmt:
		return KindDDL, "REINDEX"
	case *pg_query.RefreshMatViewStmt:
		return KindDDL, "REFRESH MATERIALIZED VIEW"
	}
	if tag := ddlTag(m); tag != "" {
		return KindDDL, tag
	}
	return "", ""
}

func txTag(n *pg_query.TransactionStmt) string {
	switch n.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:
		return "BEGIN"
	case pg_query.TransactionStmtKind_TRANS_STMT_START:
		return "START TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		return "COMMIT"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return "ROLLBACK"
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return "SAVEPOINT"
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		return "RELEASE"
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		return "PREPARE TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		return "COMMIT PREPARED"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return "ROLLBACK PREPARED"
	}
	return "TRANSACTION"
}

// txOp returns what a transaction statement does to the session's
// transaction state.
func txOp(n *pg_query.TransactionStmt) TxOp {
	switch n.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		return TxBegin
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		if n.Chain {
			return TxCommitChain
		}
		return TxCommit
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		if n.Chain {
			return TxRollbackChain
		}
		return TxRollback
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return TxSavepoint
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		return TxRelease
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return TxRollbackTo
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		return TxPrepare
	}
	return TxOther
}

func discardTag(m pg_query.DiscardMode) string {
	switch m {
	case pg_query.DiscardMode_DISCARD_ALL:
		return "DISCARD ALL"
	case pg_query.DiscardMode_DISCARD_PLANS:
		return "DISCARD PLANS"
	case pg_query.DiscardMode_DISCARD_SEQUENCES:
		return "DISCARD SEQUENCES"
	case pg_query.DiscardMode_DISCARD_TEMP:
		return "DISCARD TEMP"
	}
	return "DISCARD"
}

// objectNames are the SQL names of object types whose enum name does not
// give them.
var objectNames = map[pg_query.ObjectType]string{
	pg_query.ObjectType_OBJECT_MATVIEW:               "MATERIALIZED VIEW",
	pg_query.ObjectType_OBJECT_FDW:                   "FOREIGN DATA WRAPPER",
	pg_query.ObjectType_OBJECT_FOREIGN_SERVER:        "SERVER",
	pg_query.ObjectType_OBJECT_TSCONFIGURATION:       "TEXT SEARCH CONFIGURATION",
	pg_query.ObjectType_OBJECT_TSDICTIONARY:          "TEXT SEARCH DICTIONARY",
	pg_query.ObjectType_OBJECT_TSPARSER:              "TEXT SEARCH PARSER",
	pg_query.ObjectType_OBJECT_TSTEMPLATE:            "TEXT SEARCH TEMPLATE",
	pg_query.ObjectType_OBJECT_OPCLASS:               "OPERATOR CLASS",
	pg_query.ObjectType_OBJECT_OPFAMILY:              "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_AMOP:                  "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_AMPROC:                "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_LARGEOBJECT:           "LARGE OBJECT",
	pg_query.ObjectType_OBJECT_STATISTIC_EXT:         "STATISTICS",
	pg_query.ObjectType_OBJECT_TABCONSTRAINT:         "TABLE",
	pg_query.ObjectType_OBJECT_DOMCONSTRAINT:         "DOMAIN",
	pg_query.ObjectType_OBJECT_ATTRIBUTE:             "TYPE",
	pg_query.ObjectType_OBJECT_COLUMN:                "TABLE",
	pg_query.ObjectType_OBJECT_DEFACL:                "DEFAULT PRIVILEGES",
	pg_query.ObjectType_OBJECT_PUBLICATION_REL:       "PUBLICATION",
	pg_query.ObjectType_OBJECT_PUBLICATION_NAMESPACE: "PUBLICATION",
	pg_query.ObjectType_OBJECT_PARAMETER_ACL:         "PARAMETER",
}

// objectName returns the SQL name of an object type ("TABLE",
// "MATERIALIZED VIEW", ...).
func objectName(t pg_query.ObjectType) string {
	if s, ok := objectNames[t]; ok {
		return s
	}
	s := strings.TrimPrefix(t.String(), "OBJECT_")
	if s == "" || strings.HasPrefix(s, "OBJECT_TYPE_UNDEFINED") || s == "TYPE_UNDEFINED" {
		return "OBJECT"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// tagFromNode makes a command tag from a statement node's type name, for a
// statement this package does not know: "FooBarStmt" gives "FOO BAR".
func tagFromNode(m proto.Message) string {
	name := string(m.ProtoReflect().Descriptor().Name())
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	if b.Len() == 0 {
		return "UNKNOWN"
	}
	return b.String()
}
