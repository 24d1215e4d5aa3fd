package policy

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Statements as the classifier reports them.
var (
	selectOne   = &sqlclass.Statement{Text: "SELECT 1", Kind: sqlclass.KindSelect, Command: "SELECT"}
	selectSales = &sqlclass.Statement{
		Text: "SELECT o.id, i.sku FROM sales.orders o JOIN sales.items i USING (id)",
		Kind: sqlclass.KindSelect, Command: "SELECT", Reads: rels("sales.orders", "sales.items"),
	}
	selectJoinHR = &sqlclass.Statement{
		Text: "SELECT * FROM sales.orders o JOIN hr.salaries s ON s.id = o.seller",
		Kind: sqlclass.KindSelect, Command: "SELECT", Reads: rels("sales.orders", "hr.salaries"),
	}
	insertStaging = &sqlclass.Statement{
		Text: "INSERT INTO staging.orders SELECT * FROM sales.orders",
		Kind: sqlclass.KindInsert, Command: "INSERT", Reads: rels("sales.orders"), Writes: rels("staging.orders"),
	}
	insertProdAndStaging = &sqlclass.Statement{
		Text: "WITH m AS (INSERT INTO staging.log VALUES (1)) INSERT INTO prod.orders VALUES (1)",
		Kind: sqlclass.KindInsert, Command: "INSERT", Writes: rels("staging.log", "prod.orders"),
	}
	updateProd = &sqlclass.Statement{
		Text: "UPDATE prod.orders SET state = 'x' WHERE id = 1",
		Kind: sqlclass.KindUpdate, Command: "UPDATE", Reads: rels("prod.orders"), Writes: rels("prod.orders"),
	}
	deleteProd = &sqlclass.Statement{
		Text: "DELETE FROM prod.orders", Kind: sqlclass.KindDelete, Command: "DELETE",
		Reads: rels("prod.orders"), Writes: rels("prod.orders"),
	}
	dropTable = &sqlclass.Statement{
		Text: "DROP TABLE sales.orders", Kind: sqlclass.KindDDL, Command: "DROP TABLE", Writes: rels("sales.orders"),
	}
	doBlock = &sqlclass.Statement{
		Text: "DO $$ BEGIN DELETE FROM prod.orders; END $$", Kind: sqlclass.KindDo, Command: "DO",
	}
	garbage = &sqlclass.Statement{
		Text: "SELEC * FROM prod.orders", Kind: sqlclass.KindUnparseable, Error: "syntax error at or near \"SELEC\"",
	}
)

// call returns a SELECT calling the functions (written "schema.name" or
// "name" for an unqualified call).
func call(names ...string) *sqlclass.Statement {
	return &sqlclass.Statement{Text: "SELECT ...", Kind: sqlclass.KindSelect, Command: "SELECT", Functions: fns(names...)}
}

