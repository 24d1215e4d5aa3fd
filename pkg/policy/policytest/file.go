// Package policytest runs policy unit tests: YAML files listing requests
// (an identity, a target, SQL text, and optionally the search_path, the
// process attribution and the time conditions see) and the decision
// expected for each. They live in the policy directory as *_test.yaml or
// *_test.yml files, which the daemon does not load as policies. The format
// is documented in docs/policy.md ("Policy tests"); `sluice policy test`
// runs them.
package policytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// ErrInvalid is matched (errors.Is) by every error [Parse] and [LoadDir]
// return for a malformed test file.
var ErrInvalid = errors.New("invalid policy test file")

// maxFileSize bounds the size of one test file.
const maxFileSize = 4 << 20

// File is a decoded test file.
type File struct {
	Path  string
	Cases []*Case
}

// Case is one test: a query and the decision expected for it.
type Case struct {
	Name string
	Line int
	// Identity and Target name the request's identity and target.
	Identity string
	Target   string
	// SQL is the query string; several statements are decided one by
	// one, and the query's decision is the strictest.
	SQL string
	// SearchPath is the search_path the query starts with; nil for the
	// target's.
	SearchPath  []string
	Attribution policy.Attribution
	// Time is when the query is sent; the zero Time for the time the test
	// runs.
	Time   time.Time
	Expect Expect
}

// Expect is the decision a case expects. Fields left out are not
// checked.
type Expect struct {
	Action policy.Action
	// Policy and Rule, when not nil, must equal the decision's ("" for
	// a request no policy decides).
	Policy *string
	Rule   *string
	// Message, when not "", must be part of the decision's message.
	Message string
	// Shadow, when not nil, is the shadow decision expected.
	Shadow *Shadow
	// Masking, when not nil, is the masking expected for the results.
	Masking *MaskingExpect
	// ApprovalTimeout, when not nil, is how long a statement under review
	// is held: the deciding rule's approval timeout, 0 for the approvals
	// configuration's (written "default").
	ApprovalTimeout *time.Duration
}

// Shadow is an expected shadow decision: none, or a decision of a shadow
// policy.
type Shadow struct {
	None   bool
	Action policy.Action
	Policy string
	Rule   string
}

// IsTestFile reports whether a policy directory entry of that name holds
// policy tests: *_test.yaml and *_test.yml, not hidden.
func IsTestFile(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml"))
}

