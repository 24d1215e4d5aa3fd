package sqlclass

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// ddlTag returns the command tag of a DDL statement node.
func ddlTag(m proto.Message) string {
	switch n := m.(type) {
	case *pg_query.CreateTableAsStmt:
		switch {
		case n.IsSelectInto:
			return "SELECT INTO"
		case n.Objtype == pg_query.ObjectType_OBJECT_MATVIEW:
			return "CREATE MATERIALIZED VIEW"
		}
		return "CREATE TABLE AS"
	case *pg_query.CreateStmt:
		return "CREATE TABLE"
	case *pg_query.CreateForeignTableStmt:
		return "CREATE FOREIGN TABLE"
	case *pg_query.ViewStmt:
		return "CREATE VIEW"
	case *pg_query.IndexStmt:
		return "CREATE INDEX"
	case *pg_query.CreateSeqStmt:
		return "CREATE SEQUENCE"
	case *pg_query.AlterSeqStmt:
		return "ALTER SEQUENCE"
	case *pg_query.AlterTableStmt:
		return "ALTER " + objectName(n.Objtype)
	case *pg_query.AlterTableMoveAllStmt:
		return "ALTER " + objectName(n.Objtype)
	case *pg_query.DropStmt:
		return "DROP " + objectName(n.RemoveType)
	case *pg_query.RenameStmt:
		t := n.RenameType
		switch t {
		case pg_query.ObjectType_OBJECT_COLUMN, pg_query.ObjectType_OBJECT_TABCONSTRAINT:
			t = n.RelationType
		case pg_query.ObjectType_OBJECT_ATTRIBUTE:
			t = pg_query.ObjectType_OBJECT_TYPE
		case pg_query.ObjectType_OBJECT_DOMCONSTRAINT:
			t = pg_query.ObjectType_OBJECT_DOMAIN
		}
		return "ALTER " + objectName(t)
	case *pg_query.AlterObjectSchemaStmt:
		return "ALTER " + objectName(n.ObjectType)
	case *pg_query.AlterObjectDependsStmt:
		return "ALTER " + objectName(n.ObjectType)
	case *pg_query.CommentStmt:
		return "COMMENT"
	case *pg_query.SecLabelStmt:
		return "SECURITY LABEL"
	case *pg_query.CreateSchemaStmt:
		return "CREATE SCHEMA"
	case *pg_query.CreateExtensionStmt:
		return "CREATE EXTENSION"
	case *pg_query.AlterExtensionStmt, *pg_query.AlterExtensionContentsStmt:
		return "ALTER EXTENSION"
	case *pg_query.CreateFunctionStmt:
		if n.IsProcedure {
			return "CREATE PROCEDURE"
		}
		return "CREATE FUNCTION"
	case *pg_query.AlterFunctionStmt:
		return "ALTER " + objectName(n.Objtype)
	case *pg_query.CreateTrigStmt:
		return "CREATE TRIGGER"
	case *pg_query.CreateEventTrigStmt:
		return "CREATE EVENT TRIGGER"
	case *pg_query.AlterEventTrigStmt:
		return "ALTER EVENT TRIGGER"
	case *pg_query.CreatePLangStmt:
		return "CREATE LANGUAGE"
	case *pg_query.DefineStmt:
		return "CREATE " + objectName(n.Kind)
	case *pg_query.CompositeTypeStmt, *pg_query.CreateEnumStmt, *pg_query.CreateRangeStmt:
		return "CREATE TYPE"
	case *pg_query.AlterEnumStmt, *pg_query.AlterTypeStmt:
		return "ALTER TYPE"
	case *pg_query.CreateDomainStmt:
		return "CREATE DOMAIN"
	case *pg_query.AlterDomainStmt:
		return "ALTER DOMAIN"
	case *pg_query.CreatedbStmt:
		return "CREATE DATABASE"
	case *pg_query.AlterDatabaseStmt, *pg_query.AlterDatabaseSetStmt, *pg_query.AlterDatabaseRefreshCollStmt:
		return "ALTER DATABASE"
	case *pg_query.DropdbStmt:
		return "DROP DATABASE"
	case *pg_query.CreateTableSpaceStmt:
		return "CREATE TABLESPACE"
	case *pg_query.DropTableSpaceStmt:
		return "DROP TABLESPACE"
	case *pg_query.AlterTableSpaceOptionsStmt:
		return "ALTER TABLESPACE"
	case *pg_query.CreateFdwStmt:
		return "CREATE FOREIGN DATA WRAPPER"
	case *pg_query.AlterFdwStmt:
		return "ALTER FOREIGN DATA WRAPPER"
	case *pg_query.CreateForeignServerStmt:
		return "CREATE SERVER"
	case *pg_query.AlterForeignServerStmt:
		return "ALTER SERVER"
	case *pg_query.CreateUserMappingStmt:
		return "CREATE USER MAPPING"
	case *pg_query.AlterUserMappingStmt:
		return "ALTER USER MAPPING"
	case *pg_query.DropUserMappingStmt:
		return "DROP USER MAPPING"
	case *pg_query.ImportForeignSchemaStmt:
		return "IMPORT FOREIGN SCHEMA"
	case *pg_query.CreatePolicyStmt:
		return "CREATE POLICY"
	case *pg_query.AlterPolicyStmt:
		return "ALTER POLICY"
	case *pg_query.CreateAmStmt:
		return "CREATE ACCESS METHOD"
	case *pg_query.RuleStmt:
		return "CREATE RULE"
	case *pg_query.CreateConversionStmt:
		return "CREATE CONVERSION"
	case *pg_query.CreateCastStmt:
		return "CREATE CAST"
	case *pg_query.CreateTransformStmt:
		return "CREATE TRANSFORM"
	case *pg_query.CreateOpClassStmt:
		return "CREATE OPERATOR CLASS"
	case *pg_query.CreateOpFamilyStmt:
		return "CREATE OPERATOR FAMILY"
	case *pg_query.AlterOpFamilyStmt:
		return "ALTER OPERATOR FAMILY"
	case *pg_query.AlterOperatorStmt:
		return "ALTER OPERATOR"
	case *pg_query.AlterTSDictionaryStmt:
		return "ALTER TEXT SEARCH DICTIONARY"
	case *pg_query.AlterTSConfigurationStmt:
		return "ALTER TEXT SEARCH CONFIGURATION"
	case *pg_query.CreatePublicationStmt:
		return "CREATE PUBLICATION"
	case *pg_query.AlterPublicationStmt:
		return "ALTER PUBLICATION"
	case *pg_query.CreateSubscriptionStmt:
		return "CREATE SUBSCRIPTION"
	case *pg_query.AlterSubscriptionStmt:
		return "ALTER SUBSCRIPTION"
	case *pg_query.DropSubscriptionStmt:
		return "DROP SUBSCRIPTION"
	case *pg_query.AlterCollationStmt:
		return "ALTER COLLATION"
	case *pg_query.CreateStatsStmt:
		return "CREATE STATISTICS"
	case *pg_query.AlterStatsStmt:
		return "ALTER STATISTICS"
	}
	return ""
}
