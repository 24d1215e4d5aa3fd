package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/pkg/pgtest"
)

// maskConfig is sluiced in front of one PostgreSQL target that sluice logs
// in to with injected credentials, so schema.table.column masking rules can
// read its catalog. The hash strategy's key is in a file.
const maskConfig = `
listen: {{.Listen}}
listen6: "{{.Listen6}}"
control_socket: {{.Dir}}/control.sock
cgroup_root: {{.Root}}
state_dir: {{.Dir}}/state
policies: {{.Dir}}/policies
log: { format: json, level: debug }
metrics: { listen: {{.Metrics}} }
bpf: { pin_dir: {{.PinDir}} }
masking: { hash_key_file: {{.Dir}}/mask.key }
recording: { sample_rows: 5 }
identities:
  - name: legacy-etl
    egress: deny
  - name: exporter
    egress: deny
targets:
  - name: crm-db
    protocol: postgres
    address: {{.PG}}
    postgres:
      auth: inject
      credentials: { username: etl, password_file: {{.Dir}}/etl.password }
      database: crm
`

// maskPolicies let both identities read public, mask legacy-etl's results
// with column rules and every content detector, and exporter's with the
// detectors only (which COPY TO can honour).
const maskPolicies = `
policies:
  - name: crm-read
    identities: [legacy-etl, exporter]
    targets: [crm-db]
    default: deny
    rules:
      - name: read-public
        action: allow
        postgres:
          kinds: [select, copy_to, show, set, transaction, empty, utility]
          reads: ["public.*", "pg_catalog.*", "information_schema.*"]
  - name: pii
    identities: [legacy-etl]
    targets: [crm-db]
    default: abstain
    masking:
      region: US
      detectors: [defaults]
      strategy: redact
      strategies: {card: partial, email: hash}
      columns:
        - {match: "public.*.email", strategy: hash}
        - {match: public.customers.account_no, strategy: partial}
        - {match: public.customers.balance, strategy: hash}
        - {match: public.customers.created_at, strategy: hash}
        - {match: public.customers.ext_id, strategy: redact}
        - {match: "*ssn*", hint: ssn}
  - name: pii-export
    identities: [exporter]
    targets: [crm-db]
    default: abstain
    masking:
      region: US
      detectors: [defaults]
      strategies: {card: partial}
`

// maskSeed is the customers table: cards of several networks written in
// several ways, Luhn-invalid look-alikes and order ids, e-mail addresses in
// text, JSONB and arrays, nine-digit customer numbers that are not SSNs,
// SSNs, IBANs, phone numbers, secrets in free text, and typed columns
// under column rules.
const maskSeed = `
CREATE TABLE customers (
  id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, card text NOT NULL, customer_no text NOT NULL,
  ssn text, iban text, phone text, notes text NOT NULL, profile jsonb NOT NULL, aliases text[] NOT NULL,
  account_no bigint, balance numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, ext_id uuid NOT NULL,
  score int NOT NULL, signup date NOT NULL);
INSERT INTO customers VALUES
 (1, 'Ada Lovelace', 'ada@example.com', '4111 1111 1111 1111', '512345678', '219456789',
  'DE89 3704 0044 0532 0130 00', '+1 415-555-2671', 'AWS key AKIAIOSFODNN7EXAMPLE was rotated',
  '{"contact": {"email": "ada@example.com", "phone": "+1 415-555-2671"}, "vip": true}',
  '{ada.lovelace@example.net,"(415) 555-2671"}', 90000001, 1234.56, '2024-03-01 10:00:00+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 42, '2020-01-15'),
 (2, 'Alan Turing', 'alan@example.org', '5500-0000-0000-0004', '612345678', '234-56-7890',
  'GB82WEST12345698765432', '(415) 555-2671', 'card 4111 1111 1111 1112 is not Luhn-valid; order 987654321012',
  '{"contact": {"email": "alan@example.org"}}', '{}', 90000002, 99.50, '2023-11-30 08:15:00+00',
  'b1ffcd00-0d1c-4ef8-bb6d-6bb9bd380a22', 7, '2021-06-01'),
 (3, 'Grace Hopper', 'grace@example.net', '378282246310005', '712345678', '345678901', NULL, '+44 20 7946 0958',
  'token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  '{"vip": false}', '{grace@example.net}', NULL, 0.00, '2022-01-01 00:00:00+00',
  'c2aade11-1e2d-4ef8-bb6d-6bb9bd380a33', 13, '2022-02-02'),
 (4, 'Ada Again', 'ada@example.com', '6011111111111117', '812345678', NULL, NULL, NULL,
  E'deploy key -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n-----END RSA PRIVATE KEY----- and JCB 3530111333300000',
  '{"contact": {"email": "ada@example.com"}}', '{}', 90000004, 5.00, '2024-03-02 11:00:00+00',
  'd3bbef22-2f3e-4ef8-bb6d-6bb9bd380a44', 99, '2024-03-02');
CREATE TABLE tickets (id int PRIMARY KEY, email text NOT NULL, subject text NOT NULL);
INSERT INTO tickets VALUES (10, 'ada@example.com', 'refund'), (11, 'alan@example.org', 'invoice');
GRANT SELECT ON customers, tickets TO etl;
`

