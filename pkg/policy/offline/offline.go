// Package offline decides SQL text against a policy set away from the
// daemon, as its PostgreSQL inspector would: the text is split into
// statements and classified with the target's settings from the
// configuration (search_path, dangerous_functions), and each statement is
// decided by the policies. The policy tools (sluice policy test and
// explain) are built on it.
//
// Without a configuration, names are not checked and every target
// classifies with the defaults: search_path [public] and the built-in
// list of dangerous functions.
package offline

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Errors of [Env.Decide], matched with errors.Is.
var (
	// ErrUnknownName: the identity or target is not in the configuration.
	ErrUnknownName = errors.New("not in the configuration")
	// ErrNotInspected: the target is not a PostgreSQL target, so sluice
	// relays its connections without deciding statements.
	ErrNotInspected = errors.New("not a postgres target: its connections are relayed, no statement is decided")
)

// Env is the configuration the tools decide in. Its methods are not safe
// for concurrent use.
type Env struct {
	cfg     *config.Config // nil: no configuration
	classes map[string]*sqlclass.Classifier
}

// New returns the Env of cfg, or, for a nil cfg, one without a
// configuration.
func New(cfg *config.Config) *Env {
	return &Env{cfg: cfg, classes: map[string]*sqlclass.Classifier{}}
}

// Known returns the names policies are checked against: those the
// configuration defines, or nil slices (no check) without one. With a
// configuration that has no masking.hash_key_file, policies using the hash
// strategy are refused, and schema.table.column masking rules on targets
// with auth: passthrough, as the daemon refuses them.
func (e *Env) Known() policy.Known {
	if e.cfg == nil {
		return policy.Known{}
	}
	known := policy.Known{Identities: []string{}, Targets: []string{}, Passthrough: []string{}, NoHashKey: e.cfg.Masking.HashKeyFile == ""}
	for _, id := range e.cfg.Identities {
		known.Identities = append(known.Identities, id.Name)
	}
	for _, t := range e.cfg.Targets {
		known.Targets = append(known.Targets, t.Name)
		if t.Protocol == config.ProtocolPostgres && t.Postgres.Auth != config.AuthInject {
			known.Passthrough = append(known.Passthrough, t.Name)
		}
	}
	return known
}

// Config returns the configuration, nil when there is none.
func (e *Env) Config() *config.Config { return e.cfg }

// LoadPolicies loads a policy directory, checked against the
// configuration's names.
func (e *Env) LoadPolicies(dir string) (*policy.Set, error) {
	return policy.LoadDir(dir, e.Known())
}

// Query is a query string sent by an identity to a target.
type Query struct {
	Identity string
	Target   string
	SQL      string
	// SearchPath is the search_path when the query arrives; nil for the
	// target's configured one.
	SearchPath  []string
	Attribution policy.Attribution
	// Time is when the query arrives; the zero Time for now.
	Time time.Time
}

// Result is the outcome of a query.
type Result struct {
	// SearchPath is the search_path the query was classified with, and
	// Time the time conditions saw.
	SearchPath []string
	Time       time.Time
	// Statements are the query's statements in order, each classified
	// and decided.
	Statements []Statement
	// Decision is the query's: the strictest decision of its statements,
	// the first among equals. A query with one refused statement is
	// refused as a whole.
	Decision policy.Decision
	// Decisive is the index in Statements of the statement whose
	// decision is the query's.
	Decisive int
	// Masking is how the query's results are masked: the masking of the
	// identity on the target (every decision of the pair carries it);
	// nil for none.
	Masking *policy.Masking
}

// Statement is one classified and decided statement.
type Statement struct {
	sqlclass.Statement
	policy.Explanation
	// Refused is set when the inspector refuses the statement itself,
	// whatever the policies say (a statement it cannot parse); Decision
	// is then its refusal.
	Refused bool
}

// Decide classifies q.SQL as the target's inspector would and decides
// each statement with set.
func (e *Env) Decide(set *policy.Set, q Query) (*Result, error) {
	class, path, user, err := e.target(q)
	if err != nil {
		return nil, err
	}
	if q.SearchPath != nil {
		path = q.SearchPath
	}
	if q.Time.IsZero() {
		q.Time = time.Now()
	}
	stmts, err := class.Classify(sqlclass.NewSession(user, path), q.SQL)
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	res := &Result{SearchPath: slices.Clone(path), Time: q.Time, Masking: set.Masking(q.Identity, q.Target)}
	for i := range stmts {
		st := Statement{Statement: stmts[i]}
		req := &policy.Request{
			Identity: q.Identity, Target: q.Target, Protocol: policy.ProtocolPostgres,
			SQL: &st.Statement, Attribution: q.Attribution, Time: q.Time,
		}
		st.Explanation = set.Explain(req)
		switch {
		case st.Kind == sqlclass.KindUnparseable:
			// As the inspector: a statement it cannot parse cannot be
			// checked, and is refused whatever the policies say.
			st.Refused = true
			st.Decision = policy.Decision{
				Action: policy.Deny, Policy: "sluice", Rule: "unparseable",
				Message: "the statement could not be parsed, so it cannot be checked: " + st.Error,
			}
		case st.Unsafe != "":
			// As the inspector: a statement whose effect the classifier
			// cannot follow is refused whatever the policies say.
			st.Refused = true
			st.Decision = policy.Decision{Action: policy.Deny, Policy: "sluice", Rule: st.UnsafeRule, Message: st.Unsafe}
		}
		res.Statements = append(res.Statements, st)
		if i == 0 || st.Decision.Action.Stricter(res.Decision.Action) {
			res.Decision, res.Decisive = st.Decision, i
		}
	}
	return res, nil
}

// target returns the classifier, search_path and login role of the
// query's target, after checking its names.
func (e *Env) target(q Query) (*sqlclass.Classifier, []string, string, error) {
	if e.cfg == nil {
		c, err := e.classifier("", nil)
		return c, []string{"public"}, "", err
	}
	if _, ok := e.cfg.Identity(q.Identity); !ok {
		return nil, nil, "", fmt.Errorf("identity %q: %w", q.Identity, ErrUnknownName)
	}
	for i := range e.cfg.Targets {
		t := &e.cfg.Targets[i]
		if t.Name != q.Target {
			continue
		}
		if t.Protocol != config.ProtocolPostgres {
			return nil, nil, "", fmt.Errorf("target %q (protocol %s): %w", t.Name, t.Protocol, ErrNotInspected)
		}
		c, err := e.classifier(t.Name, t.Postgres.DangerousFunctions)
		user := t.Postgres.User
		if user == "" {
			user = t.Postgres.Credentials.Username
		}
		return c, t.Postgres.SearchPath, user, err
	}
	return nil, nil, "", fmt.Errorf("target %q: %w", q.Target, ErrUnknownName)
}

// classifier returns the classifier of a target, built once.
func (e *Env) classifier(target string, dangerous []string) (*sqlclass.Classifier, error) {
	if c, ok := e.classes[target]; ok {
		return c, nil
	}
	c, err := sqlclass.New(sqlclass.Options{Dangerous: dangerous, CacheSize: -1})
	if err != nil {
		return nil, fmt.Errorf("target %q: dangerous_functions: %w", target, err)
	}
	e.classes[target] = c
	return c, nil
}
