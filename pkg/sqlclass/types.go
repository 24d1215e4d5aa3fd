package sqlclass

// Kind is what a statement does, by its worst effect.
type Kind string

// Statement kinds. Their order of severity is given by [Kind.Severity];
// a statement that does several things has the kind of the worst of them.
const (
	KindEmpty       Kind = "empty"        // nothing but comments / whitespace
	KindShow        Kind = "show"         // SHOW
	KindSet         Kind = "set"          // SET, RESET, set_config() alone (but the role)
	KindTransaction Kind = "transaction"  // BEGIN, COMMIT, ROLLBACK, SAVEPOINT...
	KindUtility     Kind = "utility"      // LISTEN, NOTIFY, DISCARD, DEALLOCATE, CHECKPOINT, LOCK...
	KindExplain     Kind = "explain"      // EXPLAIN without ANALYZE (nothing runs)
	KindPrepare     Kind = "prepare"      // PREPARE whose body is no worse than this
	KindExecute     Kind = "execute"      // EXECUTE of an unknown prepared statement
	KindSelect      Kind = "select"       // reads (SELECT, VALUES, TABLE, FETCH, DECLARE CURSOR)
	KindCopyTo      Kind = "copy_to"      // COPY ... TO STDOUT
	KindCall        Kind = "call"         // CALL, or a function that is not a known built-in
	KindInsert      Kind = "insert"       // INSERT
	KindCopyFrom    Kind = "copy_from"    // COPY ... FROM STDIN
	KindUpdate      Kind = "update"       // UPDATE, SELECT ... FOR UPDATE is still select
	KindMerge       Kind = "merge"        // MERGE
	KindDelete      Kind = "delete"       // DELETE
	KindTruncate    Kind = "truncate"     // TRUNCATE
	KindDDL         Kind = "ddl"          // CREATE/ALTER/DROP..., SELECT INTO, CREATE TABLE AS
	KindGrant       Kind = "grant"        // GRANT, REVOKE, ALTER DEFAULT PRIVILEGES, role DDL
	KindSetRole     Kind = "set_role"     // SET ROLE, SET SESSION AUTHORIZATION, their RESET, set_config('role')
	KindDo          Kind = "do"           // DO blocks (arbitrary code)
	KindDangerous   Kind = "dangerous"    // calls a function on the dangerous list; LOAD, ALTER SYSTEM
	KindCopyFile    Kind = "copy_file"    // COPY to/from a server-side file
	KindCopyProgram Kind = "copy_program" // COPY ... PROGRAM
	KindUnparseable Kind = "unparseable"  // the parser refused the text
)

// Relation is a table, view or sequence a statement touches. Schema is
// always set: names written unqualified are resolved through the session's
// search_path (see [Session.SearchPath]); Qualified says whether the text
// named the schema itself.
type Relation struct {
	Schema    string
	Name      string
	Qualified bool
}

// String returns schema.name.
func (r Relation) String() string { return r.Schema + "." + r.Name }

// Function is a function or procedure a statement calls. Schema is "" when
// the text did not qualify the name. Names are folded as PostgreSQL folds
// them (unquoted identifiers lower-cased).
type Function struct {
	Schema string
	Name   string
	// Builtin: an unqualified call that resolves to a built-in function
	// of pg_catalog (pg_catalog is first on the search_path, or the name
	// is a built-in's and no other schema comes before it). An allow rule
	// reads an unqualified call as pg_catalog's only then.
	Builtin bool
}

// String returns schema.name, or name when unqualified.
func (f Function) String() string {
	if f.Schema == "" {
		return f.Name
	}
	return f.Schema + "." + f.Name
}

