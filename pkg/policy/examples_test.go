package policy

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// TestExamples loads the example policies shipped in policies/ and checks
// what they decide.
func TestExamples(t *testing.T) {
	s, err := LoadDir("../../policies", testKnown)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range s.Policies() {
		names = append(names, p.Name)
	}
	wantNames := []string{"etl-night-window", "no-ddl", "pii-masking", "readonly-etl", "review-writes", "pii-rollout"}
	if len(names) != len(wantNames) {
		t.Fatalf("policies %v, want %v", names, wantNames)
	}
	for i := range names {
		if names[i] != wantNames[i] {
			t.Fatalf("policies %v, want %v", names, wantNames)
		}
	}

	var (
		show       = &sqlclass.Statement{Text: "SHOW search_path", Kind: sqlclass.KindShow}
		begin      = &sqlclass.Statement{Text: "BEGIN", Kind: sqlclass.KindTransaction}
		explain    = &sqlclass.Statement{Text: "EXPLAIN SELECT * FROM sales.orders", Kind: sqlclass.KindExplain, Reads: rels("sales.orders")}
		explainDel = &sqlclass.Statement{Text: "EXPLAIN ANALYZE DELETE FROM sales.orders", Kind: sqlclass.KindDelete, Reads: rels("sales.orders"), Writes: rels("sales.orders")}
		selPublic  = &sqlclass.Statement{Text: "SELECT * FROM currencies", Kind: sqlclass.KindSelect, Reads: []sqlclass.Relation{{Schema: "public", Name: "currencies"}}}
		customers  = &sqlclass.Statement{Text: "SELECT * FROM sales.customers", Kind: sqlclass.KindSelect, Reads: rels("sales.customers")}
		grant      = &sqlclass.Statement{Text: "GRANT ALL ON sales.orders TO PUBLIC", Kind: sqlclass.KindGrant}
		copyProg   = &sqlclass.Statement{Text: "COPY sales.orders TO PROGRAM 'curl ...'", Kind: sqlclass.KindCopyProgram, Reads: rels("sales.orders")}
		selInto    = &sqlclass.Statement{Text: "SELECT * INTO sales.copy FROM sales.orders", Kind: sqlclass.KindDDL, Reads: rels("sales.orders"), Writes: rels("sales.copy")}
		dangerous  = &sqlclass.Statement{Text: "SELECT pg_read_file('/etc/passwd')", Kind: sqlclass.KindDangerous, Functions: fns("pg_read_file"), Dangerous: fns("pg_read_file")}
		deleteBoth = &sqlclass.Statement{Text: "WITH d AS (DELETE FROM staging.orders RETURNING *) DELETE FROM prod.orders", Kind: sqlclass.KindDelete, Writes: rels("staging.orders", "prod.orders")}
		updStaging = &sqlclass.Statement{Text: "UPDATE staging.orders SET x = 1 WHERE id = 1", Kind: sqlclass.KindUpdate, Reads: rels("staging.orders"), Writes: rels("staging.orders")}
		updAll     = &sqlclass.Statement{Text: "UPDATE staging.orders SET x = 1", Kind: sqlclass.KindUpdate, Writes: rels("staging.orders"), Unfiltered: true}
		insertProd = &sqlclass.Statement{Text: "INSERT INTO prod.orders VALUES (1)", Kind: sqlclass.KindInsert, Writes: rels("prod.orders")}
	)
	const (
		schemaMsg = "Schema changes (CREATE, ALTER, DROP, TRUNCATE) go through migrations"
		piiShadow = "pii-rollout/no-customer-pii/deny"
	)
	// Conditions see the time: 02:00 in Berlin is in nightly-etl's
	// window, 14:00 is not.
	night := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
	at := func(t time.Time, r *Request) *Request {
		r.Time = t
		return r
	}
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		// readonly-etl; no-ddl abstains on what it does not deny.
		{"etl reads sales", pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"etl reads public", at(night, pg("nightly-etl", "orders-db", selPublic)), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"etl SELECT 1", pg("legacy-etl", "orders-db", selectOne), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"etl SHOW", pg("legacy-etl", "orders-db", show), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"etl BEGIN", pg("legacy-etl", "orders-db", begin), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"etl EXPLAIN", pg("legacy-etl", "orders-db", explain), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"etl EXPLAIN ANALYZE DELETE", pg("legacy-etl", "orders-db", explainDel), want{action: Deny, policy: "readonly-etl", rule: "default"}},
		{"etl join with hr", pg("legacy-etl", "orders-db", selectJoinHR), want{action: Deny, policy: "readonly-etl", rule: "default", message: `denied by policy "readonly-etl"`}},
		{"etl insert", pg("legacy-etl", "orders-db", insertStaging), want{action: Deny, policy: "readonly-etl", rule: "default"}},
		{"etl unparseable", pg("legacy-etl", "orders-db", garbage), want{action: Deny, policy: "readonly-etl", rule: "default"}},
		// etl-night-window.
		{"nightly-etl in the day", at(day, pg("nightly-etl", "orders-db", selectSales)), want{action: Review, policy: "etl-night-window", rule: "daytime"}},
		{"nightly-etl at night", at(night, pg("nightly-etl", "orders-db", selectSales)), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		{"legacy-etl in the day", at(day, pg("legacy-etl", "orders-db", selectSales)), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"}},
		// no-ddl, for everyone.
		{"etl drop", pg("legacy-etl", "orders-db", dropTable), want{action: Deny, policy: "no-ddl", rule: "no-schema-changes", message: schemaMsg}},
		{"etl SELECT INTO is ddl", at(day, pg("nightly-etl", "orders-db", selInto)), want{action: Deny, policy: "no-ddl", rule: "no-schema-changes"}},
		{"ci grant", pg("ci-build", "orders-db", grant), want{action: Deny, policy: "no-ddl", rule: "no-privilege-changes"}},
		{"ci DO block", pg("ci-build", "orders-db", doBlock), want{action: Deny, policy: "no-ddl", rule: "no-arbitrary-code"}},
		{"ci dangerous function", pg("ci-build", "orders-db", dangerous), want{action: Deny, policy: "no-ddl", rule: "no-arbitrary-code"}},
		{"ci COPY PROGRAM", pg("ci-build", "orders-db", copyProg), want{action: Deny, policy: "no-ddl", rule: "no-server-files"}},
		{"guardrail alone allows nothing", pg("ci-build", "analytics-db", insertProd), want{action: Deny, message: "every policy that applies abstains"}},
		// review-writes.
		{"ci reads", pg("ci-build", "orders-db", selectJoinHR), want{action: Allow, policy: "review-writes", rule: "read"}},
		{"ci delete all in prod", pg("ci-build", "orders-db", deleteProd), want{action: Review, policy: "review-writes", rule: "review-prod-changes", message: "Changes to prod"}},
		{"ci update in prod", pg("ci-build", "orders-db", updateProd), want{action: Review, policy: "review-writes", rule: "review-prod-changes"}},
		{"ci delete in prod and staging", pg("ci-build", "orders-db", deleteBoth), want{action: Review, policy: "review-writes", rule: "review-prod-changes"}},
		{"ci update in staging", pg("ci-build", "orders-db", updStaging), want{action: Allow, policy: "review-writes", rule: "write-staging"}},
		{"ci update of every staging row", pg("ci-build", "orders-db", updAll), want{action: Review, policy: "review-writes", rule: "review-unfiltered", message: "change every row"}},
		{"ci insert in prod", pg("ci-build", "orders-db", insertProd), want{action: Review, policy: "review-writes", rule: "review-prod-changes"}},
		{"ci truncate", pg("ci-build", "orders-db", &sqlclass.Statement{Text: "TRUNCATE prod.orders", Kind: sqlclass.KindTruncate, Writes: rels("prod.orders")}), want{action: Deny, policy: "no-ddl", rule: "no-schema-changes"}},
		// pii-rollout, in shadow mode.
		{"etl reads customers: shadow deny", at(night, pg("nightly-etl", "orders-db", customers)), want{action: Allow, policy: "readonly-etl", rule: "read-reporting", shadow: piiShadow}},
		{"ci reads customers: not covered by the shadow", pg("ci-build", "orders-db", customers), want{action: Allow, policy: "review-writes", rule: "read"}},
		{"etl denied anyway: no shadow", pg("legacy-etl", "orders-db", &sqlclass.Statement{Text: "DELETE FROM sales.customers", Kind: sqlclass.KindDelete, Writes: rels("sales.customers")}), want{action: Deny, policy: "readonly-etl", rule: "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
	// pii-masking, for every identity on orders-db and nowhere else.
	pii := s.Policies()[2].Masking
	for _, id := range []string{"legacy-etl", "nightly-etl", "ci-build"} {
		if m := s.Decide(pg(id, "orders-db", customers)).Masking; m != pii || m == nil {
			t.Errorf("%s on orders-db: masking %+v", id, m)
		}
	}
	if m := s.Decide(pg("ci-build", "analytics-db", customers)).Masking; m != nil {
		t.Errorf("ci-build on analytics-db: masking %+v", m)
	}
	if pii.Region != "US" || pii.StrategyOf(mask.Email) != mask.Hash || pii.StrategyOf(mask.Card) != mask.Partial ||
		pii.StrategyOf(mask.JWT) != mask.Redact || len(pii.Columns) != 3 {
		t.Errorf("pii-masking: %+v", pii)
	}
}

// TestDocExample parses the reference example of docs/policy.md and checks
// what the text around it says.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Reference example\n\n```yaml\n")
	if !ok {
		t.Fatal("no reference example")
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated reference example")
	}
	s := mustParse(t, example, testKnown)
	sleep := &sqlclass.Statement{Text: "SELECT pg_sleep(60)", Kind: sqlclass.KindSelect, Functions: fns("pg_sleep")}
	checkDecision(t, s, pg("ci-build", "orders-db", sleep), want{action: Deny, policy: "readonly-etl", rule: "no-sleep", message: "pg_sleep is not allowed"})
	checkDecision(t, s, pg("ci-build", "orders-db", selectSales), want{action: Allow, policy: "readonly-etl", rule: "read-reporting"})
	checkDecision(t, s, pg("legacy-etl", "orders-db", selectJoinHR), want{action: Deny, policy: "readonly-etl", rule: "default"})
	checkDecision(t, s, pg("nightly-etl", "orders-db", selectSales), want{action: Deny, message: "no policy covers"})
}
