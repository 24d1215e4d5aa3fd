package pgmask

import (
	"github.com/sluicehq/sluice/pkg/mask"
)

// Stats count what a Plan did to a result, per column. They are written
// by Row and CopyRewriter.Data and read once the result is complete.
type Stats struct {
	// Rows is the number of rows in which something changed.
	Rows uint64
	// Columns has one entry per column with a rule, in result order.
	Columns []ColumnStats
}

// ColumnStats count what happened to one column.
type ColumnStats struct {
	Index    int
	Name     string
	Type     string // the column's type name ("int4", "text[]", "oid 16390")
	Rule     string // Rule.Name
	Strategy mask.Strategy
	// Masked counts values masked by the column's Strategy.
	Masked uint64
	// Found counts content-detector matches, per detector.
	Found mask.Counts
	// Nulled counts values set to NULL because the Strategy could not
	// produce a valid value (Fallback says why); a Null strategy or
	// detector counts under Masked or Found instead.
	Nulled   uint64
	Fallback string
}

// Count is one figure of Stats.Counts.
type Count struct {
	Column   string
	Detector string // a detector's name, "column" for a column rule, "fallback_null"
	N        uint64
	// Reason says why values fell back to NULL (fallback_null only); it
	// names types and strategies, never a value.
	Reason string
}

// Counts flattens the statistics into the non-zero counts per column and
// detector, the shape events and metrics report.
func (s *Stats) Counts() []Count {
	var out []Count
	for _, c := range s.Columns {
		if c.Masked > 0 {
			out = append(out, Count{Column: c.Name, Detector: "column", N: c.Masked})
		}
		for d := mask.Detector(1); int(d) < mask.NumDetectors; d++ {
			if n := c.Found[d]; n > 0 {
				out = append(out, Count{Column: c.Name, Detector: d.String(), N: uint64(n)})
			}
		}
		if c.Nulled > 0 {
			out = append(out, Count{Column: c.Name, Detector: "fallback_null", N: c.Nulled, Reason: c.Fallback})
		}
	}
	return out
}
