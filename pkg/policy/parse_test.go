package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// wantErr is one expected error: its "file:line: path: " prefix and a
// substring of the rest.
type wantErr struct {
	at  string
	msg string
}

func TestParseErrors(t *testing.T) {
	head := []string{
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - name: r",
	}
	// rule returns a file whose only rule has the given lines after its
	// name, on lines 7 and below.
	rule := func(l ...string) string { return lines(slices.Concat(head, l)...) }
	tests := []struct {
		name  string
		yaml  string
		known *Known // testKnown when nil
		want  []wantErr
	}{
		{
			name: "unknown key with suggestion",
			yaml: lines(
				"policies:",
				"  - name: p",
				"    idenities: [legacy-etl]",
				"    targets: [orders-db]",
			),
			want: []wantErr{
				{"p.yaml:2: policies[0]: ", "identities is required"},
				{"p.yaml:3: policies[0]: ", `unknown key "idenities" (did you mean "identities"?)`},
			},
		},
		{
			name: "unknown top-level key",
			yaml: lines("polices: []"),
			want: []wantErr{
				{"p.yaml:1: ", `unknown top-level key "polices" (did you mean "policies"?)`},
				{"p.yaml:1: ", "policies is required"},
			},
		},
		{
			name: "unknown matcher key",
			yaml: rule("        action: allow", "        postgres:", "          tables: [sales.orders]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres: ", `unknown key "tables"`}},
		},
		{
			name: "matcher key with suggestion",
			yaml: rule("        action: allow", "        postgres:", "          read: [sales.orders]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres: ", `unknown key "read" (did you mean "reads"?)`}},
		},
		{
			name: "bad action",
			yaml: rule("        action: alow"),
			want: []wantErr{{"p.yaml:7: policies[0].rules[0].action: ", `invalid action "alow": must be one of allow, deny, review (did you mean "allow"?)`}},
		},
		{
			name: "bad default",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets: [orders-db]", "    default: block"),
			want: []wantErr{{"p.yaml:5: policies[0].default: ", `invalid action "block"`}},
		},
		{
			name: "bad kind with suggestion",
			yaml: rule("        action: allow", "        postgres:", "          kinds: [select, delet]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.kinds[1]: ", `unknown statement kind "delet" (did you mean "delete"?)`}},
		},
		{
			name: "bad kind listed",
			yaml: rule("        action: allow", "        postgres:", "          kinds:", "            - vacuum"),
			want: []wantErr{{"p.yaml:10: policies[0].rules[0].postgres.kinds[0]: ", `unknown statement kind "vacuum" (kinds: empty, show,`}},
		},
		{
			name: "bad glob",
			yaml: rule("        action: deny", "        postgres:", "          reads: [\"sales.[a-\"]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.reads[0]: ", `bad glob "sales.[a-": malformed character class`}},
		},
		{
			name: "relation glob without a dot",
			yaml: rule("        action: deny", "        postgres:", "          writes: [orders]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.writes[0]: ", `relation glob "orders" has no schema: write schema.table; use *.orders for any schema`}},
		},
		{
			name: "relation glob with an empty side",
			yaml: rule("        action: deny", "        postgres:", "          relations: [sales.]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.relations[0]: ", "empty schema or name"}},
		},
		{
			name: "schema glob with a dot",
			yaml: rule("        action: deny", "        postgres:", "          schemas: [sales.orders]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.schemas[0]: ", "use relations for schema.table globs"}},
		},
		{
			name: "bad function glob",
			yaml: rule("        action: deny", "        postgres:", "          functions: [\"pg_[\"]"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.functions[0]: ", `bad glob "pg_["`}},
		},
		{
			name: "bad regexp",
			yaml: rule("        action: deny", "        postgres:", "          text: \"(?i)pg_sleep(\""),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.text: ", "bad regular expression: error parsing regexp: missing closing )"}},
		},
		{
			name: "empty matcher list",
			yaml: rule("        action: allow", "        postgres:", "          kinds: []"),
			want: []wantErr{{"p.yaml:9: policies[0].rules[0].postgres.kinds: ", "must not be empty"}},
		},
		{
			name: "null matcher",
			yaml: rule("        action: allow", "        postgres:"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].postgres: ", "write {} to match every statement"}},
		},
		{
			name: "duplicate rule name",
			yaml: rule("        action: allow", "      - name: r", "        action: deny"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[1]: ", `duplicate rule name "r" (first defined at line 6)`}},
		},
		{
			name: "duplicate policy name",
			yaml: lines(
				"policies:",
				"  - name: p",
				"    identities: [legacy-etl]",
				"    targets: [orders-db]",
				"  - name: p",
				"    identities: [ci-build]",
				"    targets: [orders-db]",
			),
			want: []wantErr{{"p.yaml:5: ", `duplicate policy name "p" (first defined at line 2)`}},
		},
		{
			name: "rule named default",
			yaml: lines(slices.Concat(head[:5], []string{"      - name: default", "        action: allow"})...),
			want: []wantErr{{"p.yaml:6: policies[0].rules[0].name: ", `"default" is reserved`}},
		},
		{
			name: "missing rule name and action",
			yaml: lines(slices.Concat(head[:5], []string{"      - message: hello"})...),
			want: []wantErr{
				{"p.yaml:6: policies[0].rules[0]: ", "name is required"},
				{"p.yaml:6: policies[0].rules[0]: ", "action is required"},
			},
		},
		{
			name: "bad policy name",
			yaml: lines("policies:", "  - name: \"no spaces\"", "    identities: [legacy-etl]", "    targets: [orders-db]"),
			want: []wantErr{{"p.yaml:2: policies[0].name: ", `invalid policy name "no spaces"`}},
		},
		{
			name: "unknown identity",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-et]", "    targets: [orders-db]"),
			want: []wantErr{{"p.yaml:3: policies[0].identities[0]: ", `unknown identity "legacy-et" (did you mean "legacy-etl"?; known: legacy-etl, nightly-etl, ci-build)`}},
		},
		{
			name: "unknown target",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets:", "      - orders-db", "      - billing-db"),
			want: []wantErr{{"p.yaml:6: policies[0].targets[1]: ", `unknown target "billing-db" (known: orders-db)`}},
		},
		{
			name: "identity glob matching nothing",
			yaml: lines("policies:", "  - name: p", "    identities: [\"batch-*\"]", "    targets: [orders-db]"),
			want: []wantErr{{"p.yaml:3: policies[0].identities[0]: ", `identity glob "batch-*" matches no configured identity (known: legacy-etl, nightly-etl, ci-build)`}},
		},
		{
			name:  "star with no configured target",
			yaml:  lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets: [\"*\", orders-db]"),
			known: &Known{Identities: []string{"legacy-etl"}, Targets: []string{}},
			want:  []wantErr{{"p.yaml:4: policies[0].targets[1]: ", `unknown target "orders-db" (known: none)`}},
		},
		{
			name: "empty identities",
			yaml: lines("policies:", "  - name: p", "    identities: []", "    targets: [orders-db]"),
			want: []wantErr{{"p.yaml:3: policies[0].identities: ", "must not be empty"}},
		},
		{
			name: "ssh not supported yet",
			yaml: rule("        action: allow", "        ssh:", "          commands: [ls]"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].ssh: ", "not supported in this version"}},
		},
		{
			name: "when with an unknown variable",
			yaml: rule("        action: allow", "        when: request.time > 0"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].when: ", `bad condition: unknown variable "request" (variables: identity, target,`}},
		},
		{
			name: "masking that masks nothing",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets: [orders-db]", "    masking: {}"),
			want: []wantErr{{"p.yaml:5: policies[0].masking: ", "masks nothing"}},
		},
		{
			name: "enforce not a boolean",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-etl]", "    targets: [orders-db]", "    enforce: \"no\""),
			want: []wantErr{{"p.yaml:5: policies[0].enforce: ", `expected true or false, got string "no"`}},
		},
		{
			name: "message with a NUL",
			yaml: rule("        action: deny", "        message: \"a\\0b\""),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0].message: ", "control characters"}},
		},
		{
			name: "duplicate key",
			yaml: rule("        action: deny", "        action: allow"),
			want: []wantErr{{"p.yaml:8: policies[0].rules[0]: ", `duplicate key "action" (first at line 7)`}},
		},
		{
			name: "policies not a list",
			yaml: lines("policies:", "  name: p"),
			want: []wantErr{{"p.yaml:2: policies: ", "expected a list, got a mapping"}},
		},
		{
			name: "empty file",
			yaml: "# nothing yet\n",
			want: []wantErr{{"p.yaml:1: ", "empty policy file"}},
		},
		{
			name: "two documents",
			yaml: lines("policies: []", "---", "policies: []"),
			want: []wantErr{{"p.yaml:2: ", "more than one YAML document"}},
		},
		{
			name: "YAML syntax error",
			yaml: lines("policies:", "  - name: p", "    identities: [legacy-etl", "    targets: [orders-db]"),
			want: []wantErr{{"p.yaml:3: ", "YAML syntax error"}},
		},
		{
			name: "several problems at once",
			yaml: lines(
				"policies:",
				"  - name: p",
				"    identities: [nobody]",
				"    targets: [orders-db]",
				"    rules:",
				"      - name: r",
				"        action: permit",
				"        postgres:",
				"          kinds: [selec]",
			),
			want: []wantErr{
				{"p.yaml:3: policies[0].identities[0]: ", `unknown identity "nobody"`},
				{"p.yaml:7: policies[0].rules[0].action: ", `invalid action "permit"`},
				{"p.yaml:9: policies[0].rules[0].postgres.kinds[0]: ", `did you mean "select"?`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			known := testKnown
			if tt.known != nil {
				known = *tt.known
			}
			s, err := Parse("p.yaml", []byte(tt.yaml), known)
			if s != nil {
				t.Error("Set returned along with an error")
			}
			got := splitErrors(t, err)
			if len(got) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for _, w := range tt.want {
				found := false
				for _, e := range got {
					s := e.Error()
					if strings.HasPrefix(s, w.at) && strings.Contains(s[len(w.at):], w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error %q...%q in:\n%v", w.at, w.msg, err)
				}
			}
		})
	}
}

