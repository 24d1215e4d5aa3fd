package policytest

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/policy/offline"
)

// Report is the outcome of a run.
type Report struct {
	Files   int
	Results []Result
}

// Result is the outcome of one case.
type Result struct {
	File string
	Case *Case
	// Got is the query's outcome; nil when Err is set.
	Got *offline.Result
	// Err is set when the case could not be decided (an identity or
	// target the configuration does not define, a target that is not a
	// PostgreSQL one).
	Err error
	// Diffs lists the expectations that do not hold.
	Diffs []Diff
}

// Diff is one expectation that does not hold.
type Diff struct {
	Field     string // action, policy, rule, message, shadow, or masking and masking.KEY
	Want, Got string
}

// Failed reports whether the case failed.
func (r *Result) Failed() bool { return r.Err != nil || len(r.Diffs) > 0 }

// Failed returns the number of failed cases.
func (r *Report) Failed() int {
	n := 0
	for i := range r.Results {
		if r.Results[i].Failed() {
			n++
		}
	}
	return n
}

// Run decides every case of files with set in env.
func Run(env *offline.Env, set *policy.Set, files []*File) *Report {
	rep := &Report{Files: len(files)}
	for _, f := range files {
		for _, c := range f.Cases {
			res := Result{File: f.Path, Case: c}
			res.Got, res.Err = env.Decide(set, offline.Query{
				Identity: c.Identity, Target: c.Target, SQL: c.SQL,
				SearchPath: c.SearchPath, Attribution: c.Attribution, Time: c.Time,
			})
			if res.Err == nil {
				res.Diffs = compare(&c.Expect, &res.Got.Decision)
				res.Diffs = append(res.Diffs, compareMasking(c.Expect.Masking, res.Got.Masking)...)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	return rep
}

// compare lists how d differs from what e expects.
func compare(e *Expect, d *policy.Decision) []Diff {
	var out []Diff
	if d.Action != e.Action {
		out = append(out, Diff{"action", string(e.Action), string(d.Action)})
	}
	if e.Policy != nil && *e.Policy != d.Policy {
		out = append(out, Diff{"policy", strconv.Quote(*e.Policy), strconv.Quote(d.Policy)})
	}
	if e.Rule != nil && *e.Rule != d.Rule {
		out = append(out, Diff{"rule", strconv.Quote(*e.Rule), strconv.Quote(d.Rule)})
	}
	if e.Message != "" && !strings.Contains(d.Message, e.Message) {
		out = append(out, Diff{"message", "contains " + strconv.Quote(e.Message), strconv.Quote(d.Message)})
	}
	if e.ApprovalTimeout != nil && d.Action == policy.Review {
		var got time.Duration
		if d.Approval != nil {
			got = d.Approval.Timeout
		}
		if got != *e.ApprovalTimeout {
			out = append(out, Diff{"approval_timeout", timeoutText(*e.ApprovalTimeout), timeoutText(got)})
		}
	}
	if e.Shadow != nil {
		want, got := "none", "none"
		if !e.Shadow.None {
			want = policy.Decision{Action: e.Shadow.Action, Policy: e.Shadow.Policy, Rule: e.Shadow.Rule}.Short()
		}
		if d.Shadow != nil {
			got = d.Shadow.Short()
		}
		if want != got {
			out = append(out, Diff{"shadow", want, got})
		}
	}
	return out
}

// timeoutText renders an approval timeout; 0 is the configuration's.
func timeoutText(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	return d.String()
}

// maxSQLShown bounds the SQL text printed for a failed case.
const maxSQLShown = 200

// Write prints a block for every failed case (and with verbose a line for
// every passed one), then a summary line.
func (r *Report) Write(w io.Writer, verbose bool) error {
	var b strings.Builder
	for i := range r.Results {
		res := &r.Results[i]
		at := fmt.Sprintf("%s:%d: %s", res.File, res.Case.Line, res.Case.Name)
		if !res.Failed() {
			if verbose {
				fmt.Fprintf(&b, "--- PASS: %s\n", at)
			}
			continue
		}
		fmt.Fprintf(&b, "--- FAIL: %s\n", at)
		fmt.Fprintf(&b, "    identity %s, target %s: %s\n", res.Case.Identity, res.Case.Target, oneLine(res.Case.SQL, maxSQLShown))
		if res.Err != nil {
			fmt.Fprintf(&b, "    error: %v\n", res.Err)
			continue
		}
		for _, d := range res.Diffs {
			fmt.Fprintf(&b, "    - %s: %s\n    + %s: %s\n", d.Field, d.Want, d.Field, d.Got)
		}
		got := res.Got
		if len(got.Statements) > 1 {
			fmt.Fprintf(&b, "    decided by statement %d of %d: %s\n", got.Decisive+1, len(got.Statements),
				oneLine(got.Statements[got.Decisive].Text, maxSQLShown))
		}
		fmt.Fprintf(&b, "    decision: %s\n", got.Decision)
	}
	failed := r.Failed()
	tests := plural(len(r.Results), "test")
	files := plural(r.Files, "file")
	switch {
	case len(r.Results) == 0:
		fmt.Fprintf(&b, "no tests (%s)\n", files)
	case failed > 0:
		fmt.Fprintf(&b, "FAIL: %d of %s failed (%s)\n", failed, tests, files)
	default:
		fmt.Fprintf(&b, "ok: %s passed (%s)\n", tests, files)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine shows text on one line, cut after max bytes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
