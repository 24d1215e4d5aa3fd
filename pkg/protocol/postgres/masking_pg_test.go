package postgres

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/privtest"
	"github.com/sluicehq/sluice/pkg/protocol"
)

const maskSeed = `
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text, ssn text, notes text, profile jsonb);
INSERT INTO customers VALUES
 (1, 'Ada Lovelace', 'ada@example.com', '4111 1111 1111 1111', '123456789', 'paid with 5500-0000-0000-0004, order 123456789012', '{"contact": {"email": "ada@example.com"}, "vip": true}'),
 (2, 'Alan Turing', 'alan@example.org', '4012888888881881', '234567890', 'no personal data here', '{"contact": {"email": "alan@example.org"}}'),
 (3, 'Ada Again', 'ada@example.com', '4111-1111-1111-1111', NULL, 'card 4111 1111 1111 1112 is not Luhn-valid', '{}');
CREATE TABLE tickets (id int PRIMARY KEY, email text, subject text);
INSERT INTO tickets VALUES (10, 'ada@example.com', 'refund'), (11, 'alan@example.org', 'invoice');
GRANT SELECT ON customers, tickets TO shopper, sluice_catalog;
`

// maskPolicy allows everything and masks the customers table.
type maskPolicy struct{ m *policy.Masking }

func (p maskPolicy) Decide(r *policy.Request) policy.Decision {
	return policy.Decision{Action: policy.Allow, Policy: "pii", Rule: "all", Masking: p.m}
}

func requirePostgres(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to run PostgreSQL as the postgres user"
	} else if err := pgtest.Available(); err != nil {
		reason = err.Error()
	}
	if reason == "" {
		return
	}
	if privtest.Required() {
		t.Fatalf("PostgreSQL test cannot run: %s (%s=1)", reason, privtest.RequireEnv)
	}
	t.Skip("skipping PostgreSQL test: " + reason)
}

