package sqlclass

import (
	"slices"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// secretValues are the secrets written in TestRedact's statements.
var secretValues = []string{
	"SuperSecret", "Super''Secret", "SCRAM-SHA-256", "it\\'s", "Secret'1", "grp-secret", "fdw-secret", "new-secret", "key-pass",
	"srv-secret", "AKIAsecret", "x-secret", "tok-123", "'abc'", "pepper", "k-secret", "dbl-secret", "p w", "s3cret",
	"uri-secret", "q-secret", "rep-secret", "x41secret", "dq-secret", "ins-secret", "bad-secret", "um-secret",
	"never-closed", "quoted-secret",
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		// Role passwords.
		{"alter role", `ALTER ROLE etl PASSWORD 'SuperSecret'`, `ALTER ROLE etl PASSWORD '<redacted>'`},
		{"alter role with", `alter role etl with login encrypted password 'Super''Secret' valid until 'infinity'`,
			`alter role etl with login encrypted password '<redacted>' valid until 'infinity'`},
		{"create role", `CREATE ROLE etl LOGIN PASSWORD 'SCRAM-SHA-256$4096:abc=' CONNECTION LIMIT 3`,
			`CREATE ROLE etl LOGIN PASSWORD '<redacted>' CONNECTION LIMIT 3`},
		{"create user, escape string", `CREATE USER bob WITH PASSWORD E'it\'s secret'`, `CREATE USER bob WITH PASSWORD E'<redacted>'`},
		{"dollar quoted", `ALTER USER bob PASSWORD $pw$Secret'1$pw$`, `ALTER USER bob PASSWORD $pw$<redacted>$pw$`},
		{"password null", `ALTER ROLE bob PASSWORD NULL VALID UNTIL '2030-01-01'`, `ALTER ROLE bob PASSWORD NULL VALID UNTIL '2030-01-01'`},
		{"create group", `CREATE GROUP admins WITH PASSWORD 'grp-secret'`, `CREATE GROUP admins WITH PASSWORD '<redacted>'`},
		// Options of user mappings, servers, wrappers.
		{"create user mapping", `CREATE USER MAPPING FOR etl SERVER remote OPTIONS (user 'etl', password 'fdw-secret')`,
			`CREATE USER MAPPING FOR etl SERVER remote OPTIONS (user 'etl', password '<redacted>')`},
		{"alter user mapping", `ALTER USER MAPPING FOR CURRENT_USER SERVER remote OPTIONS (SET password 'new-secret', ADD sslpassword 'key-pass')`,
			`ALTER USER MAPPING FOR CURRENT_USER SERVER remote OPTIONS (SET password '<redacted>', ADD sslpassword '<redacted>')`},
		{"create server", `CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.internal', dbname 'orders', password 'srv-secret')`,
			`CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.internal', dbname 'orders', password '<redacted>')`},
		{"alter server", `ALTER SERVER s3 OPTIONS (ADD aws_secret_access_key 'AKIAsecret', SET region 'eu-west-1')`,
			`ALTER SERVER s3 OPTIONS (ADD aws_secret_access_key '<redacted>', SET region 'eu-west-1')`},
		{"quoted option name", `ALTER USER MAPPING FOR bob SERVER s OPTIONS (ADD "Password" 'x-secret')`,
			`ALTER USER MAPPING FOR bob SERVER s OPTIONS (ADD "Password" '<redacted>')`},
		{"foreign table api token", `CREATE FOREIGN TABLE t (a int) SERVER api OPTIONS (api_token 'tok-123', path '/v1')`,
			`CREATE FOREIGN TABLE t (a int) SERVER api OPTIONS (api_token '<redacted>', path '/v1')`},
		// Settings.
		{"set", `SET app.api_token = 'tok-123'`, `SET app.api_token = '<redacted>'`},
		{"set local to", `SET LOCAL myext.secret TO 'abc'`, `SET LOCAL myext.secret TO '<redacted>'`},
		{"alter system", `ALTER SYSTEM SET anon.salt = 'pepper'`, `ALTER SYSTEM SET anon.salt = '<redacted>'`},
		{"alter role set", `ALTER ROLE etl SET app.password = 'x-secret'`, `ALTER ROLE etl SET app.password = '<redacted>'`},
		{"alter database set", `ALTER DATABASE orders SET app.key TO 'k-secret'`, `ALTER DATABASE orders SET app.key TO '<redacted>'`},
		{"set of an ordinary setting", `SET search_path = sales, public`, `SET search_path = sales, public`},
		{"set_config", `SELECT set_config('app.api_token', 'tok-123', false)`, `SELECT set_config('app.api_token', '<redacted>', false)`},
		{"set_config qualified", `SELECT pg_catalog.set_config('app.secret', 'abc', true)`, `SELECT pg_catalog.set_config('app.secret', '<redacted>', true)`},
		{"set_config of an ordinary setting", `SELECT set_config('work_mem', '64MB', false)`, `SELECT set_config('work_mem', '64MB', false)`},
		// Connection strings anywhere.
		{"dblink_connect", `SELECT dblink_connect('c1', 'host=db.internal dbname=orders user=etl password=dbl-secret')`,
			`SELECT dblink_connect('c1', 'host=db.internal dbname=orders user=etl password=<redacted>')`},
		{"dblink quoted value", `SELECT * FROM dblink('host=h password=''p w'' user=u', 'SELECT 1') AS t(a int)`,
			`SELECT * FROM dblink('host=h password=<redacted> user=u', 'SELECT 1') AS t(a int)`},
		{"dblink spaces around =", `SELECT dblink_exec('user = etl password = s3cret sslmode=require', 'DELETE FROM t')`,
			`SELECT dblink_exec('user = etl password = <redacted> sslmode=require', 'DELETE FROM t')`},
		{"uri", `SELECT dblink_connect('postgresql://etl:uri-secret@db.internal:5432/orders?sslmode=require')`,
			`SELECT dblink_connect('postgresql://etl:<redacted>@db.internal:5432/orders?sslmode=require')`},
		{"uri query password", `SELECT dblink_connect('postgres://db.internal/orders?user=etl&password=q-secret')`,
			`SELECT dblink_connect('postgres://db.internal/orders?user=etl&password=<redacted>')`},
		{"subscription", `CREATE SUBSCRIPTION sub CONNECTION 'host=primary password=rep-secret dbname=orders' PUBLICATION pub`,
			`CREATE SUBSCRIPTION sub CONNECTION 'host=primary password=<redacted> dbname=orders' PUBLICATION pub`},
		{"alter subscription", `ALTER SUBSCRIPTION sub CONNECTION 'host=primary password=rep-secret'`,
			`ALTER SUBSCRIPTION sub CONNECTION 'host=primary password=<redacted>'`},
		{"escape string connection", `SELECT dblink_connect(E'host=h password=e\\x41secret')`, `SELECT dblink_connect(E'<redacted>')`},
		{"unicode string", `ALTER ROLE x PASSWORD U&'d\0061t\+000061'`, `ALTER ROLE x PASSWORD U&'<redacted>'`},
		{"continued constant", "ALTER ROLE x PASSWORD 'a' NONSENSE B'1'\n'p-secret'", "ALTER ROLE x PASSWORD '<redacted>' NONSENSE B''"}, // a bit string continued on the next line is one constant
		{"dollar quoted connection", `SELECT dblink_connect($$host=h password=dq-secret$$)`, `SELECT dblink_connect($$host=h password=<redacted>$$)`},
		{"inserted connection string", `INSERT INTO staging.conns (dsn) VALUES ('host=h user=u password=ins-secret')`,
			`INSERT INTO staging.conns (dsn) VALUES ('host=h user=u password=<redacted>')`},
		// Not secrets.
		{"pg_read_file", `SELECT pg_read_file('/etc/passwd')`, `SELECT pg_read_file('/etc/passwd')`},
		{"primary key", `CREATE TABLE t (id int PRIMARY KEY, token_count int)`, `CREATE TABLE t (id int PRIMARY KEY, token_count int)`},
		{"a column named password", `SELECT password FROM users WHERE id = 1`, `SELECT password FROM users WHERE id = 1`},
		{"key=value data", `INSERT INTO t VALUES ('sort key=asc color=red')`, `INSERT INTO t VALUES ('sort key=asc color=red')`},
		{"comment", `SELECT 1 -- password is not in a literal`, `SELECT 1 -- password is not in a literal`},
		{"plain select", `SELECT abalance FROM pgbench_accounts WHERE aid = 42`, `SELECT abalance FROM pgbench_accounts WHERE aid = 42`},
		// Texts the parser refuses.
		{"unparseable", `ALTER ROLE etl PASSWORD 'bad-secret' NONSENSE 'other'`, `ALTER ROLE etl PASSWORD '<redacted>' NONSENSE '<redacted>'`},
		{"unparseable without a keyword", `ALTER ROLE etl WITH 'quoted-secret'`, `ALTER ROLE etl WITH '<redacted>'`},
		{"unparseable option", `CREATE USER MAPPING FOR etl OPTIONS (password 'um-secret'`, `CREATE USER MAPPING FOR etl OPTIONS (password '<redacted>'`},
		{"unterminated literal", `ALTER ROLE etl PASSWORD 'never-closed`, `ALTER ROLE etl <redacted>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := redact(tt.sql)
			got, secrets := r.text, r.secrets
			if got != tt.want {
				t.Errorf("redact(%s)\n got %s\nwant %s", tt.sql, got, tt.want)
			}
			if (got != tt.sql) != (len(secrets) > 0) {
				t.Errorf("secrets %q for a text changed %t", secrets, got != tt.sql)
			}
			if again := redact(got).text; again != got {
				t.Errorf("redacting again changed it: %s", again)
			}
			for _, v := range secretValues {
				if strings.Contains(got, v) {
					t.Errorf("%q is still in %s", v, got)
				}
			}
		})
	}
}

// TestClassifiedTextIsRedacted: the classifier's statements, cached by
// text or by shape, parsed or not, carry the redacted text; errors that
// quote a secret have it replaced.
func TestClassifiedTextIsRedacted(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sess := NewSession("etl", []string{"public"})
	for _, q := range []string{
		"SELECT 1; ALTER ROLE etl PASSWORD 'multi-secret'; SELECT 2",
		"SELECT dblink_connect('host=a password=shape-secret-1')",
		"SELECT dblink_connect('host=a password=shape-secret-2')", // same shape as the one before
		"ALTER ROLE etl WITH 'quoted-secret'",                     // the parser quotes the literal
	} {
		for range 2 { // uncached, then cached
			stmts, err := c.Classify(sess, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range stmts {
				if strings.Contains(st.Text, "secret") || strings.Contains(st.Error, "secret") {
					t.Errorf("%s: statement %q (error %q) holds a secret", q, st.Text, st.Error)
				}
			}
		}
	}
	st, err := c.ClassifyOne(sess, "ALTER ROLE etl PASSWORD 'one-secret'")
	if err != nil || st.Text != "ALTER ROLE etl PASSWORD '<redacted>'" {
		t.Errorf("ClassifyOne: %q, %v", st.Text, err)
	}
	if got := st.RedactSecrets(`ERROR: password "one-secret" is too weak`); got != `ERROR: password "<redacted>" is too weak` {
		t.Errorf("RedactSecrets: %s", got)
	}
	st, _ = c.ClassifyOne(sess, "SELECT set_config('app.api_token', $1, false), dblink_connect($2), $3")
	params := []string{"tok-secret", "host=h password=p-secret", "password=data"}
	if got := st.RedactParams(params); !slices.Equal(got, []string{"<redacted>", "host=h password=<redacted>", "password=<redacted>"}) ||
		params[0] != "tok-secret" {
		t.Errorf("RedactParams(%q) = %q", params, got)
	}
	if got := st.RedactSecrets(`invalid value "tok-secret"`, params...); got != `invalid value "<redacted>"` {
		t.Errorf("RedactSecrets with parameters: %s", got)
	}
	plain := []string{"42", "<binary 4 bytes>", "NULL"}
	st, _ = c.ClassifyOne(sess, "SELECT $1, $2, $3")
	if got := st.RedactParams(plain); &got[0] != &plain[0] {
		t.Error("RedactParams copied parameters it did not change")
	}
	st, _ = c.ClassifyOne(sess, "ALTER ROLE a PASSWORD 'x'; ALTER ROLE b PASSWORD 'multi-parse-secret'")
	if st.Kind != KindUnparseable || strings.Contains(st.Text, "secret") {
		t.Errorf("two statements in a Parse: %+v", st)
	}
}

// TestRedactedTextParses: a redacted text still parses when the original
// did (the replacements are string constants).
func TestRedactedTextParses(t *testing.T) {
	for _, sql := range []string{
		`ALTER ROLE etl PASSWORD 'SuperSecret'`,
		`SELECT dblink_connect('host=h password=''p w''')`,
		`CREATE SUBSCRIPTION sub CONNECTION 'password=x' PUBLICATION pub`,
	} {
		got := redact(sql).text
		if _, err := pg_query.Parse(got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
}

func BenchmarkRedactPrefilter(b *testing.B) {
	q := "SELECT abalance FROM pgbench_accounts WHERE aid = 42"
	for b.Loop() {
		if mayHoldSecret(q) {
			b.Fatal("pgbench statement flagged")
		}
	}
}

// FuzzRedact: redaction never panics, is stable (redacting its output
// changes nothing), keeps a text that parses parseable, and never grows a
// text by more than the placeholders.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`ALTER ROLE etl PASSWORD 'SuperSecret'`,
		`CREATE USER MAPPING FOR etl SERVER remote OPTIONS (user 'etl', password 'fdw-secret')`,
		`SELECT dblink_connect('c1', 'host=db.internal password=''p w'' user=etl')`,
		`SELECT dblink_connect('postgresql://etl:uri-secret@db.internal:5432/orders?password=x&sslmode=require')`,
		`SET app.api_token = 'tok-123'`,
		`SELECT set_config('app.secret', $1, false)`,
		`CREATE SUBSCRIPTION sub CONNECTION $c$host=primary password=rep-secret$c$ PUBLICATION pub`,
		`ALTER ROLE etl PASSWORD 'never-closed`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.IndexByte(q, 0) >= 0 {
			return // the classifier refuses these before anything else
		}
		r := redact(q)
		got, secrets := r.text, r.secrets
		if again := redact(got).text; again != got {
			t.Fatalf("not stable:\n%q\n%q\n%q", q, got, again)
		}
		if got == q && len(secrets) > 0 {
			t.Fatalf("secrets %q for an unchanged text", secrets)
		}
		if _, err := pg_query.Parse(q); err == nil {
			if _, err := pg_query.Parse(got); err != nil {
				t.Fatalf("%q parses, its redaction %q does not: %v", q, got, err)
			}
		}
		if len(got) > len(q)+len(Redacted)*(len(secrets)+1) {
			t.Fatalf("redaction grew %d bytes to %d", len(q), len(got))
		}
	})
}

func TestMayHoldSecret(t *testing.T) {
	for s, want := range map[string]bool{
		"ALTER ROLE x PASSWORD 'y'": true, "alter role x PaSsWoRd 'y'": true, "SET app.TOKEN = 1": true,
		"SELECT dblink_connect('postgresql://u@h')": true, "CREATE TABLE t (a int PRIMARY KEY)": true,
		"SELECT abalance FROM pgbench_accounts WHERE aid = 42": false, "": false, "p": false, "pas": false,
		"UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 7": false,
	} {
		if got := mayHoldSecret(s); got != want {
			t.Errorf("mayHoldSecret(%q) = %t, want %t", s, got, want)
		}
	}
}
