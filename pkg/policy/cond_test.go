package policy

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

func TestConditionErrors(t *testing.T) {
	head := []string{
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - name: r",
		"        action: deny",
	}
	rule := func(l ...string) string { return lines(slices.Concat(head, l)...) }
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "misspelled variable",
			yaml: rule(`        when: idenity == "ci-build"`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", `bad condition: unknown variable "idenity" (did you mean "identity"?) (column 1)`}},
		},
		{
			name: "misspelled field",
			yaml: rule(`        when: attribution.uuid == 1001`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", `bad condition: undefined field 'uuid' (did you mean "uid"?) (column 12)`}},
		},
		{
			name: "not a boolean",
			yaml: rule(`        when: attribution.uid + 1`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "bad condition: must be a boolean expression, not int"}},
		},
		{
			name: "unknown time zone",
			yaml: rule(`        when: time.getHours("Europe/Berln") < 6`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", `bad condition: unknown time zone "Europe/Berln"`}},
		},
		{
			name: "bad offset",
			yaml: rule(`        when: time.getHours("+25:00") < 6`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", `bad condition: unknown time zone "+25:00"`}},
		},
		{
			name: "bad regular expression",
			yaml: rule(`        when: statement.text.matches("(")`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "bad condition: invalid matches argument"}},
		},
		{
			name: "type mismatch",
			yaml: rule(`        when: attribution.unit == 7`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "bad condition: found no matching overload for '_==_' applied to '(string, int)'"}},
		},
		{
			name: "syntax error on the second line of a block",
			yaml: rule("        when: |", `          identity == "ci-build" &&`, `            attribution.uid ==`),
			want: []wantErr{{"p.yaml:10: policies[0].rules[0].when: ", "bad condition: Syntax error"}},
		},
		{
			name: "comprehensions nested too deep",
			yaml: rule(`        when: statement.reads.exists(r, statement.writes.exists(w, statement.functions.exists(f, r == w && w == f)))`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "bad condition: comprehension exceeds nesting limit"}},
		},
		{
			name: "empty",
			yaml: rule(`        when: " "`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "must not be empty"}},
		},
		{
			name: "null",
			yaml: rule(`        when:`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "expected a string, got null"}},
		},
		{
			name: "too long",
			yaml: rule(`        when: "` + strings.Repeat("true && ", 600) + `true"`),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", "longer than 4096 bytes"}},
		},
		{
			name: "abstain is not a rule action",
			yaml: lines(slices.Concat(head[:6], []string{"        action: abstain"})...),
			want: []wantErr{{"p.yaml:7: policies[0].rules[0].action: ", "abstain is only a policy default"}},
		},
		{
			name: "bad default",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets: [orders-db]", "    default: abstian"),
			want: []wantErr{{"p.yaml:5: policies[0].default: ", `invalid action "abstian": must be one of allow, deny, review, abstain (did you mean "abstain"?)`}},
		},
		{
			name: "unfiltered not a boolean",
			yaml: rule("        postgres: {unfiltered: yes}"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].postgres.unfiltered: ", `expected true or false, got string "yes"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.yaml), testKnown)
			got := splitErrors(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				s := got[i].Error()
				if !strings.HasPrefix(s, w.at) || !strings.Contains(s, w.msg) {
					t.Errorf("error %d:\n got %s\nwant %s...%s...", i, s, w.at, w.msg)
				}
			}
		})
	}
}

// berlin is a request time: 2026-03-02 (a Monday) at the given hour in
// Europe/Berlin (UTC+1 then).
func berlin(hour int) time.Time {
	return time.Date(2026, 3, 2, hour-1, 30, 0, 0, time.UTC)
}