// maskRaw are seeded values that masking covers: none may reach a client
// through a masked result, the event log or a recording.
var maskRaw = []string{
	"ada@example.com", "alan@example.org", "grace@example.net", "ada.lovelace@example.net",
	"4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117", "3530111333300000",
	"219456789", "234-56-7890", "345678901",
	"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
	"415-555-2671", "(415) 555-2671", "7946 0958",
	"AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn",
	"90000001", "1234.56", "2024-03-01 10:00", "a0eebc99-9c0b-4ef8",
}

// maskKey is the hash key sluiced reads; it must not show anywhere either.
const maskKey = "e2e-mask-hash-key-0123456789abcdef"

// maskWorld is sluiced masking the results of one PostgreSQL server.
type maskWorld struct {
	*pgWorld
}

func newMaskWorld(t *testing.T) *maskWorld {
	e := newEnv(t)
	w := &maskWorld{&pgWorld{env: e}}
	w.pg = pgtest.StartT(t, pgtest.Options{Host: "127.0.0.5"})
	if err := w.pg.CreateUser("etl", etlPassword, pgtest.SCRAM); err != nil {
		t.Fatal(err)
	}
	if err := w.pg.CreateDatabase("crm", "etl"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pg.Exec("crm", maskSeed); err != nil {
		t.Fatal(err)
	}
	e.vars["PG"] = w.pg.Addr().String()
	write(t, filepath.Join(e.dir, "etl.password"), etlPassword+"\n")
	write(t, filepath.Join(e.dir, "mask.key"), maskKey+"\n")
	write(t, filepath.Join(e.dir, "policies", "crm.yaml"), maskPolicies)
	e.start(e.writeConfig(maskConfig))
	return w
}

// dsn is a connection string to the target's own address: the kernel
// redirects it. The user and password are the job's hard-coded ones, which
// injection makes irrelevant.
func (w *maskWorld) dsn() string {
	return fmt.Sprintf("host=%s port=%d user=job password=hard-coded dbname=crm sslmode=disable", w.pg.Host, w.pg.Port)
}

// Separators of psqlRows' output: ASCII unit and record separators, which
// no seeded value holds.
const (
	fieldSep  = "\x1f"
	recordSep = "\x1e"
)

// psqlRows runs one query with psql (text format) as a job of ident and
// returns its rows; NULL reads "<null>".
func (w *maskWorld) psqlRows(t *testing.T, ident, sql string) [][]string {
	t.Helper()
	r := w.psqlJob(t, ident, "", "-A", "-t", "-F", fieldSep, "-R", recordSep, "-P", "null=<null>", "-c", sql)
	if r.code != 0 {
		t.Fatalf("psql %q: %+v", sql, r)
	}
	var rows [][]string
	for _, rec := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), recordSep) {
		if rec != "" {
			rows = append(rows, strings.Split(rec, fieldSep))
		}
	}
	return rows
}

// psqlJob runs psql against the target as a job of ident.
func (w *maskWorld) psqlJob(t *testing.T, ident, stdin string, args ...string) jobResult {
	t.Helper()
	env := []string{"PGPASSWORD=hard-coded", "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable"}
	argv := append([]string{"/usr/bin/psql", "-X", "-h", w.pg.Host, "-p", fmt.Sprint(w.pg.Port), "-U", "job", "-d", "crm"}, args...)
	return w.job(t, ident, env, stdin, argv...)
}

// clientJSON runs a client as a job of legacy-etl and decodes the JSON it
// prints into out.
func (w *maskWorld) clientJSON(t *testing.T, out any, argv ...string) {
	t.Helper()
	r := w.job(t, "legacy-etl", nil, "", argv...)
	if r.code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", argv[0], r.code, r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("%s printed %q: %v", argv[0], r.stdout, err)
	}
	for _, raw := range maskRaw {
		if strings.Contains(r.stdout, raw) {
			t.Errorf("%s received %q", argv[0], raw)
		}
	}
}

var (
	pgxmaskOnce sync.Once
	pgxmaskErr  error
)

// pgxmask returns the path of the pgx client, built on first use.
func pgxmask(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "pgxmask")
	pgxmaskOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "github.com/sluicehq/sluice/pkg/e2e/testdata/pgxmask")
		if out, err := cmd.CombinedOutput(); err != nil {
			pgxmaskErr = fmt.Errorf("go build pgxmask: %v\n%s", err, out)
		}
	})
	if pgxmaskErr != nil {
		t.Fatal(pgxmaskErr)
	}
	return bin
}

// noRawIn checks that no seeded raw value, and not the hash key, is in any
// file under dir, which holds recordings.
func noRawIn(t *testing.T, dir string) {
	t.Helper()
	files, recordings := 0, 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if strings.HasSuffix(path, ".jsonl") {
			recordings++
		}
		for _, raw := range append(maskRaw, maskKey) {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("%s holds %q", path, raw)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 || recordings == 0 {
		t.Errorf("%d files, %d recordings under %s", files, recordings, dir)
	}
}
