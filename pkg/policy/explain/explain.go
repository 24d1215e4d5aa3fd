// Package explain renders what `sluice policy explain` prints about a
// query decided offline: the masking of its results, for each statement
// its classification, what every applicable policy decided (with the
// conditions evaluated on the way), the decision and the shadow decision,
// then the query's decision; as text for people or as JSON.
package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/pkg/approval/approvalspec"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/policy/offline"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// Report is the explanation of one query, in the shape of its JSON form.
type Report struct {
	Identity   string      `json:"identity"`
	Target     string      `json:"target"`
	SearchPath []string    `json:"search_path"`
	Time       time.Time   `json:"time"`
	Policies   PolicySet   `json:"policies"`
	Statements []Statement `json:"statements"`
	// Decision is the query's: the strictest of its statements'.
	Decision Decision `json:"decision"`
	// Decisive is the 1-based number of the statement whose decision is
	// the query's.
	Decisive int `json:"decisive_statement"`
	// Masking is how the query's results are masked; nil for none.
	Masking *Masking `json:"masking"`
}

// PolicySet names the policy set used.
type PolicySet struct {
	Dir     string `json:"dir"`
	Version string `json:"version"`
	Count   int    `json:"count"`
}

// Statement is one statement, classified and decided.
type Statement struct {
	Text       string   `json:"text"`
	Kind       string   `json:"kind"`
	Command    string   `json:"command"`
	Reads      []string `json:"reads"`
	Writes     []string `json:"writes"`
	Functions  []string `json:"functions"`
	Dangerous  []string `json:"dangerous"`
	Unfiltered bool     `json:"unfiltered"`
	Error      string   `json:"error,omitempty"`
	// RefusedByInspector: the inspector refuses the statement itself,
	// whatever the policies say.
	RefusedByInspector bool      `json:"refused_by_inspector"`
	Outcomes           []Outcome `json:"policies"`
	Decision           Decision  `json:"decision"`
}