func TestConditions(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl, nightly-etl, ci-build]",
		"    targets: [orders-db]",
		"    rules:",
		"      - name: night-window",
		"        action: allow",
		"        postgres: {kinds: [delete]}",
		`        when: time.getHours("Europe/Berlin") >= 1 && time.getHours("Europe/Berlin") < 5`,
		"      - name: etl-binary",
		"        action: allow",
		"        postgres: {kinds: [insert]}",
		"        when: |",
		`          attribution.exe == "/opt/etl/bin/orders-sync" &&`,
		`          attribution.unit.endsWith(".service") && attribution.uid == 994`,
		"      - name: weekday-updates",
		"        action: review",
		"        postgres: {kinds: [update]}",
		"        when: time.getDayOfWeek('Europe/Berlin') in [1, 2, 3, 4, 5]",
		"      - name: statement-facts",
		"        action: deny",
		`        when: statement.unfiltered || "hr.salaries" in statement.reads || statement.kind == "truncate"`,
		"      - name: ci-only",
		"        action: allow",
		`        when: identity.startsWith("ci-") && target == "orders-db" && protocol == "postgres" && size(claims) == 0`,
		"      - name: claim",
		"        action: allow",
		`        when: claims.team == "data"`,
		"      - name: claim-deny",
		"        action: deny",
		"        message: claim condition failed",
		`        when: claims.team != "data"`,
	), testKnown)
	etl := Attribution{PID: 23911, UID: 994, GID: 994, Exe: "/opt/etl/bin/orders-sync", Comm: "orders-sync", Unit: "nightly-etl.service", Cgroup: "/system.slice/nightly-etl.service"}
	psql := Attribution{PID: 24810, UID: 1001, GID: 1001, Exe: "/usr/lib/postgresql/15/bin/psql", Comm: "psql", Cgroup: "/sluice.jobs/job-8c1f0a2e7b44"}
	deleteOne := &sqlclass.Statement{Text: "DELETE FROM sales.orders WHERE id = 1", Kind: sqlclass.KindDelete, Reads: rels("sales.orders"), Writes: rels("sales.orders")}
	insert := &sqlclass.Statement{Text: "INSERT INTO staging.orders VALUES (1)", Kind: sqlclass.KindInsert, Writes: rels("staging.orders")}
	update := &sqlclass.Statement{Text: "UPDATE sales.orders SET state = 'x' WHERE id = 1", Kind: sqlclass.KindUpdate, Reads: rels("sales.orders"), Writes: rels("sales.orders")}
	unfiltered := &sqlclass.Statement{Text: "UPDATE sales.orders SET state = 'x'", Kind: sqlclass.KindUpdate, Writes: rels("sales.orders"), Unfiltered: true}
	saturday := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	req := func(id string, st *sqlclass.Statement, at Attribution, when time.Time) *Request {
		r := pg(id, "orders-db", st)
		r.Attribution, r.Time = at, when
		return r
	}
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"delete in the window", req("legacy-etl", deleteOne, psql, berlin(3)), want{action: Allow, policy: "p", rule: "night-window"}},
		{"delete at the window's end", req("legacy-etl", deleteOne, psql, berlin(5)), want{action: Deny, policy: "p", rule: "claim-deny"}},
		{"delete in the day", req("legacy-etl", deleteOne, psql, berlin(14)), want{action: Deny, policy: "p", rule: "claim-deny"}},
		{"insert by the etl binary", req("nightly-etl", insert, etl, berlin(14)), want{action: Allow, policy: "p", rule: "etl-binary"}},
		{"insert by psql", req("nightly-etl", insert, psql, berlin(14)), want{action: Deny, policy: "p", rule: "claim-deny"}},
		{"insert by another uid", req("nightly-etl", insert, Attribution{Exe: etl.Exe, Unit: etl.Unit, UID: 0}, berlin(14)), want{action: Deny, policy: "p", rule: "claim-deny"}},
		{"update on a weekday", req("legacy-etl", update, psql, berlin(14)), want{action: Review, policy: "p", rule: "weekday-updates"}},
		{"update on a saturday", req("legacy-etl", update, psql, saturday), want{action: Deny, policy: "p", rule: "claim-deny"}},
		{"unfiltered update", req("legacy-etl", unfiltered, psql, saturday), want{action: Deny, policy: "p", rule: "statement-facts"}},
		{"read of salaries", req("legacy-etl", selectJoinHR, psql, saturday), want{action: Deny, policy: "p", rule: "statement-facts"}},
		{"ci select", req("ci-build", selectSales, psql, saturday), want{action: Allow, policy: "p", rule: "ci-only"}},
		// claims is empty: claims.team fails to evaluate. The allow rule
		// does not match; the deny rule does (fail closed).
		{"missing claim", req("legacy-etl", selectSales, psql, saturday), want{action: Deny, policy: "p", rule: "claim-deny", message: "claim condition failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
}

func TestConditionFailsClosed(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - {name: expensive-deny, action: deny, when: 'statement.text.contains(\"DROP\")'}",
		"  - name: q",
		"    identities: [ci-build]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: not-bool-allow, action: allow, postgres: {kinds: [insert]}, when: 'dyn(attribution.uid)'}",
		"      - {name: expensive-allow, action: allow, when: '!statement.text.contains(\"DROP\")'}",
		"  - name: r",
		"    identities: [nightly-etl]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - {name: not-bool-review, action: review, when: 'dyn(attribution.uid)'}",
	), testKnown)
	// A text long enough for contains() (0.1 unit a byte) to cost more
	// than the limit.
	long := &sqlclass.Statement{Text: "SELECT '" + strings.Repeat("x", 20*whenCostLimit) + "'", Kind: sqlclass.KindSelect}
	short := &sqlclass.Statement{Text: "SELECT 'x'", Kind: sqlclass.KindSelect}
	checkDecision(t, s, pg("legacy-etl", "orders-db", short), want{action: Allow, policy: "p", rule: "default"})
	checkDecision(t, s, pg("legacy-etl", "orders-db", long), want{action: Deny, policy: "p", rule: "expensive-deny"})
	checkDecision(t, s, pg("ci-build", "orders-db", short), want{action: Allow, policy: "q", rule: "expensive-allow"})
	checkDecision(t, s, pg("ci-build", "orders-db", long), want{action: Deny, policy: "q", rule: "default"})
	checkDecision(t, s, pg("ci-build", "orders-db", insertStaging), want{action: Allow, policy: "q", rule: "expensive-allow"})
	checkDecision(t, s, pg("nightly-etl", "orders-db", short), want{action: Review, policy: "r", rule: "not-bool-review"})

	// Explain names the failures.
	ex := s.Explain(pg("ci-build", "orders-db", long))
	if len(ex.Outcomes) != 1 || len(ex.Outcomes[0].Conditions) != 1 {
		t.Fatalf("outcomes %+v", ex.Outcomes)
	}
	if c := ex.Outcomes[0].Conditions[0]; c.Rule != "expensive-allow" || c.Holds || !strings.Contains(c.Error, "cost limit") {
		t.Errorf("condition %+v", c)
	}
	ex = s.Explain(pg("ci-build", "orders-db", insertStaging))
	if len(ex.Outcomes) != 1 || len(ex.Outcomes[0].Conditions) != 2 {
		t.Fatalf("outcomes %+v", ex.Outcomes)
	}
	if c := ex.Outcomes[0].Conditions[0]; c.Rule != "not-bool-allow" || c.Holds || c.Error != errNotBool.Error() {
		t.Errorf("condition %+v", c)
	}
}

