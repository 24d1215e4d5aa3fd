package explain

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
)

// Masking is how the results of the identity on the target are masked:
// the merged masking of the enforced policies that cover them.
type Masking struct {
	// Policies are the policies that contribute, in load order.
	Policies []string `json:"policies"`
	// WholeResult, when set, masks every column of every result.
	WholeResult string `json:"whole_result,omitempty"`
	// Columns are the column rules, tried in order; the first that
	// matches a column masks it.
	Columns []MaskColumn `json:"columns"`
	// Detectors are the content detectors that run on the other columns,
	// each with its strategy, in detector order.
	Detectors []MaskDetector `json:"detectors"`
	// Region is the region of phone numbers in national format.
	Region string `json:"region,omitempty"`
}

// MaskColumn is one column rule.
type MaskColumn struct {
	Match    string `json:"match"`
	Strategy string `json:"strategy,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Policy   string `json:"policy"`
}

// MaskDetector is one content detector and the strategy it applies.
type MaskDetector struct {
	Detector string `json:"detector"`
	Strategy string `json:"strategy"`
}

// masking converts m; nil for nil.
func masking(m *policy.Masking) *Masking {
	if m == nil {
		return nil
	}
	out := &Masking{Policies: m.Policies, Columns: []MaskColumn{}, Detectors: []MaskDetector{}, Region: m.Region}
	if m.Whole != 0 {
		out.WholeResult = m.Whole.String()
	}
	for _, c := range m.Columns {
		mc := MaskColumn{Match: c.Match, Policy: c.Policy}
		if c.Strategy != 0 {
			mc.Strategy = c.Strategy.String()
		} else {
			mc.Hint = c.Hint.String()
		}
		out.Columns = append(out.Columns, mc)
	}
	for d := mask.Detector(1); int(d) < mask.NumDetectors; d++ {
		if m.Detectors.Has(d) {
			out.Detectors = append(out.Detectors, MaskDetector{Detector: d.String(), Strategy: m.StrategyOf(d).String()})
		}
	}
	return out
}

// summary says on one line whether results are masked, and by which
// policies.
func (m *Masking) summary() string {
	if m == nil {
		return "none"
	}
	return "by " + strings.Join(m.Policies, ", ")
}

// write prints the rules of the masking, nothing for none.
func (m *Masking) write(b *strings.Builder) {
	if m == nil {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	if m.WholeResult != "" {
		fmt.Fprintf(tw, "  whole result\t%s: every column of every result\n", m.WholeResult)
	}
	for i, c := range m.Columns {
		key := ""
		if i == 0 {
			key = "columns"
		}
		what := c.Strategy
		if what == "" {
			what = "hint " + c.Hint
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t(%s)\n", key, c.Match, what, c.Policy)
	}
	if len(m.Detectors) > 0 {
		ds := make([]string, len(m.Detectors))
		for i, d := range m.Detectors {
			ds[i] = d.Detector + " " + d.Strategy
		}
		fmt.Fprintf(tw, "  detectors\t%s\n", strings.Join(ds, ", "))
	}
	if m.Region != "" {
		fmt.Fprintf(tw, "  region\t%s\n", m.Region)
	}
	tw.Flush()
}