// Outcome is what one applicable policy decided.
type Outcome struct {
	Policy     string      `json:"policy"`
	Enforce    bool        `json:"enforce"`
	Action     string      `json:"action"`
	Rule       string      `json:"rule,omitempty"`
	Message    string      `json:"message,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is one evaluated when: condition.
type Condition struct {
	Rule  string `json:"rule"`
	Holds bool   `json:"holds"`
	Error string `json:"error,omitempty"`
}

// Decision is a decision and its shadow decision.
type Decision struct {
	Action  string    `json:"action"`
	Policy  string    `json:"policy"`
	Rule    string    `json:"rule"`
	Message string    `json:"message,omitempty"`
	Version string    `json:"policy_version,omitempty"`
	Shadow  *Decision `json:"shadow,omitempty"`
	// Approval is set for a review: the rule's approval settings.
	Approval *Approval `json:"approval,omitempty"`
}

// Approval is how a statement under review is held: the deciding rule's
// settings. An absent timeout is the approvals configuration's; webhooks
// are notified besides the configured ones, and shown without their path
// and query (they may hold a token).
type Approval struct {
	Timeout  string    `json:"timeout,omitempty"`
	Webhooks []Webhook `json:"webhooks,omitempty"`
	text     string
}

// Webhook is a rule's webhook, redacted.
type Webhook struct {
	URL    string `json:"url"`
	Format string `json:"format"`
}

// New builds the report of a query decided offline with set, loaded from
// dir.
func New(q offline.Query, dir string, set *policy.Set, res *offline.Result) *Report {
	r := &Report{
		Identity: q.Identity, Target: q.Target, SearchPath: res.SearchPath, Time: res.Time.UTC(),
		Policies: PolicySet{Dir: dir, Version: set.Version(), Count: len(set.Policies())},
		Decision: decision(&res.Decision), Decisive: res.Decisive + 1,
		Masking: masking(res.Masking),
	}
	for i := range res.Statements {
		st := &res.Statements[i]
		s := Statement{
			Text: st.Text, Kind: string(st.Kind), Command: st.Command,
			Reads: relations(st.Reads), Writes: relations(st.Writes),
			Functions: functions(st.Functions), Dangerous: functions(st.Dangerous),
			Unfiltered: st.Unfiltered, Error: st.Error, RefusedByInspector: st.Refused,
			Decision: decision(&st.Decision), Outcomes: []Outcome{},
		}
		for _, o := range st.Outcomes {
			out := Outcome{Policy: o.Policy, Enforce: o.Enforce, Action: string(o.Action), Rule: o.Rule, Message: o.Message}
			for _, c := range o.Conditions {
				out.Conditions = append(out.Conditions, Condition(c))
			}
			s.Outcomes = append(s.Outcomes, out)
		}
		r.Statements = append(r.Statements, s)
	}
	return r
}

func decision(d *policy.Decision) Decision {
	out := Decision{Action: string(d.Action), Policy: d.Policy, Rule: d.Rule, Message: d.Message, Version: d.Version}
	if d.Shadow != nil {
		sh := decision(d.Shadow)
		out.Shadow = &sh
	}
	if d.Action == policy.Review {
		a := &Approval{text: d.Approval.String()}
		if d.Approval != nil {
			if d.Approval.Timeout > 0 {
				a.Timeout = d.Approval.Timeout.String()
			}
			for _, w := range d.Approval.Webhooks {
				a.Webhooks = append(a.Webhooks, Webhook{URL: approvalspec.RedactURL(w.URL), Format: w.Format})
			}
		}
		out.Approval = a
	}
	return out
}

func relations(rs []sqlclass.Relation) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func functions(fs []sqlclass.Function) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "identity\t%s\n", r.Identity)
	fmt.Fprintf(tw, "target\t%s\n", r.Target)
	fmt.Fprintf(tw, "search_path\t%s\n", orNone(r.SearchPath))
	fmt.Fprintf(tw, "time\t%s\n", r.Time.Format(time.RFC3339))
	fmt.Fprintf(tw, "policies\t%s (%d policies, version %s)\n", r.Policies.Dir, r.Policies.Count, r.Policies.Version)
	fmt.Fprintf(tw, "masking\t%s\n", r.Masking.summary())
	tw.Flush()
	r.Masking.write(&b)
	for i := range r.Statements {
		b.WriteString("\n")
		r.Statements[i].write(&b, i+1)
	}
	b.WriteString("\n")
	if len(r.Statements) > 1 {
		b.WriteString("statements:\n")
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for i, s := range r.Statements {
			by := "-"
			if s.Decision.Policy != "" {
				by = s.Decision.Policy + "/" + s.Decision.Rule
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", i+1, s.Decision.Action, by, short(s.Text))
		}
		tw.Flush()
		fmt.Fprintf(&b, "decision (statement %d of %d): %s\n", r.Decisive, len(r.Statements), describe(&r.Decision))
	} else {
		fmt.Fprintf(&b, "decision: %s\n", describe(&r.Decision))
	}
	if a := r.Decision.Approval; a != nil {
		fmt.Fprintf(&b, "approval: %s\n", a.text)
	}
	fmt.Fprintf(&b, "shadow: %s\n", shadow(&r.Decision))
	_, err := io.WriteString(w, b.String())
	return err
}

// write prints statement n.
func (s *Statement) write(b *strings.Builder, n int) {
	fmt.Fprintf(b, "statement %d: %s\n", n, short(s.Text))
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	kind := s.Kind
	if s.Command != "" {
		kind += " (" + s.Command + ")"
	}
	if s.Unfiltered {
		kind += ", unfiltered: an UPDATE or DELETE without a row filter"
	}
	fmt.Fprintf(tw, "  kind\t%s\n", kind)
	if s.Error != "" {
		fmt.Fprintf(tw, "  error\t%s\n", s.Error)
	}
	fmt.Fprintf(tw, "  reads\t%s\n", orNone(s.Reads))
	fmt.Fprintf(tw, "  writes\t%s\n", orNone(s.Writes))
	fmt.Fprintf(tw, "  functions\t%s\n", orNone(s.Functions))
	if len(s.Dangerous) > 0 {
		fmt.Fprintf(tw, "  dangerous\t%s\n", strings.Join(s.Dangerous, ", "))
	}
	tw.Flush()
	if len(s.Outcomes) == 0 {
		b.WriteString("  policies: none applies\n")
	} else {
		b.WriteString("  policies:\n")
		tw = tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
		for _, o := range s.Outcomes {
			mode := "enforced"
			if !o.Enforce {
				mode = "shadow"
			}
			what := o.Action
			switch {
			case o.Action == string(policy.Abstain):
				what = "abstain (no rule matches)"
			case o.Rule == "default":
				what += " by its default"
			default:
				what += fmt.Sprintf(" by rule %q", o.Rule)
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", o.Policy, mode, what)
			for _, c := range o.Conditions {
				fmt.Fprintf(tw, "    \t\t%s\n", c.describe())
			}
		}
		tw.Flush()
	}
	if s.RefusedByInspector {
		b.WriteString("  refused by the inspector, whatever the policies say\n")
	}
	fmt.Fprintf(b, "  decision: %s\n", describe(&s.Decision))
	if a := s.Decision.Approval; a != nil {
		fmt.Fprintf(b, "  approval: %s\n", a.text)
	}
	fmt.Fprintf(b, "  shadow: %s\n", shadow(&s.Decision))
}

// describe renders a decision on one line, without its shadow.
func describe(d *Decision) string {
	return policy.Decision{Action: policy.Action(d.Action), Policy: d.Policy, Rule: d.Rule, Message: d.Message}.String()
}

// shadow renders the shadow decision as events name it: would_deny or
// would_review, by a policy and rule; "none" when there is none.
func shadow(d *Decision) string {
	if d.Shadow == nil {
		return "none"
	}
	return fmt.Sprintf("would_%s by policy %q rule %q", d.Shadow.Action, d.Shadow.Policy, d.Shadow.Rule)
}

func (c Condition) describe() string {
	switch {
	case c.Error != "" && c.Holds:
		return fmt.Sprintf("when of rule %q failed (%s): counts as holding (deny and review rules fail closed)", c.Rule, c.Error)
	case c.Error != "":
		return fmt.Sprintf("when of rule %q failed (%s): counts as not holding (allow rules fail closed)", c.Rule, c.Error)
	case c.Holds:
		return fmt.Sprintf("when of rule %q holds", c.Rule)
	}
	return fmt.Sprintf("when of rule %q does not hold", c.Rule)
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}

// short shows a statement's text on one line, cut after 120 bytes.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		cut := 120
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