func TestParseSyntaxErrorMatchesErrSyntax(t *testing.T) {
	_, err := Parse("p.yaml", []byte("policies: [\n"), testKnown)
	if !errors.Is(err, ErrSyntax) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error does not match ErrSyntax and ErrInvalid: %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	s := mustParse(t, lines(
		"policies:",
		"  - name: p",
		"    identities: [legacy-etl]",
		"    targets: [orders-db]",
		"    rules:",
		"      - name: r",
		"        action: allow",
	), testKnown)
	ps := s.Policies()
	if len(ps) != 1 {
		t.Fatalf("%d policies", len(ps))
	}
	p := ps[0]
	if !p.Enforce || p.Default != Deny || p.File != "p.yaml" || p.Line != 2 {
		t.Errorf("policy %+v", p)
	}
	if len(p.Rules) != 1 || p.Rules[0].Postgres != nil || p.Rules[0].Line != 6 {
		t.Errorf("rules %+v", p.Rules)
	}
}

func TestParseNoPolicies(t *testing.T) {
	s := mustParse(t, "policies: []\n", testKnown)
	if len(s.Policies()) != 0 {
		t.Fatal("policies in an empty list")
	}
	checkDecision(t, s, pg("legacy-etl", "orders-db", nil), want{
		action: Deny, message: `no policy covers identity "legacy-etl" on target "orders-db"`,
	})
}