// maskServer starts PostgreSQL with the customers table, readable by the
// client's role (shopper) and by the role sluice logs in with to read the
// catalog (sluice_catalog, password in $SLUICE_TEST_CATALOG_PW).
func maskServer(t *testing.T) *pgtest.Server {
	t.Helper()
	requirePostgres(t)
	srv := pgtest.StartT(t, pgtest.Options{Host: "127.0.0.5"})
	for _, u := range []string{"shopper", "sluice_catalog"} {
		if err := srv.CreateUser(u, "pw-"+u+"-1", pgtest.SCRAM); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.CreateDatabase("shop", "sluice_catalog"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Exec("shop", maskSeed); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_TEST_CATALOG_PW", "pw-sluice_catalog-1")
	return srv
}

// maskHandler is an inspector for srv that logs in with injected
// credentials and masks every result with m; events go to the log it
// returns.
func maskHandler(t *testing.T, srv *pgtest.Server, m *policy.Masking) (*Handler, *auditLog) {
	t.Helper()
	key, err := mask.NewKey([]byte("a test key of 32 bytes, no more!"))
	if err != nil {
		t.Fatal(err)
	}
	events := &auditLog{}
	log, err := audit.New(events, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New("shop-db", srv.Host, testConfig(config.Postgres{
		Auth:        config.AuthInject,
		Credentials: config.Credentials{Username: "sluice_catalog", PasswordEnv: "SLUICE_TEST_CATALOG_PW"},
	}), Deps{Log: log, Policy: maskPolicy{m}, MaskKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, events
}

// maskConn connects pgx through h to srv, in exec mode; configure, if
// any, changes the configuration first.
func maskConn(t *testing.T, h *Handler, srv *pgtest.Server, name string, exec pgx.QueryExecMode, configure ...func(*pgx.ConnConfig)) *pgx.Conn {
	t.Helper()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Addr().String())
	}
	cfg, err := pgx.ParseConfig("postgres://job@127.0.0.1/shop?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = exec
	for _, f := range configure {
		f(cfg)
	}
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := connPair(t, overTCP)
		s := &protocol.Session{ID: "mask-" + strings.ReplaceAll(name, " ", "-"), Identity: "etl", Target: "shop-db", Started: time.Now()}
		go h.Serve(context.Background(), s, server, dial)
		return client, nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestMaskingRealServer(t *testing.T) {
	srv := maskServer(t)
	m := &policy.Masking{
		Policies: []string{"pii"}, Detectors: mask.Defaults, Strategy: mask.Redact, Region: "US",
		Columns: []policy.MaskColumn{
			{Policy: "pii", Match: "public.customers.email", Strategy: mask.Hash},
			{Policy: "pii", Match: "*card*", Strategy: mask.Partial},
			{Policy: "pii", Match: "*ssn*", Hint: mask.Of(mask.SSN)},
		},
	}
	h, events := maskHandler(t, srv, m)

	for _, mode := range []struct {
		name string
		exec pgx.QueryExecMode
	}{
		{"extended binary", pgx.QueryExecModeCacheStatement},
		{"extended described", pgx.QueryExecModeDescribeExec},
		{"simple", pgx.QueryExecModeSimpleProtocol},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			conn := maskConn(t, h, srv, mode.name, mode.exec)

			type row struct {
				id                     int32
				name, email, card, ssn string
				notes                  string
				profile                map[string]any
			}
			rows, err := conn.Query(ctx, "SELECT id, name, email, card, ssn, notes, profile FROM customers WHERE id > $1 ORDER BY id", 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for rows.Next() {
				var r row
				var ssn *string
				if err := rows.Scan(&r.id, &r.name, &r.email, &r.card, &ssn, &r.notes, &r.profile); err != nil {
					t.Fatal(err)
				}
				if ssn != nil {
					r.ssn = *ssn
				}
				got = append(got, r)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("%d rows", len(got))
			}
			all := ""
			for _, r := range got {
				all += r.email + " " + r.card + " " + r.ssn + " " + r.notes + " "
				if r.profile != nil {
					if c, ok := r.profile["contact"].(map[string]any); ok {
						all += c["email"].(string)
					}
				}
			}
			for _, raw := range []string{"ada@example.com", "alan@example.org", "4111 1111 1111 1111", "4012888888881881", "5500-0000-0000-0004", " 123456789 ", " 234567890 "} {
				if strings.Contains(" "+all, raw) {
					t.Errorf("%q reached the client: %+v", raw, got)
				}
			}
			if got[0].name != "Ada Lovelace" || got[0].id != 1 {
				t.Errorf("untouched columns changed: %+v", got[0])
			}
			if got[0].email == "" || got[0].email != got[2].email || got[0].email == got[1].email {
				t.Errorf("hashed e-mails must be stable and distinct: %q %q %q", got[0].email, got[1].email, got[2].email)
			}
			if !strings.HasSuffix(got[0].card, "1111") || !strings.HasSuffix(got[1].card, "1881") {
				t.Errorf("partial cards keep the last four digits: %q %q", got[0].card, got[1].card)
			}
			if !strings.Contains(got[2].notes, "4111 1111 1111 1112") {
				t.Errorf("a Luhn-invalid number is not a card: %q", got[2].notes)
			}
			if !strings.Contains(got[0].notes, "123456789012") {
				t.Errorf("an order id is not personal data: %q", got[0].notes)
			}
			if got[0].profile["vip"] != true {
				t.Errorf("profile lost its other keys: %v", got[0].profile)
			}
		})
	}
	evs := events.events(t, "db.query")
	found := false
	for _, e := range evs {
		if _, ok := e["masked"]; ok {
			found = true
		}
		if strings.Contains(e["statement"].(string), "ada@") {
			t.Errorf("raw value in an event: %v", e)
		}
	}
	if !found {
		t.Errorf("no db.query event carries masking counts: %v", evs)
	}
}
