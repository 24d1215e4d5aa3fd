package doctor

import (
	"fmt"
	"io"
	"strings"
)

// marker is the status column of Print.
func marker(s Status) string {
	switch s {
	case OK:
		return "[ ok ]"
	case Warn:
		return "[warn]"
	case Fail:
		return "[FAIL]"
	}
	return "[ ?? ]"
}

const markerWidth = len("[ ok ]")

// Print writes checks as an aligned table, one row per check: status
// marker, name, detail. Under every check that is not OK and has a fix, a
// "fix: ..." line follows, indented to the name column.
func Print(w io.Writer, checks []Check) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	for _, c := range checks {
		row := fmt.Sprintf("%s  %-*s  %s", marker(c.Status), width, c.Name, oneLine(c.Detail))
		b.WriteString(strings.TrimRight(row, " "))
		b.WriteByte('\n')
		if c.Status != OK && c.Fix != "" {
			fmt.Fprintf(&b, "%*s  fix: %s\n", markerWidth, "", oneLine(c.Fix))
		}
	}
	io.WriteString(w, b.String())
}