func TestParseWithoutKnown(t *testing.T) {
	// Nil slices turn the cross-check off.
	mustParse(t, lines("policies:", "  - name: p", "    identities: [anyone]", "    targets: [\"x-*\"]"), Known{})
}

func TestParseLimits(t *testing.T) {
	// An alias bomb: 64 policies of 64 rules of 64 kinds, from a few
	// lines.
	var b strings.Builder
	b.WriteString("k: &k [" + strings.TrimSuffix(strings.Repeat("select, ", 64), ", ") + "]\n")
	b.WriteString("r: &r {name: r, action: allow, postgres: {kinds: *k}}\n")
	b.WriteString("p: &p {name: p, identities: [legacy-etl], targets: [orders-db], rules: [" + strings.TrimSuffix(strings.Repeat("*r, ", 64), ", ") + "]}\n")
	b.WriteString("policies: [" + strings.TrimSuffix(strings.Repeat("*p, ", 64), ", ") + "]\n")
	_, err := Parse("p.yaml", []byte(b.String()), testKnown)
	got := splitErrors(t, err)
	if len(got) > maxErrors+1 {
		t.Errorf("%d errors", len(got))
	}
	if !strings.Contains(err.Error(), "too many errors") && !strings.Contains(err.Error(), "too many aliases") {
		t.Errorf("no limit reached: %v", got[len(got)-1])
	}

	var many strings.Builder
	many.WriteString("policies:\n")
	for range 300 {
		many.WriteString("  - {name: p, identities: [nobody], targets: [orders-db]}\n")
	}
	_, err = Parse("p.yaml", []byte(many.String()), testKnown)
	got = splitErrors(t, err)
	if len(got) != maxErrors+1 || got[maxErrors].Msg != "too many errors; stopped here" {
		t.Errorf("%d errors, last %v", len(got), got[len(got)-1])
	}
}