func TestAbstain(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: guardrail",
		"    identities: [\"*\"]",
		"    targets: [\"*\"]",
		"    default: abstain",
		"    rules:",
		"      - {name: no-ddl, action: deny, postgres: {kinds: [ddl]}}",
		"      - {name: unfiltered, action: review, postgres: {unfiltered: true}}",
		"  - name: etl",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: reads, action: allow, postgres: {kinds: [select]}}",
		"  - name: second-guard",
		"    identities: [ci-build]",
		"    targets: [\"*\"]",
		"    default: abstain",
		"  - name: shadow",
		"    identities: [legacy-etl, ci-build]",
		"    targets: [orders-db]",
		"    enforce: false",
		"    default: abstain",
		"    rules:",
		"      - {name: hr, action: deny, postgres: {relations: [\"hr.*\"]}}",
	), testKnown)
	unfiltered := &sqlclass.Statement{Text: "DELETE FROM sales.orders", Kind: sqlclass.KindDelete, Writes: rels("sales.orders"), Unfiltered: true}
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"guardrail abstains, etl allows", pg("legacy-etl", "orders-db", selectSales), want{action: Allow, policy: "etl", rule: "reads"}},
		{"guardrail denies", pg("legacy-etl", "orders-db", dropTable), want{action: Deny, policy: "guardrail", rule: "no-ddl"}},
		{"guardrail reviews, etl denies", pg("legacy-etl", "orders-db", unfiltered), want{action: Deny, policy: "etl", rule: "default"}},
		{"etl default denies", pg("legacy-etl", "orders-db", insertStaging), want{action: Deny, policy: "etl", rule: "default"}},
		{"shadow abstains", pg("legacy-etl", "orders-db", selectOne), want{action: Allow, policy: "etl", rule: "reads"}},
		{"shadow denies", pg("legacy-etl", "orders-db", selectJoinHR), want{action: Allow, policy: "etl", rule: "reads", shadow: "shadow/hr/deny"}},
		{"every policy abstains", pg("ci-build", "orders-db", selectSales), want{action: Deny, message: `no policy decides for identity "ci-build" on target "orders-db": every policy that applies abstains ("guardrail", "second-guard")`}},
		{"abstaining guardrail alone", pg("nightly-etl", "orders-db", selectSales), want{action: Deny, message: `every policy that applies abstains ("guardrail")`}},
		{"guardrail decides alone", pg("ci-build", "orders-db", unfiltered), want{action: Review, policy: "guardrail", rule: "unfiltered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
	empty := mustParse(t, "policies: []\n", testKnown)
	checkDecision(t, empty, pg("ci-build", "orders-db", selectOne), want{action: Deny, message: "no policy covers"})
}

func TestUnfilteredMatcher(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    default: allow",
		"    rules:",
		"      - {name: review-unfiltered, action: review, postgres: {unfiltered: true}}",
		"  - name: q",
		"    identities: [ci-build]",
		"    targets: [orders-db]",
		"    rules:",
		"      - {name: filtered-writes, action: allow, postgres: {kinds: [update, delete], unfiltered: false}}",
	), testKnown)
	unfiltered := &sqlclass.Statement{Text: "DELETE FROM sales.orders", Kind: sqlclass.KindDelete, Writes: rels("sales.orders"), Unfiltered: true}
	filtered := &sqlclass.Statement{Text: "DELETE FROM sales.orders WHERE id = 1", Kind: sqlclass.KindDelete, Writes: rels("sales.orders")}
	tests := []struct {
		name string
		req  *Request
		want want
	}{
		{"review unfiltered", pg("legacy-etl", "orders-db", unfiltered), want{action: Review, policy: "p", rule: "review-unfiltered"}},
		{"filtered passes", pg("legacy-etl", "orders-db", filtered), want{action: Allow, policy: "p", rule: "default"}},
		{"unknown for a DO block: review", pg("legacy-etl", "orders-db", doBlock), want{action: Review, policy: "p", rule: "review-unfiltered"}},
		{"unknown for unparseable: review", pg("legacy-etl", "orders-db", garbage), want{action: Review, policy: "p", rule: "review-unfiltered"}},
		{"allow filtered", pg("ci-build", "orders-db", filtered), want{action: Allow, policy: "q", rule: "filtered-writes"}},
		{"allow does not take unfiltered", pg("ci-build", "orders-db", unfiltered), want{action: Deny, policy: "q", rule: "default"}},
		{"allow does not take unknown", pg("ci-build", "orders-db", &sqlclass.Statement{Text: "EXECUTE q", Kind: sqlclass.KindExecute}), want{action: Deny, policy: "q", rule: "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecision(t, s, tt.req, tt.want) })
	}
}

func TestConditionsConcurrent(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		`      - {name: night, action: allow, when: 'time.getHours("Asia/Tokyo") < 6 && attribution.uid == 1 && "sales.orders" in statement.reads'}`,
	), testKnown)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r := pg("legacy-etl", "orders-db", selectSales)
				r.Attribution.UID = uint32(g % 2)
				r.Time = time.Date(2026, 1, 1, i%24, 0, 0, 0, time.UTC) // Tokyo is UTC+9
				want := Deny
				if g%2 == 1 && (i%24+9)%24 < 6 {
					want = Allow
				}
				if d := s.Decide(r); d.Action != want {
					t.Errorf("uid %d at %02d:00 UTC: %+v", g%2, i%24, d)
					return
				}
			}
		}()
	}
	wg.Wait()
}