// LoadDir reads every test file of dir, sorted by name. A directory
// without test files gives none. Errors of every file are returned
// together, each an *yamldoc.Error matching ErrInvalid.
func LoadDir(dir string) ([]*File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy tests: %w", err)
	}
	var (
		files []*File
		errs  []*yamldoc.Error
	)
	for _, e := range entries {
		if !IsTestFile(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := readFile(path)
		if err != nil {
			errs = append(errs, &yamldoc.Error{File: path, Msg: yamldoc.Safe(err.Error()), Cause: err})
			continue
		}
		f, ferrs := parse(path, data)
		errs = append(errs, ferrs...)
		if f != nil {
			files = append(files, f)
		}
	}
	if len(errs) > 0 {
		return nil, yamldoc.Join(ErrInvalid, errs)
	}
	return files, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(data) > maxFileSize {
		err = fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, err
}

// Parse decodes one test file; file names it in errors.
func Parse(file string, data []byte) (*File, error) {
	f, errs := parse(file, data)
	if len(errs) > 0 {
		return nil, yamldoc.Join(ErrInvalid, errs)
	}
	return f, nil
}

func parse(file string, data []byte) (*File, []*yamldoc.Error) {
	root, yerr := yamldoc.Document(file, data, yamldoc.Messages{
		Empty:    "empty test file (a test file lists tests: [...])",
		Multiple: "more than one YAML document; a test file holds exactly one",
	})
	if yerr != nil {
		return nil, []*yamldoc.Error{yerr}
	}
	d := &decoder{file: file}
	f := &File{Path: file}
	var defaults Case
	var testsNode *yaml.Node
	present, ok := d.mapping(root, "", []field{
		{"defaults", func(n *yaml.Node, path string) { d.request(n, path, &defaults, false) }},
		{"tests", func(n *yaml.Node, path string) { testsNode = n }},
	})
	if !ok {
		return nil, d.errs
	}
	if !present["tests"] && !d.aborted {
		d.errorf(root.Line, "", "tests is required")
	}
	if testsNode != nil {
		names := map[string]int{}
		count := 0
		d.sequence(testsNode, "tests", func(n *yaml.Node, path string) {
			count++
			c := defaults
			c.SearchPath = slices.Clone(defaults.SearchPath)
			c.Line = n.Line
			if !d.request(n, path, &c, true) {
				return
			}
			if first, dup := names[c.Name]; dup && c.Name != "" {
				d.errorf(c.Line, path, "duplicate test name %q (first at line %d)", c.Name, first)
			} else if c.Name != "" {
				names[c.Name] = c.Line
			}
			for _, req := range []struct{ key, v string }{{"identity", c.Identity}, {"target", c.Target}} {
				if req.v == "" {
					d.errorf(c.Line, path, "%s is required (here or in defaults)", req.key)
				}
			}
			f.Cases = append(f.Cases, &c)
		})
		if count == 0 && !d.aborted {
			d.errorf(testsNode.Line, "tests", "must not be empty")
		}
	}
	return f, d.errs
}

// request decodes a test case, or with full false the defaults (the keys
// a case shares). It returns false when n is not a mapping.
func (d *decoder) request(n *yaml.Node, path string, c *Case, full bool) bool {
	fields := []field{
		{"identity", func(n *yaml.Node, path string) { c.Identity = d.name(n, path) }},
		{"target", func(n *yaml.Node, path string) { c.Target = d.name(n, path) }},
		{"search_path", func(n *yaml.Node, path string) {
			if p, ok := d.strList(n, path); ok {
				c.SearchPath = p
			}
		}},
		{"attribution", func(n *yaml.Node, path string) { d.attribution(n, path, &c.Attribution) }},
		{"claims", func(n *yaml.Node, path string) { c.Attribution.Claims = d.claims(n, path) }},
		{"time", func(n *yaml.Node, path string) {
			if s, line, ok := d.str(n, path); ok {
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					d.errorf(line, path, "expected an RFC 3339 time such as 2026-11-22T03:00:00+01:00, got %q", s)
				}
				c.Time = t
			}
		}},
	}
	if full {
		fields = append(fields,
			field{"name", func(n *yaml.Node, path string) { c.Name = d.name(n, path) }},
			field{"sql", func(n *yaml.Node, path string) { c.SQL, _, _ = d.str(n, path) }},
			field{"expect", func(n *yaml.Node, path string) { d.expect(n, path, &c.Expect) }},
		)
	}
	present, ok := d.mapping(n, path, fields)
	if !ok {
		return false
	}
	if full {
		for _, key := range []string{"name", "sql", "expect"} {
			if !present[key] {
				d.errorf(c.Line, path, "%s is required", key)
			}
		}
	}
	return true
}

// name decodes a name that must not be empty.
func (d *decoder) name(n *yaml.Node, path string) string {
	s, line, ok := d.str(n, path)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(line, path, "must not be empty")
	}
	return s
}

func (d *decoder) attribution(n *yaml.Node, path string, a *policy.Attribution) {
	num := func(out *uint32) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			if v, ok := d.uint32(n, path); ok {
				*out = v
			}
		}
	}
	text := func(out *string) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) { *out, _, _ = d.str(n, path) }
	}
	d.mapping(n, path, []field{
		{"pid", num(&a.PID)}, {"uid", num(&a.UID)}, {"gid", num(&a.GID)},
		{"exe", text(&a.Exe)}, {"comm", text(&a.Comm)}, {"unit", text(&a.Unit)}, {"cgroup", text(&a.Cgroup)},
	})
}