// Statement is the classification of one SQL statement.
type Statement struct {
	// Text is the statement's own text, cut from the query string, with
	// its secret literals (passwords, secret options and settings,
	// connection string passwords) replaced (redact.go). It is what
	// events, recordings, approval requests and messages may show.
	Text string
	// secrets are the literals replaced in Text, and secretParams the
	// parameters that are secret values, for RedactSecrets and
	// RedactParams.
	secrets      []string
	secretParams []int
	// Kind is the worst effect (see [Kind.Severity]).
	Kind Kind
	// Command is the statement's command tag as PostgreSQL would name it
	// ("SELECT", "CREATE TABLE", "EXPLAIN", ...), for events.
	Command string
	// Reads and Writes are the relations read and written (deduplicated,
	// in order of first appearance). A relation both read and written
	// appears in both.
	Reads  []Relation
	Writes []Relation
	// Functions are the functions called (deduplicated), Dangerous the
	// subset on the dangerous list.
	Functions []Function
	Dangerous []Function
	// Unfiltered is true when the statement runs an UPDATE or DELETE
	// (its own, or one in a CTE, a sub-statement or a rule action) that
	// has no WHERE clause, or a WHERE clause that refers to no column
	// (WHERE true, WHERE 1 = 1, WHERE $1): one that changes every row of
	// its table, or none (see "Unfiltered writes" in the package
	// documentation).
	Unfiltered bool
	// Error says why a statement is KindUnparseable.
	Error string
	// Effects that change the session the classifier tracks:
	SetSearchPath *[]string // SET/RESET search_path, set_config('search_path', ...): the new path
	Prepares      string    // PREPARE name: the name (its body is classified into Reads/Writes/Kind)
	Deallocates   string    // DEALLOCATE name ("*" for ALL)
	Executes      string    // EXECUTE name
	// SetLocalSearchPath is the path set by SET LOCAL search_path or
	// set_config('search_path', ..., true): in force until the
	// transaction ends.
	SetLocalSearchPath *[]string
	// CreatesTemp are the temporary relations the statement creates
	// (CREATE TEMP TABLE/VIEW/SEQUENCE, SELECT INTO TEMP, a rename of a
	// temporary relation); DropsTemp the session's temporary relations
	// it drops or renames away ("*" for all: DISCARD TEMP, DISCARD ALL).
	CreatesTemp []string
	DropsTemp   []string
	// Transaction is the transaction control the statement does (BEGIN,
	// COMMIT, ROLLBACK, SAVEPOINT...), Savepoint the savepoint it names.
	Transaction TxOp
	Savepoint   string
	// CopyOut is set for COPY ... TO STDOUT, whatever Kind the statement
	// has (COPY (DELETE ... RETURNING *) TO STDOUT is a delete): its data
	// goes to the client. CopyBinary is set when a COPY's format is not
	// text or CSV (FORMAT binary, or the older BINARY keyword).
	CopyOut    bool
	CopyBinary bool
	// StatementTimeout is the change the statement makes to the session's
	// statement_timeout (SET [LOCAL], RESET, SET ... TO DEFAULT, RESET
	// ALL, DISCARD ALL, a bare SELECT set_config('statement_timeout',
	// ...) with literal arguments), nil for none.
	StatementTimeout *Setting
	// Unsafe says why the statement is refused whatever the policies say,
	// and UnsafeRule names the reason: RuleUnsafeSetting for a statement
	// that would change how PostgreSQL reads the bytes of the session's
	// later statements in a way the classifier cannot follow
	// (standard_conforming_strings off, a client-only encoding);
	// RuleStalePrepared for an EXECUTE of a statement prepared under
	// another search_path or other temporary tables, which PostgreSQL
	// analyses again.
	Unsafe, UnsafeRule string
	// SetsComputed is set when the statement calls set_config with a
	// value that is not a literal: the server reports some settings'
	// new values to the client (ParameterStatus), so under masking such
	// a value could carry a result's data past it.
	SetsComputed bool
}

// The rules of unsafe statements (Statement.UnsafeRule).
const (
	RuleUnsafeSetting = "unsafe-setting"
	RuleStalePrepared = "stale-prepared"
)

// Setting is a new value of a run-time parameter.
type Setting struct {
	Value string // as written (SET statement_timeout = 5000 gives "5000"); "" with Reset
	Reset bool   // back to the value the session started with
	Local bool   // SET LOCAL, set_config(..., true): until the transaction ends
}
