package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// testKnown are the names the daemon configuration of the tests defines.
var testKnown = Known{
	Identities: []string{"legacy-etl", "nightly-etl", "ci-build"},
	Targets:    []string{"orders-db"},
}

// lines joins YAML lines, so that a case's line numbers are its indexes
// plus one.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// mustParse parses src as p.yaml, failing the test on an error.
func mustParse(t testing.TB, src string, known Known) *Set {
	t.Helper()
	s, err := Parse("p.yaml", []byte(src), known)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// splitErrors returns the *Errors joined in err, failing the test when err
// is nil, does not match ErrInvalid, or holds anything but *Errors.
func splitErrors(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not match ErrInvalid: %v", err)
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a joined list: %v", err, err)
	}
	var out []*Error
	for _, e := range j.Unwrap() {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Fatalf("error %T is not an *Error: %v", e, e)
		}
		out = append(out, pe)
	}
	return out
}

// rel parses "schema.name".
func rel(s string) sqlclass.Relation {
	schema, name, _ := strings.Cut(s, ".")
	return sqlclass.Relation{Schema: schema, Name: name, Qualified: true}
}

func rels(names ...string) []sqlclass.Relation {
	var out []sqlclass.Relation
	for _, n := range names {
		out = append(out, rel(n))
	}
	return out
}

// fn parses "schema.name" or "name" (unqualified).
func fn(s string) sqlclass.Function {
	if schema, name, ok := strings.Cut(s, "."); ok {
		return sqlclass.Function{Schema: schema, Name: name}
	}
	// As the classifier reports them under the default search_path: the
	// built-ins' names resolve to pg_catalog.
	return sqlclass.Function{Name: s, Builtin: testBuiltins[s]}
}

var testBuiltins = map[string]bool{"lower": true, "upper": true, "now": true, "count": true, "sum": true, "pg_sleep": true, "pg_read_file": true}

func fns(names ...string) []sqlclass.Function {
	var out []sqlclass.Function
	for _, n := range names {
		out = append(out, fn(n))
	}
	return out
}

// pg builds a postgres request.
func pg(identity, target string, st *sqlclass.Statement) *Request {
	return &Request{Identity: identity, Target: target, Protocol: ProtocolPostgres, SQL: st}
}

// want is an expected decision, Shadow reduced to its policy/rule/action.
type want struct {
	action       Action
	policy, rule string
	message      string // substring; "" to skip
	shadow       string // "policy/rule/action", "" for none
}

func checkDecision(t *testing.T, s *Set, r *Request, w want) {
	t.Helper()
	d := s.Decide(r)
	if d.Action != w.action || d.Policy != w.policy || d.Rule != w.rule {
		t.Errorf("decision %s by %q/%q (%q), want %s by %q/%q", d.Action, d.Policy, d.Rule, d.Message, w.action, w.policy, w.rule)
	}
	if w.message != "" && !strings.Contains(d.Message, w.message) {
		t.Errorf("message %q does not contain %q", d.Message, w.message)
	}
	if d.Action != Allow && d.Message == "" {
		t.Errorf("%s without a message", d.Action)
	}
	var sh string
	if d.Shadow != nil {
		sh = d.Shadow.Policy + "/" + d.Shadow.Rule + "/" + string(d.Shadow.Action)
		if d.Shadow.Shadow != nil {
			t.Error("shadow decision has a shadow")
		}
	}
	if sh != w.shadow {
		t.Errorf("shadow %q, want %q", sh, w.shadow)
	}
	if d.Version != s.Version() {
		t.Errorf("version %q, want %q", d.Version, s.Version())
	}
}