// claims decodes the OIDC claims of a test's identity: a mapping, as the
// token's JSON would hold them.
func (d *decoder) claims(n *yaml.Node, path string) map[string]any {
	r, ok := d.resolve(n)
	if !ok {
		return nil
	}
	var v any
	if r.Kind != yaml.MappingNode || r.Decode(&v) != nil {
		d.errorf(r.Line, path, "expected a mapping of claims, such as {ref: refs/heads/main}, got %s", yamldoc.Describe(r))
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		d.errorf(r.Line, path, "claims must be what JSON can hold: %v", err)
		return nil
	}
	c, err := claims.Decode(data)
	if err != nil {
		d.errorf(r.Line, path, "claims must be what JSON can hold: %v", err)
		return nil
	}
	return c
}

func (d *decoder) expect(n *yaml.Node, path string, e *Expect) {
	present, ok := d.mapping(n, path, []field{
		{"action", func(n *yaml.Node, path string) { e.Action = d.action(n, path, false) }},
		{"policy", func(n *yaml.Node, path string) {
			if s, _, ok := d.str(n, path); ok {
				e.Policy = &s
			}
		}},
		{"rule", func(n *yaml.Node, path string) {
			if s, _, ok := d.str(n, path); ok {
				e.Rule = &s
			}
		}},
		{"message", func(n *yaml.Node, path string) { e.Message = d.name(n, path) }},
		{"shadow", func(n *yaml.Node, path string) { e.Shadow = d.shadow(n, path) }},
		{"masking", func(n *yaml.Node, path string) { e.Masking = d.masking(n, path) }},
		{"approval_timeout", func(n *yaml.Node, path string) { e.ApprovalTimeout = d.approvalTimeout(n, path) }},
	})
	if ok && !present["action"] {
		d.errorf(n.Line, path, "action is required")
	}
	if ok && e.ApprovalTimeout != nil && e.Action != "" && e.Action != policy.Review {
		d.errorf(n.Line, path, "approval_timeout is only expected of a review (action: review)")
	}
}

// approvalTimeout decodes "default" or a duration (30s, 10m).
func (d *decoder) approvalTimeout(n *yaml.Node, path string) *time.Duration {
	s, line, ok := d.str(n, path)
	if !ok {
		return nil
	}
	var v time.Duration
	if s != "default" {
		var err error
		if v, err = time.ParseDuration(s); err != nil || v <= 0 {
			d.errorf(line, path, `expected "default" (the approvals configuration's) or a duration such as 30m, got %q`, yamldoc.Safe(s))
			return nil
		}
	}
	return &v
}

// shadow decodes "none" or a shadow decision.
func (d *decoder) shadow(n *yaml.Node, path string) *Shadow {
	if r, ok := d.resolve(n); ok && r.Kind == yaml.ScalarNode {
		if r.Value != "none" {
			d.errorf(r.Line, path, `expected none or a mapping {action, policy, rule}, got %s`, yamldoc.Describe(r))
			return nil
		}
		return &Shadow{None: true}
	}
	s := &Shadow{}
	present, ok := d.mapping(n, path, []field{
		{"action", func(n *yaml.Node, path string) { s.Action = d.action(n, path, true) }},
		{"policy", func(n *yaml.Node, path string) { s.Policy = d.name(n, path) }},
		{"rule", func(n *yaml.Node, path string) { s.Rule = d.name(n, path) }},
	})
	if !ok {
		return nil
	}
	for _, key := range []string{"action", "policy", "rule"} {
		if !present[key] {
			d.errorf(n.Line, path, "%s is required", key)
		}
	}
	return s
}

// action decodes an expected action; a shadow decision is never allow.
func (d *decoder) action(n *yaml.Node, path string, shadow bool) policy.Action {
	s, line, ok := d.str(n, path)
	if !ok {
		return ""
	}
	valid := []string{"allow", "deny", "review"}
	if shadow {
		valid = valid[1:]
	}
	if slices.Contains(valid, s) {
		return policy.Action(s)
	}
	msg := fmt.Sprintf("invalid action %q: must be one of %s", s, strings.Join(valid, ", "))
	if sug := yamldoc.Suggest(strings.ToLower(s), valid); sug != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	}
	d.errorf(line, path, "%s", msg)
	return ""
}
