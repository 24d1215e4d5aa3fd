// Package sqlclass classifies SQL statements for policy enforcement.
//
// A [Classifier] parses a query string with PostgreSQL's own parser
// (pg_query), splits it into statements and, for each, walks the whole
// parse tree: sub-selects, CTEs, LATERAL, subqueries in WHERE, function
// arguments, DEFAULT expressions, rule actions, function bodies... Every
// relation named anywhere is listed as read or written, every function
// call is listed, and the statement gets a [Kind].
//
// # Worst effect wins
//
// A statement that does several things has the kind of the most severe of
// them (see [Kind.Severity]): WITH d AS (DELETE ...) SELECT ... is
// KindDelete; SELECT INTO, CREATE TABLE AS and CREATE MATERIALIZED VIEW are
// KindDDL; INSERT ... ON CONFLICT DO UPDATE is KindUpdate; a MERGE with a
// DELETE action is KindDelete; a call of a function that is not a
// PostgreSQL built-in makes a statement at least KindCall, and a call of a
// function on the dangerous list ([Options.Dangerous], [DefaultDangerous])
// makes it KindDangerous wherever it appears, even in a definition that
// does not run it yet (a DEFAULT, a function body). Text the parser
// refuses is KindUnparseable, the most severe kind; a statement type this
// package does not know is KindDDL. Decisions on the less obvious
// statements:
//
//   - EXPLAIN without ANALYZE is KindExplain: the explained statement does
//     not run, but its relations are listed (informational), and its
//     function calls still count, as planning may evaluate immutable
//     functions. EXPLAIN ANALYZE (also EXPLAIN (ANALYZE), EXPLAIN
//     (ANALYZE true)) runs the statement and has its kind.
//   - PREPARE has the kind of its body (at least KindPrepare) and lists its
//     relations; EXECUTE of a statement the session knows has the kind,
//     relations and functions of that statement, else KindExecute.
//   - SELECT ... FOR UPDATE / FOR SHARE is KindSelect: it only locks rows.
//     DECLARE CURSOR has the kind of its query, FETCH is KindSelect, MOVE
//     and CLOSE KindUtility.
//   - LOCK is KindUtility, with its tables listed as written.
//   - VACUUM, ANALYZE, CLUSTER, REINDEX and REFRESH MATERIALIZED VIEW are
//     KindDDL with their tables listed as written: they rewrite tables,
//     rebuild indexes or statistics and take strong locks.
//   - LOAD (loads a shared library into the server process) and ALTER
//     SYSTEM (server settings such as archive_command run programs) are
//     KindDangerous.
//   - GRANT, REVOKE, ALTER DEFAULT PRIVILEGES, CREATE/ALTER/DROP ROLE (and
//     USER, GROUP), GRANT/REVOKE role, REASSIGN OWNED, DROP OWNED and
//     changes of owner (ALTER ... OWNER TO) are KindGrant.
//   - SET, RESET, SET CONSTRAINTS and a bare SELECT of set_config() calls
//     are KindSet, but a change of the role (SET ROLE, SET SESSION
//     AUTHORIZATION, their RESET, set_config('role' or
//     'session_authorization') anywhere) is KindSetRole; SHOW is KindShow;
//     LISTEN, UNLISTEN, NOTIFY, DISCARD, DEALLOCATE, CHECKPOINT are
//     KindUtility.
//   - Relations of DDL are written: DROP TABLE a, b writes both, CREATE
//     INDEX ON t writes t, a parent in INHERITS / PARTITION OF is written,
//     a table named by REFERENCES or LIKE is read. Renaming or moving a
//     relation to another schema also writes the new name.
//
// # Unfiltered writes
//
// [Statement.Unfiltered] tells an UPDATE or DELETE that changes every row
// of its table apart from one that selects rows: it is set when an UPDATE
// or DELETE the statement runs has no WHERE clause, or a WHERE clause that
// refers to no column at all (WHERE true, WHERE 1 = 1, WHERE NOT false,
// WHERE $1, WHERE now() > '2000-01-01'), whose value is the same for every
// row. It counts wherever such an UPDATE or DELETE appears, as the kind
// does: in a CTE, a sub-statement, a rule action, the statement a known
// prepared statement name executes, or EXPLAIN ANALYZE; not under EXPLAIN
// without ANALYZE, which runs nothing. WHERE CURRENT OF a cursor is a
// filter (one row). The test is syntactic and made for accidents, not
// evasion: a condition that mentions a column is a filter, even one that
// holds for every row (WHERE id = id, WHERE id > 0), and so is a sub-query
// that mentions one. Because it looks at column references only, never at
// literal values, statements of the same shape (see the cache) always
// agree on it.
//
// # Names and the search_path
//
// Relations are reported with their schema. A name written with a schema
// keeps it (a catalog before it is dropped). sluice cannot see which
// schemas and relations exist on the server, so an unqualified name
// resolves by these rules ([Session] holds the state):
//
//   - a name the session created as a temporary relation (CREATE TEMP
//     TABLE/VIEW/SEQUENCE, SELECT INTO TEMP, CREATE TEMP TABLE AS, or a
//     creation in pg_temp) resolves to "pg_temp", as PostgreSQL searches
//     the temporary schema first; ON COMMIT DROP tables are not tracked, so
//     names of those resolve by the rules below (the stricter side);
//   - a name starting with "pg_" resolves to "pg_catalog", searched first
//     implicitly;
//   - any other name resolves to the first schema of the search_path that
//     is not "$user": no schema is assumed to be named after the login
//     role (operators who have such schemas list them in the path
//     explicitly); when no schema is left, "public";
//   - when the path lists pg_temp or pg_catalog after another schema, a
//     name that could be in either resolves to that other schema;
//   - a relation created without a schema goes to the first schema of the
//     path that is not "$user" (pg_temp there makes it temporary).
//
// The search_path is followed through SET [SESSION] search_path, SET
// SCHEMA, RESET search_path, SET search_path TO DEFAULT, RESET ALL and
// DISCARD ALL (back to the session's initial path), and a bare SELECT
// set_config('search_path', '...', false) with literal arguments. SET LOCAL
// search_path and set_config(..., true) hold until the end of the
// transaction: for the rest of the query string, and, when the caller
// reports transaction state ([Session.ReadyForQuery]) or within an explicit
// transaction block, until the block ends. A set_config call that could
// change the search_path in a way that cannot be followed (a setting name
// or value that is not a literal, a call that is not a direct target of a
// bare SELECT) is dangerous.
//
// The statement_timeout is followed the same way ([Session.StatementTimeout]),
// for callers that bound how long they hold a statement; it plays no part
// in classification, and a set_config of it that cannot be followed is not
// dangerous.
//
// Transactions are followed too: ROLLBACK and ROLLBACK TO SAVEPOINT undo
// search_path changes and temporary relations made since, as the server
// does; with [Session.ReadyForQuery] so do failed transactions.
//
// Functions are reported as written (Schema "" when unqualified). A call is
// of a built-in when the name is in the list of pg_catalog functions
// embedded in the package (builtins.txt, made from PostgreSQL 15 by
// gen-builtins.sh) and the call is qualified with pg_catalog, or
// unqualified while the search_path looks in pg_catalog first. Functions
// added by later server versions count as non-built-in (KindCall).
//
// # Caching
//
// Classification results are cached by the exact query text and the
// session state that name resolution depends on (login role, search_path,
// temporary relations), so a repeated query costs one hash lookup. The
// cache is a sharded LRU bounded in entries ([Options.CacheSize]) and in
// memory; query strings over 64 KiB are not cached. Cached statements are
// shared between callers: the Statements returned, and the slices in
// them, are read-only. A Classifier is safe for concurrent use; a Session
// is not.
package sqlclass