func TestDecideFirstMatchAndDefault(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - name: no-deletes",
		"        action: deny",
		"        message: no deletes here",
		"        postgres: {kinds: [delete]}",
		"      - name: reads-and-deletes",
		"        action: allow",
		"        postgres: {kinds: [select, delete]}",
		"      - name: updates",
		"        action: review",
		"        postgres: {kinds: [update]}",
		"  - name: q",
		"    identities: [nightly-etl]",
		"    targets: [orders-db]",
		"    default: review",
	), testKnown)
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"first matching rule decides", pg("legacy-etl", "orders-db", deleteProd), want{action: Deny, policy: "p", rule: "no-deletes", message: "no deletes here"}},
		{"later rule", pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "p", rule: "reads-and-deletes"}},
		{"review with generated message", pg("legacy-etl", "orders-db", updateProd), want{action: Review, policy: "p", rule: "updates", message: `review required by rule "updates" of policy "p"`}},
		{"default deny", pg("legacy-etl", "orders-db", insertStaging), want{action: Deny, policy: "p", rule: "default", message: `denied by policy "p"`}},
		{"default review", pg("nightly-etl", "orders-db", selectOne), want{action: Review, policy: "q", rule: "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
}

func TestDecidePrecedence(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: allow-all",
		"    identities: [\"*\"]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: everything, action: allow}",
		"  - name: review-updates",
		"    identities: [legacy-etl, ci-build]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - {name: updates, action: review, postgres: {kinds: [update, delete]}}",
		"  - name: deny-deletes",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - {name: deletes, action: deny, postgres: {kinds: [delete]}}",
		"  - name: deny-deletes-again",
		"    identities: [\"*\"]",
		"    targets: [\"orders-*\"]",
		"    default: allow",
		"    rules:",
		"      - {name: deletes, action: deny, postgres: {kinds: [delete, truncate]}}",
	), testKnown)
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"all allow: first policy", pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "allow-all", rule: "everything"}},
		{"review beats allow", pg("legacy-etl", "orders-db", updateProd), want{action: Review, policy: "review-updates", rule: "updates"}},
		{"deny beats review, first deny wins", pg("legacy-etl", "orders-db", deleteProd), want{action: Deny, policy: "deny-deletes", rule: "deletes"}},
		{"deny from a later policy", pg("ci-build", "orders-db", deleteProd), want{action: Deny, policy: "deny-deletes-again", rule: "deletes"}},
		{"no policy covers the target", pg("legacy-etl", "billing-db", selectOne), want{action: Deny, message: `no policy covers identity "legacy-etl" on target "billing-db"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
}

func TestDecideShadow(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: enforced",
		"    identities: [legacy-etl, ci-build]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: no-truncate, action: deny, postgres: {kinds: [truncate]}}",
		"      - {name: review-updates, action: review, postgres: {kinds: [update]}}",
		"      - {name: rest, action: allow}",
		"  - name: trial-review",
		"    identities: [legacy-etl, nightly-etl]",
		"    targets: [orders-db]",
		"    enforce: false",
		"    default: allow",
		"    rules:",
		"      - {name: writes, action: review, postgres: {kinds: [delete, insert]}}",
		"  - name: trial-deny",
		"    identities: [legacy-etl, nightly-etl]",
		"    targets: [orders-db]",
		"    enforce: false",
		"    default: allow",
		"    rules:",
		"      - {name: deletes, action: deny, postgres: {kinds: [delete, update]}}",
	), testKnown)
	truncate := &sqlclass.Statement{Text: "TRUNCATE sales.orders", Kind: sqlclass.KindTruncate, Writes: rels("sales.orders")}
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"strictest shadow reported", pg("legacy-etl", "orders-db", deleteProd), want{action: Allow, policy: "enforced", rule: "rest", shadow: "trial-deny/deletes/deny"}},
		{"shadow review", pg("legacy-etl", "orders-db", insertStaging), want{action: Allow, policy: "enforced", rule: "rest", shadow: "trial-review/writes/review"}},
		{"shadow stricter than review", pg("legacy-etl", "orders-db", updateProd), want{action: Review, policy: "enforced", rule: "review-updates", shadow: "trial-deny/deletes/deny"}},
		{"shadow not stricter", pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "enforced", rule: "rest"}},
		{"enforced deny, no shadow", pg("legacy-etl", "orders-db", truncate), want{action: Deny, policy: "enforced", rule: "no-truncate"}},
		{"other identity, shadow does not cover", pg("ci-build", "orders-db", deleteProd), want{action: Allow, policy: "enforced", rule: "rest"}},
		{"shadow alone covers nothing", pg("nightly-etl", "orders-db", selectOne), want{action: Deny, message: "no policy covers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
}

func TestDecideSetSemantics(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: deny-prod-writes, action: deny, postgres: {writes: [\"prod.*\"]}}",
		"      - {name: review-hr, action: review, postgres: {relations: [hr.salaries]}}",
		"      - {name: read-sales, action: allow, postgres: {kinds: [select], reads: [\"sales.*\"]}}",
		"      - {name: staging, action: allow, postgres: {schemas: [staging, sales]}}",
		"  - name: loose",
		"    identities: [ci-build]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: deny-prod, action: deny, postgres: {schemas: [prod]}}",
		"      - {name: reads-without-kinds, action: allow, postgres: {reads: [\"*.*\"]}}",
	), testKnown)
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"allow: every read in sales", pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "p", rule: "read-sales"}},
		{"review: one relation of the join is enough", pg("legacy-etl", "orders-db", selectJoinHR), want{action: Review, policy: "p", rule: "review-hr"}},
		{"allow: vacuous for SELECT 1", pg("legacy-etl", "orders-db", selectOne), want{action: Allow, policy: "p", rule: "read-sales"}},
		{"deny: one prod write among several", pg("legacy-etl", "orders-db", insertProdAndStaging), want{action: Deny, policy: "p", rule: "deny-prod-writes"}},
		{"deny: no writes, no match", pg("legacy-etl", "orders-db", insertStaging), want{action: Allow, policy: "p", rule: "staging"}},
		{"allow schemas: every relation, read or written", pg("legacy-etl", "orders-db", updateProd), want{action: Deny, policy: "p", rule: "deny-prod-writes"}},
		{"opaque statement fails allow set matchers", pg("ci-build", "orders-db", garbage), want{action: Deny, policy: "loose", rule: "deny-prod"}},
		{"opaque DO block fails allow set matchers", pg("legacy-etl", "orders-db", doBlock), want{action: Deny, policy: "p", rule: "deny-prod-writes"}},
		{"nil statement is unparseable", pg("ci-build", "orders-db", nil), want{action: Deny, policy: "loose", rule: "deny-prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}

	// The join of sales and hr is not read-sales's to allow, whatever
	// comes before it.
	s2 := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: read-sales, action: allow, postgres: {kinds: [select], reads: [\"sales.*\"]}}",
	), testKnown)
	checkDecision(t, s2, pg("legacy-etl", "orders-db", selectJoinHR), want{action: Deny, policy: "p", rule: "default"})
}

func TestDecideFunctions(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: no-drops, action: deny, postgres: {functions: [\"public.drop_*\"]}}",
		"      - {name: no-export, action: deny, postgres: {functions: [lo_export]}}",
		"      - name: known-functions",
		"        action: allow",
		"        postgres:",
		"          kinds: [select]",
		"          functions: [pg_catalog.lower, pg_catalog.now, \"public.refresh_*\"]",
	), testKnown)
	tests := []struct {
		name string
		st   *sqlclass.Statement
		want want
	}{
		{"allow: unqualified built-in as pg_catalog", call("lower", "now"), want{action: Allow, policy: "p", rule: "known-functions"}},
		{"allow: qualified", call("public.refresh_totals", "pg_catalog.lower"), want{action: Allow, policy: "p", rule: "known-functions"}},
		{"allow: one unlisted function spoils it", call("lower", "upper"), want{action: Deny, policy: "p", rule: "default"}},
		{"allow: unqualified call is not taken as public", call("refresh_totals"), want{action: Deny, policy: "p", rule: "default"}},
		{"allow: an unqualified call of no built-in is not taken as pg_catalog", call("wipe_everything"), want{action: Deny, policy: "p", rule: "default"}},
		{"allow: a built-in's name that resolves elsewhere is not pg_catalog", &sqlclass.Statement{Text: "SELECT ...", Kind: sqlclass.KindCall, Command: "SELECT",
			Functions: []sqlclass.Function{{Name: "lower"}}}, want{action: Deny, policy: "p", rule: "default"}},
		{"allow: other schema, same name", call("evil.lower"), want{action: Deny, policy: "p", rule: "default"}},
		{"allow: no functions is vacuous", selectOne, want{action: Allow, policy: "p", rule: "known-functions"}},
		{"deny: qualified", call("lower", "public.drop_all"), want{action: Deny, policy: "p", rule: "no-drops"}},
		{"deny: unqualified call may resolve to public", call("drop_all"), want{action: Deny, policy: "p", rule: "no-drops"}},
		{"deny: other schema", call("other.drop_all"), want{action: Deny, policy: "p", rule: "default"}},
		{"deny: bare glob, qualified call", call("pg_catalog.lo_export"), want{action: Deny, policy: "p", rule: "no-export"}},
		{"deny: bare glob, unqualified call", call("lo_export"), want{action: Deny, policy: "p", rule: "no-export"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, pg("legacy-etl", "orders-db", tt.st), tt.want) })
	}
}

func TestDecideText(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - name: no-sleep",
		"        action: deny",
		"        message: no sleeping on the job",
		"        postgres:",
		"          kinds: [select, call]",
		"          text: \"(?i)pg_sleep\"",
	), testKnown)
	sleep := &sqlclass.Statement{Text: "SELECT PG_SLEEP(600)", Kind: sqlclass.KindSelect, Functions: fns("pg_sleep")}
	checkDecision(t, s, pg("legacy-etl", "orders-db", sleep), want{action: Deny, policy: "p", rule: "no-sleep", message: "no sleeping"})
	checkDecision(t, s, pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "p", rule: "default"})
	// kinds and text must both hold.
	delSleep := &sqlclass.Statement{Text: "DELETE FROM t WHERE pg_sleep(1) IS NULL", Kind: sqlclass.KindDelete}
	checkDecision(t, s, pg("legacy-etl", "orders-db", delSleep), want{action: Allow, policy: "p", rule: "default"})
}

func TestDecideProtocols(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: any-postgres, action: review, postgres: {}}",
		"      - {name: anything, action: allow}",
	), testKnown)
	checkDecision(t, s, pg("legacy-etl", "orders-db", selectOne), want{action: Review, policy: "p", rule: "any-postgres"})
	other := &Request{Identity: "legacy-etl", Target: "orders-db", Protocol: "ssh"}
	checkDecision(t, s, other, want{action: Allow, policy: "p", rule: "anything"})
}

func TestDecideNilSet(t *testing.T) {
	var s *Set
	d := s.Decide(pg("legacy-etl", "orders-db", selectOne))
	if d.Action != Deny || d.Policy != "" || d.Rule != "" || d.Message == "" {
		t.Fatalf("nil set decided %+v", d)
	}
	if s.Version() == "" || s.Policies() != nil {
		t.Fatal("nil set has a version or policies")
	}
}

func TestDecideBeyondCache(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [\"job-*\"]",
		"    targets: [\"*\"]",
		"    rules:",
		"      - {name: reads, action: allow, postgres: {kinds: [select]}}",
	), Known{})
	for i := range maxPairs + 50 {
		id := fmt.Sprintf("job-%d", i)
		d := s.Decide(pg(id, "db", selectOne))
		if d.Action != Allow || d.Rule != "reads" {
			t.Fatalf("%s: %+v", id, d)
		}
		d = s.Decide(pg("other", "db", selectOne))
		if d.Action != Deny || d.Message != `no policy covers identity "other" on target "db"` {
			t.Fatalf("%s: %+v", id, d)
		}
	}
	if n := s.npairs.Load(); n != maxPairs {
		t.Fatalf("%d pairs cached, want %d", n, maxPairs)
	}
}

func TestDecideConcurrent(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [\"*\"]",
		"    targets: [\"*\"]",
		"    rules:",
		"      - {name: reads, action: allow, postgres: {kinds: [select]}}",
	), Known{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("id-%d", (g*7+i)%50)
				if d := s.Decide(pg(id, "db", selectOne)); d.Action != Allow {
					t.Errorf("%s: %+v", id, d)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecideDoesNotAllocate(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: reads, action: allow, postgres: {kinds: [select], reads: [\"sales.*\"], text: \"^SELECT\"}}",
		"  - name: shadow",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    enforce: false",
		"    rules:",
		"      - {name: hr, action: deny, postgres: {relations: [\"hr.*\"]}}",
		"  - name: guard",
		"    identities: [\"*\"]",
		"    targets: [orders-db]",
		"    default: abstain",
		"    rules:",
		"      - {name: night-deletes, action: deny, postgres: {kinds: [delete]}, when: \"time.getHours('UTC') < 6\"}",
		"      - {name: unfiltered, action: review, postgres: {unfiltered: true}}",
	), testKnown)
	reqs := []*Request{
		pg("legacy-etl", "orders-db", selectSales),
		pg("legacy-etl", "orders-db", selectJoinHR),
		pg("ci-build", "orders-db", selectOne),
	}
	for _, r := range reqs {
		s.Decide(r) // fill the cache
		if n := testing.AllocsPerRun(100, func() { s.Decide(r) }); n != 0 {
			t.Errorf("%s on %s: %v allocations", r.Identity, r.SQL.Text, n)
		}
	}
}
